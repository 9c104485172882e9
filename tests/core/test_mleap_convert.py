"""MLeap pipelines (MleapNode objects as the bundle reader decodes them) converted to ONNX, PMML and
SavedModel by workbench.core.converters.from_mleap, each converted model run in its own runtime and
compared with the same pipeline computed by scikit-learn / numpy; unsupported ops refused by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.core.converters.from_mleap import check_nodes, convert_nodes
from workbench.core.converters.from_mleap.plan import Unsupported, make_plan, polynomial_terms
from workbench.core.mleap.model import MleapNode, Port

NUM = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
KINDS = ["red", "green", "blue"]


def _iris() -> tuple[pd.DataFrame, np.ndarray]:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    frame = pd.DataFrame(X, columns=NUM)
    rng = np.random.default_rng(0)
    frame["kind"] = rng.choice(KINDS, len(frame))
    return frame, y


def _assembler(inputs: list[str], out: str = "features") -> MleapNode:
    return MleapNode("va", "vector_assembler", tuple(Port(f"input{i}", c) for i, c in enumerate(inputs)),
                     (Port("output", out),))


def _indexer() -> MleapNode:
    return MleapNode("si", "string_indexer", (Port("input", "kind"),), (Port("output", "kind_index"),),
                     {"labels": KINDS, "handle_invalid": "keep"})


def _tree_nodes(tree, values) -> list[dict]:
    """A sklearn tree_ as MLeap's preorder node list (x <= threshold goes left, as in Spark)."""
    out = []

    def walk(i: int) -> None:
        if tree.children_left[i] == -1:
            out.append({"type": "leaf", "values": [float(v) for v in values[i]]})
            return
        out.append({"type": "internal", "split": {"type": "continuous", "featureIndex": int(tree.feature[i]),
                                                   "threshold": float(tree.threshold[i])}})
        walk(tree.children_left[i])
        walk(tree.children_right[i])
    walk(0)
    return out


def iris_logreg() -> tuple[tuple[MleapNode, ...], pd.DataFrame, dict]:
    """string_indexer + vector_assembler + standard_scaler + multinomial logistic_regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    frame, y = _iris()
    X = np.column_stack([frame[NUM].to_numpy(), frame["kind"].map(KINDS.index).to_numpy(float)])
    sc = StandardScaler().fit(X)
    lr = LogisticRegression(max_iter=1000).fit(sc.transform(X), y)
    nodes = (_indexer(), _assembler(NUM + ["kind_index"], "raw"),
             MleapNode("ss", "standard_scaler", (Port("input", "raw"),), (Port("output", "features"),),
                       {"mean": sc.mean_, "std": sc.scale_}),
             MleapNode("lr", "logistic_regression", (Port("features", "features"),),
                       (Port("prediction", "prediction"), Port("probability", "probability")),
                       {"coefficient_matrix": lr.coef_.reshape(-1, order="F").reshape(lr.coef_.shape),  # Spark's layout
                        "intercept_vector": lr.intercept_, "num_classes": 3}))
    return nodes, frame, {"probabilities": lr.predict_proba(sc.transform(X))}


def iris_forest() -> tuple[tuple[MleapNode, ...], pd.DataFrame, dict]:
    from sklearn.ensemble import RandomForestClassifier

    frame, y = _iris()
    X = frame[NUM].to_numpy()
    rf = RandomForestClassifier(n_estimators=7, max_depth=4, random_state=0).fit(X, y)
    trees = tuple(MleapNode(f"tree{i}", "decision_tree_classifier", (), (),
                            {"nodes": _tree_nodes(t.tree_, t.tree_.value[:, 0, :]), "num_classes": 3})
                  for i, t in enumerate(rf.estimators_))
    nodes = (_assembler(NUM),
             MleapNode("rf", "random_forest_classifier", (Port("features", "features"),),
                       (Port("prediction", "prediction"), Port("probability", "probability")),
                       {"num_classes": 3, "num_features": 4, "trees": [t.name for t in trees],
                        "tree_weights": np.ones(len(trees))}, children=trees))
    return nodes, frame, {"probabilities": rf.predict_proba(X.astype(np.float32).astype(np.float64))}


def cancer_gbt() -> tuple[tuple[MleapNode, ...], pd.DataFrame, dict]:
    """gbt_classifier: margin = sum of weighted regression trees, p1 = 1 / (1 + exp(-2 margin))."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingRegressor

    data = load_breast_cancer()
    cols = ["mean_radius", "mean_texture", "mean_smoothness", "worst_area"]
    X = data.data[:, [0, 1, 4, 23]]
    y = data.target * 2.0 - 1.0
    gb = GradientBoostingRegressor(n_estimators=12, max_depth=3, learning_rate=0.3, random_state=0).fit(X, y)
    est = [e[0] for e in gb.estimators_]
    trees = tuple(MleapNode(f"tree{i}", "decision_tree_regression", (), (),
                            {"nodes": _tree_nodes(t.tree_, t.tree_.value[:, :, 0])}) for i, t in enumerate(est))
    weights = np.full(len(trees), 0.3)
    nodes = (_assembler(cols),
             MleapNode("gbt", "gbt_classifier", (Port("features", "features"),),
                       (Port("prediction", "prediction"), Port("probability", "probability")),
                       {"num_classes": 2, "num_features": 4, "trees": [t.name for t in trees],
                        "tree_weights": weights}, children=trees))
    margin = sum(w * t.predict(X.astype(np.float32)) for w, t in zip(weights, est, strict=True))
    p1 = 1.0 / (1.0 + np.exp(-2.0 * margin))
    return nodes, pd.DataFrame(X, columns=cols), {"probabilities": np.column_stack([1 - p1, p1])}


def linreg_onehot() -> tuple[tuple[MleapNode, ...], pd.DataFrame, dict]:
    """string_indexer + one_hot_encoder (drop_last) + vector_assembler + linear_regression."""
    frame, _ = _iris()
    coef = np.array([0.5, -1.25, 2.0, 0.75, 3.5, -2.25, 1.5])
    one_hot = MleapNode("ohe", "one_hot_encoder", (Port("input0", "kind_index"),), (Port("output0", "kind_vec"),),
                        {"category_sizes": [3], "drop_last": True, "handle_invalid": "keep"})
    nodes = (_indexer(), one_hot, _assembler(NUM + ["kind_vec"]),
             MleapNode("lin", "linear_regression", (Port("features", "features"),), (Port("prediction", "prediction"),),
                       {"coefficients": coef, "intercept": 0.125}))
    # handle_invalid keep adds an "invalid" category, drop_last drops it: red, green, blue -> 3 columns
    onehot = np.column_stack([(frame["kind"] == k).to_numpy(float) for k in KINDS])
    X = np.column_stack([frame[NUM].to_numpy(), onehot])
    return nodes, frame, {"value": X @ coef + 0.125}


PIPELINES = {"iris_logreg": iris_logreg, "iris_forest": iris_forest, "cancer_gbt": cancer_gbt,
             "linreg_onehot": linreg_onehot}
RUNTIMES = {"onnx": ["onnxruntime"], "pmml": ["jpmml", "pmml4s"], "savedmodel": ["tensorflow"]}
OUT = {"onnx": "model.onnx", "pmml": "model.pmml", "savedmodel": "model_savedmodel"}


def _predict(path: Path, frame: pd.DataFrame, runtime: str):
    from workbench.core.runtimes import predict_rows

    # the SavedModel is the workbench's own output, written just now (the proof loads it trusted too)
    _, _, batch = predict_rows(path, frame, runtime=runtime, trust=runtime == "tensorflow")
    return batch


def _params():
    out = []
    for name in PIPELINES:
        for target, runtimes in RUNTIMES.items():
            for runtime in runtimes:
                marks = []
                if target == "savedmodel":
                    marks.append(pytest.mark.tf)
                if runtime == "jpmml":
                    marks.append(pytest.mark.java)
                out.append(pytest.param(name, target, runtime, marks=marks, id=f"{name}-{target}-{runtime}"))
    return out


@pytest.mark.parametrize(("name", "target", "runtime"), _params())
def test_converted_pipeline_matches_reference(tmp_path: Path, name: str, target: str, runtime: str) -> None:
    nodes, frame, expected = PIPELINES[name]()
    assert check_nodes(target, nodes) is None
    out = convert_nodes(target, nodes, tmp_path / OUT[target])
    batch = _predict(out, frame, runtime)
    if "value" in expected:
        got = np.asarray(batch.values, dtype=np.float64).reshape(-1)
        np.testing.assert_allclose(got, expected["value"], rtol=0, atol=1e-9)
        return
    proba = np.asarray(batch.probabilities, dtype=np.float64)
    assert proba.shape == expected["probabilities"].shape
    assert np.abs(proba - expected["probabilities"]).max() <= 1e-9
    labels = [int(float(v)) for v in batch.labels]
    assert labels == np.argmax(expected["probabilities"], axis=1).tolist()


def test_preparation_ops_in_all_targets(tmp_path: Path) -> None:
    """min_max / max_abs scalers, imputer, bucketizer, binarizer, interaction and polynomial expansion
    feed a linear regression; every target gives the numpy value to 1e-9."""
    rng = np.random.default_rng(1)
    n = 40
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.uniform(-3, 3, size=n), "c": rng.normal(size=n)})
    nodes = (
        MleapNode("imp", "imputer", (Port("input", "a"),), (Port("output", "a_imp"),),
                  {"surrogate_value": 0.25, "missing_value": -999.0, "strategy": "mean"}),
        MleapNode("bk", "bucketizer", (Port("input", "b"),), (Port("output", "b_bucket"),),
                  {"splits": np.array([-np.inf, -1.0, 0.5, 2.0, np.inf]), "handle_invalid": "keep"}),
        MleapNode("bin", "binarizer", (Port("input", "c"),), (Port("output", "c_bin"),), {"threshold": 0.1}),
        _assembler(["a_imp", "b", "c"], "v"),
        MleapNode("mm", "min_max_scaler", (Port("input", "v"),), (Port("output", "v_mm"),),
                  {"min": np.array([-3.0, -3.0, -3.0]), "max": np.array([3.0, 3.0, 3.0])}),
        MleapNode("ma", "max_abs_scaler", (Port("input", "v"),), (Port("output", "v_ma"),),
                  {"max_abs": np.array([2.0, 3.0, 4.0])}),
        MleapNode("poly", "polynomial_expansion", (Port("input", "v_ma"),), (Port("output", "v_poly"),), {"degree": 2}),
        _assembler(["b_bucket", "c_bin"], "w"),
        MleapNode("ix", "interaction", (Port("input0", "w"), Port("input1", "v_mm")), (Port("output", "inter"),),
                  {"num_inputs": 2, "num_features0": [1, 1], "num_features1": [1, 1, 1]}),
        _assembler(["v_poly", "inter"], "features"),
        MleapNode("lin", "linear_regression", (Port("features", "features"),), (Port("prediction", "prediction"),),
                  {"coefficients": np.linspace(-1, 1, 15), "intercept": -0.5}),
    )
    frame.loc[3, "a"] = -999.0
    a = np.where(frame["a"] == -999.0, 0.25, frame["a"])
    b, c = frame["b"].to_numpy(), frame["c"].to_numpy()
    v = np.column_stack([a, b, c])
    mm = (v + 3.0) / 6.0
    ma = v / np.array([2.0, 3.0, 4.0])
    x, yv, z = ma.T
    poly = np.column_stack([x, x * x, yv, x * yv, yv * yv, z, x * z, yv * z, z * z])
    w = np.column_stack([np.searchsorted([-1.0, 0.5, 2.0], b, side="right"), (c > 0.1).astype(float)])
    inter = np.column_stack([w[:, i] * mm[:, j] for i in range(2) for j in range(3)])
    expected = np.column_stack([poly, inter]) @ np.linspace(-1, 1, 15) - 0.5
    assert polynomial_terms(3, 2) == [(1, 0, 0), (2, 0, 0), (0, 1, 0), (1, 1, 0), (0, 2, 0), (0, 0, 1),
                                      (1, 0, 1), (0, 1, 1), (0, 0, 2)]
    for target, runtimes in RUNTIMES.items():
        if target == "savedmodel":
            pytest.importorskip("tensorflow")
        out = convert_nodes(target, nodes, tmp_path / OUT[target])
        for runtime in runtimes:
            got = np.asarray(_predict(out, frame, runtime).values, dtype=np.float64).reshape(-1)
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9, err_msg=f"{target} {runtime}")


def _model(op: str = "linear_regression", **attrs) -> MleapNode:
    return MleapNode("m", op, (Port("features", "features"),), (Port("prediction", "prediction"),),
                     {"coefficients": np.ones(2), "intercept": 0.0, **attrs})


@pytest.mark.parametrize("target,title", [("onnx", "ONNX"), ("pmml", "PMML"), ("savedmodel", "SavedModel")])
def test_unsupported_ops_are_refused_with_the_op_and_target(target: str, title: str) -> None:
    pca = MleapNode("pca1", "pca", (Port("input", "x"),), (Port("output", "features"),), {"principal_components": np.eye(2)})
    why = check_nodes(target, (pca, _model()))
    assert why == (f"{title}: node 'pca1' (op pca): op 'pca' is not supported; supported: string_indexer, "
                   "one_hot_encoder, vector_assembler, standard_scaler, min_max_scaler, max_abs_scaler, imputer, "
                   "bucketizer, binarizer, interaction, polynomial_expansion, logistic_regression, "
                   "linear_regression, decision_tree_classifier, decision_tree_regression, random_forest_classifier, "
                   "random_forest_regression, gbt_classifier, gbt_regression")
    skip = MleapNode("si", "string_indexer", (Port("input", "t"),), (Port("output", "features"),),
                     {"labels": ["a"], "handle_invalid": "skip"})
    assert check_nodes(target, (skip, _model())) == (
        f"{title}: node 'si' (op string_indexer): handle_invalid='skip' drops rows, which a model cannot")
    after = MleapNode("back", "reverse_string_indexer", (Port("input", "prediction"),), (Port("output", "label"),))
    assert check_nodes(target, (_assembler(["a", "b"]), _model(), after)) == (
        f"{title}: node 'back' (op reverse_string_indexer) comes after the model node: nodes after the model "
        "(e.g. index_to_string) are not supported")
    cat = MleapNode("dt", "decision_tree_regression", (Port("features", "features"),), (Port("prediction", "p"),),
                    {"nodes": [{"internal": {"split": {"categorical": {"featureIndex": 0, "categories": [1.0]}}}},
                               {"leaf": {"values": [1.0]}}, {"leaf": {"values": [2.0]}}]})
    assert check_nodes(target, (_assembler(["a"]), cat)) == (
        f"{title}: node 'dt' (op decision_tree_regression): categorical tree splits are not supported (a Spark "
        "tree trained on features with nominal metadata); train on one-hot or numeric features")
    assert check_nodes(target, (_assembler(["a"]),)) == (
        f"{title}: the pipeline has no model node (one of logistic_regression, linear_regression, "
        "decision_tree_classifier, decision_tree_regression, random_forest_classifier, random_forest_regression, "
        "gbt_classifier, gbt_regression); a feature-only pipeline has no prediction to prove")


def test_pmml_refuses_a_binary_threshold_other_targets_take_it(tmp_path: Path) -> None:
    nodes = (_assembler(["a", "b"]), MleapNode(
        "lr", "logistic_regression", (Port("features", "features"),), (Port("prediction", "prediction"),),
        {"coefficients": np.array([1.0, -1.0]), "intercept": 0.0, "num_classes": 2, "threshold": 0.3}))
    assert check_nodes("pmml", nodes) == ("PMML: the logistic_regression node's threshold 0.3 is not supported "
                                          "(PMML predicts the most probable class, i.e. threshold 0.5)")
    assert check_nodes("onnx", nodes) is None
    frame = pd.DataFrame({"a": [0.0, 1.0, -1.0, 0.2], "b": [0.0, 0.0, 0.0, 1.5]})
    batch = _predict(convert_nodes("onnx", nodes, tmp_path / "t.onnx"), frame, "onnxruntime")
    p1 = 1 / (1 + np.exp(-(frame["a"] - frame["b"])))
    assert np.abs(np.asarray(batch.probabilities)[:, 1] - p1).max() <= 1e-12
    assert [int(v) for v in batch.labels] == [1, 1, 0, 0]  # p1 = 0.5, 0.73, 0.27, 0.21 against 0.3


def test_make_plan_reads_column_kinds_and_order() -> None:
    nodes, _, _ = iris_logreg()
    plan = make_plan(nodes, "ONNX")
    assert plan.columns == [("kind", "string")] + [(c, "number") for c in NUM]
    assert plan.head.post == "softmax" and plan.head.n_classes == 3 and len(plan.features) == 5
    with pytest.raises(Unsupported, match="reads the text column 'kind'"):
        make_plan((_indexer(), _assembler(["kind"]), _model()), "ONNX")


def _spark_cases(tmp: Path) -> dict:
    from tests.core.convert_helpers import load_build_mleap

    return load_build_mleap().spark_bundles(tmp, "json")


@pytest.mark.tf
@pytest.mark.java
@pytest.mark.parametrize("key", ["logistic_regression_multinomial", "random_forest_classifier", "gbt_regression",
                                 "linear_regression", "gbt_classifier", "random_forest_regression",
                                 "bucketizer_polynomial_linear_regression"])
def test_spark_bundles_convert_with_the_proof(tmp_path: Path, key: str) -> None:
    """Bundles written by sample_models/build_mleap.py, read by the reader, proved by convert_and_prove
    against the mleap runtime (the reference) to 1e-9 in every target."""
    from workbench.core.conversion import convert_and_prove

    (tmp_path / "bundles").mkdir()
    case = _spark_cases(tmp_path / "bundles")[key]
    for target in ("onnx", "pmml", "savedmodel"):
        result = convert_and_prove(case.path, target, tmp_path / target / OUT[target], rows=case.rows, atol=1e-9)
        assert result.passed, (target, result.parity)
        assert result.parity["max_abs_diff"] <= 1e-9
        assert result.parity["explained_rows"] == 0
        assert result.converter == f"mleap-{target}"


@pytest.mark.tf
@pytest.mark.java
@pytest.mark.parametrize("key", ["gbt_classifier", "random_forest_regression", "bucketizer_polynomial_linear_regression"])
def test_cli_convert_proves_the_new_spark_bundles(tmp_path: Path, key: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`workbench convert BUNDLE --to T --out O --rows R --atol 1e-9 --json` for every target: exit 0, PASS,
    labels identical, the report written."""
    import json

    from workbench.cli import main

    (tmp_path / "bundles").mkdir()
    case = _spark_cases(tmp_path / "bundles")[key]
    rows = tmp_path / "rows.csv"
    case.rows.to_csv(rows, index=False)
    for target in ("onnx", "pmml", "savedmodel"):
        out = tmp_path / target / OUT[target]
        capsys.readouterr()
        code = main(["convert", str(case.path), "--to", target, "--out", str(out), "--rows", str(rows),
                     "--atol", "1e-9", "--json"])
        result = json.loads(capsys.readouterr().out)
        assert code == 0 and result["passed"] is True, (target, result)
        assert result["converter"] == f"mleap-{target}" and result["rows_source"] == f"{len(case.rows)} sample rows"
        assert result["parity"]["max_abs_diff"] <= 1e-9
        if case.task == "classification":
            assert result["parity"]["label_agreement"] == 1.0
        assert Path(result["report"]).is_file() and json.loads(Path(result["report"]).read_text())["passed"] is True
