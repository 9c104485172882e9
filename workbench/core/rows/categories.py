"""Values of categorical inputs that the model was not fitted on: found, judged and warned about."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.rows.layout import LAYOUT_ATTR, is_tensor_input
from workbench.core.types import ModelInfo, TensorSpec

#: how many rows of one unknown value, and how many known levels, a warning names
SHOWN_ROWS = 5
SHOWN_LEVELS = 12
#: how many unknown-category warnings at most (one per column and value); the rest are summed up
MAX_CATEGORY_WARNINGS = 20


@dataclass(frozen=True)
class UnknownCategory:
    """A value of a categorical input that is not one of the levels the model was fitted on.

    `rows` count data rows from 1; `rejected` is True when the model is known to refuse unknown
    levels (an encoder with handle_unknown='error', a PMML field with invalidValueTreatment
    'returnInvalid'), False when it encodes them as "unknown" (e.g. an all-zero one-hot).
    """

    input: str
    column: str
    value: Any
    rows: tuple[int, ...]
    known: tuple[Any, ...]
    rejected: bool = False
    one_hot: bool = False
    #: what the model's library does with the value, where the workbench knows it
    treatment: str = ""

    def _where(self) -> str:
        rows = ", ".join(str(r) for r in self.rows[:SHOWN_ROWS])
        more = f" and {len(self.rows) - SHOWN_ROWS} more" if len(self.rows) > SHOWN_ROWS else ""
        return f"row{'s' if len(self.rows) > 1 else ''} {rows}{more}, column {self.column!r}"

    def _levels(self) -> str:
        shown = ", ".join(repr(natural_level(v)) for v in self.known[:SHOWN_LEVELS])
        more = f", ... ({len(self.known)} levels)" if len(self.known) > SHOWN_LEVELS else ""
        return f"known: {shown}{more}"

    def reason(self) -> str:
        """Why the value is a problem (without the row and column)."""
        what = f"{natural_level(self.value)!r} is not a known category ({self._levels()})"
        if self.treatment:
            return f"{what}: {self.treatment}"
        if self.rejected:
            return f"{what}: the model rejects unknown categories"
        treat = "an all-zero one-hot encoding" if self.one_hot else "an unseen category"
        return f"{what}: the model will treat it as unknown ({treat})"

    def __str__(self) -> str:
        return f"{self._where()}: {self.reason()}"


def natural_level(value: Any) -> Any:
    """A category value as plain Python (numpy scalars unwrapped, whole floats as ints)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _level_key(value: Any) -> str:
    from workbench.core.predictions import canonical_label

    return canonical_label(value)


def rejects_unknown_categories(info: ModelInfo, spec: TensorSpec) -> bool:
    """True when the model is known to refuse a value of `spec` outside its categories.

    Runtimes that loaded the model list such inputs in `metadata["rejects_unknown_categories"]`
    (scikit-learn encoders with handle_unknown='error'); PMML says it per field in its mining
    schema (invalidValueTreatment, 'returnInvalid' by default).
    """
    meta = info.metadata or {}
    if info.format == "xgboost" and spec.description == "category":
        return True  # XGBoost raises "Found a category not in the training set"
    listed = meta.get("rejects_unknown_categories")
    if isinstance(listed, list | tuple | set) and spec.name in listed:
        return True
    if info.format == "pmml":
        dictionary = meta.get("data_dictionary")
        declared = dictionary.get(spec.name) if isinstance(dictionary, dict) else None
        if isinstance(declared, dict) and declared.get("optype") == "continuous":
            return False  # valid values listed for a number: not a closed set of levels
        for field in meta.get("mining_schema") or []:
            if isinstance(field, dict) and field.get("name") == spec.name:
                return (field.get("invalidValueTreatment") or "returnInvalid") == "returnInvalid"
    return False


def unknown_categories(columns: dict[str, np.ndarray], layout: dict[str, list[str]],
                       info: ModelInfo) -> list[UnknownCategory]:
    """Every (column, value) of a categorical input that the model does not know, with its rows.

    `columns` are coerced values by column name (as `prepare_rows` builds them); missing values
    are not categories and are skipped.
    """
    found: list[UnknownCategory] = []
    one_hot = info.format in ("sklearn", "skops")
    for spec in info.inputs:
        if not spec.categories or is_tensor_input(spec):
            continue
        known_keys = {_level_key(v) for v in spec.categories}
        rejected = rejects_unknown_categories(info, spec)
        treatment = _treatment(info, spec, rejected)
        for col in layout.get(spec.name, []):
            values = columns.get(col)
            if values is None:
                continue
            for value in pd.unique(np.asarray(values)).tolist():  # each distinct value judged once
                if value is None or (isinstance(value, float) and np.isnan(value)):
                    continue
                if _level_key(value) in known_keys:
                    continue
                where = np.flatnonzero(np.asarray(values == value, dtype=bool)) + 1
                found.append(UnknownCategory(spec.name, col, value, tuple(int(r) for r in where),
                                             tuple(spec.categories), rejected=rejected, one_hot=one_hot,
                                             treatment=treatment))
    return found


def _treatment(info: ModelInfo, spec: TensorSpec, rejected: bool) -> str:
    """What the native tree libraries do with a value outside a categorical input's training categories."""
    if spec.description != "category":
        return ""
    if info.format == "xgboost" and rejected:
        return ("XGBoost refuses categories not in the training set: give one of the known categories, "
                "or leave the cell empty (missing)")
    if info.format == "lightgbm" or "LGBM" in str((info.metadata or {}).get("estimator") or ""):
        return "LightGBM treats it as a missing value (as it does for a pandas category it was not trained on)"
    return ""


def category_warnings(unknown: Sequence[UnknownCategory]) -> list[str]:
    """One warning per accepted unknown (column, value), at most `MAX_CATEGORY_WARNINGS`."""
    accepted = [u for u in unknown if not u.rejected]
    out = [str(u) for u in accepted[:MAX_CATEGORY_WARNINGS]]
    rest = accepted[MAX_CATEGORY_WARNINGS:]
    if rest:
        columns = sorted({u.column for u in rest})
        out.append(f"and {len(rest)} more unknown categories in column(s) {', '.join(map(repr, columns))}")
    return out


def unknown_category_cells(prepared: pd.DataFrame, info: ModelInfo) -> dict[tuple[int, str], str]:
    """(row counted from 0, column) -> why, for every cell of `prepared` (a `prepare_rows` result)
    that holds a category the model does not know; the reason names the known categories.

    `prepare_rows` refuses rows with categories the model rejects; the ones it accepts (and treats
    as unknown) are only warned about, so an editor marks them cell by cell with this.
    """
    layout = prepared.attrs.get(LAYOUT_ATTR) or {}
    columns = {str(c): prepared[c].to_numpy() for c in prepared.columns}
    out: dict[tuple[int, str], str] = {}
    for u in unknown_categories(columns, layout, info):
        for row in u.rows:
            out[(row - 1, u.column)] = u.reason()
    return out
