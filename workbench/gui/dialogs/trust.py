"""The trust question asked before a pickle/joblib file is unpickled."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget


def ask_trust(parent: QWidget | None, path: str, fmt: str) -> bool | None:
    """True: trust and load; False: inspect only (no code runs); None: cancel."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Open a pickle?")
    box.setText(f"<b>{Path(path).name}</b> is a Python pickle ({fmt}).")
    box.setInformativeText(
        "Loading a pickle runs code stored in the file. Only load it if you trust where it came from.\n\n"
        "Inspect only reads its structure without running anything; predictions need it loaded.")
    load = box.addButton("Trust and Load", QMessageBox.ButtonRole.AcceptRole)
    inspect_only = box.addButton("Inspect Only", QMessageBox.ButtonRole.RejectRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(inspect_only)
    box.exec()
    clicked = box.clickedButton()
    if clicked is load:
        return True
    if clicked is inspect_only:
        return False
    return None
