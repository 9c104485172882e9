"""Dropping several pickles asks ONE trust question for all of them, in drop order, with full paths and a
checkbox each; "Trust Selected" loads the checked ones, the others are opened for inspection only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox


class Answer:
    """Answers every modal trust question that appears (the real dialogs), recording each."""

    def __init__(self, choose) -> None:
        self.choose = choose
        self.seen: list[QDialog] = []
        self.shown: list[dict] = []
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._poll)
        self.timer.start()

    def _poll(self) -> None:
        box = QApplication.activeModalWidget()
        if box is None or box in self.seen:
            return
        self.seen.append(box)
        if isinstance(box, QMessageBox):   # the single-file question
            self.shown.append({"kind": "single", "text": box.text()})
            box.inspect_button.click()
            return
        if box.objectName() == "trustManyQuestion":
            rows = [box.list.item(i) for i in range(box.list.count())]
            self.shown.append({"kind": "many", "paths": box.paths(), "texts": [r.text() for r in rows],
                               "checkable": all(r.flags() & Qt.ItemFlag.ItemIsUserCheckable for r in rows),
                               "buttons": (box.trust_button.text(), box.none_button.text())})
            self.choose(box)


@pytest.fixture
def real_window(qtbot, notes):
    from workbench.gui.app import create_app
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import AppSettings

    create_app(theme="light")
    win = MainWindow(AppSettings())   # the real trust dialogs
    qtbot.addWidget(win)
    win.show()
    return win


def _pickles(samples: Path, tmp_path: Path) -> list[Path]:
    # names whose sorted order is not the drop order; sizes differ so detection finishes in any order
    names = ["d_ctr.joblib", "a_iris.joblib", "c_gb.joblib", "b_diabetes.joblib"]
    sources = ["ctr_pipeline.joblib", "iris_logreg.joblib", "gb_classifier.joblib", "diabetes_rf.joblib"]
    out = []
    for name, src in zip(names, sources, strict=True):
        shutil.copy(samples / src, tmp_path / name)
        out.append((tmp_path / name).resolve())
    return out


def _drop(window, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def test_dropping_four_pickles_asks_once_in_drop_order(qtbot, real_window, samples, tmp_path, wait_loaded) -> None:
    paths = _pickles(samples, tmp_path)

    def trust_two(box) -> None:
        box.set_checked([str(paths[0]), str(paths[2])])
        assert box.trust_button.isEnabled() and box.trust_button.text() == "Trust Selected (2)"
        box.trust_button.click()

    answer = Answer(trust_two)
    _drop(real_window, paths)
    wait_loaded(real_window, 4)
    answer.timer.stop()
    assert len(answer.shown) == 1, answer.shown             # one dialog, not four stacked ones
    shown = answer.shown[0]
    assert shown["kind"] == "many" and shown["checkable"]
    assert shown["paths"] == [str(p) for p in paths]          # in drop order
    assert [t.splitlines()[0] for t in shown["texts"]] == [str(p) for p in paths]   # full paths shown
    assert shown["buttons"] == ("Trust Selected", "Trust None")   # nothing checked at first
    trusted = {Path(d.path).name: d.trusted for d in real_window.documents()}
    assert trusted == {"d_ctr.joblib": True, "a_iris.joblib": False, "c_gb.joblib": True, "b_diabetes.joblib": False}
    # the untrusted ones were only inspected: no estimator loaded from them
    assert {Path(d.path).name: d.info.loaded for d in real_window.documents()}["a_iris.joblib"] is False


def test_trust_none_and_cancel(qtbot, real_window, samples, tmp_path, wait_loaded) -> None:
    paths = _pickles(samples, tmp_path)[:2]
    answer = Answer(lambda box: box.none_button.click())
    real_window.open_paths([str(p) for p in paths])
    wait_loaded(real_window, 2)
    assert [s["kind"] for s in answer.shown] == ["many"]
    assert all(not d.trusted for d in real_window.documents())
    answer.choose = lambda box: box.reject()                 # Cancel: none of them is opened
    (tmp_path / "more").mkdir()
    more = _pickles(samples, tmp_path / "more")[2:]
    real_window.open_paths([str(p) for p in more])
    qtbot.waitUntil(lambda: len(answer.shown) == 2 and not real_window.loader.busy, timeout=60_000)
    answer.timer.stop()
    assert len(real_window.documents()) == 2


def test_one_untrusted_file_among_safe_ones_gets_the_single_question(qtbot, real_window, samples,
                                                                    wait_loaded) -> None:
    answer = Answer(lambda box: box.reject())
    real_window.open_paths([str(samples / "iris_logreg.onnx"), str(samples / "iris_logreg.joblib")])
    wait_loaded(real_window, 2)
    answer.timer.stop()
    assert [s["kind"] for s in answer.shown] == ["single"]
    assert "iris_logreg.joblib" in answer.shown[0]["text"]
