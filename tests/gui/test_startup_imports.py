"""A fast start (issue 17 item 7): what a fresh process imports to show the main window, and the order in
which the window and the models appear. Behaviour only: the times are measured by
benchmarks/bench_startup.py, never asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES_DIR

REPO = Path(__file__).resolve().parents[2]
#: never imported to show the window: they load when a model is run or converted, or a chart is shown
HEAVY = ("onnx", "onnxruntime", "ml_dtypes", "tensorflow", "keras", "pyqtgraph", "workbench.gui.charts", "sklearn",
         "skl2onnx", "lightgbm", "xgboost", "jpype", "pypmml")
#: loads when rows are first read (not to show an empty window)
ROWS = ("pandas",)


def _fresh(code: str, tmp_path: Path, **env: str) -> dict:
    """Run `code` in a new Python (Qt offscreen, settings in tmp_path); it prints one JSON line last."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=240,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config"),
             "PYTHONPATH": str(REPO), **env})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


SHOW_WINDOW = """
import json, sys
import workbench.gui.app as app_mod
app = app_mod.create_app()
from workbench.gui.main_window import MainWindow
from workbench.gui.settings import AppSettings
window = MainWindow(AppSettings())
window.show()
app.processEvents()
print(json.dumps({"visible": window.isVisible(), "modules": sorted(sys.modules)}))
"""


def test_showing_the_main_window_imports_no_model_library_chart_toolkit_or_pandas(tmp_path: Path) -> None:
    result = _fresh(SHOW_WINDOW, tmp_path)
    assert result["visible"]
    loaded = set(result["modules"])
    assert [m for m in HEAVY + ROWS if m in loaded] == []


def test_importing_the_app_module_imports_no_model_library(tmp_path: Path) -> None:
    loaded = set(_fresh("import json, sys\nimport workbench.gui.app\nprint(json.dumps({'modules': sorted(sys.modules)}))",
                        tmp_path)["modules"])
    assert [m for m in HEAVY + ROWS if m in loaded] == []


OPEN_ONNX = """
import json, sys
from PySide6.QtCore import QTimer
import workbench.gui.app as app_mod
app = app_mod.create_app()
from workbench.gui.main_window import MainWindow
from workbench.gui.settings import AppSettings
window = MainWindow(AppSettings(), trust_prompt=lambda _p, _f: False)
window.show()
loaded = []
window.loader.sig_loaded.connect(lambda info, _t: loaded.append(info.format))
window.loader.sig_failed.connect(lambda path, reason: loaded.append("failed: " + reason))
window.open_paths([sys.argv[1]])
QTimer.singleShot(120000, app.quit)
def check():
    if not window.loader.busy:
        app.quit()
poll = QTimer(); poll.timeout.connect(check); poll.start(50)
app.exec()
print(json.dumps({"loaded": loaded, "modules": sorted(sys.modules)}))
"""


def test_opening_an_onnx_file_in_the_window_does_not_import_onnx(tmp_path: Path) -> None:
    code = OPEN_ONNX.replace("sys.argv[1]", repr(str(SAMPLES_DIR / "iris_logreg.onnx")))
    result = _fresh(code, tmp_path)
    assert result["loaded"] == ["onnx"]
    loaded = set(result["modules"])
    assert [m for m in ("onnx", "onnxruntime", "ml_dtypes", "google.protobuf", "pyqtgraph", "sklearn")
            if m in loaded] == []


def test_the_window_is_shown_before_any_model_has_loaded(tmp_path: Path) -> None:
    """`workbench gui FILES`: files are opened once the window has painted, so models fill in as they load."""
    trace = tmp_path / "trace.txt"
    files = [str(SAMPLES_DIR / "iris_logreg.onnx"), str(SAMPLES_DIR / "ctr_pipeline.joblib")]
    code = ("import json, sys\nfrom workbench.gui.app import run\n"
            f"code = run({files!r}, {str(tmp_path / 'shot.png')!r})\n"
            "print(json.dumps({'code': code}))\n")
    assert _fresh(code, tmp_path, WORKBENCH_STARTUP_TRACE=str(trace)) == {"code": 0}
    events = [line.split(" ", 2) for line in trace.read_text().splitlines()]
    assert [e[0] for e in events] == ["shown", "loaded", "loaded"]
    assert sorted(e[2] for e in events[1:]) == sorted(files)
    stamps = [float(e[1]) for e in events]
    assert stamps == sorted(stamps)


def test_the_gui_command_through_the_cli_does_not_import_pandas(tmp_path: Path) -> None:
    code = ("import json, sys\nfrom workbench.cli import main\n"
            f"code = main(['gui', '--screenshot', {str(tmp_path / 'shot.png')!r}])\n"
            "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}))\n")
    result = _fresh(code, tmp_path)
    assert result["code"] == 0
    assert [m for m in HEAVY + ROWS if m in set(result["modules"])] == []
