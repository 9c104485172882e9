"""Reading feature rows from a file: CSV (separator sniffing, kept as text) or JSON layouts."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.core.errors import InputRowsError


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
    frame_is_csv = False
    if p.suffix.lower() in (".jsonl", ".ndjson"):
        frame = _read_json_lines(p, text)
    elif p.suffix.lower() == ".json" or head in ("[", "{"):
        frame = _read_json(p, text)
    elif head == "<":
        raise InputRowsError(f"rows file {p} is XML/HTML, not CSV or JSON rows",
                             hint="give a CSV with a header line, or JSON records")
    else:
        frame = _read_csv(p, text)
        frame_is_csv = True
    if len(frame) == 0:
        raise InputRowsError(f"rows file {p} has a header but no rows", hint="add at least one row")
    frame.attrs["source"] = str(p)
    frame.attrs["format"] = "csv" if frame_is_csv else "json"
    return frame


def _read_csv(p: Path, text: str) -> pd.DataFrame:
    lines = text.splitlines()
    delimiter = "\t" if p.suffix.lower() == ".tsv" else _sniff_delimiter(lines[:20])
    try:
        records = list(csv.reader(io.StringIO(text), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise InputRowsError(f"rows file {p} is not valid CSV: {exc}") from None
    # blank lines before the header and after the last row are layout, not rows; every line between is a
    # row, an all-empty one included (all-missing is valid input for trees and PMML): never dropped, or
    # every later prediction would be shifted against its input row
    filled = [i for i, r in enumerate(records) if r and any(c.strip() for c in r)]
    if not filled:
        raise InputRowsError(f"rows file {p} is empty")
    records = records[filled[0]:filled[-1] + 1]
    header = [h.strip() for h in records[0]]
    records = [records[0], *[r if r else [""] * len(header) for r in records[1:]]]
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
        raise InputRowsError(f"rows file {p} is not valid JSON: {exc.msg} (line {exc.lineno}, "
                             f"column {exc.colno})") from None
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


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."
