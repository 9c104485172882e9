"""About: the version of every backend and whether it is available (Java checked on a worker)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import shutil
import subprocess

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench import __version__
from workbench.gui.resources import icon
from workbench.gui.workers import run_in_worker

#: (shown name, distribution, import name, what it is for)
BACKENDS = (
    ("PySide6", "PySide6-Essentials", "PySide6", "the desktop app"),
    ("pyqtgraph", "pyqtgraph", "pyqtgraph", "charts"),
    ("NumPy", "numpy", "numpy", "arrays"),
    ("pandas", "pandas", "pandas", "rows tables"),
    ("scikit-learn", "scikit-learn", "sklearn", "sklearn models"),
    ("skops", "skops", "skops", ".skops files"),
    ("LightGBM", "lightgbm", "lightgbm", "LightGBM models"),
    ("XGBoost", "xgboost-cpu", "xgboost", "XGBoost models"),
    ("ONNX", "onnx", "onnx", "ONNX files"),
    ("ONNX Runtime", "onnxruntime", "onnxruntime", "ONNX inference"),
    ("skl2onnx", "skl2onnx", "skl2onnx", "sklearn → ONNX"),
    ("onnxmltools", "onnxmltools", "onnxmltools", "LightGBM/XGBoost → ONNX"),
    ("sklearn2pmml", "sklearn2pmml", "sklearn2pmml", "sklearn → PMML (needs Java)"),
    ("pypmml", "pypmml", "pypmml", "PMML inference (needs Java)"),
    ("jpmml-evaluator", "jpmml-evaluator", "jpmml_evaluator", "PMML inference (needs Java)"),
    ("JPype", "jpype1", "jpype", "Java bridge"),
    ("TensorFlow", "tensorflow-cpu", "tensorflow", "SavedModel, Keras (the [tf] extra)"),
    ("Keras", "keras", "keras", "Keras models (the [tf] extra)"),
    ("tf2onnx", "tf2onnx", "tf2onnx", "TensorFlow → ONNX (the [tf] extra)"),
    ("gRPC", "grpcio", "grpc", "TF Serving gRPC probes"),
    ("requests", "requests", "requests", "REST probes"),
)


def package_version(dist: str, module: str) -> tuple[str, bool]:
    """(version or reason, available) without importing the package."""
    if importlib.util.find_spec(module) is None:
        return "not installed", False
    for name in (dist, module, dist.replace("-cpu", "")):
        try:
            return importlib.metadata.version(name), True
        except importlib.metadata.PackageNotFoundError:
            continue
    return "installed (version unknown)", True


def java_version() -> tuple[str, bool]:
    """Run `java -version` (a worker job: starting a JVM takes a moment)."""
    java = shutil.which("java")
    if java is None:
        return "not found on PATH (PMML export and scoring need a Java 11+ runtime)", False
    try:
        proc = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run java: {exc}", False
    first = (proc.stderr or proc.stdout).strip().splitlines()
    return (first[0] if first else "unknown version"), proc.returncode == 0


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Model Serving Workbench")
        self.setWindowIcon(icon("app"))
        self.resize(720, 640)
        title = QLabel(f"<h2>Model Serving Workbench {__version__}</h2>"
                       f"<p>Python {platform.python_version()} · {platform.system()} {platform.machine()}</p>")
        title.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableWidget(len(BACKENDS) + 1, 4)
        self.table.setHorizontalHeaderLabels(["Backend", "Version", "Available", "Used for"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self._row(0, "Java", "checking…", None, "PMML export and scoring")
        for i, (name, dist, module, purpose) in enumerate(BACKENDS, start=1):
            version, ok = package_version(dist, module)
            self._row(i, name, version, ok, purpose)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.java_worker = run_in_worker(java_version, name="java -version",
                                         on_result=lambda r: self._row(0, "Java", r[0], r[1],
                                                                       "PMML export and scoring"))

    def _row(self, row: int, name: str, version: str, ok: bool | None, purpose: str) -> None:
        cells = [name, version, "…" if ok is None else ("yes" if ok else "no"), purpose]
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if col == 2 and ok is not None:
                item.setIcon(icon("ok" if ok else "error"))
            self.table.setItem(row, col, item)

    def availability(self) -> dict[str, str]:
        return {self.table.item(r, 0).text(): self.table.item(r, 2).text() for r in range(self.table.rowCount())}
