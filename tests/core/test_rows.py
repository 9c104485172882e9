"""Feature rows: reading CSV/JSON, fitting rows to a model's inputs, generating rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SAMPLES_DIR, sample_entries
from workbench.core.errors import InputRowsError
from workbench.core.rows import LAYOUT_ATTR, generate_rows, input_arrays, prepare_rows, read_rows
from workbench.core.types import ModelInfo, TensorSpec
from workbench.core.rows.layout import set_strict_columns

IRIS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def iris_info(**overrides: object) -> ModelInfo:
    inputs = [TensorSpec(name, "float64", (None,)) for name in IRIS]
    return ModelInfo(path="iris.model", format="sklearn", framework="scikit-learn", task="classification",
                     inputs=inputs, classes=[0, 1, 2], **overrides)


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


# ------------------------------------------------------------------------------------ read_rows

def test_read_csv_keeps_cells_as_text(tmp_path: Path) -> None:
    path = write(tmp_path, "rows.csv", "a,b,c\n1,x,2.50\n3,,007\n")
    frame = read_rows(path)
    assert list(frame.columns) == ["a", "b", "c"]
    assert frame.to_dict("records") == [{"a": "1", "b": "x", "c": "2.50"}, {"a": "3", "b": "", "c": "007"}]


def test_read_csv_with_bom_crlf_and_quotes(tmp_path: Path) -> None:
    path = write(tmp_path, "excel.csv", b'\xef\xbb\xbfa,b\r\n"1,5",x\r\n2,"y ""q"""\r\n')
    assert read_rows(path).to_dict("records") == [{"a": "1,5", "b": "x"}, {"a": "2", "b": 'y "q"'}]


def test_read_csv_sniffs_semicolons_and_tabs(tmp_path: Path) -> None:
    assert read_rows(write(tmp_path, "r.csv", "a;b\n1;2\n3;4\n")).to_dict("list") == {"a": ["1", "3"], "b": ["2", "4"]}
    assert read_rows(write(tmp_path, "r.tsv", "a\tb\n1\t2\n")).to_dict("list") == {"a": ["1"], "b": ["2"]}


@pytest.mark.parametrize("payload", [
    [{"a": 1, "b": "x"}, {"a": 2.5, "b": None}],
    {"instances": [{"a": 1, "b": "x"}, {"a": 2.5, "b": None}]},
    {"inputs": {"a": [1, 2.5], "b": ["x", None]}},
    {"columns": ["a", "b"], "data": [[1, "x"], [2.5, None]]},
])
def test_read_json_layouts(tmp_path: Path, payload: object) -> None:
    frame = read_rows(write(tmp_path, "rows.json", json.dumps(payload)))
    assert list(frame.columns) == ["a", "b"]
    assert frame["a"].tolist() == [1, 2.5]
    assert frame["b"].tolist() == ["x", None]


def test_read_json_lines(tmp_path: Path) -> None:
    frame = read_rows(write(tmp_path, "rows.jsonl", '{"a": 1}\n\n{"a": 2}\n'))
    assert frame["a"].tolist() == [1, 2]


@pytest.mark.parametrize("name, content, message", [
    ("empty.csv", "", "is empty"),
    ("blank.csv", "\n  \n", "is empty"),
    ("header.csv", "sepal_length,sepal_width\n", "has a header but no rows"),
    ("empty.json", "[]", "has a header but no rows"),
    ("model.csv", b"\x80\x04\x95\x00\x00\x00binary\x00pickle", "is not CSV or JSON (binary content)"),
    ("model.csv", '<?xml version="1.0"?>\n<PMML/>\n', "is XML/HTML, not CSV or JSON rows"),
    ("ragged.csv", "a,b\n1,2\n1,2,3\n", "the header has 2 fields but line 3 has 3"),
    ("dupes.csv", "a,a\n1,2\n", "names column(s) 'a' more than once"),
    ("noname.csv", "a,,c\n1,2,3\n", "column(s) [2] have no name"),
    ("bad.json", "[{\"a\": 1},", "is not valid JSON"),
    ("lists.json", "[[1, 2], [3, 4]]", "is a JSON list but not of records"),
])
def test_read_rows_errors(tmp_path: Path, name: str, content: str | bytes, message: str) -> None:
    with pytest.raises(InputRowsError) as err:
        read_rows(write(tmp_path, name, content))
    assert message in str(err.value)
    assert name in str(err.value)


def test_read_rows_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputRowsError, match="rows file not found: .*nope.csv"):
        read_rows(tmp_path / "nope.csv")


# --------------------------------------------------------------------------------- prepare_rows

def test_prepare_coerces_to_input_dtypes() -> None:
    info = ModelInfo(path="m", format="sklearn", framework="sklearn", inputs=[
        TensorSpec("x", "float32"), TensorSpec("n", "int64"), TensorSpec("flag", "bool"),
        TensorSpec("city", "string")])
    frame = pd.DataFrame({"x": ["1.5", " 2 "], "n": ["3", "4.0"], "flag": ["true", "0"], "city": ["Oslo", "7"]})
    out = prepare_rows(frame, info)
    assert out["x"].dtype == np.float32 and out["x"].tolist() == [1.5, 2.0]
    assert out["n"].dtype == np.int64 and out["n"].tolist() == [3, 4]
    assert out["flag"].tolist() == [True, False]
    assert out["city"].tolist() == ["Oslo", "7"]
    assert out.attrs[LAYOUT_ATTR] == {"x": ["x"], "n": ["n"], "flag": ["flag"], "city": ["city"]}


def test_prepare_orders_columns_like_the_model() -> None:
    frame = pd.DataFrame({name: ["1"] for name in reversed(IRIS)})
    assert list(prepare_rows(frame, iris_info()).columns) == IRIS


def test_prepare_matches_names_loosely_when_unambiguous() -> None:
    frame = pd.DataFrame({"Sepal Length": ["1"], "sepal-width": ["2"], "PETAL_LENGTH": ["3"], "petal_width": ["4"]})
    out = prepare_rows(frame, iris_info())
    assert input_arrays(out, iris_info())["sepal_length"].tolist() == [1.0]
    assert input_arrays(out, iris_info())["petal_length"].tolist() == [3.0]


def test_missing_column_is_named() -> None:
    frame = pd.DataFrame({name: ["1"] for name in IRIS[:3]})
    with pytest.raises(InputRowsError) as err:
        prepare_rows(frame, iris_info())
    assert err.value.problems == ["missing column 'petal_width' (model input, float64)"]
    assert "missing column 'petal_width'" in str(err.value)


def test_extra_column_is_ignored_and_named_in_a_warning() -> None:
    frame = pd.DataFrame({**{name: ["1"] for name in IRIS}, "species": ["setosa"]})
    prepared = prepare_rows(frame, iris_info())
    assert list(prepared.columns) == IRIS
    assert prepared.attrs["warnings"] == ["ignored 1 column the model does not take: 'species' "
                                          "(pass --strict to refuse them)"]


def test_extra_column_is_refused_when_strict() -> None:
    frame = pd.DataFrame({**{name: ["1"] for name in IRIS}, "species": ["setosa"]})
    set_strict_columns(True)
    try:
        with pytest.raises(InputRowsError) as err:
            prepare_rows(frame, iris_info())
    finally:
        set_strict_columns(False)
    assert err.value.problems == ["unexpected column 'species' (not a model input: remove it)"]


def test_every_bad_cell_is_reported_with_row_column_value_and_type() -> None:
    frame = pd.DataFrame({"sepal_length": ["5.1", "abc", "4.9", "x1"], "sepal_width": ["3.5", "3.0", "", "3.1"],
                          "petal_length": ["1.4"] * 4, "petal_width": ["0.2", "0.2", "0.2", "1,5"]})
    with pytest.raises(InputRowsError) as err:
        prepare_rows(frame, iris_info())
    assert err.value.problems == [
        "row 2, column 'sepal_length': 'abc' is not a number (float64)",
        "row 3, column 'sepal_width': missing value, but input 'sepal_width' does not accept missing values "
        "(expected a number (float64))",
        "row 4, column 'sepal_length': 'x1' is not a number (float64)",
        "row 4, column 'petal_width': '1,5' is not a number (float64)",
    ]
    cells = {(c.row, c.column, c.value) for c in err.value.cells}  # type: ignore[attr-defined]
    assert cells == {(2, "sepal_length", "abc"), (3, "sepal_width", ""), (4, "sepal_length", "x1"),
                     (4, "petal_width", "1,5")}
    assert str(err.value).startswith("the rows do not fit the model (4 bad values): ")


def test_column_and_cell_problems_together() -> None:
    frame = pd.DataFrame({"sepal_length": ["oops"], "sepal_width": ["1"], "petal_length": ["1"], "extra": ["1"]})
    with pytest.raises(InputRowsError) as err:
        prepare_rows(frame, iris_info())
    assert err.value.problems == [
        "missing column 'petal_width' (model input, float64)",
        "row 1, column 'sepal_length': 'oops' is not a number (float64)",
    ]
    assert "(1 column problem, 1 bad value)" in str(err.value)


def test_long_problem_lists_are_cut_in_the_message_but_kept_whole() -> None:
    frame = pd.DataFrame({name: ["bad"] * 5 for name in IRIS})
    with pytest.raises(InputRowsError) as err:
        prepare_rows(frame, iris_info())
    assert len(err.value.problems) == 20
    assert str(err.value).count("is not a number") == 8
    assert "; and 12 more" in str(err.value)


def test_integer_inputs_reject_fractions_and_overflow() -> None:
    info = ModelInfo(path="m", format="onnx", framework="onnx", inputs=[TensorSpec("k", "int8")])
    with pytest.raises(InputRowsError) as err:
        prepare_rows(pd.DataFrame({"k": ["1", "2.5", "300", "true"]}), info)
    assert [c.value for c in err.value.cells] == ["2.5", "300", "true"]  # type: ignore[attr-defined]
    assert "'2.5' is not a whole number (int8)" in err.value.problems[0]


def test_missing_values_only_where_the_input_accepts_them() -> None:
    info = ModelInfo(path="m", format="lightgbm", framework="lightgbm", inputs=[
        TensorSpec("a", "float64", accepts_missing=True), TensorSpec("b", "string", accepts_missing=True)])
    out = prepare_rows(pd.DataFrame({"a": ["1", "", "NaN", "null"], "b": ["x", "", None, "NA"]}), info)
    assert np.isnan(out["a"].to_numpy()[1:]).all() and out["a"].iloc[0] == 1.0
    # for text inputs only an empty cell is missing: "NA" may be a real category
    assert out["b"].tolist() == ["x", None, None, "NA"]


def test_json_values_are_coerced_too(tmp_path: Path) -> None:
    path = write(tmp_path, "rows.json", json.dumps([{n: 1 for n in IRIS}, {**{n: 2.5 for n in IRIS},
                                                                           "petal_width": "wide"}]))
    with pytest.raises(InputRowsError) as err:
        prepare_rows(read_rows(path), iris_info())
    assert err.value.problems == ["row 2, column 'petal_width': 'wide' is not a number (float64)"]


def test_tensor_input_takes_all_columns_in_order() -> None:
    info = ModelInfo(path="m.keras", format="keras", framework="keras",
                     inputs=[TensorSpec("features", "float32", (None, 4))])
    frame = pd.DataFrame({name: [str(i + 1)] for i, name in enumerate(IRIS)})
    out = prepare_rows(frame, info)
    arrays = input_arrays(out, info)
    assert arrays["features"].dtype == np.float32
    assert arrays["features"].tolist() == [[1.0, 2.0, 3.0, 4.0]]


def test_tensor_input_width_mismatch() -> None:
    info = ModelInfo(path="m.keras", format="keras", framework="keras",
                     inputs=[TensorSpec("features", "float32", (None, 4))])
    with pytest.raises(InputRowsError) as err:
        prepare_rows(pd.DataFrame({"a": ["1"], "b": ["2"], "c": ["3"]}), info)
    assert err.value.problems == ["input 'features' takes 4 features per row, the rows have 3 column(s) for it: "
                                  "'a', 'b', 'c'"]


def test_no_rows() -> None:
    with pytest.raises(InputRowsError, match="no rows to predict"):
        prepare_rows(pd.DataFrame({name: [] for name in IRIS}), iris_info())


# -------------------------------------------------------------------------------- generate_rows

def test_generate_rows_uses_categories_and_ranges() -> None:
    info = ModelInfo(path="m", format="sklearn", framework="sklearn", inputs=[
        TensorSpec("device", "string", categories=("ios", "android", "web")),
        TensorSpec("price", "float64", value_range=(10.0, 20.0)),
        TensorSpec("hour", "int64", value_range=(0, 23)),
        TensorSpec("score", "float32")])
    frame = generate_rows(info, 200, seed=3)
    assert len(frame) == 200 and list(frame.columns) == ["device", "price", "hour", "score"]
    assert set(frame["device"]) == {"ios", "android", "web"}
    assert frame["price"].between(10.0, 20.0).all()
    assert frame["hour"].between(0, 23).all() and frame["hour"].dtype == np.int64
    assert frame["score"].dtype == np.float32
    pd.testing.assert_frame_equal(frame, generate_rows(info, 200, seed=3))
    assert not frame.equals(generate_rows(info, 200, seed=4))
    prepared = prepare_rows(frame, info)
    assert prepared["device"].tolist() == frame["device"].tolist()


def test_generate_rows_for_a_tensor_input() -> None:
    info = ModelInfo(path="m.keras", format="keras", framework="keras",
                     inputs=[TensorSpec("features", "float32", (None, 3))])
    frame = generate_rows(info, 5)
    assert list(frame.columns) == ["features_0", "features_1", "features_2"]
    assert input_arrays(prepare_rows(frame, info), info)["features"].shape == (5, 3)


def test_generate_rows_needs_a_known_width() -> None:
    info = ModelInfo(path="m.onnx", format="onnx", framework="onnx",
                     inputs=[TensorSpec("X", "float32", (None, None))])
    with pytest.raises(InputRowsError, match="does not say how many features it takes"):
        generate_rows(info, 5)


SAMPLES = [s for s in sample_entries() if s["format"] not in ("keras", "savedmodel")]


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["name"] for s in SAMPLES])
def test_sample_rows_fit_their_model_and_generated_rows_too(sample: dict) -> None:
    from workbench.core.models import inspect_model

    info = inspect_model(SAMPLES_DIR / sample["file"], trust=sample["trust"])
    rows = read_rows(SAMPLES_DIR / sample["rows"])
    prepared = prepare_rows(rows, info)
    assert len(prepared) == len(rows)
    assert [c for cols in prepared.attrs[LAYOUT_ATTR].values() for c in cols] == sample["inputs"]
    generated = generate_rows(info, 7, seed=1)
    assert len(prepare_rows(generated, info)) == 7
    for spec in info.inputs:
        if spec.categories:
            assert set(generated[spec.name]) <= set(spec.categories)


def test_typed_numeric_frames_take_the_fast_path_with_the_same_rules() -> None:
    info = ModelInfo(path="m", format="onnx", framework="onnx", inputs=[
        TensorSpec("f", "float32"), TensorSpec("k", "int64"), TensorSpec("m", "float64", accepts_missing=True)])
    n = 20_000
    frame = pd.DataFrame({"f": np.arange(n, dtype=np.float64), "k": np.arange(n, dtype=np.float64),
                          "m": np.where(np.arange(n) % 2 == 0, np.nan, 1.0)})
    out = prepare_rows(frame, info)
    assert out["f"].dtype == np.float32 and out["k"].dtype == np.int64 and out["k"].iloc[-1] == n - 1
    assert int(np.isnan(out["m"]).sum()) == n // 2
    frame.loc[3, "f"] = np.nan
    frame.loc[5, "k"] = 2.5
    with pytest.raises(InputRowsError) as err:
        prepare_rows(frame, info)
    assert err.value.problems == [
        "row 4, column 'f': missing value, but input 'f' does not accept missing values (expected a number "
        "(float32))",
        "row 6, column 'k': 2.5 is not a whole number (int64)",
    ]


def test_positionally_named_inputs_take_the_columns_in_order() -> None:
    """A model fitted without feature names has inputs x0..xN-1: named CSV columns feed them in order."""
    info = ModelInfo(path="m", format="sklearn", framework="sklearn",
                     inputs=[TensorSpec(f"x{i}", "float64") for i in range(4)])
    frame = pd.DataFrame({name: [str(i)] for i, name in enumerate(IRIS)})
    out = prepare_rows(frame, info)
    assert out.attrs[LAYOUT_ATTR] == {"x0": ["sepal_length"], "x1": ["sepal_width"], "x2": ["petal_length"],
                                      "x3": ["petal_width"]}
    assert input_arrays(out, info)["x2"].tolist() == [2.0]
    with pytest.raises(InputRowsError, match="missing column 'x3'"):
        prepare_rows(frame.iloc[:, :3], info)


# ------------------------------------------------------------------------ reading prepared columns

def test_column_reads_equal_pandas_and_cannot_change_the_rows() -> None:
    from workbench.core.rows import column_values

    frame = pd.DataFrame({"f": np.array([1.5, 2.5], dtype=np.float32), "i": np.array([3, 4]),
                          "s": np.array(["a", None], dtype=object), "b": np.array([True, False]),
                          "n": pd.array([1, None], dtype="Int64")})
    frame.attrs[LAYOUT_ATTR] = {c: [c] for c in frame.columns}
    for j, col in enumerate(frame.columns):
        got = column_values(frame, j)
        expected = frame[col].to_numpy()
        assert got.dtype == expected.dtype, col
        assert pd.isna(got).tolist() == pd.isna(expected).tolist(), col
        assert got[~pd.isna(got)].tolist() == expected[~pd.isna(expected)].tolist(), col
    view = column_values(frame, 0)
    with pytest.raises(ValueError):
        view[0] = 99.0
    assert frame["f"].tolist() == [1.5, 2.5]


def test_feed_plans_are_reused_for_frames_of_the_same_columns() -> None:
    from workbench.core.rows import FeedPlans

    info = ModelInfo(path="m", format="onnx", framework="onnx", inputs=[
        TensorSpec("a", "float32"), TensorSpec("v", "float32", (None, 2)), TensorSpec("city", "string")])
    info.metadata["input_features"] = {"v": ["v1", "v2"]}
    raw = pd.DataFrame({"city": ["Oslo", "Rome", "Lima"], "v2": ["5", "6", "7"], "a": ["1", "2", "3"],
                        "v1": ["8", "9", "10"]})
    prepared = prepare_rows(raw, info)
    plans = FeedPlans(info)
    one = prepared.iloc[[1]]
    assert plans.plan(prepared) is plans.plan(one)  # same column Index: no lookup at all
    for frame in (prepared, one, prepared.copy(), prepared.rename(columns=str)):
        expected = {"a": frame["a"].to_numpy(),
                    "v": np.column_stack([frame["v1"].to_numpy(), frame["v2"].to_numpy()]).astype(np.float32),
                    "city": frame["city"].to_numpy()}
        for arrays in (plans.arrays(frame), input_arrays(frame, info)):
            assert set(arrays) == set(expected)
            for name, want in expected.items():
                assert arrays[name].dtype == want.dtype and arrays[name].tolist() == want.tolist(), name
    lost = prepared.copy()
    lost.attrs = {}  # the layout is recomputed from the model
    assert input_arrays(lost, info)["v"].tolist() == [[8.0, 5.0], [9.0, 6.0], [10.0, 7.0]]
    with pytest.raises(InputRowsError, match="prepare them for this model"):
        input_arrays(prepared.drop(columns=["a"]), info)


# ------------------------------------------------------------------- plausible generated rows

def _ctr_bounds() -> dict[str, tuple[float, float]]:
    """The CTR rows file's min/max per numeric column, widened by 30% of the span on each side."""
    rows = pd.read_csv(SAMPLES_DIR / "ctr_pipeline.rows.csv")
    out = {}
    for col in rows.select_dtypes("number").columns:
        lo, hi = float(rows[col].min()), float(rows[col].max())
        out[col] = (lo - 0.3 * (hi - lo), hi + 0.3 * (hi - lo))
    return out


@pytest.mark.parametrize("trust", [False, True])
def test_generated_ctr_rows_are_plausible_and_predict(trust: bool) -> None:
    import joblib

    from workbench.core.models import inspect_model
    from workbench.core.runtimes import predict_rows

    path = SAMPLES_DIR / "ctr_pipeline.joblib"
    info = inspect_model(path, trust=trust)
    model = joblib.load(path)
    scaler = model.named_steps["preprocess"].named_transformers_["scale"]
    encoder = model.named_steps["preprocess"].named_transformers_["onehot"]
    specs = {s.name: s for s in info.inputs}
    for i, name in enumerate(scaler.feature_names_in_):  # what the model knows, as the model knows it
        assert specs[name].typical == pytest.approx((scaler.mean_[i], scaler.scale_[i]))
        assert info.to_json()["inputs"][list(specs).index(name)]["typical"] == pytest.approx(
            [scaler.mean_[i], scaler.scale_[i]])
    frame = generate_rows(info, 500, seed=5)
    assert "warnings" not in frame.attrs
    for col, (lo, hi) in _ctr_bounds().items():
        values = frame[col].to_numpy(dtype=float)
        assert values.min() >= max(lo, 0.0) and values.max() <= hi, (col, values.min(), values.max())
        assert values.std() > 0.1 * scaler.scale_[list(scaler.feature_names_in_).index(col)]  # not constant
    for col, levels in zip(encoder.feature_names_in_, encoder.categories_, strict=True):
        assert set(frame[col]) == set(levels.tolist())
    if trust:
        _, prepared, batch = predict_rows(path, frame, trust=True)
        expected = model.predict_proba(prepared)
        np.testing.assert_allclose(batch.probabilities, expected, rtol=1e-12)


def test_generated_rows_from_split_thresholds_and_lightgbm_ranges() -> None:
    import joblib
    import xgboost

    from workbench.core.formats.value_facts import THRESHOLD_WIDENING
    from workbench.core.models import inspect_model

    forest = joblib.load(SAMPLES_DIR / "diabetes_rf.joblib")
    info = inspect_model(SAMPLES_DIR / "diabetes_rf.joblib")  # untrusted: read from the pickle's node tables
    for i, spec in enumerate(info.inputs):
        thresholds = np.concatenate([t.tree_.threshold[t.tree_.feature == i] for t in forest.estimators_])
        lo, hi = thresholds.min(), thresholds.max()
        if hi > lo:
            low = lo - THRESHOLD_WIDENING * (hi - lo)
            expected = (max(low, 0.0) if lo >= 0 else low, hi + THRESHOLD_WIDENING * (hi - lo))
        else:  # one split point (the scaled 0/1 'sex' column): as far again on each side
            expected = (lo - abs(lo), hi + abs(hi))
        assert spec.value_range == pytest.approx(expected)
        assert spec.range_from_splits and spec.to_json()["range_source"] == "split thresholds"
    frame = generate_rows(info, 300, seed=2)
    for spec in info.inputs:
        assert frame[spec.name].between(*spec.value_range).all()
    trees = xgboost.Booster(model_file=str(SAMPLES_DIR / "xgb_classifier.json")).trees_to_dataframe()
    for file in ("xgb_classifier.json", "xgb_classifier.joblib"):
        native = inspect_model(SAMPLES_DIR / file)
        for spec in native.inputs:
            splits = trees.loc[trees["Feature"] == spec.name, "Split"]
            lo, hi = splits.min(), splits.max()
            pad = THRESHOLD_WIDENING * (hi - lo)
            assert spec.value_range == pytest.approx((max(lo - pad, 0.0), hi + pad), rel=1e-6)
            assert spec.range_from_splits
    wrapper = inspect_model(SAMPLES_DIR / "lgbm_classifier.joblib")
    booster = inspect_model(SAMPLES_DIR / "lgbm_classifier.txt")  # feature_infos of the saved model
    assert [s.value_range for s in wrapper.inputs] == [s.value_range for s in booster.inputs]
    assert all(s.value_range is not None for s in wrapper.inputs)
    # LightGBM records each feature's (min, max) in the training data: a real range
    assert not any(s.range_from_splits for s in wrapper.inputs + booster.inputs)
    assert {s.to_json()["range_source"] for s in booster.inputs} == {"data"}


def test_scaler_and_imputer_facts_reach_the_inputs() -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, RobustScaler

    from workbench.core.formats import sklearn_introspect as ski

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(100, 5, 200), "b": rng.uniform(3, 9, 200), "c": rng.normal(-7, 2, 200),
                      "d": rng.normal(50, 1, 200)})
    pipe = make_pipeline(ColumnTransformer([
        ("robust", make_pipeline(SimpleImputer(), RobustScaler()), ["a"]),
        ("minmax", MinMaxScaler(), ["b"]),
        ("imputed", SimpleImputer(strategy="median"), ["c"]),
        ("kept", "passthrough", ["d"])]), LinearRegression()).fit(X, X.sum(axis=1))
    specs = {s.name: s for s in ski.input_specs(pipe)[0]}
    robust = pipe[0].named_transformers_["robust"][-1]
    assert specs["a"].typical == pytest.approx((robust.center_[0], robust.scale_[0] / 1.349))
    assert specs["b"].value_range == pytest.approx((X["b"].min(), X["b"].max()))
    assert not specs["b"].range_from_splits                 # what the MinMaxScaler saw: the data's range
    assert specs["c"].typical[0] == pytest.approx(X["c"].median())
    assert specs["d"].typical is None and specs["d"].value_range is None
    info = ModelInfo(path="m", format="sklearn", framework="scikit-learn", inputs=list(specs.values()))
    frame = generate_rows(info, 400, seed=1)
    center, spread = robust.center_[0], robust.scale_[0]
    assert frame["a"].between(center - 2 * spread, center + 2 * spread).all()
    assert frame["b"].between(X["b"].min(), X["b"].max()).all()
    assert (frame["c"] <= 0).all()  # around the median -7 (half of it as spread), never flipped positive
    assert frame.attrs["warnings"] and "input(s) d take" in frame.attrs["warnings"][0]


def test_integer_inputs_with_a_mean_get_whole_numbers_and_models_that_know_nothing_warn() -> None:
    info = ModelInfo(path="m", format="pmml", framework="pmml", inputs=[
        TensorSpec("visits", "int64", typical=(4.0, 3.0)),
        TensorSpec("temp", "float64", typical=(-2.0, 5.0))])
    frame = generate_rows(info, 1000, seed=0)
    assert frame["visits"].dtype == np.int64 and frame["visits"].between(0, 10).all()
    assert frame["temp"].between(-12.0, 8.0).all() and (frame["temp"] > 0).any() and (frame["temp"] < 0).any()
    assert "warnings" not in frame.attrs
    onnx = ModelInfo(path="m.onnx", format="onnx", framework="onnx",
                     inputs=[TensorSpec("x", "float32", (None, 3))])
    generated = generate_rows(onnx, 5)
    assert "standard normal" in generated.attrs["warnings"][0] and "x take" in generated.attrs["warnings"][0]


# ----------------------------------------------------------------------------- unknown categories

def ctr_like_info(**overrides: object) -> ModelInfo:
    inputs = [TensorSpec("device", "string", categories=("android", "ios", "web")),
              TensorSpec("age", "float64"),
              TensorSpec("slot", "float64", categories=(1, 2, 3))]
    return ModelInfo(path="ctr.joblib", format="sklearn", framework="scikit-learn", task="classification",
                     inputs=inputs, classes=[0, 1], **overrides)


def test_unknown_categories_are_warnings_with_rows_column_value_and_levels() -> None:
    frame = pd.DataFrame({"device": ["ios", "blackberry", "web", "blackberry", "nokia"],
                          "age": ["30", "41", "22", "50", "61"],
                          "slot": ["1", "2.0", "3", "7", "2"]}, dtype=object)
    prepared = prepare_rows(frame, ctr_like_info())
    assert prepared["device"].tolist() == frame["device"].tolist()  # accepted as they are
    assert prepared.attrs["warnings"] == [
        ("rows 2, 4, column 'device': 'blackberry' is not a known category (known: 'android', 'ios', 'web'): "
         "the model will treat it as unknown (an all-zero one-hot encoding)"),
        ("row 5, column 'device': 'nokia' is not a known category (known: 'android', 'ios', 'web'): "
         "the model will treat it as unknown (an all-zero one-hot encoding)"),
        ("row 4, column 'slot': 7 is not a known category (known: 1, 2, 3): "  # "2.0" is level 2
         "the model will treat it as unknown (an all-zero one-hot encoding)"),
    ]


def test_known_categories_and_missing_values_give_no_warning() -> None:
    info = ctr_like_info()
    info.inputs[0] = TensorSpec("device", "string", categories=("android", "ios", "web"), accepts_missing=True)
    prepared = prepare_rows(pd.DataFrame({"device": ["ios", None], "age": [1.0, 2.0], "slot": [1.0, 3.0]}), info)
    assert "warnings" not in prepared.attrs


def test_many_unknown_categories_are_summed_up() -> None:
    values = [f"phone{i}" for i in range(25)]
    frame = pd.DataFrame({"device": values, "age": [1.0] * 25, "slot": [1.0] * 25})
    warnings = prepare_rows(frame, ctr_like_info()).attrs["warnings"]
    assert len(warnings) == 21 and warnings[0].startswith("row 1, column 'device': 'phone0' is not")
    assert warnings[-1] == "and 5 more unknown categories in column(s) 'device'"


def test_unknown_categories_are_errors_when_the_model_rejects_them() -> None:
    frame = pd.DataFrame({"device": ["ios", "blackberry"], "age": ["30", "x"], "slot": ["1", "2"]}, dtype=object)
    with pytest.raises(InputRowsError) as caught:
        prepare_rows(frame, ctr_like_info(metadata={"rejects_unknown_categories": ["device"]}))
    assert caught.value.problems == [
        ("row 2, column 'device': 'blackberry' is not a known category (known: 'android', 'ios', 'web'): "
         "the model rejects unknown categories"),
        "row 2, column 'age': 'x' is not a number (float64)"]
    assert caught.value.message.startswith("the rows do not fit the model (2 bad values): ")


@pytest.mark.parametrize("treatment, rejected", [(None, True), ("returnInvalid", True), ("asIs", False),
                                                 ("asMissing", False)])
def test_pmml_fields_say_whether_unknown_categories_are_rejected(treatment: str | None, rejected: bool) -> None:
    info = ModelInfo(path="m.pmml", format="pmml", framework="pmml", inputs=[
        TensorSpec("color", "string", categories=("red", "blue"))],
        metadata={"mining_schema": [{"name": "color", "usageType": "active",
                                     "invalidValueTreatment": treatment}]})
    frame = pd.DataFrame({"color": ["red", "green"]})
    if rejected:
        with pytest.raises(InputRowsError, match=r"row 2, column 'color': 'green' is not a known category "
                                                 r"\(known: 'red', 'blue'\): the model rejects"):
            prepare_rows(frame, info)
    else:
        assert prepare_rows(frame, info).attrs["warnings"] == [
            ("row 2, column 'color': 'green' is not a known category (known: 'red', 'blue'): the model will "
             "treat it as unknown (an unseen category)")]


# -------------------------------------------------------------------------------------- separators

def test_a_semicolon_header_read_as_one_column_names_the_separator() -> None:
    frame = pd.DataFrame({";".join(IRIS): ["5.1;3.5;1.4;0.2", "4.9;3.0;1.4;0.2"]}, dtype=object)
    with pytest.raises(InputRowsError) as caught:
        prepare_rows(frame, iris_info())
    assert caught.value.message.startswith("the file seems to use ';' as separator: its header "
                                           "'sepal_length;sepal_width;petal_length;petal_width' was read as a "
                                           "single column")
    tabs = pd.DataFrame({"\t".join(IRIS): ["5.1\t3.5\t1.4\t0.2"]}, dtype=object)
    with pytest.raises(InputRowsError, match="the file seems to use tab as separator"):
        prepare_rows(tabs, iris_info())


def test_a_file_read_with_the_wrong_separator_names_the_right_one(tmp_path: Path) -> None:
    path = write(tmp_path, "rows.tsv", "a;b;c\n1;2;3\n4;5;6\n")  # .tsv means tab, but it uses ';'
    with pytest.raises(InputRowsError, match=r"rows\.tsv seems to use ';' as separator: its header 'a;b;c' "
                                             r"was read as a single column"):
        read_rows(path)


def test_separator_from_the_header_when_the_sniffer_gives_up(tmp_path: Path) -> None:
    # csv.Sniffer fails on a trailing separator on some lines only; the header still tells ';'
    path = write(tmp_path, "rows.csv", "a;b;c\n1;2;3;\n4;5;6\n")
    with pytest.raises(InputRowsError, match="the header has 3 fields but line 2 has 4"):
        read_rows(path)
    ok = write(tmp_path, "ok.csv", "a;b;c\n1,5;2;3\n4;5;6\n7;8;9\n")
    assert read_rows(ok).to_dict("list") == {"a": ["1,5", "4", "7"], "b": ["2", "5", "8"], "c": ["3", "6", "9"]}


def test_a_csv_without_a_header_line_is_named_as_such(tmp_path: Path) -> None:
    path = write(tmp_path, "rows.csv", "5.8,2.7,5.1,1.9\n6.0,2.2,4.0,1.0\n")
    with pytest.raises(InputRowsError) as err:
        prepare_rows(read_rows(path), iris_info())
    assert err.value.message == ("the first line of the rows ('5.8,2.7,5.1,1.9') looks like data, not a header: "
                                 "a rows file starts with a line naming its columns")
    assert err.value.hint == "add a header line first, e.g. sepal_length,sepal_width,petal_length,petal_width"


def test_bad_cells_of_json_records_are_counted_without_a_header(tmp_path: Path) -> None:
    records = [{n: 1 for n in IRIS}, {**{n: 1 for n in IRIS}, "petal_width": "wide"}]
    for name, text, hint in (("rows.json", json.dumps(records), "records are counted from 1"),
                             ("rows.csv", ",".join(IRIS) + "\n1,1,1,1\n1,1,1,wide\n",
                              "rows are counted from 1, header excluded")):
        with pytest.raises(InputRowsError) as err:
            prepare_rows(read_rows(write(tmp_path, name, text)), iris_info())
        assert "row 2, column 'petal_width': 'wide' is not" in err.value.message
        assert err.value.hint == hint
