"""Small screens: at 1024x640 no page widens the window, the export dialog fits the screen, the benchmark
controls keep their text, and the dark theme draws input frames, checked states and the tab bar line."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QCheckBox, QRadioButton, QWidget

SMALL = (1024, 640)
PAGES = ("overview", "rows", "predict", "benchmark", "endpoints")


def _settle() -> None:
    """Deliver pending events (layout requests, resizes, polish) until the layouts have taken effect:
    a layout that activates may post more, hence a few rounds instead of a timed wait."""
    for _ in range(4):
        QApplication.sendPostedEvents()
        QApplication.processEvents()


def _small_window(qtbot, window, samples: Path, wait_loaded, model: str = "ctr_pipeline.joblib"):
    window.open_paths([str(samples / model)])
    wait_loaded(window, 1)
    window.resize(*SMALL)
    _settle()
    assert window.width() == SMALL[0]
    return window


def _inside(child: QWidget, parent: QWidget) -> bool:
    """`child` is drawn entirely within `parent` (both shown)."""
    top_left = child.mapTo(parent, QPoint(0, 0))
    return parent.rect().contains(QRect(top_left, child.size()))


# -- the main window at 1024x640 -------------------------------------------------------------------

def test_no_page_widens_a_1024x640_window(qtbot, window, samples, wait_loaded) -> None:
    _small_window(qtbot, window, samples, wait_loaded)
    for page in PAGES:
        view = window.show_page(page)
        _settle()
        assert window.width() <= SMALL[0], page
        assert window.minimumSizeHint().width() <= SMALL[0], page
        assert view.width() <= window.width(), page
    endpoints = window.page("endpoints")
    for tab in ("endpoint", "status", "request", "response", "load"):
        endpoints.show_tab(tab)
        _settle()
        assert window.width() <= SMALL[0], tab
        assert window.minimumSizeHint().width() <= SMALL[0], tab
    # and back on the overview the window can still be made as small as before
    window.show_page("overview")
    window.resize(*SMALL)
    _settle()
    assert (window.width(), window.height()) == SMALL


def test_endpoints_form_becomes_a_tab_when_the_page_is_narrow(qtbot, window, samples, wait_loaded) -> None:
    _small_window(qtbot, window, samples, wait_loaded)
    view = window.show_page("endpoints")
    _settle()
    assert view.width() < view.minimum_wide_width()
    assert view.compact and view.tabs.tabText(0) == "Endpoint"
    assert view.tabs.currentWidget() is view.form_panel          # nothing probed yet: the form first
    assert view.probe_button.isVisibleTo(view.form_panel)
    # the whole form fits its tab at 640 px: no scrolling to reach Probe
    view.show_tab("endpoint")
    _settle()
    assert not view.form_panel.verticalScrollBar().isVisible()
    assert _inside(view.probe_button, view.form_panel.viewport())
    # the load test fits across (it only ever scrolls up and down)
    view.show_tab("load")
    _settle()
    assert view.load_test.width() <= view.load_tab.viewport().width()
    assert _inside(view.load_test.cancel_button, view.load_tab)
    # a wide window puts the form back beside the tabs, and a narrow one into them again
    window.resize(1400, 800)
    _settle()
    assert not view.compact and view.splitter.indexOf(view.form_panel) == 0
    assert view.tabs.indexOf(view.form_panel) == -1 and view.tabs.currentWidget() is view.load_tab
    assert view.form_panel.width() >= 300
    window.resize(*SMALL)
    _settle()
    assert view.compact and view.tabs.indexOf(view.form_panel) == 0 and window.width() == SMALL[0]


def test_load_test_charts_are_tall_enough_for_their_axis_labels(qtbot, window, samples, wait_loaded) -> None:
    from workbench.gui.views.endpoints import LOAD_CHART_MIN_HEIGHT

    _small_window(qtbot, window, samples, wait_loaded)
    view = window.show_page("endpoints")
    view.show_tab("load")
    _settle()
    panel = view.load_test
    for chart in (panel.latency_plot, panel.rps_plot):
        assert chart.minimumHeight() >= LOAD_CHART_MIN_HEIGHT >= 140
        assert chart.height() >= LOAD_CHART_MIN_HEIGHT
    assert panel.hist_plot.height() >= 2 * LOAD_CHART_MIN_HEIGHT
    # a page shorter than the panel scrolls instead of making the window taller
    assert view.load_tab.minimumSizeHint().height() < panel.minimumSizeHint().height()


def test_benchmark_controls_fit_1024_and_a_run_does_not_widen_the_window(qtbot, window, samples,
                                                                         wait_loaded) -> None:
    _small_window(qtbot, window, samples, wait_loaded, "iris_logreg.onnx")
    view = window.show_page("benchmark")
    _settle()
    batches = view.batches
    text_width = batches.fontMetrics().horizontalAdvance(batches.text())
    assert batches.width() >= text_width + 8                   # "1, 8, 64" whole, not ", 64"
    assert batches.minimumWidth() >= batches.fontMetrics().horizontalAdvance("1, 8, 64, 512")
    for widget in (view.run_button, view.cancel_button, view.end_to_end, view.duration, batches):
        assert _inside(widget, view), widget
    before = view.minimumSizeHint().width()
    view.batches.setText("1")
    view.duration.setValue(0.2)
    worker = view.run()
    qtbot.waitUntil(lambda: view.progress.isVisible(), timeout=10_000)
    _settle()
    assert view.minimumSizeHint().width() == before          # the progress bar's room is kept while hidden
    assert window.width() == SMALL[0]
    qtbot.waitUntil(lambda: worker.is_done and view.result is not None, timeout=120_000)
    _settle()
    assert window.width() == SMALL[0] and window.minimumSizeHint().width() <= SMALL[0]


# -- the export dialog -----------------------------------------------------------------------------

def _export_dialog(qtbot, window, samples: Path, wait_loaded):
    _small_window(qtbot, window, samples, wait_loaded)
    window.export_model()
    dialog = window._export_dialog
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: bool(dialog.targets), timeout=60_000)
    _settle()
    return dialog


def test_export_dialog_is_sized_to_its_content_within_the_screen(qtbot, window, samples, wait_loaded) -> None:
    dialog = _export_dialog(qtbot, window, samples, wait_loaded)
    screen = dialog.screen().availableGeometry()
    assert dialog.width() <= screen.width() and dialog.height() <= screen.height()
    # its content, not 760x720: no blank band between the boxes and the buttons
    hint = dialog.sizeHint()
    assert dialog.width() <= max(hint.width(), dialog.minimumSizeHint().width()) + 1
    assert dialog.height() <= hint.height() + 1
    assert (dialog.width(), dialog.height()) != (760, 720)
    body = dialog.body.widget()
    boxes_bottom = max(box.mapTo(dialog, QPoint(0, box.height())).y()
                       for box in body.findChildren(QWidget) if box.parentWidget() is body and box.isVisible())
    assert dialog.convert_button.mapTo(dialog, QPoint(0, 0)).y() - boxes_bottom < 60
    for button in (dialog.convert_button, dialog.close_button):
        assert _inside(button, dialog)


def test_export_dialog_fits_a_1024x640_screen_with_its_buttons_in_sight(qtbot, window, samples,
                                                                        wait_loaded) -> None:
    dialog = _export_dialog(qtbot, window, samples, wait_loaded)
    small = QRect(0, 0, *SMALL)
    # a result with a full table of worst rows makes the content taller than such a screen
    dialog.worst.setRowCount(5)
    dialog.verdict.setText("✓ PASS on 30 rows<br>" + "a long note about the parity check " * 8)
    dialog.result_box.setVisible(True)
    dialog.fit_to_screen(small, grow_only=True)
    _settle()
    frame = dialog.frameGeometry()                                 # the window frame included
    assert small.contains(frame), (frame, small)
    for button in (dialog.convert_button, dialog.close_button, dialog.cancel_button):
        assert _inside(button, dialog)
    assert dialog.body.verticalScrollBar().maximum() > 0          # the boxes scroll instead
    # long messages wrap inside the dialog instead of widening it
    dialog.progress_label.setText("✗ " + "x" * 400)
    dialog.fit_to_screen(small)
    _settle()
    assert dialog.width() <= SMALL[0]


# -- the dark theme ------------------------------------------------------------------------------

@pytest.fixture
def dark(qapp):
    from workbench.gui.theme import DARK, apply_theme

    apply_theme("dark", qapp)
    yield DARK
    apply_theme("light", qapp)


def _pixels(widget: QWidget) -> set[str]:
    image = widget.grab().toImage()
    return {image.pixelColor(x, y).name() for x in range(image.width()) for y in range(image.height())}


def test_dark_theme_draws_frames_and_checked_states(qtbot, dark) -> None:
    from PySide6.QtWidgets import QLineEdit

    unchecked, checked, radio = QCheckBox(), QCheckBox(), QRadioButton()
    checked.setChecked(True)
    radio.setChecked(True)
    edit = QLineEdit()
    for i, w in enumerate((unchecked, checked, radio, edit)):
        qtbot.addWidget(w)
        w.resize(w.sizeHint())
        w.move(300, 100 + 40 * i)             # away from the pointer: hovered, the outline is the accent
        w.show()
    _settle()
    assert not any(w.underMouse() for w in (unchecked, checked, radio, edit))
    border, highlight = dark["border"], dark["highlight"]
    assert border in _pixels(unchecked)                          # the box is outlined
    assert border in _pixels(edit)
    assert highlight in _pixels(checked) and "#ffffff" in _pixels(checked)   # filled, with a white tick
    assert highlight in _pixels(radio) and "#ffffff" in _pixels(radio)
    assert highlight not in _pixels(unchecked)


def test_dark_theme_tab_bar_line_uses_the_border_colour(qtbot, window, dark) -> None:
    _settle()
    assert QApplication.palette().color(QApplication.palette().ColorRole.Light) == QColor(dark["border"])
    bar = window.tabs.tabBar()
    image = window.grab().toImage()
    top = bar.mapTo(window, QPoint(0, 0)).y()
    x = window.width() - 20                                       # right of the tabs: only the base line
    rows = {image.pixelColor(x, y).name() for y in range(top - 2, top + bar.height())}
    assert "#ffffff" not in rows
    assert dark["border"] in rows
