"""The app's icons and stylesheets load from resources/, and the committed desktop icons are what
scripts/make_icons.py renders from resources/icons/app.svg."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PySide6.QtGui import QImage

from workbench.core.desktop_entry import APP_ID, ICON_SIZES
from workbench.gui import resources

REPO = Path(__file__).resolve().parents[2]
HICOLOR = REPO / "resources" / "desktop" / "icons" / "hicolor"


def load_make_icons():
    spec = importlib.util.spec_from_file_location("make_icons", REPO / "scripts" / "make_icons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_desktop_icons_are_rendered_from_app_svg(qapp) -> None:
    rendered = load_make_icons().icon_files()
    expected = [f"scalable/apps/{APP_ID}.svg"] + [f"{n}x{n}/apps/{APP_ID}.png" for n in ICON_SIZES]
    assert sorted(rendered) == sorted(expected)
    committed = sorted(p.relative_to(HICOLOR).as_posix() for p in HICOLOR.rglob("*") if p.is_file())
    assert committed == sorted(expected)
    stale = [rel for rel, content in rendered.items() if (HICOLOR / rel).read_bytes() != content]
    assert stale == [], "run `QT_QPA_PLATFORM=offscreen python3 scripts/make_icons.py` and commit the icons"


def test_desktop_icons_are_opaque_where_the_app_icon_is_drawn(qapp) -> None:
    for n in ICON_SIZES:
        image = QImage(str(HICOLOR / f"{n}x{n}/apps/{APP_ID}.png"))
        assert (image.width(), image.height()) == (n, n)
        centre, corner = image.pixelColor(n // 2, n // 4), image.pixelColor(0, 0)
        assert corner.alpha() == 0  # rounded corner: transparent
        assert centre.alpha() == 255


def test_gui_loads_icons_and_styles_from_the_resources_package(qapp) -> None:
    assert set(resources.icon_names()) == {p.stem for p in (REPO / "resources" / "icons").glob("*.svg")}
    assert not resources.icon("app").isNull()
    sheet = resources.stylesheet({"text": "#123456"})
    assert sheet.count("\n") > 10 and "{{ text }}" not in sheet
