"""Issue 18 items 3, 7, 9: a conversion verdict names what it compared and what it could not, compares
anomaly and clustering models on like quantities, and refuses what a converter cannot do with the reason.

Every model is built here, at test time, with real skl2onnx / sklearn2pmml (Java) / onnxruntime / JPMML.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import joblib
import numpy as np
import onnx
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_iris

from workbench.core.conversion import CannotConvert, convert_and_prove

warnings.filterwarnings("ignore")


def _iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X.rename(columns=lambda c: "_".join(c.replace("(cm)", "").split())), y


def _save(model, rows: pd.DataFrame, folder: Path, name: str) -> tuple[Path, Path]:
    path, rows_path = folder / f"{name}.joblib", folder / f"{name}.csv"
    joblib.dump(model, path)
    rows.to_csv(rows_path, index=False, float_format="%.17g")
    return path, rows_path


# ---------------------------------------------------------------------------------------- item 3

@pytest.mark.java
def test_svc_to_pmml_says_probabilities_were_not_compared(tmp_path):
    from sklearn.svm import SVC

    X, y = _iris()
    path, rows = _save(SVC(probability=True, random_state=0).fit(X, y), X.iloc[::5], tmp_path, "svc")
    result = convert_and_prove(path, "pmml", tmp_path / "svc.pmml", rows=rows, trust=True)
    parity = result.parity
    assert result.passed and parity["label_agreement"] == 1.0
    assert parity["compared_outputs"] == ["label"]
    assert "probabilities" in parity["not_compared"]
    assert "no probability output fields" in parity["not_compared"]["probabilities"]
    assert parity["verdict"].startswith("PASS on label; probabilities not compared: the PMML model has none")
    report = json.loads(Path(result.report_path).read_text())
    assert report["parity"]["not_compared"] == parity["not_compared"]


def _hgb_with_rows_on_thresholds(tmp_path: Path) -> tuple[Path, Path, int]:
    """A HistGradientBoostingClassifier and a rows file whose last rows sit on float32-rounded thresholds
    (values a float32 runtime sends the other way)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from workbench.core.converters.thresholds import split_thresholds

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :5].rename(columns=lambda c: c.replace(" ", "_"))
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
    thresholds, _ = split_thresholds(model)
    base = X.median()
    on = []
    for f, values in thresholds.items():
        for t in values[:8]:
            if float(np.float32(t)) != t:
                row = base.copy()
                row.iloc[f] = float(np.float32(t))
                on.append(row)
    rows = pd.concat([X.iloc[:20], pd.DataFrame(on)], ignore_index=True)
    path, rows_path = _save(model, rows, tmp_path, "hgb")
    return path, rows_path, len(rows)


def test_hist_gradient_boosting_to_onnx_uses_float64_trees_when_float32_flips_real_rows(tmp_path):
    path, rows, n = _hgb_with_rows_on_thresholds(tmp_path)
    out = tmp_path / "hgb.onnx"
    result = convert_and_prove(path, "onnx", out, rows=rows, trust=True, threshold_rows_on=False)
    assert result.notes["double_trees"] is True and result.notes["float32"] is False
    assert "differently" in result.notes["double_trees_reason"]
    parity = result.parity
    assert result.passed and parity["passed_strict"] is True
    assert parity["max_abs_diff"] < 1e-6 and parity["explained_rows"] == 0
    assert parity["sample_rows_scored_differently"] == []
    graph = onnx.load(str(out))
    assert [n.op_type for n in graph.graph.node if n.domain == "ai.onnx.ml"] == ["TreeEnsemble"]
    assert {o.domain: o.version for o in graph.opset_import}["ai.onnx.ml"] == 5
    assert result.tolerances["atol"] == 1e-5


def test_float32_trees_kept_by_option_name_the_real_rows_scored_differently(tmp_path):
    path, rows, n = _hgb_with_rows_on_thresholds(tmp_path)
    result = convert_and_prove(path, "onnx", tmp_path / "hgb32.onnx", rows=rows, trust=True,
                               threshold_rows_on=False, options={"double_trees": False})
    parity = result.parity
    assert result.notes["float32"] is True and "double_trees" not in result.notes
    differ = parity["sample_rows_scored_differently"]
    assert differ and all(21 <= r <= n for r in differ)  # the rows placed on thresholds, 1-based
    assert parity["max_abs_diff"] > 1e-4
    assert f"{len(differ)} row(s) of your data scored differently" in parity["verdict"]
    assert all(r["row_kind"] == f"row {r['row']} of your data" for r in result.explained_rows)
    from workbench.commands.convert import render

    assert "row(s) of your data are scored differently" in render(result)


def test_generated_threshold_rows_are_named_generated(tmp_path):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :5].rename(columns=lambda c: c.replace(" ", "_"))
    path, rows = _save(HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y), X.iloc[:30],
                       tmp_path, "hgbg")
    result = convert_and_prove(path, "onnx", tmp_path / "g.onnx", rows=rows, trust=True,
                               options={"double_trees": False})
    assert result.parity["sample_rows"] == 30 and result.parity["generated_rows"] > 0
    generated = [r for r in result.explained_rows if r["threshold_row"]]
    assert generated
    assert all(r["row_kind"].startswith("generated edge-case row") and "which has 30 rows" in r["row_kind"]
               for r in generated)


# ---------------------------------------------------------------------------------------- item 7

def test_isolation_forest_to_onnx_compares_predict_and_decision_function(tmp_path):
    from sklearn.ensemble import IsolationForest

    X, _ = _iris()
    path, rows = _save(IsolationForest(n_estimators=20, random_state=0).fit(X), X.iloc[::3], tmp_path, "if")
    result = convert_and_prove(path, "onnx", tmp_path / "if.onnx", rows=rows, trust=True)
    parity = result.parity
    assert result.passed
    assert parity["compared_outputs"] == ["predict (+1 inlier / -1 outlier)", "decision_function"]
    assert parity["label_agreement"] == 1.0 and parity["max_abs_diff"] < 1e-4
    assert parity["not_compared"] == {}


@pytest.mark.java
def test_isolation_forest_to_pmml_compares_the_decision_function_not_the_raw_score(tmp_path):
    from sklearn.ensemble import IsolationForest

    X, _ = _iris()
    path, rows = _save(IsolationForest(n_estimators=20, random_state=0).fit(X), X.iloc[::3], tmp_path, "ifp")
    result = convert_and_prove(path, "pmml", tmp_path / "if.pmml", rows=rows, trust=True)
    assert result.passed
    assert result.parity["compared_outputs"] == ["predict (+1 inlier / -1 outlier)", "decision_function"]
    assert result.parity["max_abs_diff"] < 1e-12


@pytest.mark.java
def test_both_pmml_engines_give_the_decision_function_as_value(tmp_path):
    from sklearn.ensemble import IsolationForest

    from workbench.core.models import inspect_model
    from workbench.core.rows import prepare_rows
    from workbench.core.runtimes import RUNTIMES

    X, _ = _iris()
    model = IsolationForest(n_estimators=20, random_state=0).fit(X)
    path, rows = _save(model, X.iloc[:10], tmp_path, "ife")
    convert_and_prove(path, "pmml", tmp_path / "ife.pmml", rows=rows, trust=True)
    info = inspect_model(tmp_path / "ife.pmml")
    expected = model.decision_function(X.iloc[:10])
    for runtime in ("jpmml", "pmml4s"):
        batch = RUNTIMES.get(runtime).load(tmp_path / "ife.pmml", info, True).predict(prepare_rows(X.iloc[:10], info))
        np.testing.assert_allclose(batch.values, expected, atol=1e-12)


@pytest.mark.java
@pytest.mark.parametrize("target", ["onnx", "pmml"])
def test_kmeans_pipeline_compares_cluster_ids_and_distances(target, tmp_path):
    from sklearn.cluster import KMeans
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, _ = _iris()
    model = make_pipeline(StandardScaler(), KMeans(3, n_init=3, random_state=0)).fit(X)
    path, rows = _save(model, X.iloc[::4], tmp_path, "km")
    result = convert_and_prove(path, target, tmp_path / f"km.{target}", rows=rows, trust=True)
    assert result.passed and result.parity["label_agreement"] == 1.0
    assert result.parity["compared_outputs"][0] == "cluster id (predict)"
    assert "distances to the cluster centres" in result.parity["compared_outputs"][1]
    assert result.parity["max_abs_diff"] < (1e-4 if target == "onnx" else 1e-9)


def test_one_class_svm_pipeline_to_onnx(tmp_path):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import OneClassSVM

    X, _ = _iris()
    path, rows = _save(make_pipeline(StandardScaler(), OneClassSVM()).fit(X), X.iloc[::4], tmp_path, "oc")
    result = convert_and_prove(path, "onnx", tmp_path / "oc.onnx", rows=rows, trust=True)
    assert result.passed and "decision_function" in result.parity["compared_outputs"]


# ---------------------------------------------------------------------------------------- item 9

def _cat_frame() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200),
                      "c": pd.Categorical(rng.choice(["x", "y", "z"], 200))})
    return X, ((X.a + (X.c == "y")) > 0.3).astype(int)


def test_xgboost_categorical_to_onnx_is_refused_with_the_reason(tmp_path):
    from xgboost import XGBClassifier

    X, y = _cat_frame()
    model = XGBClassifier(n_estimators=5, max_depth=2, enable_categorical=True, tree_method="hist").fit(X, y)
    path, rows = _save(model, X.head(10), tmp_path, "xc")
    with pytest.raises(CannotConvert, match="onnxmltools cannot convert XGBoost categorical splits"):
        convert_and_prove(path, "onnx", tmp_path / "xc.onnx", rows=rows, trust=True)


def test_lightgbm_categorical_to_onnx_is_refused_with_the_reason(tmp_path):
    from lightgbm import LGBMClassifier

    X, y = _cat_frame()
    path, rows = _save(LGBMClassifier(n_estimators=5, verbose=-1).fit(X, y), X.head(10), tmp_path, "lc")
    with pytest.raises(CannotConvert, match="onnxmltools cannot convert LightGBM categorical features \\(c"):
        convert_and_prove(path, "onnx", tmp_path / "lc.onnx", rows=rows, trust=True)


@pytest.mark.java
@pytest.mark.parametrize("target, tool", [("onnx", "onnxmltools"), ("pmml", "JPMML-LightGBM")])
def test_lightgbm_linear_trees_are_refused(target, tool, tmp_path):
    from lightgbm import LGBMRegressor

    X, _ = _cat_frame()
    X = X[["a", "b"]]
    path, rows = _save(LGBMRegressor(n_estimators=5, linear_tree=True, verbose=-1).fit(X, 2 * X.a + X.b),
                       X.head(10), tmp_path, "lin")
    with pytest.raises(CannotConvert, match=f"linear trees are not supported by {tool}"):
        convert_and_prove(path, target, tmp_path / f"lin.{target}", rows=rows, trust=True)


def test_java_saying_nothing_is_explained():
    from workbench.core.converters.to_pmml import java_error_message

    text = java_error_message("Standard output is empty\nStandard error is empty\n")
    assert "printed nothing" in text and "killed" in text


def test_java_deepest_cause_is_reported():
    from workbench.core.converters.to_pmml import java_error_message

    output = ("SEVERE: Failed to convert PKL to PMML\n"
              "org.jpmml.sklearn.SkLearnException: Failed to convert the estimator object\n"
              "                                   Caused by\n"
              "org.jpmml.lightgbm.LightGBMException: Expected a false (off) categorical split mask\n")
    assert java_error_message(output) == ("Failed to convert the estimator object: Expected a false (off) "
                                          "categorical split mask")


def test_savedmodel_to_onnx_with_string_inputs_is_not_offered():
    from workbench.core.converters.base import target_status
    from workbench.core.types import ModelInfo, TensorSpec

    info = ModelInfo(path="m", format="savedmodel", framework="tensorflow", task="classification",
                     inputs=[TensorSpec("device", "string"), TensorSpec("price", "float32")])
    status = target_status(info, None, "onnx")
    assert not status.possible and "string input(s) device" in status.reason and "Cast" in status.reason


def test_savedmodel_dir_ignores_non_ascii_digit_folders(tmp_path):
    from workbench.core.converters.to_onnx import _savedmodel_dir

    for name in ("²", "3"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "saved_model.pb").write_bytes(b"")
    assert _savedmodel_dir(tmp_path) == tmp_path / "3"


def test_read_metadata_does_not_follow_links_out_of_the_folder(tmp_path):
    from workbench.core.converters.to_savedmodel.compile import METADATA_FILE, read_metadata

    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"task": "classification"}))
    model = tmp_path / "sm"
    (model / "assets.extra").mkdir(parents=True)
    os.symlink(outside, model / METADATA_FILE)
    assert read_metadata(model) is None
    (model / METADATA_FILE).unlink()
    (model / METADATA_FILE).write_text(json.dumps({"task": "regression"}))
    assert read_metadata(model) == {"task": "regression"}


def test_pmml_engine_without_label_says_so():
    from workbench.core.runtimes.pmml_results import pmml_batch

    batch = pmml_batch("pmml4s", {"neighbor(1)": ["1", "2"]}, 2, classification=True,
                       output_fields=[("neighbor(1)", "entityId", None)], classes=[0, 1], label_column=None)
    assert batch.labels is None and any("no predicted label" in w for w in batch.warnings)
