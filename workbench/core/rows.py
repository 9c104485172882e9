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
    sep = separator_hint(header)
    if sep is not None and sep != delimiter and len(records) > 1:
        shown_sep = {"\t": "tab"}.get(sep, repr(sep))
        raise InputRowsError(f"rows file {p} seems to use {shown_sep} as separator: its header "
                             f"{_clip(header[0])!r} was read as a single column",
                             hint=f"save the rows with one separator throughout (commas, or {shown_sep} "
                                  "on every line)")
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
        sniffed = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        sniffed = None
    header = lines[0] if lines else ""
    if sniffed is not None and sniffed in header:
        return sniffed
    # the sniffer gave up (or picked a separator the header lacks, e.g. decimal commas in the
    # values): take the separator the header line uses, if it uses exactly one of them
    used = [d for d in ",;\t|" if d in _unquoted(header)]
    if len(used) == 1:
        return used[0]
    return sniffed or ","


def _unquoted(line: str) -> str:
    """`line` without its double-quoted parts (separators inside quotes do not count)."""
    return re.sub(r'"[^"]*"', "", line)


#: separators a CSV may use instead of a comma
OTHER_SEPARATORS = (";", "\t", "|")


def separator_hint(columns: Sequence[Any]) -> str | None:
    """The separator a one-column frame was probably meant to be split on, else None.

    A header like `a;b;c` read as one column means the file uses `;` (or tab, `|`) and was read
    as comma-separated.
    """
    if len(columns) != 1:
        return None
    name = str(columns[0])
    for sep in OTHER_SEPARATORS:
        if len([part for part in name.split(sep) if part.strip()]) >= 2:
            return sep
    return None


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
    sep = separator_hint(list(frame.columns)) if column_problems else None
    if sep is not None:
        shown_sep = {"\t": "tab"}.get(sep, repr(sep))
        name = str(frame.columns[0])
        raise InputRowsError(
            f"the file seems to use {shown_sep} as separator: its header {_clip(name)!r} was read as a "
            f"single column, so none of the model's columns were found", column_problems,
            hint=f"save the rows with commas as separator, or check that every line uses {shown_sep} "
                 "the same way")
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
        error = InputRowsError(f"{what}: {shown}{more}", problems,
                               hint=None if not cells else "rows are counted from 1, header excluded")
        error.cells = cells  # type: ignore[attr-defined]
        raise error
    order = [c for name in (s.name for s in info.inputs) for c in layout.get(name, [])]
    out = pd.DataFrame({c: pd.Series(columns[c], index=frame.index,
                                     dtype=object if columns[c].dtype == object else columns[c].dtype)
                        for c in order}, index=frame.index)
    out.attrs[LAYOUT_ATTR] = {k: list(v) for k, v in layout.items()}
    warnings = category_warnings(unknown)
    if warnings:
        out.attrs["warnings"] = warnings
    return out


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


# ---------------------------------------------------------------------------- unknown categories

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
                                             tuple(spec.categories), rejected=rejected, one_hot=one_hot))
    return found


def category_warnings(unknown: Sequence[UnknownCategory]) -> list[str]:
    """One warning per accepted unknown (column, value), at most `MAX_CATEGORY_WARNINGS`."""
    accepted = [u for u in unknown if not u.rejected]
    out = [str(u) for u in accepted[:MAX_CATEGORY_WARNINGS]]
    rest = accepted[MAX_CATEGORY_WARNINGS:]
    if rest:
        columns = sorted({u.column for u in rest})
        out.append(f"and {len(rest)} more unknown categories in column(s) {', '.join(map(repr, columns))}")
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


# ------------------------------------------------------------------------------------ generating

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
    if spec.value_range is not None:
        lo, hi = float(spec.value_range[0]), float(spec.value_range[1])
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
        lo, hi = (int(np.ceil(spec.value_range[0])), int(np.floor(spec.value_range[1]))) \
            if spec.value_range else (0, 9)
        lo, hi = max(lo, lo_limit), min(hi, hi_limit)
        return rng.integers(lo, max(hi, lo) + 1, size=n).astype(dtype)
    np_dtype = dtype if dtype in _FLOATS else "float64"
    drawn = _numeric_draw(spec, n, rng)
    if drawn is not None:
        return drawn.astype(np_dtype)
    return rng.standard_normal(size=n).astype(np_dtype)
