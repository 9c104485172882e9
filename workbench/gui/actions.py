"""Actions as data: one list builds the menus, the toolbar and the shortcuts.

Each `ActionSpec` names a handler method on the main window (resolved when the actions are
built), so the window's ``__init__`` holds no per-action code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar

from workbench.gui.resources import icon

Shortcut = QKeySequence.StandardKey | str | None


@dataclass(frozen=True)
class ActionSpec:
    id: str
    text: str
    handler: str
    menu: str
    shortcut: Shortcut = None
    icon: str | None = None
    tip: str = ""
    toolbar: bool = False
    #: needs a model selected to be enabled
    needs_model: bool = False
    separator_before: bool = False
    #: short text for the toolbar button
    short: str = ""


MENUS = ("&File", "&Edit", "&Model", "&Endpoint", "&View", "&Help")

ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open", "&Open Model…", "open_model_dialog", "&File", QKeySequence.StandardKey.Open, "open",
               "Open model files (or a SavedModel folder with Open Folder)", toolbar=True, short="Open"),
    ActionSpec("open_folder", "Open &Folder…", "open_folder_dialog", "&File", "Ctrl+Shift+O", "folder",
               "Open a SavedModel folder or a TF Serving base folder"),
    ActionSpec("export", "&Export / Convert…", "export_model", "&File", "Ctrl+E", "export",
               "Convert the selected model to another format and check parity", toolbar=True,
               needs_model=True, short="Export"),
    ActionSpec("save_rows", "&Save Rows…", "save_rows", "&File", QKeySequence.StandardKey.Save, None,
               "Save the selected model's rows table as a CSV or JSON file", needs_model=True),
    ActionSpec("open_session", "Open &Session…", "open_session_dialog", "&File", None, "open",
               "Reopen a saved session: models with their rows and trust, endpoints, last results",
               separator_before=True),
    ActionSpec("save_session", "Save Session &As…", "save_session_dialog", "&File", None, "export",
               "Save the models (with rows and trust), endpoints (header values left out) and last results"),
    ActionSpec("close_model", "&Close Model", "close_model", "&File", QKeySequence.StandardKey.Close, "close",
               "Remove the selected model from the library", needs_model=True, separator_before=True),
    ActionSpec("quit", "&Quit", "quit_workbench", "&File", QKeySequence.StandardKey.Quit, "quit",
               "Quit the workbench (asks first if rows have unsaved changes)", separator_before=True),
    ActionSpec("undo", "&Undo", "undo_rows", "&Edit", QKeySequence.StandardKey.Undo, None,
               "Undo the last change to the rows table"),
    ActionSpec("redo", "&Redo", "redo_rows", "&Edit", "Ctrl+Shift+Z", None,
               "Redo the change to the rows table that was undone"),
    ActionSpec("run", "&Run Prediction", "run_prediction", "&Model", "Ctrl+R", "run",
               "Predict the rows table with the chosen runtimes", toolbar=True, needs_model=True,
               short="Run"),
    ActionSpec("benchmark", "&Benchmark", "show_benchmark", "&Model", "Ctrl+B", "chart",
               "Measure latency of the selected model's runtimes", needs_model=True),
    ActionSpec("refresh", "&Refresh Endpoint", "refresh_endpoint", "&Endpoint", QKeySequence.StandardKey.Refresh,
               "refresh", "Probe the selected endpoint again (status and signature)", toolbar=True,
               short="Refresh Endpoint"),
    ActionSpec("show_endpoints", "&Endpoints", "show_endpoints", "&Endpoint", "Ctrl+Shift+E", "endpoint",
               "Saved serving endpoints: probe, send requests, load test"),
    ActionSpec("theme_system", "Theme: Follow &System", "use_system_theme", "&View", None, None,
               "Light or dark, as the system is"),
    ActionSpec("theme_light", "Theme: &Light", "use_light_theme", "&View", None, None, "Light palette"),
    ActionSpec("theme_dark", "Theme: &Dark", "use_dark_theme", "&View", None, None, "Dark palette"),
    ActionSpec("about", "&About Workbench", "show_about", "&Help", None, "about",
               "Versions of every backend and which are available"),
)


def build_actions(window: QMainWindow, specs: tuple[ActionSpec, ...] = ACTIONS) -> dict[str, QAction]:
    """Create the QActions, their menus and the toolbar on `window`; returns them by id."""
    actions: dict[str, QAction] = {}
    menus: dict[str, QMenu] = {title: window.menuBar().addMenu(title) for title in MENUS}
    toolbar = QToolBar("Main", window)
    toolbar.setObjectName("mainToolbar")
    toolbar.setMovable(False)
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    window.addToolBar(toolbar)
    for spec in specs:
        action = QAction(spec.text, window)
        action.setObjectName(f"action_{spec.id}")
        if spec.icon:
            action.setIcon(icon(spec.icon))
        if spec.short:
            action.setIconText(spec.short)
        if spec.shortcut is not None:
            action.setShortcut(QKeySequence(spec.shortcut))
        tip = spec.tip
        if action.shortcut().toString():
            tip = f"{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
        action.setToolTip(tip)
        action.setStatusTip(spec.tip)
        handler: Callable[[], object] = getattr(window, spec.handler)
        action.triggered.connect(lambda _checked=False, h=handler: h())
        if spec.separator_before:
            menus[spec.menu].addSeparator()
        menus[spec.menu].addAction(action)
        if spec.toolbar:
            toolbar.addAction(action)
        actions[spec.id] = action
    window._toolbar = toolbar  # type: ignore[attr-defined]
    window._menus = menus  # type: ignore[attr-defined]
    return actions


def refresh_enabled(actions: dict[str, QAction], has_model: bool) -> None:
    for spec in ACTIONS:
        if spec.needs_model and spec.id in actions:
            actions[spec.id].setEnabled(has_model)
