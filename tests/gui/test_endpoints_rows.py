"""Each endpoint has its own rows (file, inline JSON or a chosen model's), errors say where the rows came
from, probe failures reach the Messages panel, old verdicts are marked stale, and a load test checks the
endpoint first and stops early when every request fails."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from workbench.core.session import RowSource


def _errors(notes) -> list[str]:
    return [n.title() for n in notes.records if n.severity == "error"]


@pytest.mark.tf
def test_endpoint_rows_are_its_own_and_failures_say_where_they_came_from(qtbot, window, samples, notes,
                                                                          tfserving_testdata, wait_loaded,
                                                                          tmp_path: Path) -> None:
    from workbench.testing.tfserving_server import TFServingTestServer

    window.open_paths([str(samples / "iris_logreg.onnx")])   # selected, with iris rows beside it
    wait_loaded(window, 1)
    iris = window.current_document()
    assert iris.rows is not None and "x" not in iris.rows.columns
    rows_file = tmp_path / "half.csv"
    rows_file.write_text("x\n1.0\n3.0\n")
    server = TFServingTestServer({"half_plus_two": tfserving_testdata / "saved_model_half_plus_two_cpu"}).start()
    try:
        view = window.show_page("endpoints")
        view.url.setText(server.rest_url)
        view.model.setText("half_plus_two")
        # its own rows from a file, whatever model is selected
        view.set_row_source(RowSource("file", str(rows_file)))
        assert view.row_value.currentWidget().isVisibleTo(view)
        view.refresh()
        qtbot.waitUntil(lambda: view.report is not None and view.probe_button.isEnabled(), timeout=60_000)
        assert view.report.failures() == []
        assert [float(np.ravel(p)[0]) for p in view.report.predictions] == [2.5, 3.5]
        body = json.loads(view.request_text.toPlainText().split("\n\n", 1)[1])
        assert body["instances"] == [[1.0], [3.0]]   # the file's rows, not iris' four columns
        # saved with the endpoint, and chosen again with it
        view.name.setText("half")
        view.save_current()
        view.set_row_source(RowSource("json", '[{"x": 10}]'))
        view._select(view.saved.item(0), None)
        assert view.row_source() == RowSource("file", str(rows_file))
        # the iris model's rows, chosen explicitly: the server refuses them, and the verdict says whose rows
        view.set_row_source(RowSource("model", iris.path))
        assert view.verdict.text().startswith("Outdated (the endpoint's rows changed")   # old verdict marked
        first = view.report
        view.refresh()
        qtbot.waitUntil(lambda: view.report is not first and view.probe_button.isEnabled(), timeout=60_000)
    finally:
        server.stop()
    [failure] = view.report.failures()
    text = view.verdict.text()
    assert text.startswith(f"✗ {failure.kind}")
    assert f"Rows: the first 5 rows of the model iris_logreg.onnx ({iris.path})." in text
    # the failure reaches the Messages panel, with where the rows came from
    assert any(f"probe of {server.rest_url}" in e and "iris_logreg.onnx" in e for e in _errors(notes))


def test_row_source_errors_name_the_source_and_reach_messages(qtbot, window, notes, tmp_path: Path) -> None:
    view = window.show_page("endpoints")
    view.url.setText("http://127.0.0.1:9")
    missing = tmp_path / "nope.csv"
    view.set_row_source(RowSource("file", str(missing)))
    assert view.refresh() is None
    assert view.verdict.text().startswith(f"✗ rows from the file {missing}: ")
    view.set_row_source(RowSource("json", "[{oops"))
    assert view.refresh() is None
    assert view.verdict.text().startswith("✗ rows typed as JSON in the endpoint's form: not valid JSON")
    view.set_row_source(RowSource("model", str(tmp_path / "gone.onnx")))
    assert view.refresh() is None
    assert "gone.onnx" in view.verdict.text() and "that model is not open" in view.verdict.text()
    assert len(_errors(notes)) == 3


def test_probe_failure_reaches_messages_and_edits_mark_it_stale(qtbot, window, notes) -> None:
    from workbench.testing.endpoints import refused_port

    view = window.show_page("endpoints")
    url = f"http://127.0.0.1:{refused_port()}"
    view.url.setText(url)
    view.timeout.setValue(3)
    view.refresh()
    qtbot.waitUntil(lambda: view.report is not None and view.probe_button.isEnabled(), timeout=30_000)
    [diagnosis] = view.report.failures()
    assert any(e.endswith(f"probe of {url}: {diagnosis.message}") for e in _errors(notes))
    assert view.verdict.text().startswith("✗")
    qtbot.keyClicks(view.model, "other")   # the user edits the endpoint: the verdict is no longer about it
    assert view.verdict.text().startswith("Outdated (the endpoint changed; probe again with F5). It said: ✗")


def test_load_test_against_a_dead_port_checks_first_and_says_why(qtbot, window, notes) -> None:
    from tests.gui.conftest import load_test_panel
    from workbench.testing.endpoints import refused_port

    panel = load_test_panel(window, f"http://127.0.0.1:{refused_port()}", "m")
    panel.levels.setText("1, 4")
    panel.duration.setValue(60)   # would run two minutes of errors without the check
    started = time.monotonic()
    worker = panel.start()
    qtbot.waitUntil(lambda: worker.is_done, timeout=30_000)
    assert time.monotonic() - started < 20
    assert panel.result is None and panel.table.rowCount() == 0
    banner = panel.status.text()
    assert banner.startswith("✗ The endpoint failed the first request, so no load was sent (")
    assert "Hint:" in banner
    assert any(e.startswith("load test: The endpoint failed the first request") for e in _errors(notes))


def test_load_test_stops_early_when_every_request_fails(qtbot, window, notes) -> None:
    from tests.core.bench_servers import ScriptedServer
    from tests.gui.conftest import load_test_panel

    # the check (its request and a retry) succeeds, then the server fails every request
    with ScriptedServer(lambda i: (200 if i < 2 else 503, 0.0)) as server:
        panel = load_test_panel(window, server.url, "m")
        panel.levels.setText("1, 4")
        panel.duration.setValue(60)
        started = time.monotonic()
        worker = panel.start()
        qtbot.waitUntil(lambda: worker.is_done and panel.result is not None, timeout=60_000)
    assert time.monotonic() - started < 30
    result = panel.result
    assert result.stopped_early == "error-budget" and len(result.levels) == 1
    [level] = result.levels
    assert level.ok == 0 and level.error_count >= 20
    banner = panel.status.text()
    assert banner.startswith(f"✗ Stopped early: every request failed (")
    assert f"after {level.error_count} requests to {result.target}" in banner
    assert any("Stopped early: every request failed" in e for e in _errors(notes))
