"""Charts: the toolkit in workbench/gui/charts.py, splitters, fixed-size export with CSV data, crosshair
readout, legends (corner, translucent, toggleable), restyling on the theme signal, load-test saving."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QSplitter

from tests.gui.conftest import load_test_panel


def _settle() -> None:
    for _ in range(4):
        QApplication.sendPostedEvents()
        QApplication.processEvents()


def _bench(qtbot, window, samples, wait_loaded):
    window.open_paths([str(samples / "iris_logreg.onnx")])
    wait_loaded(window, 1)
    view = window.show_page("benchmark")
    view.batches.setText("1, 8")
    view.duration.setValue(0.3)
    worker = view.run()
    qtbot.waitUntil(lambda: worker.is_done and view.result is not None, timeout=120_000)
    return view


def test_the_load_test_no_longer_borrows_the_benchmark_module() -> None:
    code = ("import os; os.environ['QT_QPA_PLATFORM']='offscreen'\n"
            "import sys, workbench.gui.views.load_test as lt, workbench.gui.charts as c\n"
            "assert 'workbench.gui.views.benchmark' not in sys.modules, 'load_test imports benchmark'\n"
            "assert lt._plot is c.plot and lt.histogram_plot is c.histogram_plot\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_small_window_keeps_charts_tall_and_export_is_fixed_size_with_csv(qtbot, window, samples, wait_loaded,
                                                                          tmp_path: Path) -> None:
    from workbench.gui import charts

    view = _bench(qtbot, window, samples, wait_loaded)
    window.resize(1024, 640)
    _settle()
    # the charts sit in splitters and are never squashed to a strip
    assert isinstance(view.chart_splitter, QSplitter) and view.chart_splitter.count() == 3
    assert isinstance(view.splitter, QSplitter) and view.splitter.widget(1) is view.table
    for plot in (view.latency_plot, view.hist_plot, view.bar_plot):
        assert plot.height() >= charts.MIN_CHART_HEIGHT
    assert view.table.minimumHeight() >= 4 * view.table.verticalHeader().defaultSectionSize()
    on_screen = view.latency_plot.size()
    written = view.save_charts(str(tmp_path / "bench.png"))
    assert [Path(p).name for p in written] == ["bench-latency.png", "bench-histogram.png", "bench-comparison.png"]
    assert all(Path(p).with_suffix(".csv").is_file() for p in written)   # each with its data
    for png in written:
        image = QImage(png)
        assert (image.width(), image.height()) == charts.EXPORT_SIZE   # not the squeezed on-screen size
    assert view.latency_plot.size() == on_screen                        # and the chart on screen is as it was
    # the CSV holds the data drawn
    rows = list(csv.reader(open(tmp_path / "bench-comparison.csv", encoding="utf-8")))
    assert rows[0] == ["series", "x", "ms per call"]
    p50 = [float(r[2]) for r in rows[1:] if r[0] == "p50 ms"]
    assert p50 == pytest.approx([c.latency.percentiles_ms[50.0] for c in view.result.configs])
    hist_rows = list(csv.reader(open(tmp_path / "bench-histogram.csv", encoding="utf-8")))
    names = {r[0] for r in hist_rows[1:]}
    assert names == {"onnxruntime × 1", "onnxruntime × 8"}
    ones = [float(r[2]) for r in hist_rows[1:] if r[0] == "onnxruntime × 1"]
    assert sum(ones) == pytest.approx(100.0)
    svg = view.save_charts(str(tmp_path / "bench.svg"))
    text = Path(svg[0]).read_text(encoding="utf-8")
    assert text.lstrip().startswith("<?xml") and "1600" in text.split(">", 2)[1] + text[:600]


def test_crosshair_reads_out_the_values_under_the_mouse(qtbot, window, samples, wait_loaded) -> None:
    from workbench.gui import charts

    view = _bench(qtbot, window, samples, wait_loaded)
    plot = view.bar_plot
    vb = plot.getPlotItem().vb
    assert charts.readout(plot) == ""
    # hover over the first bar group (x = 0) in the middle of the plot's height
    scene_point = vb.mapViewToScene(vb.mapSceneToView(vb.sceneBoundingRect().center()))
    scene_point.setX(vb.mapViewToScene(vb.viewRect().center()).x())
    target = vb.mapViewToScene(vb.mapSceneToView(scene_point))
    target.setX(vb.mapViewToScene(type(target)(0.0, 0.0)).x())
    # the scene's mouse-move signal is what a real move emits (synthetic QTest moves reach an offscreen
    # window only while it is the active one, which a busy suite does not guarantee)
    plot.scene().sigMouseMoved.emit(target)
    p50 = view.result.configs[0].latency.percentiles_ms[50.0]
    assert f"p50 ms: {p50:.4g}" in charts.readout(plot)
    assert plot._crosshair["v"].isVisible() and plot._crosshair["text"].isVisible()
    plot.scene().sigMouseMoved.emit(plot.mapToScene(QPoint(4, plot.viewport().height() // 2)))  # left axis
    assert charts.readout(plot) == ""
    assert not plot._crosshair["v"].isVisible()


def test_legends_are_translucent_in_a_corner_and_toggle(qtbot, window, samples, wait_loaded) -> None:
    view = _bench(qtbot, window, samples, wait_loaded)
    legend = view.latency_plot.getPlotItem().legend
    assert legend.isVisible()
    assert legend.opts["brush"].color().alpha() < 255          # the curves under it show through
    box = legend.mapRectToParent(legend.boundingRect())
    area = view.latency_plot.getPlotItem().vb.boundingRect()
    assert box.right() <= area.right() - 4 and box.top() >= area.top() + 4   # top-right corner, inset
    view.legends.setChecked(False)
    assert not legend.isVisible() and not view.hist_plot.getPlotItem().legend.isVisible()
    view.legends.setChecked(True)
    assert legend.isVisible()
    assert not view.bar_plot.getPlotItem().legend.isVisible()  # its key is the title's


def test_charts_restyle_on_the_theme_signal_legend_text_included(qtbot, window, samples, wait_loaded) -> None:
    from workbench.gui.theme import DARK, LIGHT, apply_theme

    view = _bench(qtbot, window, samples, wait_loaded)
    try:
        apply_theme("dark")                 # the theme alone, not the window's menu action: the signal does it
        assert view.latency_plot.backgroundBrush().color().name() == DARK["plot_bg"]
        legend = view.latency_plot.getPlotItem().legend
        assert legend.items
        for _sample, label in legend.items:
            assert DARK["plot_fg"] in label.item.toHtml()   # the text drawn, not only the option
    finally:
        apply_theme("light")
    assert view.latency_plot.backgroundBrush().color().name() == LIGHT["plot_bg"]


def test_load_test_saves_charts_and_results_and_keeps_its_title_keys(qtbot, window, tmp_path: Path) -> None:
    from workbench.gui import charts
    from workbench.gui.theme import apply_theme
    from workbench.testing.endpoints import CannedHttpServer

    with CannedHttpServer(200, '{"predictions": [2.5]}', "application/json") as server:
        panel = load_test_panel(window, server.url, "m")
        assert not panel.save_chart.isEnabled() and not panel.save_data.isEnabled()
        panel.levels.setText("1")
        panel.duration.setValue(1)
        with qtbot.waitSignal(panel.sig_finished, timeout=60_000):
            worker = panel.start()
        qtbot.waitUntil(lambda: worker.is_done, timeout=30_000)
    assert panel.save_chart.isEnabled() and panel.save_data.isEnabled()
    assert isinstance(panel.splitter, QSplitter) and panel.splitter.widget(1) is panel.table
    written = panel.save_charts(str(tmp_path / "load"))
    assert [Path(p).name for p in written] == ["load-latency.png", "load-throughput.png", "load-distribution.png"]
    assert (QImage(written[0]).width(), QImage(written[0]).height()) == charts.EXPORT_SIZE
    rows = list(csv.reader(open(tmp_path / "load-throughput.csv", encoding="utf-8")))
    assert {r[0] for r in rows[1:]} >= {"A ok/s"}
    ok = [float(r[2]) for r in rows[1:] if r[0] == "A ok/s"]
    assert ok == pytest.approx(panel.points()["rps"])
    saved = json.loads(Path(panel.save_results(str(tmp_path / "load-result"))).read_text())
    assert [row["ok"] for row in saved["rows"]] == [lv.ok for lv in panel.result.levels]
    # the coloured keys in the titles survive a theme switch
    try:
        apply_theme("dark")
        assert "p99" in panel.latency_plot.getPlotItem().titleLabel.text
    finally:
        apply_theme("light")
