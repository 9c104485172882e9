"""sklearn / LightGBM / XGBoost / Keras -> SavedModel: compile, save, reload with tf.saved_model.load,
call serving_default on real rows and compare with the library's own predict_proba/predict.

All TF work of the compiler lives in this one module (TF import ~7 s). Models are small.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.tf

tf = pytest.importorskip("tensorflow")

from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor  # noqa: E402

from workbench.core.converters.to_savedmodel import (  # noqa: E402
    CompileError,
    check_model,
    compile_model,
    read_metadata,
    save_compiled,
    save_savedmodel,
)

PROBA_ATOL = 1e-5
VALUE_RTOL = 1e-9

_DTYPES = {"float64": tf.float64, "int64": tf.int64, "string": tf.string, "bool": tf.bool}


# ------------------------------------------------------------------ data


def _frame(data, names) -> pd.DataFrame:
    return pd.DataFrame(np.asarray(data, dtype=np.float64), columns=[str(n).replace(" ", "_") for n in names])


@pytest.fixture(scope="module")
def iris():
    d = load_iris()
    return _frame(d.data, ["sepal_length", "sepal_width", "petal_length", "petal_width"]), d.target


@pytest.fixture(scope="module")
def cancer():
    d = load_breast_cancer()
    x = _frame(d.data[:, :8], [f"c{i}" for i in range(8)])
    return x, d.target


@pytest.fixture(scope="module")
def diabetes():
    d = load_diabetes()
    return _frame(d.data, d.feature_names), d.target


def _with_threshold_rows(model, x: pd.DataFrame) -> pd.DataFrame:
    """Append rows whose values sit exactly on split thresholds (as float32 and float64)."""
    rows = []
    trees = []
    est = model.steps[-1][1] if isinstance(model, Pipeline) else model
    if hasattr(est, "tree_"):
        trees = [est.tree_]
    elif hasattr(est, "estimators_"):
        trees = [e.tree_ for e in np.ravel(est.estimators_)[:5] if hasattr(e, "tree_")]
    base = x.iloc[0].to_numpy(dtype=np.float64)
    for tree in trees:
        for node in np.flatnonzero(tree.children_left != -1)[:10]:
            for value in (tree.threshold[node], float(np.float32(tree.threshold[node]))):
                row = base.copy()
                row[tree.feature[node]] = value
                rows.append(row)
    if not rows:
        return x
    return pd.concat([x, pd.DataFrame(rows, columns=x.columns)], ignore_index=True)


# ------------------------------------------------------------------ running a SavedModel


def _save_and_load(model, tmp_path: Path, name: str = "m"):
    compiled = compile_model(model)
    out = save_compiled(compiled, tmp_path / name)
    loaded = tf.saved_model.load(str(out))
    return compiled, loaded


def _call(loaded, compiled, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    feed = {}
    for col in compiled.inputs:
        values = rows[col.name]
        if col.dtype == "string":
            values = values.fillna("").astype(str).to_numpy()
        else:
            values = values.to_numpy()
        feed[col.alias] = tf.constant(values, dtype=_DTYPES[col.dtype])
    out = loaded.signatures["serving_default"](**feed)
    return {k: v.numpy() for k, v in out.items()}


def _labels(array) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(array).tolist()]


def _assert_classifier(model, rows, tmp_path, name="m") -> float:
    compiled, loaded = _save_and_load(model, tmp_path, name)
    out = _call(loaded, compiled, rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = model.predict_proba(rows)
        labels = model.predict(rows)
    assert out["probabilities"].shape == expected.shape
    diff = float(np.max(np.abs(out["probabilities"] - expected)))
    assert diff <= PROBA_ATOL, f"{name}: max probability difference {diff}"
    assert _labels(out["label"]) == _labels(labels), f"{name}: labels differ"
    assert compiled.task == "classification"
    assert [str(c) for c in compiled.classes] == [str(c) for c in model.classes_]
    return diff


def _assert_regressor(model, rows, tmp_path, name="m", rtol=VALUE_RTOL) -> float:
    compiled, loaded = _save_and_load(model, tmp_path, name)
    out = _call(loaded, compiled, rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = np.asarray(model.predict(rows), dtype=np.float64)
    assert set(out) == {"value"}
    np.testing.assert_allclose(out["value"], expected, rtol=rtol, atol=1e-9)
    return float(np.max(np.abs(out["value"] - expected)))


# ------------------------------------------------------------------ linear, logistic, MLP


def test_logistic_multinomial_and_binary(iris, cancer, tmp_path):
    x, y = iris
    assert _assert_classifier(LogisticRegression(max_iter=500).fit(x, y), x, tmp_path, "lr3") < 1e-12
    xb, yb = cancer
    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(xb, yb)
    assert _assert_classifier(lr, xb, tmp_path, "lr2") < 1e-12


def test_linear_and_ridge(diabetes, tmp_path):
    x, y = diabetes
    _assert_regressor(LinearRegression().fit(x, y), x, tmp_path, "lin")
    _assert_regressor(make_pipeline(MinMaxScaler(), Ridge(alpha=0.5)).fit(x, y), x, tmp_path, "ridge")


def test_mlp_classifier_and_regressor(iris, cancer, diabetes, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, y = iris
        mlp3 = make_pipeline(
            StandardScaler(), MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0)
        ).fit(x, y)
        xb, yb = cancer
        mlp2 = make_pipeline(
            StandardScaler(),
            MLPClassifier(hidden_layer_sizes=(6, 4), activation="tanh", max_iter=200, random_state=0),
        ).fit(xb, yb)
        xr, yr = diabetes
        mlpr = MLPRegressor(hidden_layer_sizes=(8,), max_iter=200, random_state=0).fit(xr, yr)
    assert _assert_classifier(mlp3, x, tmp_path, "mlp3") < 1e-10
    assert _assert_classifier(mlp2, xb, tmp_path, "mlp2") < 1e-10
    _assert_regressor(mlpr, xr, tmp_path, "mlpr")


# ------------------------------------------------------------------ trees


def test_decision_trees_on_threshold_rows(iris, diabetes, tmp_path):
    x, y = iris
    clf = DecisionTreeClassifier(max_depth=5, random_state=0).fit(x, y)
    rows = _with_threshold_rows(clf, x)
    assert len(rows) > len(x)
    assert _assert_classifier(clf, rows, tmp_path, "dt") == 0.0
    xr, yr = diabetes
    reg = DecisionTreeRegressor(max_depth=6, random_state=0).fit(xr, yr)
    _assert_regressor(reg, _with_threshold_rows(reg, xr), tmp_path, "dtr")


def test_forests_and_extra_trees(iris, diabetes, tmp_path):
    x, y = iris
    xr, yr = diabetes
    for i, clf in enumerate(
        [
            RandomForestClassifier(12, max_depth=6, random_state=0),
            ExtraTreesClassifier(12, max_depth=6, random_state=0),
        ]
    ):
        clf.fit(x, y)
        assert _assert_classifier(clf, _with_threshold_rows(clf, x), tmp_path, f"forest{i}") < 1e-12
    for i, reg in enumerate(
        [
            RandomForestRegressor(10, max_depth=5, random_state=0),
            ExtraTreesRegressor(10, max_depth=5, random_state=0),
        ]
    ):
        reg.fit(xr, yr)
        _assert_regressor(reg, _with_threshold_rows(reg, xr), tmp_path, f"forestr{i}")


def test_gradient_boosting(iris, cancer, diabetes, tmp_path):
    x, y = iris
    gb3 = GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=0).fit(x, y)
    assert _assert_classifier(gb3, _with_threshold_rows(gb3, x), tmp_path, "gb3") < 1e-12
    xb, yb = cancer
    gb2 = GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0).fit(xb, yb)
    assert _assert_classifier(gb2, _with_threshold_rows(gb2, xb), tmp_path, "gb2") < 1e-12
    xr, yr = diabetes
    gbr = GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(xr, yr)
    _assert_regressor(gbr, _with_threshold_rows(gbr, xr), tmp_path, "gbr")


def test_hist_gradient_boosting_with_missing_values(iris, cancer, diabetes, tmp_path):
    rng = np.random.default_rng(0)
    x, y = iris
    xn = x.mask(rng.random(x.shape) < 0.1)
    hgb3 = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(xn, y)
    assert _assert_classifier(hgb3, xn, tmp_path, "hgb3") < 1e-12
    xb, yb = cancer
    hgb2 = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(xb, yb)
    assert _assert_classifier(hgb2, xb.mask(rng.random(xb.shape) < 0.05), tmp_path, "hgb2") < 1e-12
    xr, yr = diabetes
    hgbr = HistGradientBoostingRegressor(max_iter=15, random_state=0).fit(
        xr.mask(rng.random(xr.shape) < 0.1), yr
    )
    _assert_regressor(hgbr, xr.mask(rng.random(xr.shape) < 0.1), tmp_path, "hgbr")


# ------------------------------------------------------------------ LightGBM and XGBoost


def test_lightgbm_classifier_regressor_and_booster(iris, cancer, diabetes, tmp_path):
    lgb = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(1)
    x, y = iris
    m3 = lgb.LGBMClassifier(n_estimators=10, num_leaves=7, verbose=-1).fit(x, y)
    assert _assert_classifier(m3, x, tmp_path, "lgb3") < 1e-12
    xb, yb = cancer
    xbn = xb.mask(rng.random(xb.shape) < 0.05)
    m2 = lgb.LGBMClassifier(n_estimators=10, num_leaves=7, verbose=-1).fit(xbn, yb)
    assert _assert_classifier(m2, xbn, tmp_path, "lgb2") < 1e-12
    xr, yr = diabetes
    mr = lgb.LGBMRegressor(n_estimators=15, num_leaves=7, verbose=-1).fit(xr, yr)
    _assert_regressor(mr, xr.mask(rng.random(xr.shape) < 0.1), tmp_path, "lgbr")
    # a raw Booster (as loaded from a .txt model file): probabilities of class 1 from predict
    compiled, loaded = _save_and_load(m2.booster_, tmp_path, "lgbbooster")
    out = _call(loaded, compiled, xbn)
    np.testing.assert_allclose(out["probabilities"][:, 1], m2.booster_.predict(xbn), atol=1e-12)


def test_xgboost_classifier_regressor_and_booster(iris, cancer, diabetes, tmp_path):
    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(2)
    x, y = iris
    m3 = xgb.XGBClassifier(n_estimators=10, max_depth=3).fit(x, y)
    # float32 like XGBoost: trees added one by one, its sigmoid/softmax; observed bit-exact here
    assert _assert_classifier(m3, x, tmp_path, "xgb3") <= 1.2e-7
    xb, yb = cancer
    xbn = xb.mask(rng.random(xb.shape) < 0.05)
    m2 = xgb.XGBClassifier(n_estimators=10, max_depth=3).fit(xbn, yb)
    assert _assert_classifier(m2, xbn, tmp_path, "xgb2") <= 1.2e-7
    xr, yr = diabetes
    mr = xgb.XGBRegressor(n_estimators=15, max_depth=3).fit(xr, yr)
    _assert_regressor(mr, xr.mask(rng.random(xr.shape) < 0.1), tmp_path, "xgbr", rtol=2e-7)
    compiled, loaded = _save_and_load(m2.get_booster(), tmp_path, "xgbbooster")
    out = _call(loaded, compiled, xbn)
    expected = m2.get_booster().predict(xgb.DMatrix(xbn))
    np.testing.assert_allclose(out["probabilities"][:, 1], expected, atol=1.2e-7)


# ------------------------------------------------------------------ pipelines with string columns


def _ctr_frame(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 70, n),
            "device": rng.choice(["ios", "android", "web"], n),
            "hour": rng.integers(0, 24, n),
            "category": rng.choice(["books", "fashion", "tech", "home"], n),
            "price": rng.gamma(2.0, 20.0, n).round(2),
        }
    )
    logit = 0.03 * (frame["age"] - 40) + (frame["device"] == "ios") * 0.8 - 0.01 * frame["price"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame, y


def test_ctr_pipeline_with_string_inputs(tmp_path):
    frame, y = _ctr_frame()
    pre = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["device", "category"]),
            ("num", StandardScaler(), ["age", "hour", "price"]),
        ]
    )
    pipe = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))]).fit(frame, y)
    compiled, loaded = _save_and_load(pipe, tmp_path, "ctr")
    dtypes = {c.name: c.dtype for c in compiled.inputs}
    assert dtypes == {
        "age": "float64",
        "device": "string",
        "hour": "float64",
        "category": "string",
        "price": "float64",
    }
    out = _call(loaded, compiled, frame)
    assert np.max(np.abs(out["probabilities"] - pipe.predict_proba(frame))) < 1e-12
    assert list(out["label"]) == list(pipe.predict(frame))
    # an unseen category is all-zero in the one-hot block, as handle_unknown="ignore"
    unseen = frame.head(3).assign(device="symbian")
    out = _call(loaded, compiled, unseen)
    assert np.max(np.abs(out["probabilities"] - pipe.predict_proba(unseen))) < 1e-12
    meta = read_metadata(tmp_path / "ctr")
    assert meta["task"] == "classification" and meta["classes"] == [0, 1]
    assert [i["name"] for i in meta["inputs"]] == list(frame.columns)


def test_sample_ctr_pipeline(samples_dir, tmp_path):
    path = samples_dir / "ctr_pipeline.joblib"
    if not path.exists():
        pytest.skip("sample_models/ctr_pipeline.joblib not built yet")
    import joblib

    pipe = joblib.load(path)
    rows = pd.read_csv(samples_dir / "ctr_pipeline.rows.csv")
    assert _assert_classifier(pipe, rows, tmp_path, "sample_ctr") < 1e-12


def test_imputer_ordinal_drop_first_and_tree_pipeline(tmp_path):
    frame, y = _ctr_frame(seed=3)
    rng = np.random.default_rng(3)
    frame = frame.astype({"age": float})
    frame.loc[rng.random(len(frame)) < 0.1, "age"] = np.nan
    frame.loc[rng.random(len(frame)) < 0.1, "device"] = np.nan
    pre = ColumnTransformer(
        [
            (
                "dev",
                make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(drop="first")),
                ["device"],
            ),
            ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), ["category"]),
            ("num", make_pipeline(SimpleImputer(strategy="median"), MinMaxScaler()), ["age", "price"]),
        ],
        remainder="passthrough",
    )
    pipe = Pipeline([("pre", pre), ("gb", GradientBoostingClassifier(n_estimators=10, random_state=0))])
    pipe.fit(frame, y)
    assert _assert_classifier(pipe, frame, tmp_path, "mixed") < 1e-12


# ------------------------------------------------------------------ unsupported, names, Keras


def test_unsupported_steps_are_named(iris):
    x, y = iris
    why = check_model(make_pipeline(StandardScaler(), SVC()).fit(x, y))
    assert why is not None and "SVC (step 'svc')" in why
    with pytest.raises(CompileError, match="SVC"):
        compile_model(SVC().fit(x, y))
    assert (
        check_model(RandomForestClassifier())
        == "RandomForestClassifier is not fitted: fit it before converting"
    )
    from sklearn.preprocessing import FunctionTransformer

    frame, yc = _ctr_frame(seed=2)
    rare = make_pipeline(
        ColumnTransformer(
            [
                (
                    "dev",
                    OneHotEncoder(min_frequency=40, handle_unknown="infrequent_if_exist"),
                    ["device", "category"],
                )
            ]
        ),
        LogisticRegression(),
    ).fit(frame, yc)
    assert check_model(rare) == (
        "OneHotEncoder (step 'dev'): infrequent categories (min_frequency/max_categories) are not supported"
    )
    log = make_pipeline(FunctionTransformer(np.log1p), LogisticRegression()).fit(x, y)
    assert "FunctionTransformer (step 'functiontransformer'): only the identity" in check_model(log)


def test_dropped_columns_stay_in_the_signature_with_their_dtype(tmp_path):
    from workbench.core.types import TensorSpec

    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "note": ["x", "y", "x", "y"]})
    ct = ColumnTransformer([("keep", "passthrough", ["a"])], remainder="drop")
    model = make_pipeline(ct, LogisticRegression()).fit(frame, [0, 1, 0, 1])
    specs = [TensorSpec("a", "float64"), TensorSpec("note", "string")]
    compiled = compile_model(model, specs)
    assert [(c.name, c.dtype) for c in compiled.inputs] == [("a", "float64"), ("note", "string")]
    save_compiled(compiled, tmp_path / "dropped")
    out = _call(tf.saved_model.load(str(tmp_path / "dropped")), compiled, frame)
    assert np.max(np.abs(out["probabilities"] - model.predict_proba(frame))) < 1e-12


def test_column_names_become_valid_signature_keys(tmp_path):
    frame = pd.DataFrame(
        {
            "sepal length (cm)": [1.0, 2.0, 3.0, 4.0],
            "x/y": [0.0, 1.0, 0.0, 1.0],
            "2nd": [1.0, 0.0, 1.0, 1.0],
            "a.b-c": [0.5, 0.1, 0.2, 0.3],
        }
    )
    y = np.array([0, 0, 1, 1])
    model = LogisticRegression().fit(frame, y)
    compiled, loaded = _save_and_load(model, tmp_path, "names")
    aliases = {c.name: c.alias for c in compiled.inputs}
    assert aliases == {
        "sepal length (cm)": "sepal_length__cm_",
        "x/y": "x_y",
        "2nd": "f2nd",
        "a.b-c": "a_b_c",
    }
    sig = loaded.signatures["serving_default"]
    assert set(sig.structured_input_signature[1]) == {"sepal_length__cm_", "x_y", "f2nd", "a_b_c"}
    out = _call(loaded, compiled, frame)
    assert np.max(np.abs(out["probabilities"] - model.predict_proba(frame))) < 1e-12


def test_keras_export_names_inputs(samples_dir, tmp_path):
    path = samples_dir / "keras_mlp.keras"
    if not path.exists():
        pytest.skip("sample_models/keras_mlp.keras not built yet")
    keras = pytest.importorskip("keras")
    model = keras.saving.load_model(path)
    rows = pd.read_csv(samples_dir / "keras_mlp.rows.csv").to_numpy(dtype=np.float32)
    meta = save_savedmodel(model, tmp_path / "keras")
    loaded = tf.saved_model.load(str(tmp_path / "keras"))
    sig = loaded.signatures["serving_default"]
    assert list(sig.structured_input_signature[1]) == ["features"]
    out = sig(features=tf.constant(rows))
    np.testing.assert_allclose(out["output_0"].numpy(), model.predict(rows, verbose=0), atol=1e-6)
    assert meta["inputs"][0]["name"] == "features"


def test_string_labels_numeric_one_hot_and_boosters_in_pipelines(iris, tmp_path):
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    x, y = iris
    species = np.array(["setosa", "versicolor", "virginica"])[y]
    lr = LogisticRegression(max_iter=500).fit(x, species)
    compiled, loaded = _save_and_load(lr, tmp_path, "strlabels")
    assert compiled.outputs["label"] == "string"
    assert _assert_classifier(lr, x, tmp_path, "strlabels2") < 1e-12
    # integer categories one-hot encoded from a numeric column
    frame, yc = _ctr_frame(seed=5)
    frame = frame[["hour", "age", "price"]]
    ohe = Pipeline(
        [
            (
                "pre",
                ColumnTransformer(
                    [
                        ("hour", OneHotEncoder(handle_unknown="ignore"), ["hour"]),
                        ("num", StandardScaler(), ["age", "price"]),
                    ]
                ),
            ),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    ).fit(frame, yc)
    compiled, _ = _save_and_load(ohe, tmp_path, "inthour")
    assert {c.name: c.dtype for c in compiled.inputs}["hour"] == "float64"
    assert _assert_classifier(ohe, frame, tmp_path, "inthour2") < 1e-12
    # boosters after a float64 scaler: the scaled values are rounded to float32 as XGBoost does
    for i, booster in enumerate(
        [
            xgb.XGBClassifier(n_estimators=8, max_depth=3),
            lgb.LGBMClassifier(n_estimators=8, num_leaves=7, verbose=-1),
        ]
    ):
        pipe = make_pipeline(StandardScaler(), booster).fit(x, y)
        assert _assert_classifier(pipe, x, tmp_path, f"scaled_booster{i}") < 1e-6


def test_native_categorical_features_hgb_and_lightgbm(tmp_path):
    lgb = pytest.importorskip("lightgbm")
    frame, y = _ctr_frame(500, seed=7)
    levels = ["android", "ios", "web"]
    cat_frame = frame.assign(
        device=pd.Categorical(frame["device"], categories=levels),
        category=frame["category"].astype("category"),
    )
    cat_frame.loc[::17, "device"] = np.nan
    # what a served request carries: plain strings, an unseen category, a missing value ("")
    served = cat_frame.astype({"device": object, "category": object})
    served.loc[::13, "device"] = "symbian"
    # what LightGBM's sklearn API would see: an unseen category becomes a missing value
    known = served.assign(device=served["device"].where(served["device"].isin(levels)))
    as_categorical = known.astype(
        {"device": pd.CategoricalDtype(levels), "category": cat_frame["category"].dtype}
    )

    hgb = HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(cat_frame, y)
    assert list(hgb.is_categorical_) == [False, True, False, True, False]
    compiled, loaded = _save_and_load(hgb, tmp_path, "hgbcat")
    assert {c.name: c.dtype for c in compiled.inputs}["device"] == "string"
    out = _call(loaded, compiled, served)
    assert np.max(np.abs(out["probabilities"] - hgb.predict_proba(served))) < 1e-12

    model = lgb.LGBMClassifier(
        n_estimators=15, min_child_samples=5, min_data_per_group=5, cat_smooth=1, verbose=-1
    ).fit(cat_frame, y)
    assert sum(t["num_cat"] for t in model.booster_.dump_model()["tree_info"]) > 0
    compiled, loaded = _save_and_load(model, tmp_path, "lgbcat")
    assert {c.name: c.dtype for c in compiled.inputs}["category"] == "string"
    out = _call(loaded, compiled, served)
    assert np.max(np.abs(out["probabilities"] - model.predict_proba(as_categorical))) < 1e-12

    # integer categories (categorical_feature=...), with NaN, negative and unseen codes at predict time
    ints = frame.assign(device=cat_frame["device"].cat.codes.astype(float), category=0.0)
    reg = lgb.LGBMRegressor(
        n_estimators=15, min_child_samples=5, min_data_per_group=5, cat_smooth=1, verbose=-1
    ).fit(ints, frame["price"], categorical_feature=["device", "hour"])
    rows = ints.copy()
    rows.loc[::7, "hour"] = np.nan
    rows.loc[::9, "device"] = -1.0
    rows.loc[::11, "hour"] = 77.0
    _assert_regressor(reg, rows, tmp_path, "lgbint")
