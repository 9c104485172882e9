"""Build well-formed requests from a served signature and a rows DataFrame, checked before sending.

TF Serving does not check dtypes or shapes against the signature (tensorflow/serving#1527): a bad request
fails late with a TF runtime message, or silently converts. So columns are mapped to input aliases and
checked here first; every problem is collected and raised at once as InputRowsError(problems).
The result carries the exact JSON body and a copyable curl command.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.core.errors import InputRowsError
from workbench.core.serving.signatures import (CLASSIFY_METHOD, NUMPY_TO_V2, REGRESS_METHOD, Signature,
                                               TensorMeta)
from workbench.core.serving.tensors import b64_value

_FLOAT_DT = {"DT_FLOAT", "DT_DOUBLE", "DT_HALF", "DT_BFLOAT16", "FP16", "FP32", "FP64"}
_INT_DT = {"DT_INT32", "DT_INT64", "DT_INT16", "DT_INT8", "DT_UINT8", "DT_UINT16", "DT_UINT32", "DT_UINT64",
           "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}
_STR_DT = {"DT_STRING", "BYTES"}
_BOOL_DT = {"DT_BOOL", "BOOL"}


@dataclass
class BuiltRequest:
    """A request ready to send: where, what (exact JSON body), how (verb), and a curl command."""

    url: str
    verb: str                                   # predict | classify | regress | infer
    body: dict[str, Any]
    columns: dict[str, list[str]]               # input alias -> the frame columns it was built from
    arrays: dict[str, np.ndarray] = field(default_factory=dict)   # alias -> batch tensor (gRPC)
    dtypes: dict[str, str] = field(default_factory=dict)          # alias -> DT_* / v2 datatype
    examples: list[dict[str, Any]] = field(default_factory=list)  # classify/regress feature dicts
    notes: list[str] = field(default_factory=list)

    def json_text(self, indent: int | None = None) -> str:
        """The exact body sent (TF Serving accepts NaN / Infinity tokens)."""
        return json.dumps(self.body, indent=indent)

    def curl(self, headers: dict[str, str] | None = None, insecure: bool = False) -> str:
        """A copyable curl command that sends the same request."""
        parts = ["curl", "-sS"]
        if insecure:
            parts.append("-k")
        parts += ["-X", "POST", shlex.quote(self.url), "-H", shlex.quote("Content-Type: application/json")]
        for key, value in (headers or {}).items():
            parts += ["-H", shlex.quote(f"{key}: {value}")]
        parts += ["-d", shlex.quote(self.json_text())]
        return " ".join(parts)

    def to_json(self, headers: dict[str, str] | None = None) -> dict[str, Any]:
        return {"url": self.url, "verb": self.verb, "body": self.body, "columns": self.columns,
                "curl": self.curl(headers), "notes": list(self.notes)}


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def map_columns(inputs: dict[str, TensorMeta], columns: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Map frame columns to input aliases: by name (exact, then normalised), else all columns into a
    single input. Returns (alias -> columns, notes). Raises InputRowsError when inputs stay unmapped."""
    notes: list[str] = []
    by_norm = {}
    for col in columns:
        by_norm.setdefault(_norm(col), col)
    mapping: dict[str, list[str]] = {}
    missing = []
    for alias in inputs:
        if alias in columns:
            mapping[alias] = [alias]
        elif _norm(alias) in by_norm:
            col = by_norm[_norm(alias)]
            mapping[alias] = [col]
            notes.append(f"column {col!r} sent as input {alias!r}")
        else:
            missing.append(alias)
    if not missing:
        extra = [c for c in columns if not any(c in cols for cols in mapping.values())]
        if extra:
            notes.append(f"columns not sent (no input of that name): {', '.join(extra)}")
        return mapping, notes
    if len(inputs) == 1:
        (alias, meta), = inputs.items()
        mapping = {alias: list(columns)}
        if len(columns) > 1 or columns[0] != alias:
            notes.append(f"all {len(columns)} column(s) ({', '.join(columns)}) sent as the single input "
                         f"{alias!r}")
        return mapping, notes
    raise InputRowsError(
        f"the rows have no column for input(s) {', '.join(missing)}",
        problems=[f"input {a!r} ({inputs[a].dtype}) has no column; columns are: {', '.join(columns)}"
                  for a in missing],
        hint="name the columns like the signature's input aliases (see the metadata)")


def _convert_column(frame: Any, col: str, meta: TensorMeta, problems: list[str]) -> np.ndarray:
    """One column converted to the input's dtype; problems collected with row numbers."""
    import pandas as pd

    series = frame[col]
    dt = meta.dtype
    if dt in _STR_DT:
        values = np.empty(len(series), dtype=object)
        for i, v in enumerate(series.tolist()):
            values[i] = v if isinstance(v, bytes) else ("" if v is None or (isinstance(v, float) and
                                                                             np.isnan(v)) else str(v))
        return values
    if dt in _BOOL_DT:
        mapping = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}
        out = []
        for i, v in enumerate(series.tolist()):
            key = str(v).strip().lower()
            if isinstance(v, bool | np.bool_):
                out.append(bool(v))
            elif key in mapping:
                out.append(mapping[key])
            else:
                problems.append(f"row {i + 1}, column {col!r}: {v!r} is not a boolean (input {meta.alias!r} "
                                f"is {dt})")
                out.append(False)
        return np.asarray(out, dtype=bool)
    numeric = pd.to_numeric(series, errors="coerce")
    bad = series.notna() & numeric.isna() & ~series.astype(str).str.strip().str.lower().isin(
        ["nan", "", "inf", "-inf", "infinity", "-infinity"])
    for i in np.flatnonzero(bad.to_numpy())[:5]:
        problems.append(f"row {int(i) + 1}, column {col!r}: {series.iloc[i]!r} is not a number (input "
                        f"{meta.alias!r} is {dt})")
    if bad.sum() > 5:
        problems.append(f"column {col!r}: {int(bad.sum()) - 5} more non-numeric cells")
    values = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
    text = series.astype(str).str.strip().str.lower()
    values = np.where(text.isin(["inf", "infinity"]), np.inf, values)
    values = np.where(text.isin(["-inf", "-infinity"]), -np.inf, values)
    if dt in _INT_DT:
        finite = np.isfinite(values)
        missing = ~finite & ~bad.to_numpy()  # cells already reported as non-numeric are not repeated
        for i in np.flatnonzero(missing)[:3]:
            problems.append(f"row {int(i) + 1}, column {col!r}: missing or infinite, but input {meta.alias!r} "
                            f"is {dt}")
        frac = finite & (np.abs(values - np.round(values)) > 0)
        for i in np.flatnonzero(frac)[:3]:
            problems.append(f"row {int(i) + 1}, column {col!r}: {float(values[i])!r} is not an integer (input "
                            f"{meta.alias!r} is {dt})")
        return np.where(finite, values, 0).astype(np.int64)
    if dt not in _FLOAT_DT:
        problems.append(f"input {meta.alias!r} has dtype {dt}, which the request builder cannot fill")
    return values


def _input_array(frame: Any, cols: list[str], meta: TensorMeta, problems: list[str],
                 notes: list[str]) -> np.ndarray:
    """The batch tensor for one input, shaped per the signature (checks rank and sizes)."""
    parts = [_convert_column(frame, c, meta, problems) for c in cols]
    n = len(frame)
    if len(parts) == 1:
        arr = parts[0]
    else:
        arr = np.stack(parts, axis=1) if parts[0].dtype != object else np.array(
            [[p[i] for p in parts] for i in range(n)], dtype=object)
    shape = meta.shape
    if shape is None:
        return arr
    if len(shape) == 0:
        notes.append(f"input {meta.alias!r} declares no shape; sending {list(arr.shape)}")
        return arr
    if shape[0] not in (-1, None) and shape[0] != n:
        notes.append(f"input {meta.alias!r} declares batch size {shape[0]}; sending {n} rows")
    row_shape = tuple(shape[1:])
    if len(cols) == 1:
        if row_shape in ((), ):
            return arr
        if len(row_shape) == 1 and row_shape[0] in (1, -1):
            return arr.reshape(n, 1)
        problems.append(f"input {meta.alias!r} takes rows of shape {list(row_shape)} but one column "
                        f"({cols[0]!r}) was mapped to it")
        return arr
    if len(row_shape) != 1:
        problems.append(f"input {meta.alias!r} takes rows of shape {list(row_shape)} (one value per row) but "
                        f"{len(cols)} columns were mapped to it")
    elif row_shape[0] not in (-1, len(cols)):
        values = f"{row_shape[0]} value{'s' if row_shape[0] != 1 else ''}"
        problems.append(f"input {meta.alias!r} takes {values} per row but the rows have "
                        f"{len(cols)} column{'s' if len(cols) != 1 else ''} ({', '.join(cols)})")
    return arr


def _jsonable(arr: np.ndarray, dtype: str) -> Any:
    if dtype in _STR_DT:
        def conv(v: Any) -> Any:
            if isinstance(v, np.ndarray | list):
                return [conv(x) for x in v]
            return b64_value(v) if isinstance(v, bytes) else v
        return conv(list(arr))
    if dtype in _INT_DT:
        return arr.astype(np.int64).tolist()
    if dtype in _BOOL_DT:
        return arr.astype(bool).tolist()
    return arr.astype(np.float64).tolist()


def build_tfs_predict(signature: Signature, frame: Any, url: str, *, columnar: bool = False) -> BuiltRequest:
    """A :predict request (row format `instances`, or columnar `inputs`) from rows."""
    if signature.takes_examples:
        raise InputRowsError(
            f"signature {signature.name!r} takes serialized tf.Example strings, not feature columns",
            problems=[f"input {next(iter(signature.inputs))!r} is DT_STRING (tf.Example)"],
            hint="use :classify / :regress with examples (build_tfs_examples)")
    mapping, notes = map_columns(signature.inputs, [str(c) for c in frame.columns])
    problems: list[str] = []
    arrays = {alias: _input_array(frame, cols, signature.inputs[alias], problems, notes)
              for alias, cols in mapping.items()}
    if problems:
        raise InputRowsError(_problems_message(f"the rows for signature {signature.name!r}", problems),
                             problems=problems, hint="fix the rows or pick another signature")
    dtypes = {a: signature.inputs[a].dtype for a in arrays}
    body: dict[str, Any] = {"signature_name": signature.name}
    if columnar:
        body["inputs"] = {a: _jsonable(v, dtypes[a]) for a, v in arrays.items()}
    elif len(arrays) == 1:
        (alias, arr), = arrays.items()
        body["instances"] = _jsonable(arr, dtypes[alias])
    else:
        cols = {a: _jsonable(v, dtypes[a]) for a, v in arrays.items()}
        body["instances"] = [{a: cols[a][i] for a in arrays} for i in range(len(frame))]
    return BuiltRequest(url=url.rstrip("/") + ":predict", verb="predict", body=body, columns=mapping,
                        arrays=arrays, dtypes=dtypes, notes=notes)


def examples_verb(signature: Signature) -> str:
    """classify or regress, from the method (or, for TF2 predict signatures, from the output names)."""
    if signature.method == CLASSIFY_METHOD or {"classes", "scores"} & set(signature.outputs):
        return "classify"
    if signature.method == REGRESS_METHOD or "outputs" in signature.outputs:
        return "regress"
    return "classify"


def build_tfs_examples(signature: Signature, frame: Any, url: str, verb: str | None = None) -> BuiltRequest:
    """A :classify / :regress request: one tf.Example-like JSON object per row (features by column)."""
    import pandas as pd

    verb = verb or examples_verb(signature)
    examples = []
    for record in frame.to_dict(orient="records"):
        ex = {}
        for key, value in record.items():
            if isinstance(value, str):
                # numeric text (a CSV cell) becomes a float feature: most models parse float features,
                # and JSON integers would become int64_list (typed integer columns stay integers)
                num = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
                value = value if pd.isna(num) else float(num)
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, bytes):
                value = b64_value(value)
            ex[str(key)] = value
        examples.append(ex)
    body: dict[str, Any] = {"signature_name": signature.name, "examples": examples}
    return BuiltRequest(url=url.rstrip("/") + f":{verb}", verb=verb, body=body,
                        columns={"examples": [str(c) for c in frame.columns]}, examples=examples,
                        notes=["each row becomes one tf.Example (numbers from text cells -> float_list, "
                               "integer columns -> int64_list, text -> bytes_list)"])


def build_v2_infer(signature: Signature, frame: Any, url: str, model: str | None = None) -> BuiltRequest:
    """A v2 /infer request: one tensor per matching input, else all columns as one [N, F] tensor.

    Rows are checked against the model's metadata (datatype, shape) before anything is sent. When the
    model declares no inputs, all columns go as one tensor: FP64 when the columns hold numbers (a text
    cell in a column of numbers is reported, row and column named), BYTES when some column is text.
    """
    columns = [str(c) for c in frame.columns]
    inputs = dict(signature.inputs)
    notes: list[str] = []
    problems: list[str] = []
    what = f"model {model!r}" if model else "the v2 model"
    hint = "fix the rows: they must match the model's inputs (see its metadata)"
    if not inputs:
        text_columns = [c for c in columns if not _mostly_numeric(frame[c])]
        datatype = "BYTES" if text_columns else "FP64"
        inputs = {"input-0": TensorMeta("input-0", datatype, (-1, len(columns)))}
        notes.append(f"the model declares no inputs: sending all columns as one {datatype} tensor 'input-0'")
        if text_columns:  # a text model: still flag text cells in columns that otherwise hold numbers
            for c in columns:
                if c not in text_columns:
                    _convert_column(frame, c, TensorMeta("input-0", "FP64", (-1,)), problems)
        hint = (f"{what} declares no inputs, so the columns are sent as one tensor: a column whose other "
                "cells are numbers must hold numbers in every row")
    mapping, more = map_columns(inputs, columns)
    notes += more
    tensors = []
    arrays = {}
    for alias, cols in mapping.items():
        meta = inputs[alias]
        known = len(problems)
        arr = _input_array(frame, cols, meta, problems, notes)
        if arr.ndim == 1 and meta.shape is not None and len(meta.shape) == 2:
            arr = arr.reshape(-1, 1)
        arrays[alias] = arr
        datatype = meta.dtype if meta.dtype in NUMPY_TO_V2.values() else \
            NUMPY_TO_V2.get(meta.numpy_dtype, "FP64")
        kind = meta.dtype if meta.dtype in _STR_DT | _INT_DT | _BOOL_DT else "FP64"
        data = _jsonable(arr.reshape(-1), kind)
        if len(problems) == known and datatype not in _STR_DT and \
                any(isinstance(v, float) and not np.isfinite(v) for v in data):  # bad cells: said above
            problems.append(f"input {alias!r}: missing or infinite values cannot be sent as strict JSON")
        tensors.append({"name": alias, "shape": list(arr.shape), "datatype": datatype, "data": data})
    if problems:
        raise InputRowsError(_problems_message(f"the rows for {what}", problems), problems=problems,
                             hint=hint)
    return BuiltRequest(url=url.rstrip("/") + "/infer", verb="infer", body={"inputs": tensors},
                        columns=mapping, arrays=arrays, dtypes={t["name"]: t["datatype"] for t in tensors},
                        notes=notes)


def _problems_message(where: str, problems: list[str], shown: int = 3) -> str:
    """'2 problem(s) in the rows for ...: row 2, column 'x': ...; ...' (one line, the first few)."""
    more = f"; and {len(problems) - shown} more" if len(problems) > shown else ""
    return f"{len(problems)} problem(s) in {where}: " + "; ".join(problems[:shown]) + more


def _mostly_numeric(series: Any) -> bool:
    """True when at least half of the column's non-empty cells are numbers."""
    import pandas as pd

    present = series[series.notna() & (series.astype(str).str.strip() != "")]
    if present.empty:
        return True
    return bool(pd.to_numeric(present, errors="coerce").notna().mean() >= 0.5)
