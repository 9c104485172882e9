"""The arrays a runtime feeds each input, read from a prepared frame (`FeedPlan`, `FeedPlans`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.errors import InputRowsError
from workbench.core.rows.dtypes import _STRINGS
from workbench.core.rows.layout import LAYOUT_ATTR, is_tensor_input, layout_of
from workbench.core.types import ModelInfo, TensorSpec

_GET_COLUMN_ARRAY = getattr(pd.DataFrame, "_get_column_array", None)


def column_values(frame: pd.DataFrame, position: int) -> np.ndarray:
    """The values of the column at `position` as a read-only numpy array (a view when possible).

    Unlike `frame[col].to_numpy()` this builds no Series: pandas deep-copies `frame.attrs` into
    every object it derives from a frame, which made each column read cost ~5 us. Read-only like
    pandas' own `to_numpy()` views, so a runtime cannot change the caller's rows by accident.
    """
    arr: Any = None
    if _GET_COLUMN_ARRAY is not None:
        try:
            arr = _GET_COLUMN_ARRAY(frame, position)
        except (AttributeError, IndexError, TypeError, ValueError):  # another pandas: use the public path
            arr = None
    if arr is None:
        return frame.iloc[:, position].to_numpy()
    if type(arr) is not np.ndarray:  # an ExtensionArray (nullable ints, pandas strings, categoricals)
        return np.asarray(arr.to_numpy() if hasattr(arr, "to_numpy") else arr)
    view = arr.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True)
class FeedPlan:
    """Which column positions of a prepared frame feed each input, decided once per column set.

    `inputs` holds (input spec, column positions, whether the input takes a vector per row).
    `arrays(frame)` then reads the columns by position, with no per-call layout or pandas lookups.
    """

    columns: tuple[str, ...]
    inputs: tuple[tuple[TensorSpec, tuple[int, ...], bool], ...]

    def arrays(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The arrays to feed each input: (N,) for scalar inputs, (N, k) for tensors."""
        out: dict[str, np.ndarray] = {}
        everything = tuple(range(len(self.columns)))
        for spec, positions, tensor in self.inputs:
            if not tensor:
                out[spec.name] = column_values(frame, positions[0])
                continue
            dtype = object if spec.dtype in _STRINGS else spec.dtype
            if not positions:
                out[spec.name] = np.empty((len(frame), 0))
            elif positions == everything:  # the usual ONNX/Keras case: one matrix, one pandas call
                out[spec.name] = frame.to_numpy().astype(dtype)
            else:
                out[spec.name] = np.column_stack([column_values(frame, j) for j in positions]).astype(dtype)
        return out


def feed_plan(frame: pd.DataFrame, info: ModelInfo) -> FeedPlan:
    """The `FeedPlan` of a prepared frame (its layout from attrs, or recomputed from the model)."""
    layout = layout_of(frame, info)
    columns = tuple(str(c) for c in frame.columns)
    position = {c: j for j, c in enumerate(columns)}
    missing = [c for cols in layout.values() for c in cols if c not in position]
    if missing:
        raise InputRowsError(f"the rows have no column {missing[0]!r}: prepare them for this model first",
                             hint="rows go through prepare_rows before predicting")
    plan = []
    for spec in info.inputs:
        cols = layout.get(spec.name, [])
        tensor = is_tensor_input(spec)
        if not tensor and not cols:
            raise InputRowsError(f"the rows have no column for input {spec.name!r}: prepare them for this "
                                 "model first")
        plan.append((spec, tuple(position[c] for c in cols), tensor))
    return FeedPlan(columns, tuple(plan))


class FeedPlans:
    """`feed_plan` cached per column set, for a session that predicts many frames of the same rows.

    The cache is keyed on the frame's (immutable) column Index: frames sliced or copied from one
    prepared frame share it (`Index.is_`: the same Index or a view of it), which is recognised
    without comparing column names; other frames are looked up by their column names.
    """

    def __init__(self, info: ModelInfo) -> None:
        self.info = info
        self._last: tuple[Any, FeedPlan] | None = None  # (column Index, its plan): one attribute, thread-safe
        self._by_columns: dict[tuple[str, ...], FeedPlan] = {}

    def plan(self, frame: pd.DataFrame) -> FeedPlan:
        """The plan for `frame`'s columns (computed on the first frame with these columns)."""
        index = frame.columns
        last = self._last
        if last is not None and (index is last[0] or index.is_(last[0])):
            return last[1]
        key = tuple(str(c) for c in index)
        plan = self._by_columns.get(key)
        layout = frame.attrs.get(LAYOUT_ATTR)
        if plan is None or (layout and _layout_differs(plan, layout)):
            plan = feed_plan(frame, self.info)
            if len(self._by_columns) > 64:
                self._by_columns.clear()
            self._by_columns[key] = plan
        self._last = (index, plan)  # holding the Index keeps its identity unique
        return plan

    def arrays(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """`input_arrays` through the cached plan."""
        return self.plan(frame).arrays(frame)


def _layout_differs(plan: FeedPlan, layout: dict[str, list[str]]) -> bool:
    return any(list(layout.get(spec.name, [])) != [plan.columns[j] for j in positions]
               for spec, positions, _ in plan.inputs)


def input_arrays(frame: pd.DataFrame, info: ModelInfo) -> dict[str, np.ndarray]:
    """The arrays to feed each input of a prepared frame: (N,) for scalar inputs, (N, k) for tensors.

    Scalar inputs come back as read-only views of the frame's columns, tensors as new arrays.
    Sessions that predict many frames keep a `FeedPlans` instead of calling this each time.
    """
    return feed_plan(frame, info).arrays(frame)


def category_codes(values: np.ndarray, categories: tuple[Any, ...] | list[Any]) -> np.ndarray:
    """Each value's index in `categories` (the model's training categories, in their order), -1 for
    missing and unknown values: the codes of a pandas Categorical with exactly these categories."""
    from workbench.core.rows.categories import natural_level

    index: dict[Any, int] = {}
    for code, level in enumerate(categories):
        index.setdefault(_code_key(natural_level(level)), code)
    out = np.full(len(values), -1, dtype=np.int64)
    for i, value in enumerate(np.asarray(values, dtype=object).tolist()):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            continue
        out[i] = index.get(_code_key(natural_level(value)), -1)
    return out


def _code_key(level: Any) -> Any:
    """Whole numbers match across int/float (8 and 8.0); text matches text only ('8' is not 8)."""
    if isinstance(level, bool):
        return ("bool", level)
    if isinstance(level, int | float):
        return ("number", float(level))
    return ("text", str(level))


def categorical_frame(frame: pd.DataFrame, info: ModelInfo, numeric_dtype: Any = np.float64) -> pd.DataFrame:
    """A prepared frame as the DataFrame a tree library takes with categorical features: one column
    per input, named like the input, categorical inputs as pandas Categoricals with the model's own
    training categories (so the library maps values to the codes it was trained on; unknown and
    missing values have no code), other inputs as `numeric_dtype`."""
    arrays = input_arrays(frame, info)
    columns: dict[str, Any] = {}
    for spec in info.inputs:
        arr = arrays[spec.name]
        if spec.categories and spec.description == "category":
            dtype = pd.CategoricalDtype(categories=list(spec.categories), ordered=False)
            columns[spec.name] = pd.Categorical.from_codes(category_codes(arr, spec.categories), dtype=dtype)
        else:
            columns[spec.name] = np.asarray(arr, dtype=numeric_dtype)
    return pd.DataFrame(columns, index=frame.index)
