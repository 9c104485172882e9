"""Where an endpoint's rows come from: a file, inline JSON, or one chosen loaded model's rows.

Each endpoint has its own row source (it used to borrow whichever model was selected); every error
about its rows says where they came from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.core.errors import InputRowsError, WorkbenchError
from workbench.core.session import RowSource

#: kind -> what the combo box says
KIND_TITLES = {"none": "No rows (status only)", "model": "A loaded model's rows", "file": "A rows file",
               "json": "Rows typed as JSON"}


def describe(source: RowSource, rows: int | None = None) -> str:
    """Where the rows come from, for messages: "rows of model iris.onnx", "file /x/rows.csv", "inline JSON"."""
    n = f"{rows} " if rows is not None else ""
    if source.kind == "model":
        return f"{n}rows of the model {Path(source.value).name or '(none chosen)'} ({source.value})" \
            if source.value else "a model's rows (no model chosen)"
    if source.kind == "file":
        return f"{n}rows from the file {source.value or '(no file chosen)'}"
    if source.kind == "json":
        return f"{n}rows typed as JSON in the endpoint's form"
    return "no rows"


def load_rows(source: RowSource, documents: list[Any], limit: int | None = None) -> Any:
    """The rows of `source` as a DataFrame (None for "none"); `InputRowsError` saying where they came from."""
    import pandas as pd

    where = describe(source)
    if source.kind == "none":
        return None
    if source.kind == "model":
        doc = next((d for d in documents if d.path == source.value), None)
        if doc is None:
            raise InputRowsError(f"{where}: that model is not open", hint="open it, or choose another row source")
        if doc.rows is None or not len(doc.rows):
            raise InputRowsError(f"{where}: its Rows table is empty", hint="fill its Rows table or choose a file")
        frame = doc.rows
    elif source.kind == "file":
        if not source.value:
            raise InputRowsError(f"{where}: choose a rows file (CSV or JSON)")
        from workbench.core.rows import read_rows

        try:
            frame = read_rows(source.value)
        except WorkbenchError as exc:
            raise InputRowsError(f"{where}: {exc.message}", hint=exc.hint) from None
    elif source.kind == "json":
        try:
            data = json.loads(source.value or "[]")
        except json.JSONDecodeError as exc:
            raise InputRowsError(f"{where}: not valid JSON ({exc.msg}, line {exc.lineno})",
                                 hint='write records, e.g. [{"x": 1.0}, {"x": 2.0}]') from None
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise InputRowsError(f"{where}: write a list of records", hint='e.g. [{"x": 1.0}, {"x": 2.0}]')
        frame = pd.DataFrame(data)
        if not len(frame):
            raise InputRowsError(f"{where}: no rows", hint='e.g. [{"x": 1.0}, {"x": 2.0}]')
    else:
        raise InputRowsError(f"unknown row source {source.kind!r}")
    frame = frame.head(limit).copy() if limit is not None else frame.copy()
    frame.attrs["row_source"] = describe(source, len(frame))
    return frame
