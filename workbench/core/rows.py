"""Feature rows: read them from CSV/JSON, fit them to a model's inputs, or make them up.

`read_rows` keeps every CSV cell as text, so that `prepare_rows` can report each bad cell with the
value the user wrote. `prepare_rows` maps columns to `ModelInfo.inputs` by name, coerces each value
to the input's dtype, and raises one `InputRowsError` listing every problem at once.

An input is either one column per row (shape `(None,)` or `(None, 1)`, the usual case for
scikit-learn and PMML models), or a tensor of k features per row (shape `(None, k)`, the usual case
for ONNX and Keras models), which takes k columns. The prepared frame records which columns feed
which input in `frame.attrs["workbench_layout"]`; `input_arrays` turns it into the arrays a runtime
feeds.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.errors import InputRowsError
from workbench.core.types import ModelInfo, TensorSpec

LAYOUT_ATTR = "workbench_layout"
#: text that means "no value" in a numeric or boolean column (compared case-insensitively)
MISSING_TOKENS = frozenset({"", "na", "nan", "n/a", "null", "none", "?", "-nan"})
#: how many problems the one-line message shows (the exception's `problems` has them all)
MESSAGE_PROBLEMS = 8

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
_INT_LIMITS = {name: (int(np.iinfo(name).min), int(np.iinfo(name).max))
               for name in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")}
_FLOATS = ("float16", "float32", "float64")
_STRINGS = ("string", "object", "str")


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


# --------------------------------------------------------------------------------------- reading

def read_rows(path: str | Path) -> pd.DataFrame:
    """Read feature rows from a CSV file (any of , ; tab | as separator) or JSON records.

    JSON may be a list of records, or an object with `instances` / `rows` (records), `inputs`
    (columns) or pandas' split layout (`columns` + `data`). CSV cells are kept as text.
    Raises `InputRowsError` for a missing, empty, header-only, binary or malformed file.
    """
    p = Path(path)
    if not p.exists():
        raise InputRowsError(f"rows file not found: {p}")
    if p.is_dir():
        raise InputRowsError(f"rows file {p} is a folder, not a CSV or JSON file")
    data = p.read_bytes()
    if not data.strip():
        raise InputRowsError(f"rows file {p} is empty",
                             hint="give a CSV with a header line and one row per line")
    if b"\x00" in data[:8192]:
        raise InputRowsError(f"rows file {p} is not CSV or JSON (binary content)",
                             hint="give a CSV with a header line, or JSON records")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputRowsError(f"rows file {p} is not UTF-8 text (byte {exc.start})",
                             hint="save it as UTF-8 CSV") from None
    head = text.lstrip()[:1]
    if p.suffix.lower() in (".jsonl", ".ndjson"):
        frame = _read_json_lines(p, text)
    elif p.suffix.lower() == ".json" or head in ("[", "{"):
        frame = _read_json(p, text)
    elif head == "<":
        raise InputRowsError(f"rows file {p} is XML/HTML, not CSV or JSON rows",
                             hint="give a CSV with a header line, or JSON records")
    else:
        frame = _read_csv(p, text)
    if len(frame) == 0:
        raise InputRowsError(f"rows file {p} has a header but no rows", hint="add at least one row")
    frame.attrs["source"] = str(p)
    return frame


def _read_csv(p: Path, text: str) -> pd.DataFrame:
    lines = text.splitlines()
    delimiter = "\t" if p.suffix.lower() == ".tsv" else _sniff_delimiter(lines[:20])
    try:
        records = list(csv.reader(io.StringIO(text), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise InputRowsError(f"rows file {p} is not valid CSV: {exc}") from None
    records = [r for r in records if r and any(c.strip() for c in r)]
    if not records:
        raise InputRowsError(f"rows file {p} is empty")
    header = [h.strip() for h in records[0]]
    if any(not h for h in header):
        blank = [i + 1 for i, h in enumerate(header) if not h]
        raise InputRowsError(f"rows file {p} is not a CSV with a header line: column(s) {blank} have no name",
                             hint="the first line must name every column")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InputRowsError(f"rows file {p} names column(s) {', '.join(map(repr, dupes))} more than once")
    bad = [(i + 2, len(r)) for i, r in enumerate(records[1:]) if len(r) != len(header)]
    if bad:
        shown = ", ".join(f"line {line} has {n}" for line, n in bad[:5])
        more = f" (and {len(bad) - 5} more lines)" if len(bad) > 5 else ""
        raise InputRowsError(f"rows file {p} is not valid CSV: the header has {len(header)} fields but "
                             f"{shown}{more}", hint="every line needs one value per column")
    if len(header) == 1 and len(records) > 1 and not _plausible_single_column(records):
        raise InputRowsError(f"rows file {p} does not look like CSV (no separator found)",
                             hint="separate columns with commas")
    return pd.DataFrame(records[1:], columns=header, dtype=object)


def _plausible_single_column(records: list[list[str]]) -> bool:
    header = records[0][0]
    return bool(re.fullmatch(r"[\w .()\[\]/:-]{1,200}", header))


def _sniff_delimiter(lines: Sequence[str]) -> str:
    sample = "\n".join(lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _read_json(p: Path, text: str) -> pd.DataFrame:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputRowsError(f"rows file {p} is not valid JSON: {exc.msg} at line {exc.lineno} "
                             f"column {exc.colno}") from None
    return _frame_from_json(p, payload)


def _read_json_lines(p: Path, text: str) -> pd.DataFrame:
    records = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InputRowsError(f"rows file {p} line {n} is not valid JSON: {exc.msg}") from None
    return _frame_from_json(p, records)


def _frame_from_json(p: Path, payload: Any) -> pd.DataFrame:
    if isinstance(payload, dict):
        if "columns" in payload and "data" in payload:
            try:
                return pd.DataFrame(payload["data"], columns=payload["columns"], dtype=object)
            except ValueError as exc:
                raise InputRowsError(f"rows file {p}: 'columns' and 'data' do not fit: {exc}") from None
        for key in ("instances", "rows", "records"):
            if key in payload:
                return _frame_from_json(p, payload[key])
        if "inputs" in payload and isinstance(payload["inputs"], dict):
            payload = payload["inputs"]
        if payload and all(isinstance(v, list) for v in payload.values()):
            lengths = {len(v) for v in payload.values()}
            if len(lengths) != 1:
                raise InputRowsError(f"rows file {p}: the columns have different lengths {sorted(lengths)}")
            return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in payload.items()})
        raise InputRowsError(f"rows file {p} is JSON but not rows",
                             hint='give a list of records like [{"column": value, ...}, ...]')
    if isinstance(payload, list):
        if not payload:
            return pd.DataFrame()
        if all(isinstance(r, dict) for r in payload):
            columns: list[str] = []
            for r in payload:
                columns.extend(k for k in r if k not in columns)
            return pd.DataFrame([[r.get(c) for c in columns] for r in payload], columns=columns, dtype=object)
        raise InputRowsError(f"rows file {p} is a JSON list but not of records",
                             hint='each row must be an object like {"column": value, ...}')
    raise InputRowsError(f"rows file {p} is JSON but not rows",
                         hint='give a list of records like [{"column": value, ...}, ...]')


# ---------------------------------------------------------------------------------------- layout

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


def plan_layout(columns: Sequence[str], info: ModelInfo) -> tuple[dict[str, list[str]], list[str]]:
    """Decide which columns feed which input; returns (layout, problems about columns)."""
    if not info.inputs:
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
    for col in columns:
        if col not in taken:
            problems.append(f"unexpected column {col!r} (not a model input: remove it)")
    return layout, problems


# ------------------------------------------------------------------------------------- coercion

def _article(dtype: str) -> str:
    if dtype in _FLOATS:
        return f"a number ({dtype})"
    if dtype in _INT_LIMITS:
        return f"a whole number ({dtype})"
    if dtype == "bool":
        return "a boolean (true/false)"
    return f"a {dtype} value"


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
        except (ValueError, TypeError, OverflowError):
            problems.append(CellProblem(i + row_offset, column, value, dtype))
            out.append(None)
    return _to_array(out, dtype, any_missing), problems


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
        return (parsed.astype(dtype), []) if not np.isnan(parsed).any() else None
    if arr.dtype.kind == "b" and dtype == "bool":
        return arr.astype(bool), []
    if arr.dtype.kind not in "fiu" or dtype not in _FLOATS[1:] + tuple(_INT_LIMITS):
        return None
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
    if dtype == "float16" and np.isfinite(number) and abs(number) > 65504:
        raise OverflowError(value)
    return number


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
    if column_problems or cells:
        position = {col: j for j, col in enumerate(str(c) for c in frame.columns)}
        cells.sort(key=lambda c: (c.row, position.get(c.column, 0)))
        problems = column_problems + [str(c) for c in cells]
        shown = "; ".join(problems[:MESSAGE_PROBLEMS])
        more = f"; and {len(problems) - MESSAGE_PROBLEMS} more" if len(problems) > MESSAGE_PROBLEMS else ""
        what = _summary(column_problems, cells)
        error = InputRowsError(f"{what}: {shown}{more}", problems,
                               hint=None if not cells else "rows are counted from 1, header excluded")
        error.cells = cells  # type: ignore[attr-defined]
        raise error
    order = [c for name in (s.name for s in info.inputs) for c in layout.get(name, [])]
    out = pd.DataFrame({c: pd.Series(columns[c], index=frame.index,
                                     dtype=object if columns[c].dtype == object else columns[c].dtype)
                        for c in order}, index=frame.index)
    out.attrs[LAYOUT_ATTR] = {k: list(v) for k, v in layout.items()}
    return out


def _find(frame: pd.DataFrame, col: str) -> Any:
    for c in frame.columns:
        if str(c) == col:
            return c
    raise KeyError(col)


def _summary(column_problems: list[str], cells: list[CellProblem]) -> str:
    parts = []
    if column_problems:
        parts.append(f"{len(column_problems)} column problem{'s' if len(column_problems) != 1 else ''}")
    if cells:
        parts.append(f"{len(cells)} bad value{'s' if len(cells) != 1 else ''}")
    return "the rows do not fit the model (" + ", ".join(parts) + ")"


def layout_of(frame: pd.DataFrame, info: ModelInfo) -> dict[str, list[str]]:
    """The column layout of a prepared frame (recomputed from the model if attrs were lost)."""
    layout = frame.attrs.get(LAYOUT_ATTR)
    if layout:
        return layout
    layout, problems = plan_layout(list(frame.columns), info)
    if problems:
        raise InputRowsError("; ".join(problems), problems)
    return layout


def input_arrays(frame: pd.DataFrame, info: ModelInfo) -> dict[str, np.ndarray]:
    """The arrays to feed each input of a prepared frame: (N,) for scalar inputs, (N, k) for tensors."""
    layout = layout_of(frame, info)
    out: dict[str, np.ndarray] = {}
    for spec in info.inputs:
        cols = layout.get(spec.name, [])
        if is_tensor_input(spec):
            dtype = object if spec.dtype in _STRINGS else (spec.dtype if spec.dtype != "object" else object)
            out[spec.name] = np.column_stack([frame[c].to_numpy() for c in cols]).astype(dtype) \
                if cols else np.empty((len(frame), 0))
        else:
            out[spec.name] = frame[cols[0]].to_numpy()
    return out


# ------------------------------------------------------------------------------------ generating

def generate_rows(info: ModelInfo, n: int, seed: int = 0) -> pd.DataFrame:
    """Make `n` plausible rows from the model's input schema (reproducible for a given seed).

    Categorical inputs draw from their known categories; numeric inputs draw uniformly from their
    known value range, or from a standard normal (floats) / 0..9 (integers) when none is known.
    The columns are named as `prepare_rows` expects them.
    """
    if n < 1:
        raise InputRowsError(f"cannot generate {n} rows", hint="ask for at least one row")
    if not info.inputs:
        raise InputRowsError(f"the model {info.path} does not describe its inputs, so rows cannot be "
                             "generated")
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    tensors = [s for s in info.inputs if is_tensor_input(s)]
    for spec in info.inputs:
        if spec not in tensors:
            data[spec.name] = _generate(spec, n, rng)
            continue
        width = input_width(spec)
        if width is None:
            raise InputRowsError(f"cannot generate rows for input {spec.name!r}: the model does not say how "
                                 f"many features it takes (shape {list(spec.shape or [])})")
        names = feature_names(info, spec) or [f"{spec.name}_{i}" for i in range(width)]
        for col in names:
            data[col] = _generate(spec, n, rng)
    return pd.DataFrame(data)


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
        lo, hi = (int(np.ceil(spec.value_range[0])), int(np.floor(spec.value_range[1]))) \
            if spec.value_range else (0, 9)
        lo, hi = max(lo, _INT_LIMITS[dtype][0]), min(hi, _INT_LIMITS[dtype][1])
        return rng.integers(lo, max(hi, lo) + 1, size=n).astype(dtype)
    np_dtype = dtype if dtype in _FLOATS else "float64"
    if spec.value_range:
        lo, hi = float(spec.value_range[0]), float(spec.value_range[1])
        return rng.uniform(lo, hi if hi > lo else lo + 1.0, size=n).astype(np_dtype)
    return rng.standard_normal(size=n).astype(np_dtype)
