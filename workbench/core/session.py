"""Sessions: the app's working state as one JSON file, and its validation (no Qt here).

A session keeps the loaded models (path, sha256 of their content, whether the user trusted them, their
rows inline or by path, their last predictions and benchmark), the endpoints (with their row sources)
and the last probe and load-test results. Header *values* of endpoints are not written unless the
caller asks for it (`keep_header_values=True`): an auth token never lands on disk by surprise.

Reading one is hostile-input parsing: the file may be damaged, edited by hand or made by someone else.
`parse_session` checks the size, the nesting, every type and every count before anything is used, and
every problem is a `SessionError` that says what is wrong and where, never a traceback. Trust is not
taken from the file on faith: a decision applies only while the model's sha256 is the one saved.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.errors import WorkbenchError
from workbench.core.files import atomic_write_text
from workbench.core.limits import MiB, Limit, LimitExceeded, NESTING

FORMAT = "workbench-session"
VERSION = 1

#: a session file read into memory
SESSION_FILE_BYTES = Limit("session_file_bytes", 64 * MiB, "the session file's size")
#: models, endpoints and saved results in one session
SESSION_ITEMS = Limit("session_items", 1000, "the number of models or endpoints in the session", "count")
#: cells of rows kept inline for one model
SESSION_ROW_CELLS = Limit("session_row_cells", 2_000_000, "the number of inline row cells", "count")
#: one string in a session (a path, a name, inline JSON rows)
SESSION_STRING_CHARS = Limit("session_string_chars", 16 * MiB, "the length of one text", "count")

ROW_SOURCE_KINDS = ("none", "model", "file", "json")
#: what a masked header value is written as (the name is kept, the value is not)
MASKED = None


class SessionError(WorkbenchError):
    """A session file that cannot be used: unreadable, not JSON, not a session, or a bad field."""

    kind = "bad-session"

    def __init__(self, message: str, *, where: str = "", hint: str | None = None) -> None:
        super().__init__(f"{where}: {message}" if where else message,
                         hint=hint or "the session file is damaged or was not written by the workbench")
        self.where = where


# ---- the data ------------------------------------------------------------------------------------------

@dataclass
class RowSource:
    """Where an endpoint's rows come from: nothing, a loaded model's rows (its path), a file, inline JSON."""

    kind: str = "none"
    value: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value}


@dataclass
class SessionModel:
    path: str
    sha256: str = ""
    trusted: bool = False
    #: {"columns": [...], "data": [[...], ...]} (inline) or None
    rows_inline: dict[str, Any] | None = None
    #: a rows file (CSV/JSON/Parquet) instead of inline rows
    rows_path: str = ""
    #: runtime -> prediction batch as JSON (see `batch_to_json`)
    predictions: dict[str, Any] = field(default_factory=dict)
    #: the last local benchmark (a BenchResult JSON) or None
    benchmark: dict[str, Any] | None = None


@dataclass
class SessionEndpoint:
    name: str
    url: str
    model: str = ""
    grpc_target: str = ""
    #: header name -> value, or None where the value was not saved
    headers: dict[str, str | None] = field(default_factory=dict)
    verify_tls: bool = True
    ca_file: str = ""
    timeout_s: float = 10.0
    rows: RowSource = field(default_factory=RowSource)

    @property
    def masked_headers(self) -> list[str]:
        return [k for k, v in self.headers.items() if v is None]


@dataclass
class Session:
    models: list[SessionModel] = field(default_factory=list)
    endpoints: list[SessionEndpoint] = field(default_factory=list)
    current_model: str = ""
    current_endpoint: str = ""
    #: the last probe report (its JSON) and load test (a BenchResult JSON)
    probe: dict[str, Any] | None = None
    load: dict[str, Any] | None = None
    saved_at: str = ""


# ---- hashing -------------------------------------------------------------------------------------------

def sha256_path(path: str | Path) -> str:
    """sha256 of a model file, or of a model folder (every file's relative path and content, sorted)."""
    p = Path(path)
    digest = hashlib.sha256()
    if p.is_dir():
        for f in sorted(x for x in p.rglob("*") if x.is_file() and not x.is_symlink()):
            digest.update(str(f.relative_to(p).as_posix()).encode("utf-8") + b"\0")
            _feed(digest, f)
            digest.update(b"\0")
    else:
        _feed(digest, p)
    return digest.hexdigest()


def _feed(digest: Any, path: Path) -> None:
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)


# ---- writing -------------------------------------------------------------------------------------------

def mask_headers(headers: dict[str, str], keep_values: bool = False) -> dict[str, str | None]:
    """Header names with their values, or with None in place of every value (the default)."""
    return {str(k): (str(v) if keep_values else MASKED) for k, v in headers.items()}


def rows_to_inline(columns: list[Any], data: list[list[Any]]) -> dict[str, Any]:
    """Rows as JSON-safe columns and data (NaN and infinities become null)."""
    return {"columns": [str(c) for c in columns], "data": [[_scalar(v) for v in row] for row in data]}


def _scalar(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, str | bytes):   # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _jsonable(value: Any) -> Any:
    """Arrays and numpy scalars as lists and Python scalars, recursively."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return _scalar(value)


def batch_to_json(batch: Any) -> dict[str, Any]:
    """A PredictionBatch as JSON (its raw outputs are left out: they can be large and runtime-specific)."""
    return {"runtime": str(batch.runtime), "classes": _jsonable(batch.classes), "labels": _jsonable(batch.labels),
            "probabilities": _jsonable(batch.probabilities), "values": _jsonable(batch.values),
            "elapsed_ms": float(batch.elapsed_ms or 0.0), "warnings": [str(w) for w in batch.warnings]}


def batch_from_json(data: dict[str, Any]) -> Any:
    """The PredictionBatch saved by `batch_to_json` (already validated by `parse_session`)."""
    import numpy as np

    from workbench.core.predictions import PredictionBatch

    def arr(v: Any) -> Any:
        return None if v is None else np.asarray(v)

    return PredictionBatch(runtime=data["runtime"], classes=data.get("classes"), labels=arr(data.get("labels")),
                           probabilities=arr(data.get("probabilities")), values=arr(data.get("values")),
                           elapsed_ms=float(data.get("elapsed_ms") or 0.0), warnings=list(data.get("warnings") or []))


def session_to_json(session: Session) -> dict[str, Any]:
    return {
        "format": FORMAT, "version": VERSION, "saved_at": session.saved_at or time.strftime("%Y-%m-%dT%H:%M:%S"),
        "current_model": session.current_model, "current_endpoint": session.current_endpoint,
        "models": [{"path": m.path, "sha256": m.sha256, "trusted": m.trusted,
                    "rows": ({"inline": m.rows_inline} if m.rows_inline is not None
                             else {"path": m.rows_path} if m.rows_path else None),
                    "predictions": m.predictions, "benchmark": m.benchmark} for m in session.models],
        "endpoints": [{"name": e.name, "url": e.url, "model": e.model, "grpc_target": e.grpc_target,
                       "headers": e.headers, "verify_tls": e.verify_tls, "ca_file": e.ca_file,
                       "timeout_s": e.timeout_s, "rows": e.rows.to_json()} for e in session.endpoints],
        "probe": session.probe, "load": session.load,
    }


def dumps(session: Session) -> str:
    """The session as JSON text (validated by reading it back: what is written can be opened)."""
    text = json.dumps(session_to_json(session), indent=1, allow_nan=False)
    parse_session(text)
    return text


def save_session(path: str | Path, session: Session) -> Path:
    """Write the session atomically (a crash leaves the old file, never half a new one)."""
    out = Path(path)
    atomic_write_text(out, dumps(session))
    return out


# ---- reading -------------------------------------------------------------------------------------------

def load_session(path: str | Path) -> Session:
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise SessionError(f"cannot read {p} ({exc.strerror or exc})", hint="check the path") from None
    try:
        SESSION_FILE_BYTES.check(size, source=str(p))
        data = p.read_bytes()
    except LimitExceeded as exc:
        raise SessionError(exc.message, hint=exc.hint) from None
    except OSError as exc:
        raise SessionError(f"cannot read {p} ({exc.strerror or exc})", hint="check the path") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SessionError(f"{p} is not a text file", hint="a session is a JSON file saved by the workbench") from None
    return parse_session(text, source=str(p))


def parse_session(text: str, source: str = "session") -> Session:
    """Validate and read a session's JSON text; `SessionError` naming the field for anything wrong."""
    try:
        SESSION_FILE_BYTES.check(len(text), source=source)
    except LimitExceeded as exc:
        raise SessionError(exc.message, hint=exc.hint) from None
    _check_depth(text, source)
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        raise SessionError(f"not valid JSON ({getattr(exc, 'msg', exc)})", where=source) from None
    except RecursionError:
        raise SessionError("nested too deeply", where=source) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SessionError("not a workbench session (no \"format\": \"workbench-session\")", where=source,
                           hint="open a file saved with File ▸ Save Session")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SessionError("\"version\" must be a whole number", where=source)
    if version > VERSION:
        raise SessionError(f"written by a newer workbench (session version {version}, this one reads "
                           f"{VERSION})", where=source, hint="open it with a newer workbench")
    models = _list(data, "models", source)
    endpoints = _list(data, "endpoints", source)
    session = Session(current_model=_str(data, "current_model", source),
                      current_endpoint=_str(data, "current_endpoint", source),
                      saved_at=_str(data, "saved_at", source),
                      probe=_obj_or_none(data, "probe", source), load=_obj_or_none(data, "load", source))
    for i, m in enumerate(models):
        session.models.append(_model(m, f"{source}: models[{i}]"))
    for i, e in enumerate(endpoints):
        session.endpoints.append(_endpoint(e, f"{source}: endpoints[{i}]"))
    return session


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _check_depth(text: str, source: str) -> None:
    """Refuse nesting deeper than the NESTING limit before the JSON parser recurses into it."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > NESTING.value:
                    raise SessionError(f"nested more than {NESTING.value} levels deep", where=source,
                                       hint=f"if this is genuine, raise it with WORKBENCH_LIMIT_{NESTING.name.upper()}")
        elif ch in "]}":
            depth -= 1


def _list(data: dict[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise SessionError(f"\"{key}\" must be a list", where=where)
    try:
        SESSION_ITEMS.check(len(value), source=f"{where}: {key}")
    except LimitExceeded as exc:
        raise SessionError(exc.message, hint=exc.hint) from None
    return value


def _str(data: dict[str, Any], key: str, where: str, default: str = "") -> str:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise SessionError(f"\"{key}\" must be text", where=where)
    try:
        SESSION_STRING_CHARS.check(len(value), source=f"{where}: {key}")
    except LimitExceeded as exc:
        raise SessionError(exc.message, hint=exc.hint) from None
    return value


def _bool(data: dict[str, Any], key: str, where: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise SessionError(f"\"{key}\" must be true or false", where=where)
    return value


def _obj_or_none(data: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = data.get(key)
    if value is not None and not isinstance(value, dict):
        raise SessionError(f"\"{key}\" must be an object", where=where)
    return value


def _model(m: Any, where: str) -> SessionModel:
    if not isinstance(m, dict):
        raise SessionError("a model must be an object", where=where)
    path = _str(m, "path", where)
    if not path:
        raise SessionError("\"path\" is missing", where=where)
    sha = _str(m, "sha256", where)
    if sha and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
        raise SessionError("\"sha256\" must be 64 hexadecimal digits", where=where)
    model = SessionModel(path=path, sha256=sha, trusted=_bool(m, "trusted", where, False))
    rows = _obj_or_none(m, "rows", where)
    if rows is not None:
        if "inline" in rows:
            model.rows_inline = _inline_rows(rows["inline"], f"{where}: rows")
        else:
            model.rows_path = _str(rows, "path", f"{where}: rows")
    predictions = _obj_or_none(m, "predictions", where) or {}
    for runtime, batch in predictions.items():
        model.predictions[str(runtime)] = _batch(batch, f"{where}: predictions[{runtime!r}]")
    model.benchmark = _obj_or_none(m, "benchmark", where)
    return model


def _inline_rows(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("columns"), list) \
            or not isinstance(value.get("data"), list):
        raise SessionError("inline rows must be {\"columns\": [...], \"data\": [[...], ...]}", where=where)
    columns, data = value["columns"], value["data"]
    if not all(isinstance(c, str) for c in columns):
        raise SessionError("column names must be text", where=where)
    try:
        SESSION_ROW_CELLS.check(len(columns) * len(data), source=where)
    except LimitExceeded as exc:
        raise SessionError(exc.message, hint=exc.hint) from None
    for r, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(columns):
            raise SessionError(f"row {r} must be a list of {len(columns)} values", where=where)
        for v in row:
            if not (v is None or isinstance(v, bool | int | float | str)):
                raise SessionError(f"row {r} holds a value that is not a number, text, true/false or null",
                                   where=where)
    return {"columns": list(columns), "data": [list(r) for r in data]}


def _batch(batch: Any, where: str) -> dict[str, Any]:
    if not isinstance(batch, dict):
        raise SessionError("a prediction batch must be an object", where=where)
    out: dict[str, Any] = {"runtime": _str(batch, "runtime", where)}
    for key in ("classes", "labels", "probabilities", "values"):
        value = batch.get(key)
        if value is not None and not isinstance(value, list):
            raise SessionError(f"\"{key}\" must be a list or null", where=where)
        out[key] = value
    elapsed = batch.get("elapsed_ms", 0.0)
    if not isinstance(elapsed, int | float) or isinstance(elapsed, bool):
        raise SessionError("\"elapsed_ms\" must be a number", where=where)
    out["elapsed_ms"] = float(elapsed)
    warnings = batch.get("warnings") or []
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        raise SessionError("\"warnings\" must be a list of texts", where=where)
    out["warnings"] = warnings
    probabilities = out.get("probabilities")
    if probabilities is not None and not all(isinstance(r, list) for r in probabilities):
        raise SessionError("\"probabilities\" must be a list of rows", where=where)
    return out


def _endpoint(e: Any, where: str) -> SessionEndpoint:
    if not isinstance(e, dict):
        raise SessionError("an endpoint must be an object", where=where)
    url = _str(e, "url", where)
    headers_raw = _obj_or_none(e, "headers", where) or {}
    headers: dict[str, str | None] = {}
    for k, v in headers_raw.items():
        if v is not None and not isinstance(v, str):
            raise SessionError(f"header {k!r} must be text or null (not saved)", where=where)
        headers[str(k)] = v
    timeout = e.get("timeout_s", 10.0)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0 < timeout <= 3600:
        raise SessionError("\"timeout_s\" must be a number of seconds between 0 and 3600", where=where)
    rows = _obj_or_none(e, "rows", where) or {}
    kind = _str(rows, "kind", f"{where}: rows", "none") or "none"
    if kind not in ROW_SOURCE_KINDS:
        raise SessionError(f"row source kind {kind!r} is not one of {', '.join(ROW_SOURCE_KINDS)}", where=where)
    return SessionEndpoint(name=_str(e, "name", where) or url, url=url, model=_str(e, "model", where),
                           grpc_target=_str(e, "grpc_target", where), headers=headers,
                           verify_tls=_bool(e, "verify_tls", where, True), ca_file=_str(e, "ca_file", where),
                           timeout_s=float(timeout), rows=RowSource(kind, _str(rows, "value", f"{where}: rows")))
