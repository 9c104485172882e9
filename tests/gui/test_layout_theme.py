"""Layout and theme: the first window fits the screen, no stray windows while models load, recent files
read like an editor's, --screenshot leaves the recent files alone, icons follow a theme switch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QRect
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QWidget


def _settle() -> None:
    for _ in range(4):
        QApplication.sendPostedEvents()
        QApplication.processEvents()


def test_first_window_fits_a_1366x768_screen_with_its_status_bar(qtbot, notes) -> None:
    from workbench.gui.app import create_app, place_first_window
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import AppSettings

    create_app(theme="light")
    win = MainWindow(AppSettings(), trust_prompt=lambda _p, _f: True)
    qtbot.addWidget(win)
    available = QRect(0, 0, 1366, 768 - 28)         # a 1366x768 screen less a panel
    place_first_window(win, available)
    win.show()
    _settle()
    assert available.contains(win.frameGeometry())
    assert win.width() <= int(1366 * 0.9) and win.height() <= int(740 * 0.9)
    bar = win.statusBar()
    bottom = bar.mapTo(win, bar.rect().bottomLeft()).y()
    assert bar.isVisible() and win.y() + bottom <= available.bottom()
    big = QRect(0, 0, 3840, 2160)                    # capped on a large screen
    place_first_window(win, big)
    assert (win.width(), win.height()) <= (1440, 900) and big.contains(win.frameGeometry())


class _WindowShows(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.shown: list[str] = []

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Show and isinstance(obj, QWidget) and obj.isWindow():
            self.shown.append(type(obj).__name__)
        return False


def test_no_stray_window_flashes_when_models_load_while_predict_shows(qtbot, window, samples, wait_loaded) -> None:
    window.open_paths([str(samples / "iris_logreg.onnx"), str(samples / "iris_logreg.pmml")])
    wait_loaded(window, 2)
    predict = window.show_page("predict")
    bench = window.page("benchmark")
    a, b = window.documents()[:2]
    spy = _WindowShows()
    QApplication.instance().installEventFilter(spy)
    try:
        for view in (predict, bench):     # models arriving one after the other, before the loop runs again
            view.set_document(a)
            view.set_document(b)
            view.set_document(a)
        _settle()
    finally:
        QApplication.instance().removeEventFilter(spy)
    assert spy.shown == []
    assert not [w for w in QApplication.topLevelWidgets() if w.isVisible() and w is not window
                and w.width() < 200]
    assert predict.selected_runtimes() and all(box.parent() is not None for box in predict.checks.values())


def test_recent_files_name_version_folders_and_tell_twins_apart(window, tmp_path: Path) -> None:
    from workbench.gui.settings import recent_labels

    paths = [tmp_path / "a" / "model.onnx", tmp_path / "b" / "model.onnx", tmp_path / "serving" / "ctr" / "1",
             tmp_path / "iris.pmml"]
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.mkdir() if p.name == "1" else p.write_text("x")
    window.library.set_recent([str(p) for p in paths])
    texts = [window.library.recent.item(i).text() for i in range(window.library.recent.count())]
    assert texts == ["model.onnx — a", "model.onnx — b", "ctr/1", "iris.pmml"]
    assert recent_labels(["/x/p/m.onnx", "/y/p/m.onnx"]) == ["m.onnx — x/p", "m.onnx — y/p"]
    assert recent_labels(["/srv/models/ctr/1", "/srv/other/ctr/1"]) == ["ctr/1 — models", "ctr/1 — other"]


def test_screenshot_runs_leave_the_recent_files_alone(tmp_path: Path, samples) -> None:
    from workbench.gui.settings import AppSettings

    ini = tmp_path / "user" / "workbench.ini"
    before = AppSettings(ini)
    before.add_recent_file(str(samples / "iris_logreg.pmml"))
    before.sync()
    env = {**os.environ, "WORKBENCH_SETTINGS": str(ini), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-m", "workbench", "gui", str(samples / "iris_logreg.onnx"),
                           "--screenshot", str(tmp_path / "shot.png")], env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "shot.png").stat().st_size > 1000
    assert AppSettings(ini).recent_files() == [str((samples / "iris_logreg.pmml").resolve())]


def _ink(icon) -> QColor:
    """The colour of the most opaque pixel of an icon drawn at 24 px."""
    image = icon.pixmap(24, 24).toImage()
    best = max(((image.pixelColor(x, y)) for x in range(image.width()) for y in range(image.height())),
               key=lambda c: c.alpha())
    return QColor(best.red(), best.green(), best.blue())


def test_button_tab_and_list_icons_follow_a_theme_switch(qtbot, window, samples, wait_loaded) -> None:
    from workbench.gui.theme import DARK, LIGHT

    window.open_paths([str(samples / "iris_logreg.onnx")])
    wait_loaded(window, 1)
    bench = window.show_page("benchmark")
    assert _ink(bench.cancel_button.icon()).name() == LIGHT["icon"]
    window._set_theme("dark")
    try:
        assert _ink(bench.cancel_button.icon()).name() == DARK["icon"]          # was dark grey on dark
        assert _ink(window.tabs.tabIcon(1)).name() == DARK["icon"]
        assert _ink(window.library.models.item(0).icon()).name() == DARK["icon"]
        assert _ink(bench.run_button.icon()).name() == "#ffffff"                # white on purpose: kept
    finally:
        window._set_theme("light")
    assert _ink(bench.cancel_button.icon()).name() == LIGHT["icon"]
