"""The trust question asked before a model whose loading runs code from the file is loaded: a
pickle/joblib file (unpickling), a TensorFlow SavedModel (its graph's initializers run on load)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

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
