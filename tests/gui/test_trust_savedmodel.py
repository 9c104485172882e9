"""Opening a SavedModel in the app asks the trust question (loading it runs code from the file), naming
the ops of its graph that touch files or the network; without trust nothing of the file runs."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.core.test_hostile_savedmodel import BUILD

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("tensorflow")
    folder = tmp_path_factory.mktemp("gui-hostile-savedmodel")
    model, canary = folder / "writes_canary", folder / "canary.txt"
    subprocess.run([sys.executable, "-c", BUILD, str(model), str(canary), f"canary_{uuid.uuid4().hex}"],
                   check=True, capture_output=True, timeout=300)
    return {"model": model, "canary": canary}


class TrustAnswer:
    """Answers the real trust dialog when it appears: records its text, clicks `button`."""

    def __init__(self, button: str) -> None:
        self.button = button
        self.seen: list[tuple[str, str, str]] = []
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._poll)
        self.timer.start()

    def _poll(self) -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.objectName() == "trustQuestion":
            self.seen.append((box.windowTitle(), box.text(), box.informativeText()))
            self.timer.stop()
            getattr(box, self.button).click()


@pytest.fixture
def real_dialog_window(qtbot, notes):
    """A main window that asks through the real trust dialog (no trust_prompt override)."""
    from workbench.gui.app import create_app
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import AppSettings

    create_app(theme="light")
    win = MainWindow(AppSettings())
    qtbot.addWidget(win)
    win.show()
    return win


class _Job:
    """What a worker hands its job: no cancel, progress ignored (the job runs on this thread)."""

    def check(self) -> None:
        pass

    def progress(self, *_args: object, **_kwargs: object) -> None:
        pass


def _predict(doc) -> dict:
    """The Predict page's own job, with the document's trust, run here."""
    from workbench.gui.views.predict import predict_job

    return predict_job(doc.path, doc.info, doc.trusted, pd.DataFrame({"x": [1.0, 2.0]}), ["tensorflow"], {},
                       _Job())


def test_opening_an_untrusted_savedmodel_asks_and_lists_its_file_ops(qtbot, real_dialog_window, hostile,
                                                                       wait_loaded) -> None:
    win = real_dialog_window
    hostile["canary"].unlink(missing_ok=True)
    answer = TrustAnswer("inspect_button")
    win.open_paths([str(hostile["model"])])
    wait_loaded(win, 1)
    assert len(answer.seen) == 1, "the trust dialog was not shown"
    title, text, informative = answer.seen[0]
    assert "writes_canary" in text and "SavedModel" in text and "pickle" not in title.lower()
    assert "touch files or the network: WriteFile" in informative
    doc = win.documents()[0]
    assert (doc.trusted, doc.info.format) == (False, "savedmodel")
    assert [s.name for s in doc.info.inputs] == ["x"]   # inspected without loading
    assert win.overview.trust_button.isVisibleTo(win)
    # predicting the untrusted model is refused, and the initializer never runs
    result = _predict(doc)
    assert result["errors"]["tensorflow"].kind == "untrusted"
    assert "WriteFile" in str(result["errors"]["tensorflow"])
    assert not hostile["canary"].exists()
    # Overview ▸ Trust and load: re-opened with trust, no second question; now it loads and predicts
    win.overview.trust_button.click()
    qtbot.waitUntil(lambda: doc.trusted and not win.loader.busy, timeout=60_000)
    assert len(answer.seen) == 1
    assert not win.overview.trust_button.isVisibleTo(win)
    result = _predict(doc)
    assert not result["errors"]
    assert result["batches"]["tensorflow"].values.reshape(-1).tolist() == [2.0, 4.0]
    assert hostile["canary"].exists()


def test_trust_and_load_in_the_dialog_trusts_the_savedmodel(qtbot, real_dialog_window, hostile,
                                                            wait_loaded) -> None:
    win = real_dialog_window
    answer = TrustAnswer("load_button")
    win.open_paths([str(hostile["model"])])
    wait_loaded(win, 1)
    assert len(answer.seen) == 1
    doc = win.documents()[0]
    assert doc.trusted and not win.overview.trust_button.isVisibleTo(win)
    assert "trusted by you" in win.overview.fact_labels["Loaded"].text()


def test_an_ordinary_savedmodel_asks_too_and_says_no_file_op_was_found(qtbot, real_dialog_window, samples,
                                                                         wait_loaded) -> None:
    win = real_dialog_window
    answer = TrustAnswer("inspect_button")
    win.open_paths([str(samples / "keras_mlp_savedmodel")])
    wait_loaded(win, 1)
    assert len(answer.seen) == 1
    assert "No op that touches files or the network was found" in answer.seen[0][2]
