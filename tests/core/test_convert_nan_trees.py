"""scikit-learn trees fitted on rows with missing values (NaN): `tree_.missing_go_to_left` routes a NaN
per split. The converted models must score NaN rows exactly like scikit-learn.

Models are built here; real skl2onnx + onnxruntime (and sklearn2pmml + JPMML + PMML4S for PMML).
"""

from __future__ import annotations

import warnings

import joblib
import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    IsolationForest,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from workbench.core.conversion import convert_and_prove

warnings.filterwarnings("ignore")

ESTIMATORS = {
    "dt_c": lambda: DecisionTreeClassifier(max_depth=6, random_state=0),
    "rf_c": lambda: RandomForestClassifier(n_estimators=15, max_depth=6, random_state=0),
    "et_c": lambda: ExtraTreesClassifier(n_estimators=15, max_depth=6, random_state=0),
    "dt_r": lambda: DecisionTreeRegressor(max_depth=6, random_state=0),
    "rf_r": lambda: RandomForestRegressor(n_estimators=15, max_depth=6, random_state=0),
    "et_r": lambda: ExtraTreesRegressor(n_estimators=15, max_depth=6, random_state=0),
}


def _nan_data(regressor: bool) -> tuple[pd.DataFrame, pd.Series]:
    X, y = (load_diabetes if regressor else load_iris)(return_X_y=True, as_frame=True)
    X = X.rename(columns=lambda c: "_".join(c.replace("(cm)", "").split()))
    rng = np.random.default_rng(3)
    return X.mask(rng.random(X.shape) < 0.2), y


def _nan_rows(X: pd.DataFrame) -> pd.DataFrame:
    """Rows with one, two and all values missing, each column in turn."""
    base = X.fillna(X.median()).iloc[:40].reset_index(drop=True)
    rows = []
    for i in range(len(base)):
        row = base.iloc[i].copy()
        row.iloc[i % X.shape[1]] = np.nan
        if i % 3 == 0:
            row.iloc[(i + 1) % X.shape[1]] = np.nan
        rows.append(row)
    rows.append(pd.Series(np.nan, index=X.columns))
    return pd.DataFrame(rows).reset_index(drop=True)


def _build(key: str, tmp_path):
    regressor = key.endswith("_r")
    X, y = _nan_data(regressor)
    model = ESTIMATORS[key]().fit(X, y)
    rows = _nan_rows(X)
    path, rows_path = tmp_path / f"{key}.joblib", tmp_path / f"{key}.csv"
    joblib.dump(model, path)
    rows.to_csv(rows_path, index=False, float_format="%.17g")
    return model, rows, path, rows_path


@pytest.mark.parametrize("key", list(ESTIMATORS))
def test_nan_rows_to_onnx_match_scikit_learn(key, tmp_path):
    model, rows, path, rows_path = _build(key, tmp_path)
    assert any(t.missing_go_to_left[t.children_left != -1].any() for t in _trees(model))  # NaN goes left somewhere
    out = tmp_path / f"{key}.onnx"
    result = convert_and_prove(path, "onnx", out, rows=rows_path, trust=True)
    assert result.notes["missing_values_routed"] is True
    assert result.passed and result.parity["passed_strict"] is True
    assert result.parity["sample_rows_scored_differently"] == []
    # the graph itself, in onnxruntime: labels identical, probabilities / values to 1e-6
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    feeds = {c: rows[c].to_numpy(np.float32).reshape(-1, 1) for c in rows.columns}
    got = session.run(None, feeds)
    if key.endswith("_c"):
        np.testing.assert_array_equal(got[0].reshape(-1), model.predict(rows))
        np.testing.assert_allclose(got[1], model.predict_proba(rows), atol=1e-6, rtol=0)
    else:
        np.testing.assert_allclose(got[0].reshape(-1), model.predict(rows), atol=1e-6 * 300, rtol=1e-6)
    # every split's routing is scikit-learn's: BRANCH_LEQ true branch = left child
    node = next(n for n in onnx.load(str(out)).graph.node if n.op_type.startswith("TreeEnsemble"))
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    trees = _trees(model)
    for t, n, mode, miss in zip(attrs["nodes_treeids"], attrs["nodes_nodeids"], attrs["nodes_modes"],
                                attrs["nodes_missing_value_tracks_true"], strict=True):
        if mode == b"BRANCH_LEQ":
            assert miss == int(trees[t].missing_go_to_left[n])


def _trees(model) -> list:
    return [model.tree_] if hasattr(model, "tree_") else [e.tree_ for e in model.estimators_]


def test_isolation_forest_nan_rows_to_onnx(tmp_path):
    X, _ = _nan_data(False)
    model = IsolationForest(n_estimators=10, random_state=0).fit(X)
    rows = _nan_rows(X)
    path, rows_path = tmp_path / "if.joblib", tmp_path / "if.csv"
    joblib.dump(model, path)
    rows.to_csv(rows_path, index=False, float_format="%.17g")
    result = convert_and_prove(path, "onnx", tmp_path / "if.onnx", rows=rows_path, trust=True)
    assert result.notes["missing_values_routed"] is True
    assert result.passed and result.parity["label_agreement"] == 1.0
    assert result.parity["max_abs_diff"] < 1e-6


def test_unmatched_trees_are_not_routed_and_say_why():
    from workbench.core.converters.onnx_missing import NotRouted, route_missing_values
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    X, y = _nan_data(False)
    model = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    other = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=1).fit(X, y)
    onx = convert_sklearn(model, initial_types=[("x", FloatTensorType([None, 4]))],
                          options={id(model): {"zipmap": False}})
    with pytest.raises(NotRouted, match="tree 0"):
        route_missing_values(onx, other)
    assert route_missing_values(onx, model)["trees"] == 3


# ------------------------------------------------------------------ PMML (sklearn2pmml + JPMML / PMML4S)


def _expected(model, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    if hasattr(model, "classes_"):
        return {"labels": model.predict(rows), "probabilities": model.predict_proba(rows)}
    return {"values": model.predict(rows)}


@pytest.mark.java
@pytest.mark.parametrize("key", list(ESTIMATORS))
def test_nan_rows_to_pmml_match_scikit_learn_in_jpmml_and_pmml4s(key, tmp_path):
    from workbench.core.runtimes import predict_rows

    model, rows, path, rows_path = _build(key, tmp_path)
    out = tmp_path / f"{key}.pmml"
    result = convert_and_prove(path, "pmml", out, rows=rows_path, trust=True)
    assert result.notes["missing_values_routed"] is True, result.notes.get("missing_values_reason")
    assert result.passed and result.parity["passed_strict"] is True
    assert result.parity["missing_value_rows"] == len(rows) - 1  # every row has a NaN (",,,," is no row in a CSV)
    assert result.parity["missing_value_rows_scored_differently"] == []
    assert result.parity["rows_without_prediction"] == []
    expected = _expected(model, rows)
    for runtime in ("jpmml", "pmml4s"):
        _, _, batch = predict_rows(out, rows, runtime=runtime)
        if "labels" in expected:
            assert [int(float(v)) for v in batch.labels] == expected["labels"].tolist(), runtime
            proba = np.asarray(batch.probabilities, dtype=np.float64)
            assert np.abs(proba - expected["probabilities"]).max() <= 1e-9, runtime
        else:
            got = np.asarray(batch.values, dtype=np.float64).reshape(-1)
            np.testing.assert_allclose(got, expected["values"], rtol=0, atol=1e-9, err_msg=runtime)
    # the written trees: every split Node names the child scikit-learn sends NaN to
    text = out.read_text()
    assert "<!DOCTYPE" not in text and 'missingValueStrategy="nullPrediction"' not in text
    trees = _trees(model)
    assert text.count('missingValueStrategy="defaultChild"') == len(trees)
    from defusedxml.ElementTree import fromstring

    ns = "{http://www.dmg.org/PMML-4_4}"
    models = list(fromstring(out.read_bytes()).iter(f"{ns}TreeModel"))
    assert len(models) == len(trees)
    for tree_model, tree in zip(models, trees, strict=True):
        routed = {int(n.get("id")): int(n.get("defaultChild")) for n in tree_model.iter(f"{ns}Node")
                  if n.get("defaultChild") is not None}
        splits = np.flatnonzero(tree.children_left != -1)
        assert sorted(routed) == splits.tolist()
        for node in splits:
            side = tree.children_left if tree.missing_go_to_left[node] else tree.children_right
            assert routed[node] == side[node]


@pytest.mark.java
def test_pmml_routing_refuses_trees_that_do_not_match(tmp_path):
    """Another forest's trees (or a compacted PMML) are not rewritten: NotRouted says where, file untouched."""
    from workbench.core.converters.to_pmml import NotRouted, build_pmml_pipeline, route_pmml_missing_values, \
        run_sklearn2pmml

    X, y = _nan_data(False)
    model = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    other = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=1).fit(X, y)
    columns = list(X.columns)
    out = tmp_path / "rf.pmml"
    pipeline = build_pmml_pipeline(model, columns)
    pipeline.configure(compact=False)
    run_sklearn2pmml(pipeline, out)
    before = out.read_bytes()
    with pytest.raises(NotRouted, match="tree 0"):
        route_pmml_missing_values(out, [e.tree_ for e in other.estimators_], columns)
    assert out.read_bytes() == before
    compacted = tmp_path / "compact.pmml"
    run_sklearn2pmml(build_pmml_pipeline(model, columns), compacted)  # JPMML's default: compacted trees
    with pytest.raises(NotRouted, match="tree 0 node"):
        route_pmml_missing_values(compacted, [e.tree_ for e in model.estimators_], columns)
    done = route_pmml_missing_values(out, [e.tree_ for e in model.estimators_], columns)
    assert done["trees"] == 3 and done["splits"] == sum(int((e.tree_.children_left != -1).sum())
                                                         for e in model.estimators_)


# ------------------------------------------------------------------ SavedModel (compiled TF ops)


@pytest.mark.tf
@pytest.mark.parametrize("key", list(ESTIMATORS))
def test_nan_rows_to_savedmodel_match_scikit_learn(key, tmp_path):
    import tensorflow as tf

    model, rows, path, rows_path = _build(key, tmp_path)
    out = tmp_path / f"{key}_savedmodel"
    result = convert_and_prove(path, "savedmodel", out, rows=rows_path, trust=True)
    assert result.passed and result.parity["passed_strict"] is True
    assert result.parity["missing_value_rows"] == len(rows) - 1  # ",,,," (all NaN) is no row in a CSV
    assert result.parity["missing_value_rows_scored_differently"] == []
    # the SavedModel itself, in TensorFlow
    signature = tf.saved_model.load(str(out)).signatures["serving_default"]
    got = {k: v.numpy() for k, v in signature(**{c: tf.constant(rows[c].to_numpy(np.float64))
                                                  for c in rows.columns}).items()}
    expected = _expected(model, rows)
    if "labels" in expected:
        np.testing.assert_array_equal(got["label"], expected["labels"])
        assert np.abs(got["probabilities"] - expected["probabilities"]).max() <= 1e-9
    else:
        (value,) = got.values()
        np.testing.assert_allclose(value.reshape(-1), expected["values"], rtol=0, atol=1e-9)
