"""Light and dark palettes; "system" follows the platform's colour scheme and its changes."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from importlib.resources import files
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")

LIGHT = {
    "window": "#f3f4f6", "base": "#ffffff", "alt_base": "#f7f8fa", "text": "#1f2328",
    "muted": "#5f6b7a", "button": "#eceef1", "highlight": "#2f6fde", "highlight_text": "#ffffff",
    "border": "#c9ced6", "icon": "#3a4452", "accent": "#2f6fde", "ok": "#1a7f37",
    "bad": "#c62828", "warn": "#9a6700", "bad_bg": "#fde2e1", "warn_bg": "#fff4d6",
    "ok_bg": "#dcf5e3", "diff_bg": "#ffe3b3", "plot_bg": "#ffffff", "plot_fg": "#30363d",
}
DARK = {
    "window": "#1e2127", "base": "#16181d", "alt_base": "#1c1f25", "text": "#e3e6eb",
    "muted": "#9aa4b2", "button": "#2a2e36", "highlight": "#3d7be6", "highlight_text": "#ffffff",
    "border": "#3a3f4a", "icon": "#c9d1d9", "accent": "#5b9bff", "ok": "#56d364",
    "bad": "#ff7b72", "warn": "#e3b341", "bad_bg": "#4a1f1f", "warn_bg": "#3d3216",
    "ok_bg": "#1b3a24", "diff_bg": "#5a3d10", "plot_bg": "#16181d", "plot_fg": "#c9d1d9",
}

_current: dict[str, str] = dict(LIGHT)
_choice = "system"


class ThemeSignals(QObject):
    """`sig_changed(colors)` after a theme is applied: charts and views restyle what a palette does not reach."""

    sig_changed = Signal(dict)


_signals: ThemeSignals | None = None


def signals() -> ThemeSignals:
    """The application-wide theme signals (created on first use, on the GUI thread)."""
    global _signals
    if _signals is None:
        _signals = ThemeSignals()
    return _signals


def current_colors() -> dict[str, str]:
    """The colours of the theme in use (views use them for highlights and charts)."""
    return _current


def is_dark() -> bool:
    return _current is DARK or _current.get("base") == DARK["base"]


def system_prefers_dark() -> bool:
    hints = QGuiApplication.styleHints() if QGuiApplication.instance() else None
    return bool(hints is not None and hints.colorScheme() == Qt.ColorScheme.Dark)


def build_palette(colors: dict[str, str]) -> QPalette:
    pal = QPalette()
    role = QPalette.ColorRole
    pairs = {
        role.Window: "window", role.WindowText: "text", role.Base: "base", role.AlternateBase: "alt_base",
        role.Text: "text", role.Button: "button", role.ButtonText: "text", role.Highlight: "highlight",
        role.HighlightedText: "highlight_text", role.ToolTipBase: "base", role.ToolTipText: "text",
        role.PlaceholderText: "muted", role.Link: "accent", role.Mid: "border", role.Dark: "border",
        # styles draw the tab bar's base line (and sunken frame edges) in Light: white by default
        role.Light: "border", role.Midlight: "border",
    }
    for r, key in pairs.items():
        pal.setColor(r, QColor(colors[key]))
    disabled = QPalette.ColorGroup.Disabled
    for r in (role.Text, role.WindowText, role.ButtonText):
        pal.setColor(disabled, r, QColor(colors["muted"]))
    return pal


def apply_theme(choice: str = "system", app: QApplication | None = None) -> dict[str, str]:
    """Apply "system", "light" or "dark" to the application; returns the colours used."""
    global _current, _choice
    from workbench.gui.resources import clear_icon_cache, stylesheet

    app = app or QApplication.instance()
    _choice = choice if choice in THEMES else "system"
    dark = system_prefers_dark() if _choice == "system" else _choice == "dark"
    previous = _current
    _current = DARK if dark else LIGHT
    if app is not None:
        app.setStyle("Fusion")
        app.setPalette(build_palette(_current))
        app.setStyleSheet(stylesheet({**_current, "style_dir": style_dir(_current["icon"], _current["muted"])}))
    old_icons = _icon_names(previous["icon"])
    clear_icon_cache()
    if app is not None and old_icons and previous["icon"] != _current["icon"]:
        recolor_icons(old_icons)
    if app is not None:
        signals().sig_changed.emit(dict(_current))
    return _current


def _icon_names(colour: str) -> dict[int, str]:
    """cacheKey -> icon name of every icon drawn so far in the theme's icon colour (`resources.icon`)."""
    from workbench.gui import resources

    return {qicon.cacheKey(): name for (name, c), qicon in resources._ICON_CACHE.items() if c == colour}


def recolor_icons(names: dict[int, str]) -> int:
    """Redraw, in the current theme's icon colour, the icons of every button, action, tab and list item that
    shows one of `names` (icons drawn in another colour on purpose, e.g. white on a primary button, stay).
    Returns how many were replaced."""
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import (
        QAbstractButton,
        QListWidget,
        QTabBar,
        QTreeWidget,
        QTreeWidgetItemIterator,
        QWidget,
    )

    from workbench.gui.resources import icon

    def swap(qicon) -> object | None:
        name = names.get(qicon.cacheKey()) if qicon is not None and not qicon.isNull() else None
        return icon(name) if name else None

    done = 0
    widgets = QApplication.allWidgets()
    for w in widgets:
        new = None
        if isinstance(w, QAbstractButton) and (new := swap(w.icon())) is not None:
            w.setIcon(new)
            done += 1
        elif isinstance(w, QTabBar):
            for i in range(w.count()):
                if (new := swap(w.tabIcon(i))) is not None:
                    w.setTabIcon(i, new)
                    done += 1
        elif isinstance(w, QListWidget):
            for i in range(w.count()):
                item = w.item(i)
                if (new := swap(item.icon())) is not None:
                    item.setIcon(new)
                    done += 1
        elif isinstance(w, QTreeWidget):
            it = QTreeWidgetItemIterator(w)
            while it.value() is not None:
                item = it.value()
                if (new := swap(item.icon(0))) is not None:
                    item.setIcon(0, new)
                    done += 1
                it += 1
        for action in QWidget.actions(w):   # the class's: MainWindow.actions is a dict
            if isinstance(action, QAction) and (new := swap(action.icon())) is not None:
                action.setIcon(new)
                done += 1
    return done


@cache
def style_dir(icon_color: str, muted_color: str) -> str:
    """A folder of the images the stylesheets use (`url({{ style_dir }}/check.svg)`), `/`-separated as QSS
    wants: the SVGs of `resources/styles` with `currentColor` drawn in `icon_color`, plus a `NAME-muted.svg`
    of each in `muted_color` (disabled states). One temporary folder per colour pair, removed at exit."""
    folder = files("workbench.resources") / "styles"
    out = Path(tempfile.mkdtemp(prefix="workbench-styles-"))
    atexit.register(shutil.rmtree, out, True)
    for item in folder.iterdir():
        if item.name.endswith(".svg"):
            svg = item.read_text(encoding="utf-8")
            (out / item.name).write_text(svg.replace("currentColor", icon_color), encoding="utf-8")
            muted = item.name[:-4] + "-muted.svg"
            (out / muted).write_text(svg.replace("currentColor", muted_color), encoding="utf-8")
    return out.as_posix()


def follow_system(app: QApplication, on_change=None) -> None:
    """Re-apply the theme when the platform's colour scheme changes (only in "system" mode)."""

    def changed(_scheme: object) -> None:
        if _choice == "system":
            apply_theme("system", app)
            if on_change is not None:
                on_change()

    app.styleHints().colorSchemeChanged.connect(changed)
