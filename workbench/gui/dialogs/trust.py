"""The trust question asked before a model whose loading runs code from the file is loaded: a
pickle/joblib file (unpickling), a TensorFlow SavedModel (its graph's initializers run on load)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

#: what each format is, and what loading it runs
_WHAT = {
    "savedmodel": ("a TensorFlow SavedModel", "Loading a SavedModel runs its graph's initializers, which can "
                   "hold any TensorFlow op: reading, writing or deleting files, or reaching the network."),
    "keras": ("a Keras model with Lambda layers", "Loading it outside Keras' safe mode runs the Python code "
              "stored in its Lambda layers."),
}
_PICKLE = ("a Python pickle", "Loading a pickle runs code stored in the file.")


def trust_box(parent: QWidget | None, path: str, fmt: str, reasons: Sequence[str] | None = None) -> QMessageBox:
    """The question, built but not shown: buttons "Trust and Load", "Inspect Only" and Cancel."""
    what, runs = _WHAT.get(fmt, _PICKLE)
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Load code from this file?" if fmt in _WHAT else "Open a pickle?")
    box.setText(f"<b>{escape(Path(path).name)}</b> is {what} ({escape(fmt)}).")
    found = ""
    if reasons:
        found = ("\n\nIts graph holds ops that touch files or the network: " + ", ".join(reasons) + ".")
    elif fmt == "savedmodel":
        found = "\n\nNo op that touches files or the network was found in its graph."
    box.setInformativeText(
        f"{runs} Only load it if you trust where it came from.{found}\n\n"
        "Inspect only reads its structure without running anything; predictions need it loaded.")
    box.setProperty("trust_reasons", list(reasons or []))
    box.setObjectName("trustQuestion")
    load = box.addButton("Trust and Load", QMessageBox.ButtonRole.AcceptRole)
    load.setObjectName("trustLoad")
    inspect_only = box.addButton("Inspect Only", QMessageBox.ButtonRole.RejectRole)
    inspect_only.setObjectName("trustInspectOnly")
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(inspect_only)
    box.load_button, box.inspect_button = load, inspect_only  # type: ignore[attr-defined]
    return box


def ask_trust(parent: QWidget | None, path: str, fmt: str, reasons: Sequence[str] | None = None) -> bool | None:
    """True: trust and load; False: inspect only (no code runs); None: cancel."""
    box = trust_box(parent, path, fmt, reasons)
    box.exec()
    clicked = box.clickedButton()
    if clicked is box.load_button:  # type: ignore[attr-defined]
        return True
    if clicked is box.inspect_button:  # type: ignore[attr-defined]
        return False
    return None


class TrustManyDialog(QDialog):
    """One question for every file of a drop whose loading runs code: each with its full path, what it
    is and what loading it runs, a checkbox (unchecked: inspect only), "Trust Selected" and "Trust None".

    Cancel (Esc, closing the window) opens none of them."""

    def __init__(self, parent: QWidget | None, items: Sequence[tuple[str, str, Sequence[str]]]) -> None:
        super().__init__(parent)
        self.setObjectName("trustManyQuestion")
        self.setWindowTitle(f"Load code from {len(items)} files?")
        self.items = [(p, f, list(r or [])) for p, f, r in items]
        head = QLabel(f"<b>Loading these {len(items)} files runs code stored in them.</b> Only trust a file "
                      "if you trust where it came from; the others are opened for inspection only (their "
                      "structure is read, nothing in them runs; predictions need them loaded).")
        head.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("trustList")
        self.list.setWordWrap(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.list.setSpacing(4)   # one file apart from the next
        for path, fmt, reasons in self.items:
            what, runs = _WHAT.get(fmt, _PICKLE)
            ops = (f"\nIts graph touches files or the network: {', '.join(reasons)}." if reasons else "")
            item = QListWidgetItem(f"{path}\n    {what} ({fmt}){ops}")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsSelectable)
            item.setCheckState(Qt.CheckState.Unchecked)
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setToolTip(f"{path}\n{runs}{ops}")
            self.list.addItem(item)
        self.all_box = QCheckBox("Select all")
        self.all_box.setTristate(False)
        self.all_box.toggled.connect(self._select_all)
        self.trust_button = QPushButton("Trust Selected")
        self.trust_button.setObjectName("trustSelected")
        self.none_button = QPushButton("Trust None")
        self.none_button.setObjectName("trustNone")
        self.none_button.setToolTip("Open every file for inspection only: nothing in them runs")
        self.none_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Open none of these files")
        buttons = QHBoxLayout()
        buttons.addWidget(self.all_box)
        buttons.addStretch(1)
        buttons.addWidget(self.trust_button)
        buttons.addWidget(self.none_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(head)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.answer: dict[str, bool] | None = None
        self.trust_button.clicked.connect(lambda: self._finish(self.checked()))
        self.none_button.clicked.connect(lambda: self._finish([]))
        self.cancel_button.clicked.connect(self.reject)
        self.list.itemChanged.connect(self._update_button)
        self._update_button()
        width = max(560, min(900, 40 + max(self.list.fontMetrics().horizontalAdvance(p) for p, _f, _r in self.items)))
        self.resize(width, min(520, 170 + 52 * len(self.items)))

    def paths(self) -> list[str]:
        return [p for p, _f, _r in self.items]

    def set_checked(self, paths: Sequence[str]) -> None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            on = item.data(Qt.ItemDataRole.UserRole) in paths
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def checked(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]

    def _select_all(self, on: bool) -> None:
        self.set_checked(self.paths() if on else [])

    def _update_button(self, *_args: object) -> None:
        n = len(self.checked())
        self.trust_button.setEnabled(n > 0)
        self.trust_button.setText(f"Trust Selected ({n})" if n else "Trust Selected")

    def _finish(self, trusted: Sequence[str]) -> None:
        self.answer = {p: p in trusted for p in self.paths()}
        self.accept()


def ask_trust_many(parent: QWidget | None, items: Sequence[tuple[str, str, Sequence[str]]]) -> dict[str, bool] | None:
    """{path: True (trust and load) / False (inspect only)} for every file, or None (Cancel: open none).
    One file: the single question (`ask_trust`)."""
    if len(items) == 1:
        path, fmt, reasons = items[0]
        answer = ask_trust(parent, path, fmt, reasons)
        return None if answer is None else {path: answer}
    dialog = TrustManyDialog(parent, items)
    dialog.exec()
    return dialog.answer
