"""Sessions in the app: save (no header values on disk), the restore banner at start (not a dialog),
restore models with rows, trust by sha256 and endpoints with their row sources; a bad file is a message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
from PySide6.QtCore import Qt

from workbench.core.session import RowSource


def _new_window(qtbot, trust_prompt=None):
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import AppSettings

    win = MainWindow(AppSettings(), trust_prompt=trust_prompt)
    qtbot.addWidget(win)
    win.show()
    return win


def test_save_then_restore_from_the_banner(qtbot, window, samples, wait_loaded, tmp_path: Path, notes) -> None:
    model = tmp_path / "iris.joblib"
    shutil.copy(samples / "iris_logreg.joblib", model)
    window.open_paths([str(model), str(samples / "iris_logreg.onnx")])
    wait_loaded(window, 2)
    doc = next(d for d in window.documents() if d.path == str(model.resolve()))
    rows = pd.DataFrame({"sepal_length": [5.1, 6.0], "sepal_width": [3.5, 2.9], "petal_length": [1.4, 4.5],
                         "petal_width": [0.2, 1.5]})
    doc.set_rows(rows)
    view = window.show_page("endpoints")
    view.name.setText("ctr")
    view.url.setText("http://127.0.0.1:8501")
    view.model.setText("ctr")
    view.headers.setPlainText("Authorization: Bearer TOKEN123")
    view.set_row_source(RowSource("json", '[{"x": 4}]'))
    out = tmp_path / "s.json"
    from workbench.gui import sessions

    said = sessions.save(window, str(out))
    assert "header values not saved: Authorization" in said
    text = out.read_text()
    assert "TOKEN123" not in text and json.loads(text)["format"] == "workbench-session"

    # a new window offers it with a banner; the window is usable (no modal dialog)
    asked: list[str] = []
    win2 = _new_window(qtbot, trust_prompt=lambda p, f: asked.append(p) or True)
    banner = win2.restore_banner
    assert banner.isVisible() and from_qt_modal() is None
    banner.restore_button.click()
    wait_loaded(win2, 2)
    assert asked == []   # trusted before, same sha256: not asked again
    restored = next(d for d in win2.documents() if d.path == str(model.resolve()))
    assert restored.trusted and restored.rows.values.tolist() == rows.values.tolist()
    v2 = win2.page("endpoints")
    assert (v2.url.text(), v2.model.text()) == ("http://127.0.0.1:8501", "ctr")
    assert v2.row_source() == RowSource("json", '[{"x": 4}]')
    assert any("Authorization were not saved" in n.message for n in notes.records)

    # the model changed on disk: its trust is asked again
    model.write_bytes(model.read_bytes() + b"\n")
    win3 = _new_window(qtbot, trust_prompt=lambda p, f: asked.append(p) or False)
    sessions.restore(win3, str(out))
    wait_loaded(win3, 2)
    assert asked == [str(model.resolve())]


def test_a_damaged_session_is_a_message_not_a_crash(qtbot, window, tmp_path: Path, notes) -> None:
    from workbench.gui import sessions

    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "workbench-session", "version": 1, "models": [{"path": 5}]}')
    assert sessions.restore(window, str(bad)) is None
    [note] = [n for n in notes.records if n.severity == "error"]
    assert "models[0]: \"path\" must be text" in note.message and window.documents() == []


def from_qt_modal():
    from PySide6.QtWidgets import QApplication

    return QApplication.activeModalWidget()


# ---- results drawn back into the views (issue 17) --------------------------------------------------------

def _save_and_reopen(qtbot, window, tmp_path: Path, wait_loaded, models: int):
    """Save `window`'s session, open it in a fresh window; returns (saved JSON, new window, file name)."""
    from workbench.gui import sessions

    out = tmp_path / "restored.json"
    sessions.save(window, str(out))
    saved = json.loads(out.read_text())
    win2 = _new_window(qtbot, trust_prompt=lambda p, f: True)
    assert sessions.restore(win2, str(out)) is not None
    wait_loaded(win2, models)
    return saved, win2, out.name


def test_restored_predictions_are_shown_on_the_predict_page(qtbot, window, samples, wait_loaded,
                                                             tmp_path: Path) -> None:
    window.open_paths([str(samples / "iris_logreg.onnx")])
    wait_loaded(window, 1)
    view = window.show_page("predict")
    worker = view.run()
    qtbot.waitUntil(lambda: worker.is_done and view.result is not None, timeout=60_000)

    saved, win2, name = _save_and_reopen(qtbot, window, tmp_path, wait_loaded, 1)
    batch = saved["models"][0]["predictions"]["onnxruntime"]
    assert batch["labels"] and batch["probabilities"]
    v2 = win2.show_page("predict")
    qtbot.waitUntil(lambda: v2.table.rowCount() == len(batch["labels"]), timeout=30_000)
    for r, label in enumerate(batch["labels"]):
        assert str(v2.cell(r, "onnxruntime: label")) == str(label)
        for j, cls in enumerate(batch["classes"]):
            assert v2.cell(r, f"onnxruntime: P({cls})") == batch["probabilities"][r][j]
    assert f"restored from session {name}" in v2.status.text()


def test_restored_benchmark_is_shown_in_its_charts_and_table(qtbot, window, samples, wait_loaded,
                                                             tmp_path: Path) -> None:
    from workbench.core.bench.histogram import LatencyHistogram
    from workbench.gui.views.benchmark import TABLE_COLUMNS

    window.open_paths([str(samples / "iris_logreg.onnx")])
    wait_loaded(window, 1)
    view = window.show_page("benchmark")
    view.batches.setText("1, 4")
    view.duration.setValue(0.2)
    worker = view.run()
    qtbot.waitUntil(lambda: worker.is_done and view.result is not None, timeout=120_000)

    saved, win2, name = _save_and_reopen(qtbot, window, tmp_path, wait_loaded, 1)
    rows = saved["models"][0]["benchmark"]["rows"]
    assert [(r["runtime"], r["batch_size"]) for r in rows] == [("onnxruntime", 1), ("onnxruntime", 4)]
    v2 = win2.show_page("benchmark")
    qtbot.waitUntil(lambda: v2.table.rowCount() == len(rows), timeout=30_000)
    assert v2.chart_stack.currentWidget() is v2.charts_area
    col = {c: i for i, c in enumerate(TABLE_COLUMNS)}
    for r, row in enumerate(rows):
        def cell(c, r=r):
            return v2.table.item(r, col[c]).data(Qt.ItemDataRole.UserRole)

        assert (cell("Runtime"), cell("Batch"), cell("Calls")) == (row["runtime"], row["batch_size"], row["calls"])
        assert (cell("Mean ms"), cell("p50 ms"), cell("p99 ms"), cell("Max ms"), cell("Rows/s")) == \
            (row["mean_ms"], row["p50_ms"], row["p99_ms"], row["max_ms"], row["throughput_rows_s"])
        curve = v2.hist_curves[(row["runtime"], row["batch_size"])]   # the histogram chart, from the saved counts
        assert curve.histogram == LatencyHistogram.from_json(row["histogram"]).coarsen(2)
    assert v2.bar_heights == [row["p50_ms"] for row in rows]        # the bar chart
    assert f"restored from session {name}" in v2.status.text()


def test_restored_load_test_is_shown_in_the_endpoints_panel(qtbot, window, tfserving_testdata, wait_loaded,
                                                            tmp_path: Path) -> None:
    from tests.gui.conftest import load_test_panel
    from workbench.testing.tfserving_server import TFServingTestServer

    server = TFServingTestServer({"half_plus_two": tfserving_testdata / "saved_model_half_plus_two_cpu"}).start()
    try:
        panel = load_test_panel(window, server.rest_url, "half_plus_two", '[{"x": 1.0}, {"x": 2.0}]')
        panel.levels.setText("1")
        panel.duration.setValue(1)
        worker = panel.start()
        qtbot.waitUntil(lambda: worker.is_done and panel.result is not None, timeout=60_000)
    finally:
        server.stop()

    saved, win2, name = _save_and_reopen(qtbot, window, tmp_path, wait_loaded, 0)
    [row] = saved["load"]["rows"]
    assert row["ok"] > 0
    p2 = win2.page("endpoints").load_test
    assert p2.table.rowCount() == 1
    shown = [p2.table.item(0, c).text() for c in range(p2.table.columnCount())]
    assert shown == ["A", f"{row['level']:g}", str(row["ok"]), str(row["errors_total"]),
                     f"{row['throughput_rps']:.1f}", f"{row['p50_ms']:.3f}", f"{row['p90_ms']:.3f}",
                     f"{row['p99_ms']:.3f}", f"{row['max_ms']:.3f}"]
    timeline = saved["load"]["timeline"]
    assert p2.points()["rps"] == [p["throughput_rps"] for p in timeline]     # the per-second charts
    [curve] = p2.histograms().values()
    assert curve.histogram.count == row["histogram"]["count"] == row["ok"]
    assert f"restored from session {name}" in p2.status.text()
