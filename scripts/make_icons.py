"""Render the application icon for the desktop: resources/icons/app.svg -> resources/desktop/icons/hicolor.

Writes ``hicolor/<N>x<N>/apps/<APP_ID>.png`` for every size of ``workbench.core.desktop_entry.ICON_SIZES``
and ``hicolor/scalable/apps/<APP_ID>.svg`` (the SVG with ``currentColor`` made explicit, since a desktop
draws it outside the app's theme). Run it after changing app.svg and commit the result:

    QT_QPA_PLATFORM=offscreen python3 scripts/make_icons.py [--out FOLDER]

tests/gui/test_app_icons.py renders again and compares with the committed files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "resources" / "icons" / "app.svg"
DEFAULT_OUT = REPO / "resources" / "desktop" / "icons" / "hicolor"

#: what `currentColor` becomes in the desktop icon (the app's accent, as in app.svg's own fills)
ICON_COLOR = "#2f6fde"


def scalable_svg(source: Path = SOURCE) -> bytes:
    return source.read_text(encoding="utf-8").replace("currentColor", ICON_COLOR).encode("utf-8")


def render_png(svg: bytes, size: int) -> bytes:
    """`svg` drawn on a transparent size x size canvas, as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(QByteArray(svg))
    if not renderer.isValid():
        raise ValueError("the icon SVG cannot be parsed")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError(f"cannot encode the {size}px icon as PNG")
    buffer.close()
    return bytes(data.data())


def icon_files(source: Path = SOURCE) -> dict[str, bytes]:
    """Every icon file, by path relative to the hicolor folder."""
    from PySide6.QtGui import QGuiApplication

    from workbench.core.desktop_entry import APP_ID, ICON_SIZES

    _app = QGuiApplication.instance() or QGuiApplication(["make_icons"])  # QPainter on QImage needs one
    svg = scalable_svg(source)
    out = {f"scalable/apps/{APP_ID}.svg": svg}
    for size in ICON_SIZES:
        out[f"{size}x{size}/apps/{APP_ID}.png"] = render_png(svg, size)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"hicolor folder (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    for rel, content in icon_files().items():
        target = args.out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
