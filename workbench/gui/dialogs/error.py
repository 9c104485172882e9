"""A non-blocking dialog for unexpected exceptions (the app keeps running)."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> QMessageBox:
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle(title)
    box.setText(message)
    box.setInformativeText("The workbench keeps running. The details are also in the Messages panel.")
    if details:
        box.setDetailedText(details)
    box.setModal(False)
    box.show()
    return box
