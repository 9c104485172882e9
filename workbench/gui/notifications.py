"""One place where errors and warnings from workers, views and the excepthook end up.

Like napari's ``NotificationManager``: `notify()` records a `Notification` and emits
``sig_notified``; the `NotificationArea` widget (a dock in the main window) lists them with
their details, and the status bar shows the latest.
"""

from __future__ import annotations

import logging
import threading
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.resources import icon

log = logging.getLogger(__name__)

Severity = Literal["info", "warning", "error"]


@dataclass(frozen=True)
class Notification:
    """A message for the user: one line, an optional hint, details (traceback, Java stderr...)."""

    severity: Severity
    message: str
    details: str = ""
    hint: str = ""
    context: str = ""
    time: datetime = field(default_factory=datetime.now)

    def title(self) -> str:
        prefix = f"{self.context}: " if self.context else ""
        return f"{prefix}{self.message}"


class NotificationManager(QObject):
    """Collects notifications; thread-safe `notify`, signal delivered on the GUI thread."""

    sig_notified = Signal(object)
    """A new `Notification` was recorded."""
    sig_cleared = Signal()
    """All notifications were dismissed."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.records: list[Notification] = []

    def notify(self, note: Notification) -> None:
        with self._lock:
            self.records.append(note)
        log.log({"info": logging.INFO, "warning": logging.WARNING}.get(note.severity, logging.ERROR),
                 "%s", note.title())
        self.sig_notified.emit(note)

    def clear(self) -> None:
        with self._lock:
            self.records.clear()
        self.sig_cleared.emit()


_MANAGER: NotificationManager | None = None


def manager() -> NotificationManager:
    """The process-wide manager (created on first use, on the GUI thread)."""
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = NotificationManager()
    return _MANAGER


def notify(message: str, severity: Severity = "info", *, details: str = "", hint: str = "",
           context: str = "") -> Notification:
    """Record a message for the user."""
    note = Notification(severity, message, details=details, hint=hint, context=context)
    manager().notify(note)
    return note


def describe_exception(exc: BaseException) -> tuple[str, str, str]:
    """(one-line message, hint, details) for an exception; domain errors keep their own words."""
    from workbench.core.errors import WorkbenchError

    details = getattr(exc, "__workbench_traceback__", "") or "".join(
        traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, WorkbenchError):
        extra = []
        for attr in ("problems", "details"):
            value = getattr(exc, attr, None)
            if value:
                extra.append("\n".join(value) if isinstance(value, list) else str(value))
        # a domain error is not a bug: show what the core said, not a traceback
        return exc.message, exc.hint or "", "\n\n".join(extra)
    return f"{type(exc).__name__}: {exc}", "", details


def notify_exception(exc: BaseException, *, context: str = "", severity: Severity = "error") -> Notification:
    """Record an exception (a worker's error, or one caught by the excepthook)."""
    message, hint, details = describe_exception(exc)
    return notify(message, severity, details=details, hint=hint, context=context)


# -- the widget ---------------------------------------------------------------------------------

_ICONS = {"info": "info", "warning": "warning", "error": "error"}


class NotificationArea(QWidget):
    """A list of notifications with the details of the selected one."""

    def __init__(self, mgr: NotificationManager | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mgr = mgr or manager()
        self.list = QListWidget()
        self.list.setObjectName("notificationList")
        self.list.setToolTip("Errors and warnings from loading, converting, predicting and probing")
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("Select a message to see its details")
        clear = QPushButton("Clear")
        clear.setToolTip("Dismiss all messages")
        clear.clicked.connect(self.mgr.clear)
        self.count_label = QLabel("")

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.list)
        splitter.addWidget(self.details)
        splitter.setSizes([500, 400])
        top = QHBoxLayout()
        top.addWidget(self.count_label, 1)
        top.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(splitter)

        self.list.currentItemChanged.connect(self._show_details)
        self.mgr.sig_notified.connect(self._add)
        self.mgr.sig_cleared.connect(self._clear)
        for note in list(self.mgr.records):
            self._add(note)

    def messages(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def _add(self, note: Notification) -> None:
        text = f"{note.time:%H:%M:%S}  {note.title()}"
        if note.hint:
            text += f" -- {note.hint}"
        item = QListWidgetItem(icon(_ICONS[note.severity]), text)
        item.setData(Qt.ItemDataRole.UserRole, note)
        item.setToolTip(note.title() + (f"\n{note.hint}" if note.hint else ""))
        self.list.addItem(item)
        self.list.scrollToBottom()
        self._update_count()

    def _clear(self) -> None:
        self.list.clear()
        self.details.clear()
        self._update_count()

    def _update_count(self) -> None:
        n = self.list.count()
        self.count_label.setText(f"{n} message{'s' if n != 1 else ''}" if n else "No messages")

    def _show_details(self, item: QListWidgetItem | None) -> None:
        if item is None:
            self.details.clear()
            return
        note: Notification = item.data(Qt.ItemDataRole.UserRole)
        parts = [note.title()]
        if note.hint:
            parts.append(f"Hint: {note.hint}")
        if note.details:
            parts.append(note.details)
        self.details.setPlainText("\n\n".join(parts))
