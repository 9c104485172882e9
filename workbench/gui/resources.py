"""Icons and stylesheets, loaded by name from the top-level `resources/` folder.

`resources/` is installed as the package ``workbench.resources`` (pyproject.toml maps it), so the wheel
and the editable install both find it with importlib.resources. Icons are small SVGs in
``resources/icons``; ``icon(name)`` lists the known names when a lookup fails. Stylesheets are ordered
QSS files in ``resources/styles`` with ``{{ name }}`` placeholders filled from the palette of the
current theme.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from PySide6.QtCore import QByteArray, QSize, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap

#: the package the top-level resources/ folder is installed as
RESOURCES_PACKAGE = "workbench.resources"


def _resources() -> Traversable:
    return files(RESOURCES_PACKAGE)


@cache
def icon_names() -> tuple[str, ...]:
    folder = _resources() / "icons"
    return tuple(sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".svg")))


def icon_svg(name: str) -> str:
    """The SVG text of a named icon."""
    if name not in icon_names():
        raise KeyError(f"unknown icon {name!r}; known: {', '.join(icon_names())}")
    return (_resources() / "icons" / f"{name}.svg").read_text(encoding="utf-8")


_ICON_CACHE: dict[tuple[str, str], QIcon] = {}


def icon(name: str, color: str | None = None) -> QIcon:
    """A QIcon drawn from a named SVG; `currentColor` in the SVG becomes `color` (default: theme text)."""
    if color is None:
        from workbench.gui.theme import current_colors

        color = current_colors()["icon"]
    key = (name, color)
    if key not in _ICON_CACHE:
        from PySide6.QtSvg import QSvgRenderer

        svg = icon_svg(name).replace("currentColor", color)
        renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
        result = QIcon()
        for size in (16, 24, 32, 48):
            pixmap = QPixmap(QSize(size, size))
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            renderer.render(painter)
            painter.end()
            result.addPixmap(pixmap)
        _ICON_CACHE[key] = result
    return _ICON_CACHE[key]


def clear_icon_cache() -> None:
    _ICON_CACHE.clear()


def stylesheet(colors: dict[str, str]) -> str:
    """All QSS files of `resources/styles`, in name order, with `{{ key }}` replaced from `colors`."""
    folder = _resources() / "styles"
    parts = []
    for path in sorted((p for p in folder.iterdir() if p.name.endswith(".qss")), key=lambda p: p.name):
        text = path.read_text(encoding="utf-8")
        for key, value in colors.items():
            text = text.replace("{{ " + key + " }}", value)
        parts.append(text)
    return "\n".join(parts)
