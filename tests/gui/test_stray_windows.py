"""No stray top-level windows while models load (issue 17): with the Predict (or Benchmark) page showing,
models loaded through the real loader one after another never show a window of their own. On an X server
with a window manager the old runtime check boxes (reparented to None while a "show" was queued) flashed
as 60x16 windows named after a runtime ("native", "jpmml", ...) and took the focus."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QMenu, QWidget

#: Qt's own short-lived top levels that are fine: tooltips and menus
_ALLOWED = ("QTipLabel", "QMenu", "QComboBoxPrivateContainer")


class _TopLevelShows(QObject):
    """Every widget that is shown (or made a window) as a top-level window, besides `main`."""

    def __init__(self, main: QWidget) -> None:
        super().__init__()
        self.main = main
        self.seen: list[str] = []

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.Show, QEvent.Type.WinIdChange) and isinstance(obj, QWidget) \
                and obj.isWindow() and obj is not self.main and not isinstance(obj, QMenu) \
                and type(obj).__name__ not in _ALLOWED:
            self.seen.append(f"{type(obj).__name__} {getattr(obj, 'text', lambda: '')()!r} "
                             f"{obj.width()}x{obj.height()} ({event.type().name})")
        return False


@pytest.mark.parametrize("page", ["predict", "benchmark"])
def test_models_loading_while_a_page_shows_open_no_window_of_their_own(qtbot, window, samples, wait_loaded,
                                                                       page: str) -> None:
    window.show_page(page)
    spy = _TopLevelShows(window)
    QApplication.instance().installEventFilter(spy)
    try:
        # several formats (each with its own runtime check boxes), arriving one after the other
        paths = ["iris_logreg.joblib", "iris_logreg.onnx", "iris_logreg.pmml", "gb_classifier.joblib",
                 "xgb_classifier.json", "lgbm_classifier.txt"]
        window.open_paths([str(samples / p) for p in paths])
        wait_loaded(window, len(paths))
        for doc in window.documents():   # and the user clicking through them in the library
            item = window.library.find(doc.path)
            item.listWidget().setCurrentItem(item)
            assert window.current_document() is doc
        QApplication.processEvents()
    finally:
        QApplication.instance().removeEventFilter(spy)
    assert spy.seen == []
    shown = [w for w in QApplication.topLevelWidgets()
             if w.isVisible() and not isinstance(w, QMenu) and type(w).__name__ not in _ALLOWED]
    assert shown == [window]
