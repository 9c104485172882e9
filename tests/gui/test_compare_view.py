"""Compare view: two loaded models on the same rows, through core.compare.compare_models (the CLI's flow)."""

from __future__ import annotations

import pytest


def test_pipeline_against_its_onnx_export(qtbot, window, samples, wait_loaded) -> None:
    import pandas as pd

    from workbench.core.compare import compare_models

    window.open_paths([str(samples / "iris_logreg.joblib"), str(samples / "iris_logreg.onnx")])
    wait_loaded(window, 2)
    view = window.show_page("compare")
    docs = {d.name: d for d in window.documents()}
    view.set_pair(docs["iris_logreg.joblib"], docs["iris_logreg.onnx"])
    assert view.runtime_a.currentData() == "native" and view.runtime_b.currentData() == "onnxruntime"
    with qtbot.waitSignal(view.sig_compared, timeout=120_000) as blocker:
        worker = view.run()
    qtbot.waitUntil(lambda: worker.is_done, timeout=30_000)
    got = blocker.args[0]
    # the same numbers as the core flow `workbench compare` runs
    expected = compare_models(str(samples / "iris_logreg.joblib"), str(samples / "iris_logreg.onnx"),
                              docs["iris_logreg.joblib"].rows, trust=True, worst=10).report
    assert got.report.passed and got.report.rows == len(docs["iris_logreg.joblib"].rows) == expected.rows
    assert got.report.max_abs_diff == pytest.approx(expected.max_abs_diff)
    assert view.verdict.text().startswith("✓ PASS: 30 rows, labels agree on 100%")
    assert [view.roles.item(r, 0).text() for r in range(view.roles.rowCount())] == list(got.report.roles)
    assert all(view.roles.item(r, 5).text() == "ok" for r in range(view.roles.rowCount()))
    assert view.worst.rowCount() == len(got.report.worst_rows) > 0
    first = got.report.worst_rows[0]
    assert view.worst.item(0, 0).text() == str(first["row"]) and "sepal_length=" in view.worst.item(0, 5).text()
    assert isinstance(docs["iris_logreg.joblib"].rows, pd.DataFrame)


def test_different_models_fail_with_worst_rows_marked(qtbot, window, samples, wait_loaded) -> None:
    window.open_paths([str(samples / "iris_logreg.onnx"), str(samples / "iris_logreg.pmml")])
    wait_loaded(window, 2)
    view = window.show_page("compare")
    docs = {d.name: d for d in window.documents()}
    view.set_pair(docs["iris_logreg.onnx"], docs["iris_logreg.pmml"])
    view.atol.setValue(0.0)
    view.rtol.setValue(0.0)                          # no tolerance: float32 ONNX vs double PMML differ
    with qtbot.waitSignal(view.sig_compared, timeout=120_000) as blocker:
        worker = view.run()
    qtbot.waitUntil(lambda: worker.is_done, timeout=30_000)
    report = blocker.args[0].report
    assert not report.passed and view.verdict.text().startswith("✗ FAIL")
    assert view.worst.item(0, 2).text() == "no"


def test_models_list_follows_the_library(qtbot, window, samples, wait_loaded) -> None:
    view = window.show_page("compare")
    assert view.model_a.count() == 0 and not view.run_button.isEnabled()
    window.open_paths([str(samples / "iris_logreg.onnx")])
    wait_loaded(window, 1)
    qtbot.waitUntil(lambda: view.model_a.count() == 1, timeout=10_000)
    assert view.model_b.currentData() is view.model_a.currentData()      # one model: two runtimes of it
    assert view.run_button.isEnabled()
