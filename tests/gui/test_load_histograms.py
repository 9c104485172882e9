"""Load test view: the latency histogram of each level is drawn, and a second run overlays the first (A/B)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.gui.conftest import load_test_panel


def test_load_test_draws_a_histogram_per_level_with_ab_overlay(qtbot, window) -> None:
    from workbench.testing.endpoints import CannedHttpServer

    results = []
    with CannedHttpServer(200, '{"predictions": [2.5]}', "application/json") as server:
        panel = load_test_panel(window, server.url, "m")
        panel.levels.setText("1, 2")
        panel.duration.setValue(1)
        for _ in range(2):  # run A, then run B over it
            with qtbot.waitSignal(panel.sig_finished, timeout=60_000) as blocker:
                worker = panel.start()
            results.append(blocker.args[0])
            qtbot.waitUntil(lambda w=worker: w.is_done, timeout=30_000)
    assert [r["label"] for r in panel.runs] == ["A", "B"]
    for run, result in zip((0, 1), results, strict=True):
        curves = panel.histograms(run)
        assert sorted(curves) == [1, 2]
        label = panel.runs[run]["label"]
        for level in result.levels:
            assert level.ok > 0 and level.error_count == 0
            curve = curves[level.level]
            shown = level.histogram.coarsen(2)                  # drawn at 20 bins per decade
            assert curve.histogram == shown and shown.count == level.ok == level.latency.count
            assert list(curve.xData) == shown.edges_ms
            assert list(curve.yData) == pytest.approx([100.0 * n / level.ok for n in shown.counts])
            assert curve.xData[0] <= level.latency.min_ms and level.latency.max_ms < curve.xData[-1]
            assert curve.name() == f"{label} c={level.level:g}"
            dashed = curve.opts["pen"].style() == Qt.PenStyle.DashLine
            assert dashed == (label == "A")
    items = panel.hist_plot.getPlotItem().listDataItems()
    assert len(items) == 4 and all(i in items for run in (0, 1) for i in panel.histograms(run).values())
