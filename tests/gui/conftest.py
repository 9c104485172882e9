"""GUI test setup: offscreen Qt, settings in a temp file, no worker left running after a test."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import

from pathlib import Path

import pytest

import workbench.gui  # noqa: F401  (applies the PySide6 6.12 / CPython 3.11 refcount guard first)

SAMPLES = Path(__file__).resolve().parents[2] / "sample_models"


@pytest.fixture(scope="session", autouse=True)
def _gc_on_the_gui_thread(qapp):
    """Garbage (and the Qt objects in it) is collected on the GUI thread only, as in the app:
    a collection on a worker or JPype thread can deadlock in a QObject destructor."""
    from workbench.gui import gc_guard

    gc_guard.install(qapp)
    yield
    gc_guard.uninstall()


@pytest.fixture(autouse=True)
def _fresh_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the developer's settings out of tests."""
    path = tmp_path / "settings" / "workbench.ini"
    monkeypatch.setenv("WORKBENCH_SETTINGS", str(path))
    return path


@pytest.fixture(autouse=True)
def _no_dangling_workers(qapp, request: pytest.FixtureRequest):
    """Fail a test that leaves a worker running (it is cancelled and waited for first)."""
    from workbench.gui import workers

    yield
    still = [w.name for w in workers.live_workers() if not w.is_done]
    if still:
        workers.shutdown(30_000)
    qapp.processEvents()
    assert not still, f"workers still running after the test: {still}"


@pytest.fixture
def notes():
    """The notification manager, emptied before the test."""
    from workbench.gui.notifications import manager

    mgr = manager()
    mgr.clear()
    return mgr


@pytest.fixture
def window(qtbot, notes):
    """A main window with its own settings; pickles are trusted without a dialog."""
    from workbench.gui.app import create_app
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import AppSettings

    create_app(theme="light")
    win = MainWindow(AppSettings(), trust_prompt=lambda _path, _fmt: True)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    return win


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def wait_loaded(qtbot):
    """wait_loaded(window, count): wait until `count` models are in the library and nothing is loading."""

    def wait(win, count: int, timeout: int = 60_000) -> None:
        qtbot.waitUntil(lambda: len(win.documents()) >= count and not win.loader.busy, timeout=timeout)

    return wait


def load_test_panel(window, url: str, model: str, rows_json: str = '[{"x": 1.0}]'):
    """The Endpoints page's load-test panel, aimed at `url` / `model`, sending `rows_json`."""
    view = window.show_page("endpoints")
    view.url.setText(url)
    view.model.setText(model)
    panel = view.load_test
    panel.use_model_rows.setChecked(False)
    panel.rows_json.setText(rows_json)
    return panel
