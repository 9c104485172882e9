"""`generate_rows`: plausible rows made up from a model's input schema (reproducible per seed).

Plausible means: within what is known of the values (the model's value facts, rows already seen, the
usual scale of a clock or calendar column), whole numbers where the values are whole, and no more
digits than the values have (or, without rows, three significant digits of their spread): never an
hour of 25.39 or a price with 15 significant digits.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.core import limits
from workbench.core.errors import InputRowsError
from workbench.core.rows.dtypes import _FLOATS, _INT_LIMITS, _STRINGS
from workbench.core.rows.layout import feature_names, input_width, is_tensor_input
from workbench.core.types import ModelInfo, TensorSpec

#: how many standard deviations from the mean generated values may go
TYPICAL_SPREAD = 2.0
#: significant digits of a float's spread kept when no observed values say how many decimals it has
SIGNIFICANT_DIGITS = 3
#: at most this many decimals, whatever the observed values have
MAX_DECIMALS = 6
#: columns named like these (the whole name, or its last word: "pickup_hour") hold whole numbers on
#: this scale; used when the model's facts agree (its mean, or its range, lies within the scale)
SCALE_HINTS: dict[str, tuple[int, int]] = {
    "hour": (0, 23), "hours": (0, 23), "hod": (0, 23), "hour_of_day": (0, 23),
    "minute": (0, 59), "minutes": (0, 59), "second": (0, 59), "seconds": (0, 59),
    "month": (1, 12), "day_of_month": (1, 31), "dom": (1, 31),
    "weekday": (0, 6), "dow": (0, 6), "day_of_week": (0, 6), "dayofweek": (0, 6),
    "age": (0, 120), "age_years": (0, 120),
}


def generate_rows(info: ModelInfo, n: int, seed: int = 0, observed: pd.DataFrame | None = None) -> pd.DataFrame:
    """Make `n` plausible rows from the model's input schema (reproducible for a given seed).

    Categorical inputs draw from their known categories. Numeric inputs use what the model knows
    (see `_numeric_draw`): a value range (MinMaxScaler, split thresholds, LightGBM, PMML intervals),
    a mean and standard deviation (StandardScaler, RobustScaler, SimpleImputer), or, when the
    model knows nothing (ONNX, Keras) and nothing else is known, a standard normal (floats) / 0..9
    (integers), named in `frame.attrs["warnings"]`. Integer inputs get whole numbers. The columns
    are named as `prepare_rows` expects them.

    `observed`: rows of real data (the table the user already has; text or typed cells). Where the
    model does not know a column's range from its training data, values stay within the observed
    range; a column whose observed values are all whole gets whole numbers; values get the observed
    number of decimals (at most `MAX_DECIMALS`); text columns without categories draw from the
    observed texts. Without observed values, floats keep `SIGNIFICANT_DIGITS` significant digits of
    their spread, and a column named as in `SCALE_HINTS` (hour 0..23, month 1..12, age...) stays on
    that scale as whole numbers when the model's facts agree with it.
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
    seen = observed_columns(observed)
    for spec in info.inputs:
        if spec not in tensors:
            names = [spec.name]
        else:
            width = input_width(spec)
            if width is None:
                raise InputRowsError(f"cannot generate rows for input {spec.name!r}: the model does not say "
                                     f"how many features it takes (shape {list(spec.shape or [])})")
            names = feature_names(info, spec) or [f"{spec.name}_{i}" for i in range(width)]
        blind = False
        for col in names:
            data[col], guessing = _generate(spec, n, rng, col, seen.get(col))
            blind = blind or guessing
        if blind:
            guessed.append(spec.name)
    frame = pd.DataFrame(data)
    if guessed:
        shown = ", ".join(guessed[:6]) + (f" and {len(guessed) - 6} more" if len(guessed) > 6 else "")
        message = (f"the model does not say what values input(s) {shown} take: they were drawn from a "
                   "standard normal (0..9 for integers), so predictions on these rows may be meaningless; "
                   "use real rows where you can")
        frame.attrs["warnings"] = [message]
    return frame


# ------------------------------------------------------------------------------ what is known

@dataclass(frozen=True)
class Observed:
    """What rows of real data show about one column."""

    #: the numbers among its cells (finite), None when the column is not numeric
    numbers: np.ndarray | None
    #: its distinct non-empty texts, in first-seen order (for text columns)
    texts: tuple[str, ...]
    whole: bool = False
    decimals: int = 0


_MISSING = {"", "nan", "na", "n/a", "null", "none", "?"}


def observed_columns(frame: pd.DataFrame | None) -> dict[str, Observed]:
    """Per column of `frame`: its numbers (when every non-empty cell is one), whether they are all
    whole, and how many decimals they are written with."""
    if frame is None or len(frame) == 0:
        return {}
    out: dict[str, Observed] = {}
    for col in frame.columns:
        cells = [v for v in frame[col].tolist() if not _missing(v)]
        if not cells:
            continue
        texts = tuple(dict.fromkeys(str(v).strip() for v in cells))
        numbers, decimals = [], 0
        for v in cells:
            number = _number(v)
            if number is None:
                numbers = None
                break
            numbers.append(number)
            decimals = max(decimals, _decimals(v))
        if numbers is None:
            out[str(col)] = Observed(None, texts)
            continue
        arr = np.asarray(numbers, dtype=np.float64)
        out[str(col)] = Observed(arr, texts, whole=bool(np.all(arr == np.round(arr))),
                                 decimals=min(decimals, MAX_DECIMALS))
    return out


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in _MISSING


def _number(value: Any) -> float | None:
    if isinstance(value, bool | np.bool_):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


_EXPONENT = re.compile(r"[eE]([+-]?\d+)$")


def _decimals(value: Any) -> int:
    """How many decimals a cell is written with ("41.70" -> 2, "3" -> 0, 1.5e-3 -> 4)."""
    if isinstance(value, int | np.integer):
        return 0
    text = repr(float(value)) if isinstance(value, float | np.floating) else str(value).strip()
    exponent = 0
    match = _EXPONENT.search(text)
    if match:
        exponent = int(match.group(1))
        text = text[:match.start()]
    mantissa = len(text.split(".", 1)[1].rstrip("0")) if "." in text else 0
    if isinstance(value, float | np.floating) and float(value).is_integer():
        mantissa = 0
    return max(mantissa - exponent, 0)


def scale_hint(name: str) -> tuple[int, int] | None:
    """The scale of a column named like a clock or calendar field or an age (`SCALE_HINTS`)."""
    key = re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")
    if key in SCALE_HINTS:
        return SCALE_HINTS[key]
    last = key.rsplit("_", 1)[-1]
    return SCALE_HINTS.get(last)


def _hint_agrees(hint: tuple[int, int], spec: TensorSpec) -> bool:
    """The model's facts (if any) fit the hinted scale: its mean lies in it with a spread of the
    scale's size, or its range covers a good part of it (a standardised "age" around 0 does not)."""
    lo, hi = hint
    span = hi - lo
    if spec.typical is not None:
        mean, std = float(spec.typical[0]), abs(float(spec.typical[1]))
        return lo <= mean <= hi and 0.03 * span <= std <= span
    if spec.value_range is not None:
        a, b = float(spec.value_range[0]), float(spec.value_range[1])
        slack = 0.25 * span
        return a >= lo - slack and b <= hi + slack and b - a >= 0.25 * span
    return True


@dataclass
class _Plan:
    """How one numeric column is made: hard bounds, whole numbers or not, decimals."""

    lo: float = -math.inf
    hi: float = math.inf
    whole: bool = False
    decimals: int | None = None

    def narrow(self, lo: float, hi: float) -> None:
        new_lo, new_hi = max(self.lo, lo), min(self.hi, hi)
        if new_lo <= new_hi:  # facts that contradict each other: keep the earlier (more trusted) ones
            self.lo, self.hi = new_lo, new_hi

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.lo) and math.isfinite(self.hi)


def _plan(spec: TensorSpec, name: str, seen: Observed | None) -> _Plan:
    plan = _Plan(whole=spec.dtype in _INT_LIMITS)
    data_range = spec.value_range is not None and not spec.range_from_splits \
        and bool(np.isfinite(spec.value_range).all())
    if spec.value_range is not None and bool(np.isfinite(spec.value_range).all()):
        # split thresholds too: the draw is uniform over them, and rounding must not leave them
        plan.narrow(float(spec.value_range[0]), float(spec.value_range[1]))
    numbers = seen.numbers if seen is not None and seen.numbers is not None and seen.numbers.size else None
    if numbers is not None:
        if not data_range:
            plan.narrow(float(numbers.min()), float(numbers.max()))
        plan.whole = plan.whole or seen.whole  # type: ignore[union-attr]
        plan.decimals = seen.decimals  # type: ignore[union-attr]
    else:
        hint = scale_hint(name)
        if hint is not None and spec.dtype not in _STRINGS and _hint_agrees(hint, spec):
            plan.narrow(float(hint[0]), float(hint[1]))
            plan.whole = True
    if plan.whole:
        lo = math.ceil(plan.lo) if math.isfinite(plan.lo) else plan.lo
        hi = math.floor(plan.hi) if math.isfinite(plan.hi) else plan.hi
        if lo > hi:  # no whole number in between (e.g. a 0..0.5 range): keep fractions
            plan.whole = False
        else:
            plan.lo, plan.hi = lo, hi
    return plan


# ------------------------------------------------------------------------------ drawing

def _unknown_values(spec: TensorSpec) -> bool:
    numeric = spec.dtype not in _STRINGS and spec.dtype != "bool"
    return numeric and not spec.categories and spec.value_range is None and spec.typical is None


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


def _spread(spec: TensorSpec, plan: _Plan, drawn: np.ndarray) -> float:
    if spec.typical is not None and float(spec.typical[1]) > 0:
        return abs(float(spec.typical[1]))
    if plan.bounded and plan.hi > plan.lo:
        return (plan.hi - plan.lo) / 4
    std = float(np.std(drawn)) if drawn.size > 1 else 0.0
    return std if std > 0 else 1.0


def _fit(values: np.ndarray, spec: TensorSpec, plan: _Plan) -> np.ndarray:
    """Clip to the plan's bounds, then round (whole numbers, or a sensible number of decimals)."""
    values = np.clip(values, plan.lo, plan.hi)
    if plan.whole:
        return np.clip(np.rint(values), plan.lo, plan.hi)
    decimals = plan.decimals
    if decimals is None:
        spread = _spread(spec, plan, values)
        decimals = SIGNIFICANT_DIGITS - 1 - math.floor(math.log10(spread))
    decimals = max(0, min(int(decimals), MAX_DECIMALS + 4))
    rounded = np.round(values, decimals)
    quantum = 10.0 ** -decimals
    if math.isfinite(plan.lo):  # rounding must not leave the bounds
        lo = math.ceil(round(plan.lo / quantum, 6)) * quantum
        if lo <= plan.hi:
            rounded = np.where(rounded < plan.lo, round(lo, decimals), rounded)
    if math.isfinite(plan.hi):
        hi = math.floor(round(plan.hi / quantum, 6)) * quantum
        if hi >= plan.lo:
            rounded = np.where(rounded > plan.hi, round(hi, decimals), rounded)
    return rounded


def _generate(spec: TensorSpec, n: int, rng: np.random.Generator, name: str,
              seen: Observed | None) -> tuple[np.ndarray, bool]:
    """One column's values, and True when they were drawn blind (the model knows nothing of them)."""
    dtype = spec.dtype
    if spec.categories:
        cats = list(spec.categories)
        picks = rng.integers(0, len(cats), size=n)
        return np.asarray([cats[i] for i in picks], dtype=object), False
    if dtype in _STRINGS:
        texts = list(seen.texts) if seen is not None and seen.texts else \
            [f"{spec.name}_{i}" for i in range(3)]
        picks = rng.integers(0, len(texts) if seen is not None and seen.texts else 3, size=n)
        return np.asarray([texts[i] for i in picks], dtype=object), False
    if dtype == "bool":
        return rng.integers(0, 2, size=n).astype(bool), False
    plan = _plan(spec, name, seen)
    drawn = _numeric_draw(spec, n, rng)
    blind = False
    if drawn is not None and plan.bounded and spec.typical is not None:
        inside = (drawn >= plan.lo) & (drawn <= plan.hi)
        if not inside.any():  # the model's spread lies outside what is known for sure
            drawn = rng.uniform(plan.lo, plan.hi, size=n) if plan.hi > plan.lo else np.full(n, plan.lo)
    elif drawn is None and plan.bounded:
        numbers = seen.numbers if seen is not None else None
        if numbers is not None and numbers.size > 1 and float(numbers.std()) > 0:
            drawn = rng.normal(float(numbers.mean()), float(numbers.std()), size=n)  # like the observed rows
        elif plan.whole:
            drawn = rng.integers(int(plan.lo), int(plan.hi) + 1, size=n).astype(np.float64)
        else:
            drawn = rng.uniform(plan.lo, plan.hi, size=n) if plan.hi > plan.lo else np.full(n, plan.lo)
    if drawn is None:
        blind = True
        if dtype in _INT_LIMITS:
            lo_limit, hi_limit = _INT_LIMITS[dtype]
            drawn = rng.integers(max(0, lo_limit), min(9, hi_limit) + 1, size=n).astype(np.float64)
        else:
            drawn = rng.standard_normal(size=n)
    elif dtype in _INT_LIMITS and spec.typical is None and spec.value_range is not None and \
            not (seen is not None and seen.numbers is not None):
        # an integer input with a known range: every whole number in it equally likely
        lo, hi = int(math.ceil(max(plan.lo, spec.value_range[0]))), int(math.floor(min(plan.hi, spec.value_range[1])))
        drawn = rng.integers(lo, max(hi, lo) + 1, size=n).astype(np.float64)
    if blind:
        values = drawn if dtype in _INT_LIMITS else np.round(drawn, SIGNIFICANT_DIGITS)
    else:
        values = _fit(drawn, spec, plan)
    if dtype in _INT_LIMITS:
        lo_limit, hi_limit = _INT_LIMITS[dtype]
        return np.clip(values, max(lo_limit, -2.0**62), min(hi_limit, 2.0**62)).astype(dtype), blind
    if plan.whole:  # a float input whose values are whole numbers: shown as 7, not 7.0
        return values.astype(np.int64), blind
    return values.astype(dtype if dtype in _FLOATS else "float64"), blind
