"""`generate_rows`: plausible rows made up from a model's input schema (reproducible per seed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.core import limits
from workbench.core.errors import InputRowsError
from workbench.core.rows.dtypes import _FLOATS, _INT_LIMITS, _STRINGS
from workbench.core.rows.layout import feature_names, input_width, is_tensor_input
from workbench.core.types import ModelInfo, TensorSpec


def generate_rows(info: ModelInfo, n: int, seed: int = 0) -> pd.DataFrame:
    """Make `n` plausible rows from the model's input schema (reproducible for a given seed).

    Categorical inputs draw from their known categories. Numeric inputs use what the model knows
    (see `_generate`): a value range (MinMaxScaler, split thresholds, LightGBM, PMML intervals),
    a mean and standard deviation (StandardScaler, RobustScaler, SimpleImputer), or, when the
    model knows nothing (ONNX, Keras), a standard normal (floats) / 0..9 (integers), named in
    `frame.attrs["warnings"]`. Integer inputs get whole numbers. The columns are named as
    `prepare_rows` expects them.
    """
    if n < 1:
        raise InputRowsError(f"cannot generate {n} rows", hint="ask for at least one row")
    if not info.inputs:
        raise InputRowsError(f"the model {info.path} does not describe its inputs, so rows cannot be "
                             "generated")
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    guessed: list[str] = []
    tensors = [s for s in info.inputs if is_tensor_input(s)]
    # the widths are what the file declares ([None, 2**40] is 12 bytes of ONNX): count before making anything
    width_total = sum(input_width(s) or 0 for s in tensors) + len(info.inputs) - len(tensors)
    limits.GENERATED_CELLS.check(n * width_total, source=f"{n} rows x {width_total} columns")
    for spec in info.inputs:
        if spec not in tensors:
            data[spec.name] = _generate(spec, n, rng)
            if _unknown_values(spec):
                guessed.append(spec.name)
            continue
        width = input_width(spec)
        if width is None:
            raise InputRowsError(f"cannot generate rows for input {spec.name!r}: the model does not say how "
                                 f"many features it takes (shape {list(spec.shape or [])})")
        names = feature_names(info, spec) or [f"{spec.name}_{i}" for i in range(width)]
        for col in names:
            data[col] = _generate(spec, n, rng)
        if _unknown_values(spec):
            guessed.append(spec.name)
    frame = pd.DataFrame(data)
    if guessed:
        shown = ", ".join(guessed[:6]) + (f" and {len(guessed) - 6} more" if len(guessed) > 6 else "")
        message = (f"the model does not say what values input(s) {shown} take: they were drawn from a "
                   "standard normal (0..9 for integers), so predictions on these rows may be meaningless; "
                   "use real rows where you can")
        frame.attrs["warnings"] = [message]
    return frame


def _unknown_values(spec: TensorSpec) -> bool:
    numeric = spec.dtype not in _STRINGS and spec.dtype != "bool"
    return numeric and not spec.categories and spec.value_range is None and spec.typical is None


#: how many standard deviations from the mean generated values may go
TYPICAL_SPREAD = 2.0


def _numeric_draw(spec: TensorSpec, n: int, rng: np.random.Generator) -> np.ndarray | None:
    """Floats from what the model knows of the input's values; None when it knows nothing.

    With (mean, std): a normal clipped to mean +- 2 std (and to the value range, if known too).
    A positive mean less than 2 std from zero is what non-negative, skewed quantities look like
    (prices, counts, rates), where a normal would give impossible negative values: those draw from
    the log-normal with the same mean and std, clipped to (0, mean + 2 std]. With a range only:
    uniform over it.
    """
    if spec.typical is not None:
        mean, std = float(spec.typical[0]), abs(float(spec.typical[1]))
        lo, hi = mean - TYPICAL_SPREAD * std, mean + TYPICAL_SPREAD * std
        if mean > 0 and lo < 0:
            sigma2 = np.log1p((std / mean) ** 2)
            values = rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2), size=n)
            lo = 0.0
        else:
            values = rng.normal(mean, std, size=n)
        if spec.value_range is not None:
            lo, hi = max(lo, float(spec.value_range[0])), min(hi, float(spec.value_range[1]))
        return np.clip(values, lo, hi) if hi >= lo else values
    if spec.value_range is not None and np.isfinite(spec.value_range).all():
        lo, hi = float(spec.value_range[0]), float(spec.value_range[1])
        if np.isfinite(hi - lo):
            return rng.uniform(lo, hi if hi > lo else lo + 1.0, size=n)
    return None


def _generate(spec: TensorSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    dtype = spec.dtype
    if spec.categories:
        cats = list(spec.categories)
        picks = rng.integers(0, len(cats), size=n)
        return np.asarray([cats[i] for i in picks], dtype=object)
    if dtype in _STRINGS:
        return np.asarray([f"{spec.name}_{i}" for i in rng.integers(0, 3, size=n)], dtype=object)
    if dtype == "bool":
        return rng.integers(0, 2, size=n).astype(bool)
    if dtype in _INT_LIMITS:
        lo_limit, hi_limit = _INT_LIMITS[dtype]
        if spec.typical is not None:
            values = np.rint(_numeric_draw(spec, n, rng))
            return np.clip(values, max(lo_limit, -2.0**62), min(hi_limit, 2.0**62)).astype(dtype)
        known = spec.value_range is not None and bool(np.isfinite(spec.value_range).all())
        lo, hi = (int(np.ceil(spec.value_range[0])), int(np.floor(spec.value_range[1]))) if known else (0, 9)
        lo, hi = max(lo, lo_limit), min(hi, hi_limit)
        return rng.integers(lo, max(hi, lo) + 1, size=n).astype(dtype)
    np_dtype = dtype if dtype in _FLOATS else "float64"
    drawn = _numeric_draw(spec, n, rng)
    if drawn is not None:
        return drawn.astype(np_dtype)
    return rng.standard_normal(size=n).astype(np_dtype)
