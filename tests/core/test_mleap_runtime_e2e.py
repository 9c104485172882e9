"""`workbench predict BUNDLE --rows ROWS --runtime mleap --json` on the sample bundles (the committed
mleap.sklearn iris pipeline and the Spark-style bundles sample_models/build_mleap.py writes, JSON and
protobuf) against the scikit-learn models they were made from; an unknown op exits 2 naming it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.core.convert_helpers import load_build_mleap
from workbench.cli import main

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "sample_models"
TOL = 1e-9


bm = load_build_mleap()


def predict_json(capsys: pytest.CaptureFixture[str], bundle: Path, rows: Path) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(["predict", str(bundle), "--rows", str(rows), "--runtime", "mleap", "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_iris_sample_equals_the_sklearn_pipeline(capsys: pytest.CaptureFixture[str]) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = bm.iris_data()
    reference = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x.to_numpy(), y)
    rows_csv = SAMPLES_DIR / "mleap_iris_pipeline.rows.csv"
    rows = np.loadtxt(rows_csv, delimiter=",", skiprows=1)
    code, out = predict_json(capsys, SAMPLES_DIR / "mleap_iris_pipeline.zip", rows_csv)
    assert code == 0 and out["runtime"] == "mleap" and out["rows"] == len(rows)
    got = np.array([[p["probabilities"][str(c)] for c in (0, 1, 2)] for p in out["predictions"]])
    assert np.max(np.abs(got - reference.predict_proba(rows))) <= TOL
    assert [p["label"] for p in out["predictions"]] == reference.predict(rows).tolist()
    raw = np.array([p["outputs"]["raw_prediction"] for p in out["predictions"]])
    assert np.max(np.abs(raw - reference.decision_function(rows))) <= TOL


@pytest.fixture(scope="module")
def spark_cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("mleap_e2e")
    return {ser: bm.spark_bundles(out, ser) for ser in ("json", "protobuf")}


@pytest.mark.parametrize("serialization", ["json", "protobuf"])
@pytest.mark.parametrize("name", ["linear_regression", "logistic_regression_binomial", "logistic_regression_multinomial",
                                  "decision_tree_classifier", "decision_tree_regression", "random_forest_classifier",
                                  "gbt_regression", "gbt_classifier", "random_forest_regression",
                                  "bucketizer_polynomial_linear_regression"])
def test_spark_bundles_equal_their_sklearn_models(spark_cases: dict, name: str, serialization: str,
                                                  tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = spark_cases[serialization][name]
    rows = tmp_path / "rows.csv"
    rows.write_text(bm.case_rows_csv(case))
    code, out = predict_json(capsys, case.path, rows)
    assert code == 0, out
    predictions = out["predictions"]
    if case.task == "regression":
        got = np.array([p["value"] for p in predictions])
        assert np.max(np.abs(got - case.expected["prediction"])) <= TOL
        return
    classes = out["classes"]
    got = np.array([[p["probabilities"][str(c)] for c in classes] for p in predictions])
    assert np.max(np.abs(got - case.expected["probability"])) <= TOL
    assert [float(p["label"]) for p in predictions] == case.expected["prediction"].tolist()
    if "raw_prediction" in case.expected:
        raw = np.array([p["outputs"]["raw_prediction"] for p in predictions])
        assert np.max(np.abs(raw - case.expected["raw_prediction"])) <= TOL


def test_unknown_op_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node = bm.Node("pca", "pca", [("input", "x1")], [("output", "pc")], {"k": bm.long(1)})
    bundle = bm.write_bundle(tmp_path / "pca.zip", [node], name="pca", serialization="json", zipped=True)
    rows = tmp_path / "rows.csv"
    rows.write_text("x1\n1.0\n")
    capsys.readouterr()
    code = main(["predict", str(bundle), "--rows", str(rows), "--runtime", "mleap", "--json"])
    captured = capsys.readouterr()
    assert code == 2
    assert "'pca'" in json.loads(captured.out)["error"]
    assert "string_indexer" in captured.err
