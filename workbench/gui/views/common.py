"""Small widgets and helpers shared by the views."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget


def core_module(name: str) -> tuple[ModuleType | None, str]:
    """Import a core module if it exists: (module, "") or (None, why it is not available)."""
    if importlib.util.find_spec(name) is None:
        return None, f"not available yet: {name} is not part of this build"
    try:
        return importlib.import_module(name), ""
    except ImportError as exc:  # a core module that exists but cannot be imported here
        return None, f"not available: importing {name} failed ({exc})"


def header(title: str, subtitle: str = "") -> tuple[QWidget, QLabel, QLabel]:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 4)
    layout.setSpacing(2)
    t = QLabel(title)
    t.setObjectName("viewTitle")
    s = QLabel(subtitle)
    s.setObjectName("viewSubtitle")
    s.setWordWrap(True)
    s.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    layout.addWidget(t)
    layout.addWidget(s)
    return box, t, s


def placeholder(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("placeholder")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    return label


def badge(text: str, kind: str) -> QLabel:
    """A coloured label: kind is ok, bad or warn."""
    label = QLabel(text)
    label.setObjectName({"ok": "badgeOk", "bad": "badgeBad"}.get(kind, "badgeWarn"))
    return label


def set_badge(label: QLabel, text: str, kind: str) -> None:
    label.setText(text)
    label.setObjectName({"ok": "badgeOk", "bad": "badgeBad"}.get(kind, "badgeWarn"))
    label.style().unpolish(label)
    label.style().polish(label)


def color(key: str) -> QColor:
    from workbench.gui.theme import current_colors

    return QColor(current_colors()[key])


def hbox(*widgets: QWidget, stretch_last: bool = False) -> QHBoxLayout:
    layout = QHBoxLayout()
    for w in widgets:
        layout.addWidget(w)
    if not stretch_last:
        layout.addStretch(1)
    return layout


def short_value(value: object, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def running_for(worker: Any, doc: Any) -> Any:
    """`doc`, the model a job was started for, while that job (`worker`) still runs; else None."""
    return doc if worker is not None and not worker.is_done else None
