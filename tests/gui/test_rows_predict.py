"""Rows view (load, paste, generate, bad cells) and Predict view (values equal the core's)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def iris_onnx(qtbot, window, samples, wait_loaded):
    window.open_paths([str(samples / "iris_logreg.onnx")])
    wait_loaded(window, 1)
    return window.documents()[0]


def _rows_view(qtbot, window):
    view = window.show_page("rows")
    qtbot.waitUntil(lambda: view.last_check is not None, timeout=30_000)
    return view


def test_rows_load_from_the_sample_csv(qtbot, window, iris_onnx, samples) -> None:
    from workbench.core.rows import read_rows

    view = _rows_view(qtbot, window)
    expected = read_rows(samples / "iris_logreg_onnx.rows.csv")
    assert view.model.columns == [str(c) for c in expected.columns]
    assert view.model.cells[0] == [str(v) for v in expected.iloc[0]]
    assert view.last_check["ok"] is True
    assert iris_onnx.rows is not None and len(iris_onnx.rows) == len(expected)


def test_bad_cells_are_marked_with_the_reason(qtbot, window, iris_onnx) -> None:
    from PySide6.QtCore import Qt

    view = _rows_view(qtbot, window)
    col = view.model.columns.index("petal_width")
    view.model.setData(view.model.index(2, col), "abc")
    qtbot.waitUntil(lambda: view.last_check is not None and view.last_check["ok"] is False, timeout=30_000)
    tip = view.model.data(view.model.index(2, col), Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("row 3, column 'petal_width'") and "'abc'" in tip
    assert view.model.data(view.model.index(2, col), Qt.ItemDataRole.BackgroundRole) is not None
    assert view.model.data(view.model.index(1, col), Qt.ItemDataRole.ToolTipRole) is None
    assert "✗" in view.status.text()


def test_paste_and_generate(qtbot, window, iris_onnx) -> None:
    from workbench.core.rows import generate_rows

    view = _rows_view(qtbot, window)
    assert view.paste("sepal_length\tsepal_width\tpetal_length\tpetal_width\n5.1\t3.5\t1.4\t0.2\n6.7\t3.0\t5.2\t2.3\n",
                      mode="replace")
    assert view.model.cells == [["5.1", "3.5", "1.4", "0.2"], ["6.7", "3.0", "5.2", "2.3"]]
    # without a header line the values go in the current columns
    assert view.paste("4.9,3.0,1.4,0.2", mode="append")
    assert view.model.cells[-1] == ["4.9", "3.0", "1.4", "0.2"] and len(view.model.cells) == 3
    observed = view.model.frame()
    assert view.generate(7, mode="replace")
    expected = generate_rows(iris_onnx.info, 7, seed=0, observed=observed)  # like the rows in the table
    assert len(view.model.cells) == 7
    assert view.model.cells[0][0] == str(expected.iloc[0, 0])
    qtbot.waitUntil(lambda: view.last_check is not None and view.last_check["ok"], timeout=30_000)


def test_predict_values_equal_the_core(qtbot, window, iris_onnx, samples) -> None:
    from workbench.core.rows import prepare_rows, read_rows
    from workbench.core.runtimes import open_session

    _rows_view(qtbot, window)
    view = window.show_page("predict")
    assert view.selected_runtimes() == ["onnxruntime"]
    worker = view.run()
    qtbot.waitUntil(lambda: worker.is_done and view.result is not None, timeout=60_000)
    frame = prepare_rows(read_rows(samples / "iris_logreg_onnx.rows.csv"), iris_onnx.info)
    batch = open_session(iris_onnx.path, iris_onnx.info, "onnxruntime").predict(frame)
    assert view.table.rowCount() == len(frame)
    for r in range(len(frame)):
        assert str(view.cell(r, "onnxruntime: label")) == str(batch.labels[r])
        for j, cls in enumerate(batch.classes):
            assert view.cell(r, f"onnxruntime: P({cls})") == pytest.approx(float(batch.probabilities[r, j]),
                                                                           abs=0)
    assert iris_onnx.predictions["onnxruntime"].rows == len(frame)
    assert window.status_label.text() == f"Predicted {len(frame)} rows with onnxruntime"  # not "Opened ..."


def test_unavailable_runtimes_are_disabled_with_reason(qtbot, window, iris_onnx) -> None:
    from workbench.core.runtimes import runtimes_for

    view = window.show_page("predict")
    for runtime in runtimes_for("onnx"):
        avail = runtime.availability("onnx")
        box = view.checks[runtime.name]
        assert box.isEnabled() == avail.ok
        if not avail.ok:
            assert avail.message() in box.toolTip()


@pytest.mark.java
def test_predict_two_pmml_runtimes_side_by_side(qtbot, window, samples, wait_loaded) -> None:
    window.open_paths([str(samples / "iris_logreg.pmml")])
    wait_loaded(window, 1)
    _rows_view(qtbot, window)
    view = window.show_page("predict")
    usable = [n for n, box in view.checks.items() if box.isEnabled()]
    if len(usable) < 2:
        pytest.skip(f"needs two PMML runtimes, have {usable}")
    view.set_runtimes(usable[:2])
    worker = view.run()
    qtbot.waitUntil(lambda: worker.is_done and view.result is not None, timeout=120_000)
    a, b = usable[:2]
    assert view.result["errors"] == {}
    report = view.result["parity"][b]
    assert report.passed
    headers = view.headers()
    assert f"{a}: label" in headers and f"{b}: label" in headers
    pa = view.result["batches"][a].probabilities
    assert np.allclose(pa, view.result["batches"][b].probabilities, atol=1e-6)
    assert "✓" in view.parity.text()


def test_differences_between_runtimes_are_highlighted(qtbot) -> None:
    from workbench.core.predictions import PredictionBatch
    from workbench.gui.views.common import color
    from workbench.gui.views.predict import PredictView

    view = PredictView()
    qtbot.addWidget(view)
    a = PredictionBatch("native", classes=[0, 1], labels=np.array([0, 1]),
                        probabilities=np.array([[0.9, 0.1], [0.4, 0.6]]))
    # the same model elsewhere: labels as strings (as PMML gives them), row 2 flips across the threshold
    b = PredictionBatch("jpmml", classes=["0", "1"], labels=np.array(["0", "0"]),
                        probabilities=np.array([[0.9 + 1e-9, 0.1 - 1e-9], [0.6, 0.4]]))
    view._show({"native": a, "jpmml": b}, {})
    headers = view.headers()
    assert headers == ["native: label", "native: P(0)", "native: P(1)", "jpmml: label", "jpmml: P(0)", "jpmml: P(1)"]
    diff = color("diff_bg")

    def bg(r: int, name: str):
        return view.table.item(r, headers.index(name)).background().color()

    assert bg(0, "jpmml: label") != diff and bg(0, "jpmml: P(0)") != diff  # within tolerance
    assert bg(1, "jpmml: label") == diff and bg(1, "jpmml: P(0)") == diff and bg(1, "jpmml: P(1)") == diff
    assert "native: 1" in view.table.item(1, headers.index("jpmml: label")).toolTip()
    assert bg(1, "native: label") != diff  # the reference column is never marked


def test_unknown_category_reaches_the_messages_panel(qtbot, window, samples, wait_loaded) -> None:
    from workbench.gui.notifications import manager

    window.open_paths([str(samples / "ctr_pipeline.joblib")])
    wait_loaded(window, 1)
    view = _rows_view(qtbot, window)
    col = view.model.columns.index("device")
    view.model.setData(view.model.index(1, col), "blackberry")
    qtbot.waitUntil(lambda: view.last_check is not None and view.last_check["ok"], timeout=30_000)
    predict = window.show_page("predict")
    before = len(manager().records)
    worker = predict.run()
    qtbot.waitUntil(lambda: worker.is_done and predict.result is not None, timeout=60_000)
    new = [n for n in manager().records[before:] if n.severity == "warning"]
    assert any("'blackberry' is not a known category" in n.message and "device" in n.message for n in new)


def test_small_numbers_are_not_shown_as_zero() -> None:
    from workbench.gui.views.predict import _fmt

    assert [_fmt(3.2e-07), _fmt(0.0), _fmt(0.5), _fmt(-4e-05), _fmt(2.5e6)] == [
        "3.2e-07", "0.000000", "0.500000", "-4e-05", "2.5e+06"]


def test_numbers_line_up_on_the_right_text_on_the_left(qapp) -> None:
    from PySide6.QtCore import Qt

    from workbench.gui.views.rows import RowsModel

    model = RowsModel()
    model.set_table(["age", "device", "price"], [["57", "ios", "1032.0"], ["", "web", "nan"]])
    align = [model.data(model.index(r, c), Qt.ItemDataRole.TextAlignmentRole) for r in range(2) for c in range(3)]
    right = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    assert align == [right, None, right, None, None, None]


@pytest.mark.tf
def test_a_prediction_for_another_model_does_not_talk_on_this_page(qtbot, window, samples, wait_loaded) -> None:
    window.open_paths([str(samples / "keras_mlp_savedmodel"), str(samples / "iris_logreg.onnx")])
    wait_loaded(window, 2)

    def select(name: str) -> None:
        window.library.models.setCurrentItem(window.library.find(str(samples / name)))

    select("keras_mlp_savedmodel")
    window.show_page("rows")  # fills the Rows table from the sibling rows file
    qtbot.waitUntil(lambda: window.current_document().rows is not None, timeout=30_000)
    view = window.show_page("predict")
    worker = view.run()
    assert worker is not None
    saved_model = window.current_document()
    select("iris_logreg.onnx")
    if not worker.is_done:  # TensorFlow takes seconds to load: usually still running here
        assert view.status.text() == "Predicting with keras_mlp_savedmodel: its results appear on its page."
        assert not view.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: worker.is_done and bool(saved_model.predictions), timeout=120_000)
    qtbot.waitUntil(lambda: view.run_button.isEnabled(), timeout=10_000)
    assert "tensorflow" not in view.status.text() and "keras" not in view.status.text()
    assert view.table.rowCount() == 0               # the SavedModel's predictions are not shown here
    select("keras_mlp_savedmodel")
    assert view.table.rowCount() == len(saved_model.rows)


def test_rows_beside_the_model_are_there_as_soon_as_it_opens(qtbot, window, samples, wait_loaded) -> None:
    """Run right after opening predicts the sample rows: no visit to the Rows page needed."""
    window.open_paths([str(samples / "iris_logreg.onnx")])
    wait_loaded(window, 1)
    doc = window.current_document()
    assert doc.rows is not None and len(doc.rows) == 30
    assert window.status_label.text() == "Opened iris_logreg.onnx (onnx, classification, 30 rows from " \
                                         "iris_logreg_onnx.rows.csv)"
    view = window.show_page("predict")
    worker = view.run()
    qtbot.waitUntil(lambda: worker.is_done and view.result is not None, timeout=60_000)
    assert view.table.rowCount() == 30


def test_paste_semicolon_rows_without_a_header(qtbot, window, iris_onnx) -> None:
    view = window.show_page("rows")
    qtbot.waitUntil(lambda: view.model.rowCount() > 0, timeout=30_000)
    before = view.model.rowCount()
    assert view.paste("5.0;3.4;1.5;0.2\n6.1;2.8;4.7;1.2", mode="append")
    assert view.model.rowCount() == before + 2
    assert view.model.cells[-1] == ["6.1", "2.8", "4.7", "1.2"]
    assert not view.paste("5.0;3.4;1.5;0.2\n6.1;2.8;4.7;1.2;9", mode="append")
    assert "the pasted rows" in view.status.text() and "workbench-paste" not in view.status.text()
