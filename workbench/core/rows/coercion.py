"""Coercing cell values to an input's dtype, and the `CellProblem` each bad value becomes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.rows.dtypes import _FLOATS, _INT_LIMITS, _STRINGS, _article
from workbench.core.types import TensorSpec

#: text that means "no value" in a numeric or boolean column (compared case-insensitively)
MISSING_TOKENS = frozenset({"", "na", "nan", "n/a", "null", "none", "?", "-nan"})

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


@dataclass(frozen=True)
class CellProblem:
    """One value that cannot be given to the model. `row` counts data rows from 1 (header excluded)."""

    row: int
    column: str
    value: Any
    expected: str
    reason: str = ""

    def __str__(self) -> str:
        what = self.reason or f"{self.value!r} is not {_article(self.expected)}"
        return f"row {self.row}, column {self.column!r}: {what}"


class _UnusableNumber(ValueError):
    """A number the model cannot use (infinite, or beyond its float type), with the reason to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _check_finite(number: float, value: Any, dtype: str) -> float:
    """`number` if the model can use it; infinity and values beyond `dtype`'s range are refused
    (models answer NaN, or their library raises an error that does not name the cell)."""
    if not np.isfinite(number):
        text = str(value).strip().lower().lstrip("+-")
        what = "is infinite" if text in ("inf", "infinity") or not isinstance(value, str) \
            else "is beyond the largest float64 (it reads as infinite)"
        raise _UnusableNumber(f"{value!r} {what}: give a finite number")
    if dtype in ("float16", "float32") and abs(number) > float(np.finfo(dtype).max):
        raise _UnusableNumber(f"{value!r} is too large for {dtype} (largest {float(np.finfo(dtype).max):.4g}): "
                              "it would become infinite")
    return number


def _is_missing(value: Any, *, text_is_missing: bool) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    if isinstance(value, np.floating) and np.isnan(value):
        return True
    if isinstance(value, str):
        token = value.strip().lower()
        return token == "" if not text_is_missing else token in MISSING_TOKENS
    return False


def coerce_column(values: Sequence[Any], column: str, spec: TensorSpec,
                  row_offset: int = 1) -> tuple[np.ndarray, list[CellProblem]]:
    """Coerce one column's values to `spec.dtype`; returns the array and every bad cell."""
    dtype = spec.dtype
    fast = _coerce_numeric_array(values, column, spec, row_offset)
    if fast is not None:
        return fast
    problems: list[CellProblem] = []
    is_text = dtype in _STRINGS
    out: list[Any] = []
    any_missing = False
    for i, value in enumerate(values.tolist() if isinstance(values, np.ndarray | pd.Series) else values):
        if _is_missing(value, text_is_missing=not is_text):
            if not spec.accepts_missing:
                problems.append(CellProblem(i + row_offset, column, value, dtype,
                                            f"missing value, but input {spec.name!r} does not accept missing "
                                            f"values (expected {_article(dtype)})"))
            out.append(None)
            any_missing = True
            continue
        try:
            out.append(_coerce_value(value, dtype))
        except _UnusableNumber as exc:
            problems.append(CellProblem(i + row_offset, column, value, dtype, exc.reason))
            out.append(None)
        except (ValueError, TypeError, OverflowError):
            problems.append(CellProblem(i + row_offset, column, value, dtype, _not_a_category(value, spec)))
            out.append(None)
    return _to_array(out, dtype, any_missing), problems


def _not_a_category(value: Any, spec: TensorSpec) -> str:
    """For a categorical input: the value is none of its categories (listed); "" for other inputs."""
    if not spec.categories or spec.description != "category":
        return ""
    from workbench.core.rows.categories import SHOWN_LEVELS, natural_level

    shown = ", ".join(repr(natural_level(v)) for v in spec.categories[:SHOWN_LEVELS])
    more = f", ... ({len(spec.categories)} levels)" if len(spec.categories) > SHOWN_LEVELS else ""
    return f"{value!r} is not a known category of input {spec.name!r} (known: {shown}{more})"


def _coerce_numeric_array(values: Any, column: str, spec: TensorSpec,
                          row_offset: int) -> tuple[np.ndarray, list[CellProblem]] | None:
    """Vectorised coercion of an already numeric column (typed frames); None when it does not apply."""
    if not isinstance(values, np.ndarray | pd.Series):
        return None
    arr = np.asarray(values)
    dtype = spec.dtype
    if arr.dtype == object and dtype in _FLOATS[1:]:
        # CSV text: one float() per cell; any blank, NaN or bad cell takes the cell-by-cell path
        try:
            parsed = np.asarray([float(v) if isinstance(v, str) else _reject(v) for v in arr.tolist()],
                                dtype=np.float64)
        except (ValueError, TypeError, OverflowError):
            return None
        return (parsed.astype(dtype), []) if _all_usable(parsed, dtype) else None
    if arr.dtype.kind == "b" and dtype == "bool":
        return arr.astype(bool), []
    if arr.dtype.kind not in "fiu" or dtype not in _FLOATS[1:] + tuple(_INT_LIMITS):
        return None
    if arr.dtype.kind == "f" and not _all_usable(arr[~np.isnan(arr)], dtype if dtype in _FLOATS else "float64"):
        return None  # infinite or too large: the cell-by-cell path names each one
    problems: list[CellProblem] = []
    missing = np.isnan(arr) if arr.dtype.kind == "f" else np.zeros(len(arr), dtype=bool)
    if dtype in _INT_LIMITS:
        present = arr[~missing]
        lo, hi = _INT_LIMITS[dtype]
        if present.size and (not np.all(np.mod(present, 1) == 0) or present.min() < lo or present.max() > hi):
            return None  # let the cell-by-cell path name the bad values
        out = arr.astype(np.float64 if missing.any() else dtype)
    else:
        out = arr.astype(dtype)
    if missing.any() and not spec.accepts_missing:
        for i in np.flatnonzero(missing):
            problems.append(CellProblem(int(i) + row_offset, column, float("nan"), dtype,
                                        f"missing value, but input {spec.name!r} does not accept missing "
                                        f"values (expected {_article(dtype)})"))
    return out, problems


def _all_usable(arr: np.ndarray, dtype: str) -> bool:
    """No NaN, no infinity and nothing beyond `dtype`'s range in a float64 array."""
    if not np.isfinite(arr).all():
        return False
    return dtype not in ("float16", "float32") or not arr.size or float(np.abs(arr).max()) <= float(
        np.finfo(dtype).max)


def _reject(value: Any) -> float:
    """Non-text values leave the float() fast path (the cell-by-cell path judges them)."""
    raise TypeError(type(value).__name__)


def _coerce_value(value: Any, dtype: str) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if dtype in _STRINGS:
        if isinstance(value, list | dict):
            raise TypeError("not a scalar")
        if isinstance(value, float) and value.is_integer():
            return str(int(value)) if abs(value) < 1e15 else str(value)
        return str(value) if not isinstance(value, bytes) else value.decode("utf-8")
    if dtype == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        token = str(value).strip().lower()
        if token in _TRUE:
            return True
        if token in _FALSE:
            return False
        raise ValueError(value)
    if isinstance(value, bool) or isinstance(value, list | dict):
        raise TypeError("not a number")
    number = float(value.strip()) if isinstance(value, str) else float(value)
    if dtype in _INT_LIMITS:
        if not number.is_integer():
            raise ValueError(value)
        as_int = int(value.strip()) if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value) \
            else int(number)
        lo, hi = _INT_LIMITS[dtype]
        if not lo <= as_int <= hi:
            raise OverflowError(value)
        return as_int
    return _check_finite(number, value, dtype)


def _to_array(out: list[Any], dtype: str, any_missing: bool) -> np.ndarray:
    if dtype in _STRINGS:
        return np.asarray(out, dtype=object)
    if dtype == "bool":
        if any_missing:
            return np.asarray(out, dtype=object)
        return np.asarray([bool(v) for v in out], dtype=bool)
    if dtype in _INT_LIMITS:
        if any_missing or any(v is None for v in out):
            return np.asarray([np.nan if v is None else v for v in out], dtype=np.float64)
        return np.asarray(out, dtype=dtype)
    np_dtype = dtype if dtype in _FLOATS else "float64"
    return np.asarray([np.nan if v is None else v for v in out], dtype=np_dtype)
