"""Which columns of a rows frame feed which model input (scalar inputs, (None, k) tensors)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from workbench.core.errors import InputRowsError
from workbench.core.types import ModelInfo, TensorSpec

LAYOUT_ATTR = "workbench_layout"


def input_width(spec: TensorSpec) -> int | None:
    """How many columns feed this input per row: 1 for a scalar input, k for a (None, k) tensor.

    None means a (None, None) tensor whose width the model does not say. Raises InputRowsError for
    inputs of higher rank (images, sequences), which rows files cannot feed.
    """
    shape = spec.shape
    if shape is None or len(shape) <= 1:
        return 1
    if len(shape) == 2:
        return shape[1]
    raise InputRowsError(f"input {spec.name!r} has shape {list(shape)}: rows files can only feed inputs "
                         f"with one value or one vector per row")


def is_tensor_input(spec: TensorSpec) -> bool:
    """True when the input takes a vector of features per row rather than one value."""
    width = input_width(spec)
    return width is None or width > 1


def feature_names(info: ModelInfo, spec: TensorSpec) -> list[str] | None:
    """Column names for a tensor input if the model knows them (metadata `feature_names`)."""
    meta = info.metadata or {}
    per_input = meta.get("input_features")
    names = per_input.get(spec.name) if isinstance(per_input, dict) else None
    if names is None and sum(is_tensor_input(s) for s in info.inputs) == 1:
        names = meta.get("feature_names")
    if names is None:
        return None
    names = [str(n) for n in names]
    width = input_width(spec)
    if width is not None and len(names) != width:
        return None
    return names


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", str(name).lower())


def _match_column(name: str, columns: Sequence[str], taken: set[str]) -> str | None:
    if name in columns and name not in taken:
        return name
    candidates = [c for c in columns if c not in taken and _norm(c) == _norm(name) and _norm(name)]
    return candidates[0] if len(candidates) == 1 else None


_POSITIONAL_NAME = re.compile(r"^(x|f|feature_?|input_?|col_?|column_?)\d+$", re.IGNORECASE)


def _positional_layout(columns: list[str], info: ModelInfo,
                       tensors: list[TensorSpec]) -> dict[str, list[str]] | None:
    """Inputs named only by position (x0..xN-1, f0..fN-1: fitted without feature names) take the
    columns in file order, when no column carries an input's name and the counts agree."""
    if tensors or len(columns) != len(info.inputs):
        return None
    names = [s.name for s in info.inputs]
    if not all(_POSITIONAL_NAME.match(n) for n in names):
        return None
    if any(_match_column(n, columns, set()) is not None for n in names):
        return None
    return {name: [col] for name, col in zip(names, columns, strict=True)}


def plan_layout(columns: Sequence[str], info: ModelInfo, *,
                strict: bool | None = None) -> tuple[dict[str, list[str]], list[str]]:
    """Decide which columns feed which input; returns (layout, problems about columns).

    Columns no input takes (an id, a label, DataDictionary fields a PMML MiningSchema leaves out) are
    not problems (`extra_columns` names them, for a warning) unless `strict` (default:
    `strict_columns()`, the CLI's --strict), where each is refused."""
    if strict is None:
        strict = _STRICT[0]
    if not info.inputs:
        if info.loaded:  # --trust was given (or nothing needed it): saying "pass --trust" would mislead
            raise InputRowsError(f"the model {info.path} does not describe its inputs, so rows cannot be mapped",
                                 hint="fit the model on a DataFrame with named columns, or give rows whose "
                                      "columns are x0..xN-1 in the model's column order")
        raise InputRowsError(f"the model {info.path} does not describe its inputs, so rows cannot be mapped",
                             hint="for a pickle, pass --trust so the model can be loaded and inspected")
    columns = [str(c) for c in columns]
    layout: dict[str, list[str]] = {}
    problems: list[str] = []
    taken: set[str] = set()
    tensors = [s for s in info.inputs if is_tensor_input(s)]
    positional = _positional_layout(columns, info, tensors)
    if positional is not None:
        return positional, []
    for spec in info.inputs:
        if spec in tensors:
            continue
        col = _match_column(spec.name, columns, taken)
        if col is None:
            problems.append(f"missing column {spec.name!r} (model input, {spec.dtype})")
        else:
            layout[spec.name] = [col]
            taken.add(col)
    for spec in tensors:
        names = feature_names(info, spec)
        width = input_width(spec)
        if names is not None:
            found = []
            for n in names:
                col = _match_column(n, columns, taken)
                if col is None:
                    problems.append(f"missing column {n!r} (feature of input {spec.name!r}, {spec.dtype})")
                else:
                    found.append(col)
                    taken.add(col)
            layout[spec.name] = found
        elif len(tensors) == 1:
            rest = [c for c in columns if c not in taken]
            if width is not None and len(rest) != width:
                problems.append(f"input {spec.name!r} takes {width} features per row, the rows have "
                                f"{len(rest)} column(s) for it: {', '.join(map(repr, rest)) or 'none'}")
            layout[spec.name] = rest
            taken.update(rest)
        else:
            prefixed = [c for c in columns if c not in taken and c.startswith(f"{spec.name}_")]
            if width is not None and len(prefixed) != width:
                problems.append(f"missing columns {spec.name}_0 .. {spec.name}_{(width or 1) - 1} "
                                f"(input {spec.name!r} takes {width} features per row)")
            layout[spec.name] = prefixed
            taken.update(prefixed)
    if strict:
        for col in columns:
            if col not in taken:
                problems.append(f"unexpected column {col!r} (not a model input: remove it)")
    return layout, problems


#: process-wide default of `plan_layout`'s `strict` (set by the CLI's --strict for one command)
_STRICT = [False]


def set_strict_columns(strict: bool) -> None:
    """Refuse columns no model input takes (--strict), or ignore them with a warning (the default)."""
    _STRICT[0] = bool(strict)


def strict_columns() -> bool:
    return _STRICT[0]


def extra_columns(columns: Sequence[str], layout: dict[str, list[str]]) -> list[str]:
    """Columns of the rows that no model input takes, in file order."""
    used = {c for cols in layout.values() for c in cols}
    return [str(c) for c in columns if str(c) not in used]


def extra_columns_warning(extra: Sequence[str]) -> str | None:
    """The warning that names ignored columns, or None."""
    if not extra:
        return None
    shown = ", ".join(repr(c) for c in extra[:10]) + (f" and {len(extra) - 10} more" if len(extra) > 10 else "")
    return (f"ignored {len(extra)} column{'s' if len(extra) != 1 else ''} the model does not take: {shown} "
            "(pass --strict to refuse them)")


def layout_of(frame: pd.DataFrame, info: ModelInfo) -> dict[str, list[str]]:
    """The column layout of a prepared frame (recomputed from the model if attrs were lost)."""
    layout = frame.attrs.get(LAYOUT_ATTR)
    if layout:
        return layout
    layout, problems = plan_layout(list(frame.columns), info)
    if problems:
        raise InputRowsError("; ".join(problems), problems)
    return layout
