"""`prepare_rows`: fit rows to a model's inputs, or raise one `InputRowsError` listing every problem."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.errors import InputRowsError
from workbench.core.rows.categories import category_warnings, unknown_categories
from workbench.core.rows.coercion import CellProblem, coerce_column
from workbench.core.rows.layout import LAYOUT_ATTR, extra_columns, extra_columns_warning, plan_layout
from workbench.core.rows.reading import _clip, separator_hint
from workbench.core.types import ModelInfo

#: how many problems the one-line message shows (the exception's `problems` has them all)
MESSAGE_PROBLEMS = 8


def prepare_rows(frame: pd.DataFrame, info: ModelInfo) -> pd.DataFrame:
    """Fit rows to the model's inputs: map columns by name and coerce every value to its dtype.

    Returns a new frame with the feeding columns in input order and typed values (strings as
    Python str, missing values as NaN/None where the input accepts them), and
    `attrs["workbench_layout"]` = {input name: [columns]}. Raises `InputRowsError` whose
    `problems` lists every missing or unexpected column and every bad cell (row, column, value,
    expected type); `cells` holds the bad cells as `CellProblem`.
    """
    if len(frame) == 0:
        raise InputRowsError("no rows to predict", hint="give at least one row")
    layout, column_problems = plan_layout(list(frame.columns), info)
    specs = {s.name: s for s in info.inputs}
    cells: list[CellProblem] = []
    columns: dict[str, np.ndarray] = {}
    for name, cols in layout.items():
        spec = specs[name]
        for col in cols:
            values = frame[col] if col in frame.columns else frame[_find(frame, col)]
            array, bad = coerce_column(values, col, spec)
            columns[col] = array
            cells.extend(bad)
    sep = separator_hint(list(frame.columns)) if column_problems else None
    if sep is not None:
        shown_sep = {"\t": "tab"}.get(sep, repr(sep))
        name = str(frame.columns[0])
        raise InputRowsError(
            f"the file seems to use {shown_sep} as separator: its header {_clip(name)!r} was read as a "
            f"single column, so none of the model's columns were found", column_problems,
            hint=f"save the rows with commas as separator, or check that every line uses {shown_sep} "
                 "the same way")
    if column_problems and _looks_like_data(list(frame.columns)):
        header = ",".join(s.name for s in info.inputs)
        raise InputRowsError(
            f"the first line of the rows ({_clip(','.join(map(str, frame.columns)))!r}) looks like data, not a "
            "header: a rows file starts with a line naming its columns", column_problems,
            hint=f"add a header line first, e.g. {_clip(header)}")
    unknown = unknown_categories(columns, layout, info)
    rejected = [u for u in unknown if u.rejected]
    for u in rejected:
        cells.extend(CellProblem(row, u.column, u.value, specs[u.input].dtype, u.reason()) for row in u.rows)
    if column_problems or cells:
        position = {col: j for j, col in enumerate(str(c) for c in frame.columns)}
        cells.sort(key=lambda c: (c.row, position.get(c.column, 0)))
        problems = column_problems + [str(c) for c in cells]
        shown = "; ".join(problems[:MESSAGE_PROBLEMS])
        more = f"; and {len(problems) - MESSAGE_PROBLEMS} more" if len(problems) > MESSAGE_PROBLEMS else ""
        what = _summary(column_problems, cells)
        counted = "records are counted from 1" if frame.attrs.get("format") == "json" \
            else "rows are counted from 1, header excluded"
        error = InputRowsError(f"{what}: {shown}{more}", problems, hint=None if not cells else counted)
        error.cells = cells  # type: ignore[attr-defined]
        raise error
    order = [c for name in (s.name for s in info.inputs) for c in layout.get(name, [])]
    out = pd.DataFrame({c: pd.Series(columns[c], index=frame.index,
                                     dtype=object if columns[c].dtype == object else columns[c].dtype)
                        for c in order}, index=frame.index)
    out.attrs[LAYOUT_ATTR] = {k: list(v) for k, v in layout.items()}
    warnings = category_warnings(unknown)
    ignored = extra_columns_warning(extra_columns(list(frame.columns), layout))
    if ignored:
        warnings.insert(0, ignored)
    if warnings:
        out.attrs["warnings"] = warnings
    return out


def _find(frame: pd.DataFrame, col: str) -> Any:
    for c in frame.columns:
        if str(c) == col:
            return c
    raise KeyError(col)


_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?(\.\d+)?\s*$")  # pandas adds .1 to repeats


def _looks_like_data(columns: list[object]) -> bool:
    """True when every column name is a number: the file's first line is a row, not a header."""
    return bool(columns) and all(_NUMBER.match(str(c)) for c in columns)


def _summary(column_problems: list[str], cells: list[CellProblem]) -> str:
    parts = []
    if column_problems:
        parts.append(f"{len(column_problems)} column problem{'s' if len(column_problems) != 1 else ''}")
    if cells:
        parts.append(f"{len(cells)} bad value{'s' if len(cells) != 1 else ''}")
    return "the rows do not fit the model (" + ", ".join(parts) + ")"
