"""Generated rows are plausible: within what is known, whole where the data is whole, few digits."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.core.rows import generate_rows, prepare_rows, read_rows
from workbench.core.types import ModelInfo, TensorSpec

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "sample_models"


def _decimals(value: float) -> int:
    """Decimals of the shortest text that gives the value back at its own precision (as the table shows)."""
    text = str(value) if isinstance(value, np.floating) else repr(float(value))
    assert "e" not in text, text
    return len(text.split(".")[1].rstrip("0")) if "." in text else 0


def _max_decimals(values: pd.Series | np.ndarray) -> int:
    return max(_decimals(v) for v in np.asarray(values))


def _significant(value: float) -> int:
    digits = repr(float(value)).replace("-", "").replace(".", "").lstrip("0").rstrip("0")
    return len(digits)


@pytest.fixture(scope="module")
def ctr_info() -> ModelInfo:
    from workbench.core.models import inspect_model

    return inspect_model(SAMPLES_DIR / "ctr_pipeline.joblib")  # untrusted: facts from the pickle


def test_ctr_rows_without_observed_rows_have_whole_hours_and_ages_and_few_digits(ctr_info: ModelInfo) -> None:
    specs = {s.name: s for s in ctr_info.inputs}
    assert specs["hour"].typical is not None and specs["hour"].value_range is None  # only a mean and spread
    frame = generate_rows(ctr_info, 2000, seed=0)
    assert "warnings" not in frame.attrs
    hour = frame["hour"].to_numpy()
    assert frame["hour"].dtype == np.int64 and hour.min() >= 0 and hour.max() <= 23
    assert len(set(hour.tolist())) > 15  # spread over the day, not piled on one value
    age = frame["age"].to_numpy()
    assert frame["age"].dtype == np.int64 and age.min() >= 0 and age.max() <= 120
    mean, std = specs["age"].typical
    assert age.min() >= math.floor(mean - 2 * std) and age.max() <= math.ceil(mean + 2 * std)
    for col in ("price", "user_ctr_7d", "item_popularity"):
        values = frame[col].to_numpy(dtype=float)
        assert values.min() >= 0.0, col  # skewed, positive quantities stay positive
        # three significant digits of the spread: price (std 31) to 0.1, ctr (std 0.064) to 0.0001
        spread = specs[col].typical[1]
        allowed = 3 - 1 - math.floor(math.log10(spread))
        assert _max_decimals(values) <= allowed, col
        assert max(_significant(v) for v in values) <= 6, col
    assert _max_decimals(frame["price"]) == 1
    assert len(prepare_rows(frame, ctr_info)) == 2000


def test_ctr_rows_like_the_observed_rows(ctr_info: ModelInfo) -> None:
    observed = read_rows(SAMPLES_DIR / "ctr_pipeline.rows.csv")  # text cells, as the editor has them
    frame = generate_rows(ctr_info, 1000, seed=1, observed=observed)
    assert "warnings" not in frame.attrs
    for col in ("age", "hour", "price", "user_ctr_7d", "item_popularity"):
        seen = observed[col].astype(float)
        values = frame[col].to_numpy(dtype=float)
        assert seen.min() <= values.min() and values.max() <= seen.max(), col
        written = max(len(t.split(".")[1]) if "." in t else 0 for t in observed[col])
        assert _max_decimals(values) <= written, col
    assert frame["hour"].dtype == np.int64 and frame["age"].dtype == np.int64
    assert _max_decimals(frame["price"]) == 2  # prices are written in cents
    assert set(frame["gender"]) == {"f", "m", "u"}


def test_a_model_that_knows_nothing_generates_like_the_observed_rows() -> None:
    info = ModelInfo(path="m.onnx", format="onnx", framework="onnx", inputs=[
        TensorSpec("x", "float32", (None, 2)), TensorSpec("city", "string")])
    observed = pd.DataFrame({"x_0": ["1.5", "2.25", "3.0", ""], "x_1": ["10", "12", "17", "11"],
                             "city": ["Oslo", "Lima", "Oslo", "Pune"]}, dtype=object)
    frame = generate_rows(info, 300, seed=2, observed=observed)
    assert "warnings" not in frame.attrs  # the rows say what the values look like
    assert frame["x_0"].between(1.5, 3.0).all() and _max_decimals(frame["x_0"]) <= 2
    assert frame["x_1"].dtype == np.int64 and frame["x_1"].between(10, 17).all()
    assert set(frame["city"]) == {"Oslo", "Lima", "Pune"}
    blind = generate_rows(info, 5, seed=2)
    assert "standard normal" in blind.attrs["warnings"][0]
    assert _max_decimals(blind["x_0"]) <= 3


def test_the_models_data_range_wins_over_observed_rows_and_rounding_stays_inside() -> None:
    info = ModelInfo(path="m", format="sklearn", framework="sklearn", inputs=[
        TensorSpec("ratio", "float64", value_range=(0.123456, 0.987654)),
        TensorSpec("temp", "float64", value_range=(-40.0, 50.0))])
    observed = pd.DataFrame({"temp": ["20.5", "21.5"]}, dtype=object)
    frame = generate_rows(info, 3000, seed=3, observed=observed)
    assert frame["ratio"].between(0.123456, 0.987654).all()
    assert _max_decimals(frame["ratio"]) <= 3
    # the model saw -40..50 in training: two observed rows do not narrow that
    assert frame["temp"].between(-40.0, 50.0).all() and (frame["temp"] < 20.5).any()
    assert _max_decimals(frame["temp"]) <= 1


def test_scale_hints_only_where_the_models_facts_agree() -> None:
    info = ModelInfo(path="m", format="sklearn", framework="sklearn", inputs=[
        TensorSpec("age", "float64", typical=(0.0, 0.05)),               # standardised: not years
        TensorSpec("pickup_hour", "float64", typical=(13.0, 6.0)),
        TensorSpec("month", "float64", value_range=(1.0, 12.0)),
        TensorSpec("hour", "float64", value_range=(100.0, 900.0))])      # not a clock: left alone
    frame = generate_rows(info, 2000, seed=4)
    assert frame["age"].dtype == np.float64 and (frame["age"] < 0).any()
    assert frame["pickup_hour"].dtype == np.int64 and frame["pickup_hour"].between(0, 23).all()
    assert frame["month"].dtype == np.int64 and set(frame["month"]) == set(range(1, 13))
    assert frame["hour"].dtype == np.float64 and frame["hour"].between(100.0, 900.0).all()


def test_generation_is_reproducible_per_seed_and_observed(ctr_info: ModelInfo) -> None:
    observed = read_rows(SAMPLES_DIR / "ctr_pipeline.rows.csv")
    a = generate_rows(ctr_info, 50, seed=7, observed=observed)
    pd.testing.assert_frame_equal(a, generate_rows(ctr_info, 50, seed=7, observed=observed))
    assert not a.equals(generate_rows(ctr_info, 50, seed=8, observed=observed))


def test_unknown_category_cells_name_the_known_categories(ctr_info: ModelInfo) -> None:
    from workbench.core.rows.categories import unknown_category_cells

    rows = read_rows(SAMPLES_DIR / "ctr_pipeline.rows.csv")
    rows.loc[2, "gender"] = "zz"
    rows.loc[4, "device"] = "tv"
    cells = unknown_category_cells(prepare_rows(rows, ctr_info), ctr_info)
    assert set(cells) == {(2, "gender"), (4, "device")}
    assert cells[(2, "gender")].startswith("'zz' is not a known category (known: 'f', 'm', 'u')")
    assert "'android', 'ios', 'web'" in cells[(4, "device")]
    assert unknown_category_cells(prepare_rows(read_rows(SAMPLES_DIR / "ctr_pipeline.rows.csv"), ctr_info),
                                  ctr_info) == {}
