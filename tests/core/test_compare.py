"""The result shape (PredictionBatch, canonical labels) and parity reports (compare_batches)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SAMPLES_DIR, sample_entries
from workbench.core.compare import compare_batches
from workbench.core.errors import WorkbenchError
from workbench.core.predictions import (
    PredictionBatch,
    align_probabilities,
    canonical_label,
    labels_from_probabilities,
    probabilities_from_maps,
)

BY_NAME = {s["name"]: s for s in sample_entries()}


# ---------------------------------------------------------------------------- labels and shape

@pytest.mark.parametrize("value", [1, 1.0, "1", "1.0", b"1", np.int64(1), np.float32(1.0), " 1 ", "+1"])
def test_canonical_label_lines_up_numbers_and_text(value: object) -> None:
    assert canonical_label(value) == "1"


@pytest.mark.parametrize("value, expected", [
    ("setosa", "setosa"), (True, "True"), (0.5, "0.5"), ("0.50", "0.5"), (-2, "-2"), (b"yes", "yes"),
    ("1e3", "1000"), (None, "None"),
])
def test_canonical_label_other_values(value: object, expected: str) -> None:
    assert canonical_label(value) == expected


def test_align_probabilities_by_label() -> None:
    probs = np.array([[0.2, 0.5, 0.3]])
    aligned = align_probabilities(probs, ["2", "0", "1"], [0, 1, 2])
    assert aligned.tolist() == [[0.5, 0.3, 0.2]]
    with pytest.raises(ValueError, match="class labels do not match"):
        align_probabilities(probs, ["a", "b", "c"], [0, 1, 2])


def test_zipmap_lists_of_dicts_become_a_matrix() -> None:
    maps = [{0: 0.1, 1: 0.9}, {1: 0.25, 0: 0.75}]
    probs, classes = probabilities_from_maps(maps)
    assert classes == [0, 1] and probs.tolist() == [[0.1, 0.9], [0.75, 0.25]]
    probs, classes = probabilities_from_maps([{"1": 0.9, "0": 0.1}], classes=[0, 1])
    assert probs.tolist() == [[0.1, 0.9]]


def test_argmax_labels_first_wins_ties() -> None:
    labels = labels_from_probabilities(np.array([[0.5, 0.5], [0.1, 0.9]]), ["no", "yes"])
    assert labels.tolist() == ["no", "yes"]


def test_to_records_contract() -> None:
    batch = PredictionBatch("onnxruntime", classes=[0, 1], labels=np.array([1, 0], dtype=np.int64),
                            probabilities=np.array([[0.25, 0.75], [0.5, 0.5]]),
                            outputs={"label": np.array([1, 0]), "output_probability": [{0: 0.25, 1: 0.75},
                                                                                        {0: 0.5, 1: 0.5}]})
    records = batch.to_records()
    assert records[0] == {"label": 1, "probabilities": {"0": 0.25, "1": 0.75}, "value": None,
                          "outputs": {"label": 1, "output_probability": {"0": 0.25, "1": 0.75}}}
    json.dumps(records)
    regression = PredictionBatch("native", values=np.array([1.5, 2.5]), outputs={"variable": np.array([[1.5], [2.5]])})
    assert regression.to_records()[1] == {"label": None, "probabilities": None, "value": 2.5,
                                          "outputs": {"variable": [2.5]}}
    assert regression.rows == 2 and regression.roles == ["value"]


# ------------------------------------------------------------------------------ compare_batches

def clf(probs: list[list[float]], classes: list, runtime: str = "x", labels: list | None = None) -> PredictionBatch:
    p = np.asarray(probs)
    lab = np.asarray(labels, dtype=object) if labels is not None else labels_from_probabilities(p, classes)
    return PredictionBatch(runtime, classes=classes, labels=lab, probabilities=p)


def test_equivalent_batches_pass_with_string_and_int_labels() -> None:
    a = clf([[0.1, 0.9], [0.8, 0.2]], [0, 1], "onnxruntime")
    b = clf([[0.1 + 1e-9, 0.9 - 1e-9], [0.8, 0.2]], ["0", "1"], "jpmml")
    report = compare_batches(a, b)
    out = report.to_json()
    assert set(out) >= {"rows", "max_abs_diff", "max_rel_diff", "label_agreement", "passed", "worst_rows"}
    assert out["passed"] is True and out["rows"] == 2 and out["label_agreement"] == 1.0
    assert out["max_abs_diff"] == pytest.approx(1e-9, rel=1e-3)
    assert out["roles"]["probabilities"]["passed"] and out["roles"]["label"]["agreement"] == 1.0


def test_probability_columns_are_aligned_by_class_before_comparing() -> None:
    a = clf([[0.1, 0.2, 0.7]], [0, 1, 2])
    b = clf([[0.7, 0.1, 0.2]], ["2", "0", "1"])
    report = compare_batches(a, b, atol=0, rtol=0)
    assert report.passed and report.max_abs_diff == 0.0
    assert "b's probability columns reordered to a's class order" in report.notes


def test_different_batches_fail_and_name_the_worst_rows() -> None:
    a = clf([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]], [0, 1])
    b = clf([[0.9, 0.1], [0.45, 0.55], [0.3, 0.7], [0.25, 0.75]], [0, 1])
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    report = compare_batches(a, b, atol=1e-3, rtol=0, frame=frame)
    assert not report.passed
    assert report.label_agreement == 0.75
    assert report.max_abs_diff == pytest.approx(0.15)
    assert report.max_rel_diff == pytest.approx(0.15 / 0.55)
    worst = report.worst_rows
    assert [w["row"] for w in worst] == [2, 4]  # the label flip first, then the biggest other difference
    assert worst[0]["index"] == 1 and worst[0]["features"] == {"x": 2.0}
    assert worst[0]["a"] == {"label": 0, "probabilities": {"0": 0.6, "1": 0.4}, "value": None}
    assert worst[0]["b"]["label"] == 1 and worst[0]["label_match"] is False
    assert worst[0]["diff"] == pytest.approx(0.15) and worst[0]["within_tolerance"] is False
    assert worst[1]["label_match"] is True and worst[1]["diff"] == pytest.approx(0.05)
    assert report.roles["label"].rows_outside == [1]
    assert report.roles["probabilities"].rows_outside == [1, 3]


def test_tolerances_decide() -> None:
    a = PredictionBatch("a", values=np.array([100.0, 1.0]))
    b = PredictionBatch("b", values=np.array([100.01, 1.0]))
    assert not compare_batches(a, b, atol=1e-3, rtol=0).passed
    assert compare_batches(a, b, atol=0, rtol=2e-4).passed  # 0.01 <= 2e-4 * 100
    assert not compare_batches(a, b, atol=0, rtol=5e-5).passed
    report = compare_batches(a, b, atol=0, rtol=0)
    assert report.max_abs_diff == pytest.approx(0.01) and report.label_agreement is None
    assert report.max_rel_diff == pytest.approx(0.01 / 100.01)


def test_missing_results_on_one_side_fail() -> None:
    a = PredictionBatch("a", values=np.array([1.0, np.nan, 3.0]))
    b = PredictionBatch("b", values=np.array([1.0, np.nan, np.nan]))
    report = compare_batches(a, b)
    assert not report.passed and report.max_abs_diff == np.inf
    assert report.roles["value"].rows_outside == [2]
    assert "1 row(s) have a missing result on one side only" in report.roles["value"].note
    assert json.dumps(report.to_json(), allow_nan=True)


def test_threshold_flip_is_explained() -> None:
    probs = [[0.9, 0.1]] * 99 + [[0.6, 0.4]]
    other = [[0.9, 0.1]] * 99 + [[0.4, 0.6]]
    report = compare_batches(clf(probs, [0, 1]), clf(other, [0, 1]))
    assert not report.passed and report.worst_rows[0]["row"] == 100
    assert any("split threshold" in note for note in report.notes)


def test_nothing_comparable_fails() -> None:
    a = PredictionBatch("a", values=np.array([1.0, 2.0]))
    b = PredictionBatch("b", outputs={"x": np.array(["p", "q"])})
    report = compare_batches(a, b)
    assert not report.passed and report.roles == {}
    assert report.notes[0].startswith("nothing to compare")


def test_row_counts_must_match() -> None:
    with pytest.raises(WorkbenchError, match="cannot compare 2 predictions with 3"):
        compare_batches(PredictionBatch("a", values=np.zeros(2)), PredictionBatch("b", values=np.zeros(3)))


# ------------------------------------------------------------------------------- real models

def _native(name: str, rows: pd.DataFrame) -> PredictionBatch:
    from workbench.core.runtimes import predict_rows

    sample = BY_NAME[name]
    return predict_rows(SAMPLES_DIR / sample["file"], rows, runtime="native", trust=sample["trust"])[2]


def test_two_different_real_models_fail_with_the_right_worst_rows() -> None:
    import joblib

    from workbench.core.rows import read_rows

    rows = read_rows(SAMPLES_DIR / "iris_logreg.rows.csv")
    a, b = _native("iris_logreg", rows), _native("xgb_classifier", rows)
    report = compare_batches(a, b, atol=1e-6, rtol=0, frame=rows, worst=3)
    assert not report.passed
    # expectations straight from the two models
    X = rows.astype(float)
    logreg = joblib.load(SAMPLES_DIR / "iris_logreg.joblib")
    xgb = joblib.load(SAMPLES_DIR / "xgb_classifier.joblib")
    pa, pb = logreg.predict_proba(X), xgb.predict_proba(X)
    la, lb = logreg.predict(X), xgb.predict(X)
    diff = np.abs(pa - pb).max(axis=1)
    order = sorted(range(len(rows)), key=lambda i: (la[i] == lb[i], -diff[i]))
    assert [w["row"] - 1 for w in report.worst_rows] == order[:3]
    assert report.label_agreement == pytest.approx(float(np.mean(la == lb)))
    assert report.max_abs_diff == pytest.approx(float(diff.max()), abs=1e-6)
    first = report.worst_rows[0]
    assert first["features"] == {k: str(v) for k, v in rows.iloc[order[0]].items()}
    assert first["a"]["probabilities"]["2"] == pytest.approx(pa[order[0], 2])
    assert first["b"]["probabilities"]["2"] == pytest.approx(pb[order[0], 2], abs=1e-6)


def test_different_class_sets_fail() -> None:
    a = clf([[0.5, 0.5, 0.0]], ["cat", "dog", "eel"])
    b = clf([[0.5, 0.5]], ["cat", "dog"])
    report = compare_batches(a, b)
    assert not report.passed
    assert report.roles["probabilities"].note == "the two models have different class labels"
    assert report.notes[0] == ("class labels differ: a ['cat', 'dog', 'eel'], b ['cat', 'dog']; probabilities "
                               "compared on a's classes")


def test_rows_without_a_result_on_both_sides_are_pointed_out() -> None:
    a = PredictionBatch("x", values=np.array([1.0, np.nan, 3.0]))
    b = PredictionBatch("y", values=np.array([1.0, np.nan, 3.0]))
    report = compare_batches(a, b, atol=1e-9, rtol=0.0)
    assert report.passed
    assert report.roles["value"].note == ("1 row(s) have no result (NaN) on both sides: they agree, but look at "
                                          "those rows")


def test_worst_rows_show_float32_features_as_written() -> None:
    """Rows prepared for an ONNX graph are float32; the report shows 6.1, not 6.099999904632568."""
    frame = pd.DataFrame({"x": np.asarray([6.1, 0.3], dtype=np.float32), "y": [6.1, 0.3]})
    a = PredictionBatch("x", values=np.array([1.0, 2.0]))
    b = PredictionBatch("y", values=np.array([1.0, 2.5]))
    report = compare_batches(a, b, atol=1e-9, rtol=0.0, frame=frame)
    assert report.worst_rows[0]["features"] == {"x": 0.3, "y": 0.3}
