"""Benchmark view (the chart receives data) and Endpoints view (probing the test server fills the tree)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.gui.conftest import load_test_panel


def test_benchmark_chart_receives_data(qtbot, window, samples, wait_loaded, tmp_path: Path) -> None:
    window.open_paths([str(samples / "iris_logreg.onnx")])
    wait_loaded(window, 1)
    view = window.show_page("benchmark")
    assert view.selected_runtimes() == ["onnxruntime"]
    assert view.chart_stack.currentWidget() is view.charts_hint     # no empty axes before the first run
    view.batches.setText("1, 16")
    view.duration.setValue(0.5)
    worker = view.run()
    qtbot.waitUntil(lambda: worker.is_done and view.result is not None, timeout=120_000)
    result = view.result
    assert [(c.runtime, c.batch_size) for c in result.configs] == [("onnxruntime", 1), ("onnxruntime", 16)]
    assert window.status_label.text() == "Benchmark finished: 2 configurations"
    assert view.chart_stack.currentWidget() is view.charts_area
    # the live chart got points while running, one curve per configuration
    assert set(view.curves) == {("onnxruntime", 1), ("onnxruntime", 16)}
    xs, ys = view.curves[("onnxruntime", 1)].getData()
    assert len(xs) >= 1 and all(y > 0 for y in ys)
    # the table and the bar chart show the core's numbers
    for r, c in enumerate(result.configs):
        assert view.table.item(r, 4).data(0x0100) == c.latency.percentiles_ms[50.0]
        assert view.table.item(r, 2).data(0x0100) == c.calls
    assert view.bar_heights == [c.latency.percentiles_ms[50.0] for c in result.configs]
    # keys only where there are curves; the result columns fit without scrolling sideways
    assert view.latency_plot.getPlotItem().legend.isVisible()
    assert not view.bar_plot.getPlotItem().legend.isVisible()
    assert view.table.horizontalHeader().length() <= view.table.viewport().width()
    # the histogram chart draws the core's histogram of every call, per configuration
    assert set(view.hist_curves) == {("onnxruntime", 1), ("onnxruntime", 16)}
    for c in result.configs:
        curve = view.hist_curves[(c.runtime, c.batch_size)]
        shown = c.histogram.coarsen(2)                      # drawn at 20 bins per decade
        assert curve.histogram == shown and shown.count == c.calls
        assert list(curve.xData) == shown.edges_ms          # bin edges in ms (log axis)
        assert list(curve.yData) == pytest.approx([100.0 * n / c.calls for n in shown.counts])
        assert curve.xData[0] <= c.latency.min_ms and c.latency.max_ms < curve.xData[-1]
        assert curve.name() == f"onnxruntime × {c.batch_size}"
    # exports
    written = view.save_charts(str(tmp_path / "bench.png"))
    assert all(Path(p).stat().st_size > 1000 for p in written)
    svg = view.save_charts(str(tmp_path / "bench.svg"))
    assert Path(svg[0]).read_text().lstrip().startswith("<?xml")
    saved = json.loads(Path(view.save_results(str(tmp_path / "bench.json"))).read_text())
    assert [row["calls"] for row in saved["rows"]] == [c.calls for c in result.configs]
    assert [row["histogram"]["counts"] for row in saved["rows"]] == [list(c.histogram.counts) for c in result.configs]
    assert Path(view.save_results(str(tmp_path / "bench.csv"))).read_text().startswith("kind,")
    # a name typed without an ending gets one (it used to write nothing, or raise)
    assert [Path(p).name for p in view.save_charts(str(tmp_path / "charts"))] == [
        "charts-latency.png", "charts-histogram.png", "charts-comparison.png"]
    assert all((tmp_path / f"charts-{k}.png").stat().st_size > 1000 for k in ("latency", "histogram", "comparison"))
    assert view.save_results(str(tmp_path / "results")) == str(tmp_path / "results.json")
    # each row says what its latency covers and what converting the rows cost apart
    c = result.configs[0]
    assert c.timed == "backend" and saved["rows"][0]["prepare_us"] == c.prepare_us
    assert view.table.item(0, 4).toolTip() == (
        "Each call times the runtime alone, on inputs converted beforehand.\n"
        f"Converting a batch of rows into its inputs took {c.prepare_us:.1f} µs, turning its result into "
        f"predictions {c.finish_us:.1f} µs (medians).")


def test_benchmark_can_time_the_whole_predict(qtbot, window, samples, wait_loaded) -> None:
    window.open_paths([str(samples / "iris_logreg.onnx")])
    wait_loaded(window, 1)
    view = window.show_page("benchmark")
    view.batches.setText("2")
    view.duration.setValue(0.2)
    view.end_to_end.setChecked(True)
    worker = view.run()
    qtbot.waitUntil(lambda: worker.is_done and view.result is not None, timeout=120_000)
    (c,) = view.result.configs
    assert c.timed == "end_to_end" and c.prepare_us is None and c.calls > 0
    assert view.result.plan.timed == "end_to_end"
    assert view.table.item(0, 4).toolTip() == "Each call timed whole: rows in, predictions out."


@pytest.mark.tf
def test_probe_tfserving_test_server_fills_status_tree(qtbot, window, tfserving_testdata) -> None:
    from workbench.core.serving.probe import ProbeOptions, run_probe
    from workbench.testing.tfserving_server import TFServingTestServer

    server = TFServingTestServer({"half_plus_two": tfserving_testdata / "saved_model_half_plus_two_cpu"}).start()
    try:
        view = window.show_page("endpoints")
        view.url.setText(server.rest_url)
        view.model.setText("half_plus_two")
        view.name.setText("local test server")
        view.save_current()
        assert [e.name for e in window.settings.endpoints()] == ["local test server"]
        window.actions["refresh"].trigger()  # F5
        qtbot.waitUntil(lambda: view.report is not None, timeout=60_000)
        expected = run_probe(ProbeOptions(url=server.rest_url, model="half_plus_two")).to_json()
    finally:
        server.stop()
    items = view.tree_items()
    assert items["Protocol"] == expected["protocol"]
    assert items["Model"] == "half_plus_two"
    assert view.child_texts("Versions") == [f"version {v['version']}" for v in expected["versions"]]
    from workbench.gui.views.endpoints import shown_signatures

    assert view.child_texts("Signatures") == list(shown_signatures(expected["signatures"]))
    assert "Error" not in items and view.verdict.text().startswith("✓")


def test_probe_refused_port_shows_diagnosis(qtbot, window) -> None:
    from workbench.testing.endpoints import refused_port

    view = window.show_page("endpoints")
    view.url.setText(f"http://127.0.0.1:{refused_port()}")
    view.timeout.setValue(3)
    view.refresh()
    qtbot.waitUntil(lambda: view.report is not None, timeout=30_000)
    [diagnosis] = view.report.failures()
    assert view.tree_items()["Error"] == f"{diagnosis.kind}: {diagnosis.message}"
    assert view.verdict.text().startswith(f"✗ {diagnosis.kind}")
    if diagnosis.hint:
        assert diagnosis.hint in view.verdict.text()


@pytest.mark.tf
def test_load_test_charts_each_second_and_overlays_runs(qtbot, window, tfserving_testdata) -> None:
    from workbench.testing.tfserving_server import TFServingTestServer

    server = TFServingTestServer({"half_plus_two": tfserving_testdata / "saved_model_half_plus_two_cpu"}).start()
    try:
        panel = load_test_panel(window, server.rest_url, "half_plus_two", '[{"x": 1.0}, {"x": 2.0}]')
        panel.levels.setText("1")
        panel.duration.setValue(2)
        for _ in range(2):  # run A, then run B over it
            worker = panel.start()
            qtbot.waitUntil(lambda w=worker: w.is_done and panel.result is not None
                            and panel.result is not getattr(panel, "_seen", None), timeout=60_000)
            panel._seen = panel.result
    finally:
        server.stop()
    result = panel.result
    [level] = result.levels
    assert level.ok > 0 and level.error_count == 0
    live = panel.points()
    assert live["rps"] == [p.throughput_rps for p in level.timeline]
    assert live["p50"] == [p.p50_ms for p in level.timeline]
    assert [r["label"] for r in panel.runs] == ["A", "B"]
    assert [c.name() for c in panel.runs[0]["curves"]] == ["A p50", "A p99", "A ok/s", "A errors/s"]
    assert panel.runs[0]["curves"][0].opts["pen"].style() == Qt.PenStyle.DashLine
    assert panel.table.rowCount() == 2


@pytest.mark.tf
def test_request_preview_from_rows_and_copy_as_curl(qtbot, window, tfserving_testdata, wait_loaded) -> None:
    import pandas as pd
    from PySide6.QtGui import QGuiApplication

    from workbench.testing.tfserving_server import TFServingTestServer

    base = tfserving_testdata / "saved_model_half_plus_two_cpu"
    window.open_paths([str(base)])  # a TF Serving base folder (numeric version inside)
    wait_loaded(window, 1)
    doc = window.documents()[0]
    assert doc.info.format == "savedmodel"
    doc.set_rows(pd.DataFrame({"x": [1.0, 2.0, 5.0]}))
    server = TFServingTestServer({"half_plus_two": base}).start()
    try:
        view = window.show_page("endpoints")
        view.url.setText(server.rest_url)
        view.model.setText("half_plus_two")
        view.send_rows.setChecked(True)
        view.refresh()
        qtbot.waitUntil(lambda: view.report is not None, timeout=60_000)
    finally:
        server.stop()
    assert view.report.failures() == []
    assert [float(np.ravel(p)[0]) for p in view.report.predictions] == [2.5, 3.0, 4.5]  # y = x / 2 + 2
    assert "2.5" in view.response_text.toPlainText()
    assert '"instances"' in view.request_text.toPlainText()
    view.copy_curl.click()
    curl = QGuiApplication.clipboard().text()
    assert curl.startswith("curl ") and server.rest_url in curl and "instances" in curl


def test_load_test_sends_the_endpoint_headers(qtbot, window) -> None:
    """A saved endpoint's headers (an authorization token) go with every load-test request too."""
    from tests.core.bench_servers import ScriptedServer

    with ScriptedServer() as server:
        window.page("endpoints").headers.setPlainText("Authorization: Bearer abc")
        panel = load_test_panel(window, server.url, "m")
        panel.levels.setText("1")
        panel.duration.setValue(1)
        worker = panel.start()
        qtbot.waitUntil(lambda: worker.is_done and panel.result is not None, timeout=60_000)
        seen = dict(server.last_headers)
    [level] = panel.result.levels
    assert level.ok > 0 and level.error_count == 0
    assert seen.get("Authorization") == "Bearer abc"
    assert window.status_label.text() == "Load test finished: 1 level"


def test_tail_percentiles_of_few_calls_are_marked(qtbot, window, samples, wait_loaded) -> None:
    from workbench.core.bench.local import LocalConfigResult
    from workbench.core.bench.stats import summarize_ns
    from workbench.gui.views.common import color

    window.open_paths([str(samples / "iris_logreg.onnx")])
    wait_loaded(window, 1)
    view = window.show_page("benchmark")
    for calls in (90, 5000):
        view._add_config(LocalConfigResult(runtime="onnxruntime", batch_size=calls, calls=calls, rows=calls,
                                           latency=summarize_ns(list(range(1000, 1000 + calls)))))
    few, many = 0, 1
    assert view.table.item(few, 8).toolTip().startswith("Only 90 calls: p99.9 needs at least 1,000")
    assert view.table.item(few, 7).toolTip().startswith("Only 90 calls: p99 needs at least 100")
    assert view.table.item(few, 8).foreground().color() == color("muted")
    assert not view.table.item(many, 8).toolTip().startswith("Only")


def test_bad_headers_are_an_inline_message_not_a_crash_dialog(qtbot, window, notes) -> None:
    view = window.show_page("endpoints")
    view.url.setText("http://127.0.0.1:9")
    view.model.setText("m")
    view.headers.setPlainText('{"Authorization": "Bearer abc"')        # unfinished JSON
    assert view.refresh() is None
    assert view.verdict.text().startswith("✗ Headers: not valid JSON")
    view.save_current()
    assert view.verdict.text().startswith("✗ Headers: not valid JSON")
    view.headers.setPlainText("Authorization Bearer abc")                # no colon
    assert view.load_test.start() is None
    assert view.load_test.status.text() == ("✗ Headers line 1 ('Authorization Bearer abc') has no ':': write "
                                            "'Name: value'")


def test_a_cancelled_benchmark_keeps_what_it_measured(qtbot, window, samples, wait_loaded, tmp_path: Path) -> None:
    window.open_paths([str(samples / "iris_logreg.onnx")])
    wait_loaded(window, 1)
    view = window.show_page("benchmark")
    view.batches.setText("1, 8, 64")
    view.duration.setValue(3)   # the cancel comes as the first configuration ends, long before the third
    worker = view.run()
    qtbot.waitUntil(lambda: view.table.rowCount() >= 1 or worker.is_done, timeout=120_000)
    view.cancel()
    qtbot.waitUntil(lambda: worker.is_done and view.result is not None, timeout=30_000)
    assert view.result.cancelled
    assert view.status.text().startswith("Cancelled after ")
    assert view.save_data.isEnabled()
    saved = json.loads(Path(view.save_results(str(tmp_path / "partial.json"))).read_text())
    assert saved["summary"]["cancelled"] is True and len(saved["rows"]) == view.table.rowCount()
    assert window.status_label.text().startswith("Benchmark cancelled")


def test_a_stopped_load_test_shows_its_levels_and_the_table_follows_the_charts(qtbot, window) -> None:
    from tests.core.bench_servers import ScriptedServer
    from workbench.gui.workers import live_workers

    with ScriptedServer() as server:
        panel = load_test_panel(window, server.url, "m")
        panel.keep.setChecked(True)
        labels_by_run = []
        for levels, stop in (("1", False), ("1, 2", True), ("1", False)):
            panel.levels.setText(levels)
            panel.duration.setValue(30 if stop else 1)
            worker = panel.start()
            if stop:  # stop during the first level
                qtbot.waitUntil(lambda: bool(panel.runs[-1]["x"]), timeout=30_000)
                panel.stop()
            qtbot.waitUntil(lambda w=worker: w.is_done and w not in live_workers(), timeout=60_000)
            if stop:
                assert panel.status.text().startswith("Stopped: ")
            labels_by_run.append([panel.table.item(r, 0).text() for r in range(panel.table.rowCount())])
    # the third run dropped the first: the table holds the stopped run (now A) and the last one (B)
    assert [r["label"] for r in panel.runs] == ["A", "B"]
    assert labels_by_run[-1][-1] == "B" and set(labels_by_run[-1]) == {"A", "B"}
    assert labels_by_run[-1].count("B") == 1                       # one level in the last run


def test_benchmark_results_stay_with_their_model(qtbot, window, samples, wait_loaded) -> None:
    window.open_paths([str(samples / "iris_logreg.onnx"), str(samples / "xgb_classifier.json")])
    wait_loaded(window, 2)

    def select(name: str) -> None:
        window.library.models.setCurrentItem(window.library.find(str(samples / name)))

    select("iris_logreg.onnx")
    view = window.show_page("benchmark")
    view.batches.setText("2")
    view.duration.setValue(0.2)
    worker = view.run()
    qtbot.waitUntil(lambda: worker.is_done and view.result is not None, timeout=60_000)
    assert [c.runtime for c in view.result.configs] == ["onnxruntime"]
    select("xgb_classifier.json")                     # another model: not the onnx results
    assert view.title.text() == "Benchmark xgb_classifier.json"
    assert view.table.rowCount() == 0 and view.result is None and not view.save_data.isEnabled()
    assert view.chart_stack.currentWidget() is view.charts_hint
    select("iris_logreg.onnx")                        # back: its own results again
    assert view.table.rowCount() == 1 and view.table.item(0, 0).text() == "onnxruntime"
    assert view.result is not None and view.save_data.isEnabled()


def test_charts_follow_a_theme_switch(qtbot, window, samples, wait_loaded) -> None:
    from workbench.gui.views.common import color

    window.open_paths([str(samples / "iris_logreg.onnx")])
    wait_loaded(window, 1)
    view = window.show_page("benchmark")
    light = view.latency_plot.backgroundBrush().color().name()
    window._set_theme("dark")
    try:
        dark = view.latency_plot.backgroundBrush().color().name()
        assert dark != light and dark == color("plot_bg").name()
        assert view.hist_plot.getPlotItem().getAxis("left").pen().color().name() == color("plot_fg").name()
    finally:
        window._set_theme("light")
