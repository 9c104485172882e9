"""The native MLeap scorer (workbench.core.mleap.ops) against independent references on the same rows:
scikit-learn's own transformers and estimators where they match Spark's semantics (trees translated into
MLeap's node attributes here), XGBoost's own predictions, and hand-worked values where Spark differs.
Float64 ops agree to 1e-9, labels exactly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.preprocessing import (
    Binarizer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    PolynomialFeatures,
    StandardScaler,
)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from workbench.core.errors import InputRowsError, WorkbenchError
from workbench.core.mleap.model import MleapBundle, MleapNode, Port
from workbench.core.mleap.ops import OPS, UnsupportedOp, score_nodes, scorer_for, supported_ops
from workbench.core.runtimes.mleap import session_for
from workbench.core.types import ModelInfo, TensorSpec

TOL = 1e-9
RNG = np.random.default_rng(16)


def node(op: str, inputs: dict[str, str], outputs: dict[str, str], children: tuple[MleapNode, ...] = (),
         name: str | None = None, **attributes: Any) -> MleapNode:
    return MleapNode(name=name or f"{op}_1", op=op,
                     inputs=tuple(Port(p, n) for p, n in inputs.items()),
                     outputs=tuple(Port(p, n) for p, n in outputs.items()),
                     attributes=attributes, children=children)


def run(n: MleapNode, **columns: Any) -> dict[str, np.ndarray]:
    return scorer_for(n)(n, {k: np.asarray(v) for k, v in columns.items()})


def close(a: np.ndarray, b: np.ndarray) -> None:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.max(np.abs(a - b), initial=0.0) <= TOL, np.max(np.abs(a - b))


def float32_exact(x: np.ndarray) -> np.ndarray:
    """Values scikit-learn's trees (which compare float32 rows) and Spark's (float64) split identically."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


# ---- registry ---------------------------------------------------------------------------------------------

def test_registry_names_every_required_op() -> None:
    required = {"string_indexer", "one_hot_encoder", "vector_assembler", "standard_scaler", "min_max_scaler",
                "max_abs_scaler", "imputer", "bucketizer", "binarizer", "interaction", "polynomial_expansion",
                "logistic_regression", "linear_regression", "decision_tree_classifier", "decision_tree_regression",
                "random_forest_classifier", "random_forest_regression", "gbt_classifier", "gbt_regression",
                "xgboost.classifier", "xgboost.regression"}
    assert required <= set(OPS)
    assert supported_ops() == sorted(OPS)


def test_unknown_op_is_refused_by_name_listing_the_supported_ones() -> None:
    with pytest.raises(UnsupportedOp) as caught:
        score_nodes([node("word2vec", {"input": "t"}, {"output": "v"}, name="w2v")], {"t": np.array(["a"])})
    assert isinstance(caught.value, WorkbenchError)
    assert "'word2vec'" in caught.value.message and "'w2v'" in caught.value.message
    assert "string_indexer" in caught.value.hint and "gbt_classifier" in caught.value.hint


# ---- preparation ------------------------------------------------------------------------------------------

def test_string_indexer_error_keep_and_skip() -> None:
    labels = ["b", "a", "c"]  # Spark orders by frequency: the index is the position in this list
    values = np.array(["a", "c", "b", "a"], dtype=object)
    n = node("string_indexer", {"input": "s"}, {"output": "i"}, labels=labels, handle_invalid="error")
    assert run(n, s=values)["i"].tolist() == [1.0, 2.0, 0.0, 1.0]

    unseen = np.array(["a", "zz", "b", None], dtype=object)
    with pytest.raises(InputRowsError) as caught:
        run(n, s=unseen)
    assert "row(s) 2, 4" in caught.value.message
    assert caught.value.problems[0].startswith("row 2: 'zz'")

    keep = node("string_indexer", {"input": "s"}, {"output": "i"}, labels=labels, handle_invalid="keep")
    assert run(keep, s=unseen)["i"].tolist() == [1.0, 3.0, 0.0, 3.0]

    skip = node("string_indexer", {"input": "s"}, {"output": "i"}, labels=labels, handle_invalid="skip")
    with pytest.raises(InputRowsError, match=r"row\(s\) 2, 4 .*refuses them instead of dropping"):
        run(skip, s=unseen)


def test_string_indexer_many_columns_and_numbers_as_text() -> None:
    n = node("string_indexer", {"input0": "a", "input1": "b"}, {"output0": "ia", "output1": "ib"},
             labels_length=2, labels_array_0=["x", "y"], labels_array_1=["1.0", "2.0", "3.0"])
    out = run(n, a=np.array(["y", "x"], dtype=object), b=np.array([3.0, 1.0]))
    assert out["ia"].tolist() == [1.0, 0.0]
    assert out["ib"].tolist() == [2.0, 0.0]  # 3.0 is looked up as "3.0", Double.toString


def test_reverse_string_indexer() -> None:
    n = node("reverse_string_indexer", {"input": "p"}, {"output": "label"}, labels=["no", "yes"])
    assert run(n, p=np.array([1.0, 0.0, 1.0]))["label"].tolist() == ["yes", "no", "yes"]


@pytest.mark.parametrize("drop_last", [False, True])
def test_one_hot_encoder_matches_sklearn(drop_last: bool) -> None:
    size = 4
    x = RNG.integers(0, size, 50).astype(np.float64)
    reference = OneHotEncoder(categories=[list(range(size))], sparse_output=False).fit_transform(x.reshape(-1, 1))
    if drop_last:
        reference = reference[:, :-1]  # Spark's dropLast: the last category encodes as all zeros
    n = node("one_hot_encoder", {"input0": "c"}, {"output0": "v"}, category_sizes=[size], drop_last=drop_last,
             handle_invalid="error")
    close(run(n, c=x)["v"], reference)


def test_one_hot_encoder_invalid_values() -> None:
    x = np.array([0.0, 2.0, 5.0, -1.0, np.nan])
    keep = node("one_hot_encoder", {"input0": "c"}, {"output0": "v"}, category_sizes=[3], drop_last=False,
                handle_invalid="keep")
    close(run(keep, c=x)["v"], [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 1]])
    keep_drop = node("one_hot_encoder", {"input0": "c"}, {"output0": "v"}, category_sizes=[3], drop_last=True,
                     handle_invalid="keep")  # the invalid slot is the dropped one: invalid -> zeros
    close(run(keep_drop, c=x)["v"], [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0]])
    error = node("one_hot_encoder", {"input0": "c"}, {"output0": "v"}, category_sizes=[3], drop_last=True,
                 handle_invalid="error")
    with pytest.raises(InputRowsError, match=r"row\(s\) 3, 4, 5 "):
        run(error, c=x)
    legacy = node("one_hot_encoder", {"input": "c"}, {"output": "v"}, size=3, drop_last=False)
    close(run(legacy, c=np.array([1.0]))["v"], [[0, 1, 0]])


def test_vector_assembler_in_port_order() -> None:
    a, b, v = RNG.normal(size=5), RNG.normal(size=5), RNG.normal(size=(5, 3))
    n = node("vector_assembler", {"input1": "v", "input0": "a", "input2": "b"}, {"output": "features"})
    close(run(n, a=a, b=b, v=v)["features"], np.column_stack([a, v, b]))


@pytest.mark.parametrize(("with_mean", "with_std"), [(True, True), (True, False), (False, True)])
def test_standard_scaler_matches_sklearn(with_mean: bool, with_std: bool) -> None:
    train, rows = RNG.normal(3.0, 2.0, size=(200, 4)), RNG.normal(3.0, 2.0, size=(40, 4))
    ref = StandardScaler(with_mean=with_mean, with_std=with_std).fit(train)
    attrs: dict[str, Any] = {}
    if with_mean:
        attrs["mean"] = ref.mean_
    if with_std:
        attrs["std"] = np.sqrt(ref.var_)
    n = node("standard_scaler", {"input": "f"}, {"output": "s"}, **attrs)
    close(run(n, f=rows)["s"], ref.transform(rows))


def test_standard_scaler_zero_std_gives_zero_as_spark() -> None:
    n = node("standard_scaler", {"input": "f"}, {"output": "s"}, mean=np.array([1.0, 2.0]), std=np.array([2.0, 0.0]))
    close(run(n, f=np.array([[3.0, 7.0]]))["s"], [[1.0, 0.0]])  # scikit-learn would give 5.0


def test_min_max_scaler_matches_sklearn() -> None:
    train, rows = RNG.uniform(-5, 9, size=(100, 3)), RNG.uniform(-6, 10, size=(30, 3))
    ref = MinMaxScaler().fit(train)
    n = node("min_max_scaler", {"input": "f"}, {"output": "s"}, min=ref.data_min_, max=ref.data_max_)
    close(run(n, f=rows)["s"], ref.transform(rows))
    ranged = MinMaxScaler(feature_range=(-1.0, 3.0)).fit(train)
    n2 = node("min_max_scaler", {"input": "f"}, {"output": "s"}, min=ranged.data_min_, max=ranged.data_max_,
              min_value=-1.0, max_value=3.0)
    close(run(n2, f=rows)["s"], ranged.transform(rows))
    constant = node("min_max_scaler", {"input": "f"}, {"output": "s"}, min=np.array([2.0]), max=np.array([2.0]))
    close(run(constant, f=np.array([[2.0], [7.0]]))["s"], [[0.5], [0.5]])  # Spark: 0.5 * (max + min)


def test_max_abs_scaler_matches_sklearn() -> None:
    train, rows = RNG.normal(0, 3, size=(100, 3)), RNG.normal(0, 3, size=(30, 3))
    ref = MaxAbsScaler().fit(train)
    n = node("max_abs_scaler", {"input": "f"}, {"output": "s"}, maxAbs=ref.max_abs_)
    close(run(n, f=rows)["s"], ref.transform(rows))


@pytest.mark.parametrize("strategy", ["mean", "median", "most_frequent"])
def test_imputer_matches_sklearn(strategy: str) -> None:
    train = RNG.integers(0, 6, size=(80, 1)).astype(np.float64)
    train[::7] = np.nan
    rows = RNG.integers(0, 6, size=(30, 1)).astype(np.float64)
    rows[::3] = np.nan
    ref = SimpleImputer(strategy=strategy).fit(train)
    spark_strategy = {"most_frequent": "mode"}.get(strategy, strategy)
    n = node("imputer", {"input": "x"}, {"output": "y"}, strategy=spark_strategy,
             surrogate_value=float(ref.statistics_[0]))
    close(run(n, x=rows[:, 0])["y"], ref.transform(rows)[:, 0])


def test_imputer_missing_value_marker() -> None:
    n = node("imputer", {"input": "x"}, {"output": "y"}, strategy="mean", surrogate_value=2.5, missing_value=-1.0)
    close(run(n, x=np.array([-1.0, 4.0, np.nan]))["y"], [2.5, 4.0, 2.5])


def test_bucketizer_matches_digitize() -> None:
    splits = np.array([-np.inf, -1.0, 0.0, 2.5, np.inf])
    x = RNG.normal(0, 3, size=200)
    x[:4] = [-1.0, 0.0, 2.5, -7.0]  # on the bounds: [s_i, s_i+1)
    n = node("bucketizer", {"input": "x"}, {"output": "b"}, splits=splits, handle_invalid="error")
    close(run(n, x=x)["b"], np.digitize(x, splits[1:-1], right=False))


def test_bucketizer_bounds_nan_and_max_double() -> None:
    splits = [0.0, 1.0, 2.0]
    n = node("bucketizer", {"input": "x"}, {"output": "b"}, splits=splits, handle_invalid="keep")
    close(run(n, x=np.array([0.0, 1.5, 2.0, np.nan]))["b"], [0.0, 1.0, 1.0, 2.0])  # 2.0: the last bucket
    with pytest.raises(InputRowsError, match="outside the bucketizer's bounds"):
        run(n, x=np.array([0.5, 3.0]))
    error = node("bucketizer", {"input": "x"}, {"output": "b"}, splits=splits, handle_invalid="error")
    with pytest.raises(InputRowsError, match=r"row\(s\) 2 is NaN"):
        run(error, x=np.array([0.5, np.nan]))
    big = np.finfo(np.float64).max
    wide = node("bucketizer", {"input": "x"}, {"output": "b"}, splits=[-big, 0.0, big])
    close(run(wide, x=np.array([-np.inf, np.inf]))["b"], [0.0, 1.0])


def test_binarizer_matches_sklearn() -> None:
    rows = RNG.normal(size=(30, 3))
    rows[0, 0] = 0.25  # equal to the threshold: 0, as x > threshold
    n = node("binarizer", {"input": "f"}, {"output": "b"}, threshold=0.25)
    close(run(n, f=rows)["b"], Binarizer(threshold=0.25).fit_transform(rows))
    close(run(n, f=rows[:, 1])["b"], Binarizer(threshold=0.25).fit_transform(rows[:, [1]])[:, 0])


def _interaction_reference(encoded: list[np.ndarray]) -> np.ndarray:
    """Spark Interaction, built as it does: from the last input back, index = i_prev + i * size_prev."""
    out = []
    for row in range(len(encoded[0])):
        indices, values, size = [0], [1.0], 1
        for vec in reversed([e[row] for e in encoded]):
            new_i, new_v = [], []
            for i, a in enumerate(vec):
                if a != 0:
                    for pi, pv in zip(indices, values, strict=True):
                        new_i.append(pi + i * size)
                        new_v.append(pv * a)
            indices, values, size = new_i, new_v, size * len(vec)
        dense = np.zeros(size)
        dense[indices] = values
        out.append(dense)
    return np.array(out)


def test_interaction_matches_spark_construction() -> None:
    a = RNG.normal(size=6)
    cat = RNG.integers(0, 3, size=6).astype(np.float64)
    num = RNG.normal(size=6)
    v = np.column_stack([cat, num])
    n = node("interaction", {"input0": "a", "input1": "v"}, {"output": "out"}, num_inputs=2,
             num_features0=[1], num_features1=[3, 1])
    one_hot = np.eye(3)[cat.astype(int)]
    reference = _interaction_reference([a.reshape(-1, 1), np.column_stack([one_hot, num])])
    close(run(n, a=a, v=v)["out"], reference)
    # hand-worked: a=2, v=(category 1, 5) -> [2*0, 2*1, 2*0, 2*5]
    close(run(n, a=np.array([2.0]), v=np.array([[1.0, 5.0]]))["out"], [[0.0, 2.0, 0.0, 10.0]])


def test_polynomial_expansion_spark_order() -> None:
    # Spark's documentation: degree 3 of [2, 1] is x, x^2, x^3, y, xy, x^2y, y^2, xy^2, y^3
    n3 = node("polynomial_expansion", {"input": "f"}, {"output": "p"}, degree=3)
    close(run(n3, f=np.array([[2.0, 1.0]]))["p"], [[2.0, 4.0, 8.0, 1.0, 2.0, 4.0, 1.0, 2.0, 1.0]])
    rows = RNG.normal(size=(25, 3))
    for degree in (2, 3):
        ref = PolynomialFeatures(degree=degree, include_bias=False).fit(rows)
        # Spark orders terms by their exponents read from the last feature to the first
        order = sorted(range(len(ref.powers_)), key=lambda j: tuple(reversed(ref.powers_[j].tolist())))
        n = node("polynomial_expansion", {"input": "f"}, {"output": "p"}, degree=degree)
        close(run(n, f=rows)["p"], ref.transform(rows)[:, order])


# ---- models -----------------------------------------------------------------------------------------------

def test_logistic_regression_binary_matches_sklearn() -> None:
    x, y = make_classification(n_samples=300, n_features=5, random_state=3)
    ref = LogisticRegression(max_iter=1000).fit(x, y)
    n = node("logistic_regression", {"features": "f"}, {"prediction": "p", "probability": "pr", "raw_prediction": "r"},
             coefficients=ref.coef_[0], intercept=float(ref.intercept_[0]), num_classes=2, threshold=0.5)
    out = run(n, f=x)
    close(out["pr"], ref.predict_proba(x))
    close(out["r"][:, 1], ref.decision_function(x))
    close(out["r"][:, 0], -ref.decision_function(x))
    assert out["p"].astype(int).tolist() == ref.predict(x).tolist()
    low = node("logistic_regression", {"features": "f"}, {"prediction": "p"}, coefficients=ref.coef_[0],
               intercept=float(ref.intercept_[0]), num_classes=2, threshold=0.2)
    assert run(low, f=x)["p"].astype(int).tolist() == (ref.predict_proba(x)[:, 1] > 0.2).astype(int).tolist()


def test_logistic_regression_multinomial_matches_sklearn() -> None:
    x, y = load_iris(return_X_y=True)
    ref = LogisticRegression(max_iter=2000).fit(x, y)
    # the reader's array: the tensor's values in file order, which Spark writes column-major (toArray)
    stored = ref.coef_.reshape(-1, order="F").reshape(ref.coef_.shape)
    n = node("logistic_regression", {"features": "f"}, {"prediction": "p", "probability": "pr", "raw_prediction": "r"},
             coefficient_matrix=stored, intercept_vector=ref.intercept_, num_classes=3)
    out = run(n, f=x)
    close(out["pr"], ref.predict_proba(x))
    close(out["r"], ref.decision_function(x))
    assert out["p"].astype(int).tolist() == ref.predict(x).tolist()
    # thresholds: argmax of p / t (hand-worked on the same probabilities)
    t = [0.2, 0.5, 0.3]
    n_t = node("logistic_regression", {"features": "f"}, {"prediction": "p"}, coefficient_matrix=stored,
               intercept_vector=ref.intercept_, num_classes=3, thresholds=t)
    assert run(n_t, f=x)["p"].astype(int).tolist() == np.argmax(ref.predict_proba(x) / t, axis=1).tolist()


def test_coefficient_matrix_is_read_column_major_as_mleap_does() -> None:
    """MLeap's LogisticRegressionOp.load: Matrices.dense(numRows = dims(0), numCols = dims(1), values), a
    column-major matrix; values 1..6 with dimensions [2, 3] are [[1, 3, 5], [2, 4, 6]]."""
    from workbench.core.mleap.ops.linear import coefficient_matrix

    stored = np.arange(1.0, 7.0).reshape(2, 3)  # as the reader decodes the values [1..6], dims [2, 3]
    n = node("logistic_regression", {"features": "f"}, {"raw_prediction": "r", "prediction": "p"},
             coefficient_matrix=stored, intercept_vector=np.zeros(2), num_classes=2)
    np.testing.assert_array_equal(coefficient_matrix(n), [[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]])
    # raw = W x: x = e1 picks column 0 ([1, 2]; row-major would give [1, 4]), x = e3 column 2 ([5, 6])
    close(run(n, f=np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))["r"], [[1.0, 2.0], [5.0, 6.0]])


def test_linear_regression_matches_sklearn() -> None:
    x, y = make_regression(n_samples=200, n_features=6, noise=3.0, random_state=4)
    ref = LinearRegression().fit(x, y)
    n = node("linear_regression", {"features": "f"}, {"prediction": "p"}, coefficients=ref.coef_,
             intercept=float(ref.intercept_))
    close(run(n, f=x)["p"], ref.predict(x))


def flat_tree(estimator: Any, classifier: bool) -> dict[str, Any]:
    """A scikit-learn tree as the reader's `tree` attribute (flat depth-first arrays; sklearn's node order is
    depth-first too)."""
    t = estimator.tree_
    leaf = t.children_left < 0
    values = [t.value[i][0].tolist() if classifier else [float(t.value[i][0][0])] for i in range(t.node_count)]
    return {"left": t.children_left.astype(np.int64), "right": t.children_right.astype(np.int64),
            "feature": np.where(leaf, -1, t.feature).astype(np.int64),
            "threshold": np.where(leaf, np.nan, t.threshold), "split": ["leaf" if lf else "continuous" for lf in leaf],
            "categories": [None] * t.node_count, "is_left": np.zeros(t.node_count, dtype=bool),
            "values": [v if lf else None for v, lf in zip(values, leaf, strict=True)]}


def json_tree(estimator: Any, classifier: bool) -> list[dict[str, Any]]:
    """The same tree as the pre-order records of MLeap's tree.json."""
    t = estimator.tree_
    records: list[dict[str, Any]] = []

    def walk(i: int) -> None:
        if t.children_left[i] < 0:
            values = t.value[i][0].tolist() if classifier else [float(t.value[i][0][0])]
            records.append({"leaf": {"values": values}})
            return
        records.append({"internal": {"split": {"continuous": {"featureIndex": int(t.feature[i]),
                                                              "threshold": float(t.threshold[i])}}}})
        walk(t.children_left[i])
        walk(t.children_right[i])

    walk(0)
    return records


CLF_OUT = {"prediction": "p", "probability": "pr", "raw_prediction": "r"}


@pytest.mark.parametrize("form", ["flat", "json"])
def test_decision_tree_classifier_matches_sklearn(form: str) -> None:
    x, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=3, random_state=5)
    x = float32_exact(x)
    ref = DecisionTreeClassifier(max_depth=6, random_state=0).fit(x, y)
    tree = flat_tree(ref, True) if form == "flat" else json_tree(ref, True)
    key = "tree" if form == "flat" else "nodes"
    n = node("decision_tree_classifier", {"features": "f"}, CLF_OUT, num_features=6, num_classes=3, **{key: tree})
    out = run(n, f=x)
    close(out["pr"], ref.predict_proba(x))
    assert out["p"].astype(int).tolist() == ref.predict(x).tolist()


def test_decision_tree_regressor_matches_sklearn() -> None:
    x, y = make_regression(n_samples=300, n_features=5, random_state=6)
    x = float32_exact(x)
    ref = DecisionTreeRegressor(max_depth=7, random_state=0).fit(x, y)
    for op in ("decision_tree_regression", "decision_tree_regressor"):
        n = node(op, {"features": "f"}, {"prediction": "p"}, num_features=5, tree=flat_tree(ref, False))
        close(run(n, f=x)["p"], ref.predict(x))


def test_categorical_split_is_left_both_ways() -> None:
    def tree(is_left: bool) -> list[dict[str, Any]]:
        return [{"internal": {"split": {"categorical": {"featureIndex": 0, "isLeft": is_left, "numCategories": 4,
                                                        "categories": [1.0, 3.0]}}}},
                {"leaf": {"values": [10.0]}}, {"leaf": {"values": [20.0]}}]

    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    left = node("decision_tree_regression", {"features": "f"}, {"prediction": "p"}, nodes=tree(True))
    assert run(left, f=x)["p"].tolist() == [20.0, 10.0, 20.0, 10.0]
    right = node("decision_tree_regression", {"features": "f"}, {"prediction": "p"}, nodes=tree(False))
    assert run(right, f=x)["p"].tolist() == [10.0, 20.0, 10.0, 20.0]


def _forest_children(estimators: list[Any], classifier: bool, op: str) -> tuple[MleapNode, ...]:
    return tuple(MleapNode(name=f"tree{i}", op=op, inputs=(), outputs=(),
                           attributes={"tree": flat_tree(e, classifier)}) for i, e in enumerate(estimators))


def test_random_forest_classifier_matches_sklearn() -> None:
    x, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=3, random_state=7)
    x = float32_exact(x)
    ref = RandomForestClassifier(n_estimators=15, max_depth=6, random_state=0).fit(x, y)
    children = _forest_children(ref.estimators_, True, "decision_tree_classifier")
    n = node("random_forest_classifier", {"features": "f"}, CLF_OUT, children=children, num_features=6,
             num_classes=3, tree_weights=[1.0] * 15, trees=[c.name for c in reversed(children)])
    out = run(n, f=x)
    close(out["pr"], ref.predict_proba(x))
    close(out["r"], ref.predict_proba(x) * 15)  # Spark's raw: the sum of the trees' normalised votes
    assert out["p"].astype(int).tolist() == ref.predict(x).tolist()


def test_random_forest_regressor_matches_sklearn() -> None:
    x, y = make_regression(n_samples=300, n_features=5, random_state=8)
    x = float32_exact(x)
    ref = RandomForestRegressor(n_estimators=12, max_depth=6, random_state=0).fit(x, y)
    children = _forest_children(ref.estimators_, False, "decision_tree_regression")
    n = node("random_forest_regression", {"features": "f"}, {"prediction": "p"}, children=children,
             num_features=5, tree_weights=[1.0] * 12, trees=[c.name for c in children])
    close(run(n, f=x)["p"], ref.predict(x))


def _stump(value: float) -> MleapNode:
    return MleapNode(name="tree0", op="decision_tree_regression", inputs=(), outputs=(),
                     attributes={"nodes": [{"leaf": {"values": [value]}}]})


def test_gbt_classifier_matches_sklearn() -> None:
    x, y = make_classification(n_samples=300, n_features=6, random_state=9)
    x = float32_exact(x)
    ref = GradientBoostingClassifier(n_estimators=20, max_depth=3, learning_rate=0.2, random_state=0).fit(x, y)
    trees = [e[0] for e in ref.estimators_]
    init = float(ref.decision_function(x[:1])[0] - 0.2 * sum(t.predict(x[:1])[0] for t in trees))
    # Spark's logistic loss: p = 1 / (1 + exp(-2 margin)), so margin = sklearn's raw score / 2
    children = (_stump(init),) + tuple(
        MleapNode(name=f"tree{i + 1}", op="decision_tree_regression", inputs=(), outputs=(),
                  attributes={"tree": flat_tree(t, False)}) for i, t in enumerate(trees))
    n = node("gbt_classifier", {"features": "f"}, {"prediction": "p", "probability": "pr", "rawPrediction": "r"},
             children=children, num_features=6, num_classes=2, tree_weights=[0.5] + [0.1] * len(trees),
             trees=[c.name for c in children])
    out = run(n, f=x)
    close(out["pr"], ref.predict_proba(x))
    close(out["r"][:, 1], ref.decision_function(x) / 2)
    assert out["p"].astype(int).tolist() == ref.predict(x).tolist()


def test_gbt_regressor_matches_sklearn() -> None:
    x, y = make_regression(n_samples=300, n_features=5, random_state=10)
    x = float32_exact(x)
    ref = GradientBoostingRegressor(n_estimators=25, max_depth=3, learning_rate=0.1, random_state=0).fit(x, y)
    trees = [e[0] for e in ref.estimators_]
    children = (_stump(float(ref.init_.constant_[0][0])),) + tuple(
        MleapNode(name=f"tree{i + 1}", op="decision_tree_regression", inputs=(), outputs=(),
                  attributes={"tree": flat_tree(t, False)}) for i, t in enumerate(trees))
    n = node("gbt_regression", {"features": "f"}, {"prediction": "p"}, children=children, num_features=5,
             tree_weights=[1.0] + [0.1] * len(trees), trees=[c.name for c in children])
    close(run(n, f=x)["p"], ref.predict(x))


@pytest.mark.parametrize("classes", [2, 3])
def test_xgboost_classifier_matches_xgboost(classes: int) -> None:
    xgboost = pytest.importorskip("xgboost")
    x, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=classes, random_state=11)
    ref = xgboost.XGBClassifier(n_estimators=15, max_depth=3, n_jobs=1).fit(x, y)
    booster = bytes(ref.get_booster().save_raw("ubj"))
    n = node("xgboost.classifier", {"features": "f"}, CLF_OUT, num_features=6, num_classes=classes,
             **{"xgboost.model": booster})
    out = run(n, f=x)
    proba = ref.predict_proba(x).astype(np.float64)
    if classes == 2:  # XGBoost's own P(1) (float32); P(0) = 1 - P(1) in float64, as MLeap's runtime does
        proba[:, 0] = 1.0 - proba[:, 1]
    close(out["pr"], proba)
    assert out["p"].astype(int).tolist() == ref.predict(x).tolist()


def test_xgboost_regression_matches_xgboost() -> None:
    xgboost = pytest.importorskip("xgboost")
    x, y = make_regression(n_samples=200, n_features=4, random_state=12)
    ref = xgboost.XGBRegressor(n_estimators=10, max_depth=3, n_jobs=1).fit(x, y)
    n = node("xgboost.regression", {"features": "f"}, {"prediction": "p"}, num_features=4,
             booster=ref.get_booster().save_raw("json").decode())
    close(run(n, f=x)["p"], ref.predict(x).astype(np.float64))


# ---- a whole pipeline through the runtime ------------------------------------------------------------------

def test_runtime_scores_a_pipeline_into_a_prediction_batch() -> None:
    """string_indexer -> one_hot -> assembler -> scaler -> logistic regression -> IndexToString, against the
    same steps in scikit-learn."""
    colors = ["red", "green", "blue"]
    train = pd.DataFrame({"color": RNG.choice(colors, 200), "size": RNG.normal(5, 2, 200)})
    y = np.where((train["color"] == "red") ^ (train["size"] > 5), "yes", "no")
    one_hot = np.eye(3)[train["color"].map({c: i for i, c in enumerate(colors)})]
    features = np.column_stack([one_hot[:, :2], train["size"]])  # dropLast
    scaler = StandardScaler().fit(features)
    lr = LogisticRegression().fit(scaler.transform(features), y)
    nodes = (
        node("string_indexer", {"input": "color"}, {"output": "color_ix"}, labels=colors),
        node("one_hot_encoder", {"input0": "color_ix"}, {"output0": "color_vec"}, category_sizes=[3],
             drop_last=True, handle_invalid="error"),
        node("vector_assembler", {"input0": "color_vec", "input1": "size"}, {"output": "raw_features"}),
        node("standard_scaler", {"input": "raw_features"}, {"output": "features"}, mean=scaler.mean_,
             std=np.sqrt(scaler.var_)),
        node("logistic_regression", {"features": "features"}, {"prediction": "prediction", "probability": "probability",
                                                                "raw_prediction": "raw"},
             coefficients=lr.coef_[0], intercept=float(lr.intercept_[0]), num_classes=2),
        node("reverse_string_indexer", {"input": "prediction"}, {"output": "label"}, labels=list(lr.classes_)),
    )
    bundle = MleapBundle(path=__import__("pathlib").Path("pipe.zip"), name="pipe", serialization="json",
                         mleap_version="0.23.0", nodes=nodes)
    info = ModelInfo(path="pipe.zip", format="mleap", framework="mleap", task="classification",
                     inputs=[TensorSpec("color", "string"), TensorSpec("size", "float64")])
    session = session_for(info, bundle)
    rows = pd.DataFrame({"color": ["red", "blue", "green", "red"], "size": [7.0, 2.0, 6.5, 1.0]})
    batch = session.predict(rows)
    one_hot_rows = np.eye(3)[rows["color"].map({c: i for i, c in enumerate(colors)})][:, :2]
    x = scaler.transform(np.column_stack([one_hot_rows, rows["size"]]))
    assert batch.runtime == "mleap"
    assert batch.classes == ["no", "yes"]
    assert batch.labels.tolist() == lr.predict(x).tolist()
    close(batch.probabilities, lr.predict_proba(x))
    assert set(batch.outputs) == {"prediction", "probability", "raw"}
    call = session.prepare(rows)  # bench's path: the op chain alone in run()
    close(call.finish(call.run()).probabilities, lr.predict_proba(x))
    with pytest.raises(InputRowsError, match=r"row\(s\) 2 "):
        session.predict(pd.DataFrame({"color": ["red", "purple"], "size": [1.0, 2.0]}))


def test_runtime_regression_values_and_unknown_op_at_load() -> None:
    nodes = (node("vector_assembler", {"input0": "a", "input1": "b"}, {"output": "f"}),
             node("linear_regression", {"features": "f"}, {"prediction": "y"}, coefficients=[2.0, -1.0],
                  intercept=0.5))
    info = ModelInfo(path="r.zip", format="mleap", framework="mleap", task="regression",
                     inputs=[TensorSpec("a", "float64"), TensorSpec("b", "float64")])
    bundle = MleapBundle(path=__import__("pathlib").Path("r.zip"), name="r", serialization="json",
                         mleap_version="0.23.0", nodes=nodes)
    batch = session_for(info, bundle).predict(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 0.5]}))
    assert batch.values.tolist() == [-0.5, 4.0]
    assert batch.labels is None and batch.probabilities is None
    bad = MleapBundle(path=bundle.path, name="r", serialization="json", mleap_version="0.23.0",
                      nodes=nodes + (node("pca", {"input": "f"}, {"output": "g"}),))
    with pytest.raises(UnsupportedOp, match="'pca'"):
        session_for(info, bad)
