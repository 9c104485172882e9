"""Benchmark and load-test results on disk: JSON (everything) and CSV (one row per configuration).

The schema is documented in docs/results-schema.md. Both files read back into a `BenchResult`, and
`compare_results(a, b)` lines two of them up configuration by configuration for an A/B comparison.
Writes are atomic (temp file + os.replace).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.core.bench.histogram import LatencyHistogram, histogram_of
from workbench.core.bench.stats import PERCENTILES, LatencyStats, percentile_key
from workbench.core.errors import WorkbenchError
from workbench.core.files import atomic_write_text
from workbench.core.types import finite

SCHEMA = "workbench-bench-result"
SCHEMA_VERSION = 1
KINDS = ("local", "load")

STAT_COLUMNS = ["count", "mean_ms", "stdev_ms", "min_ms", *[percentile_key(p) for p in PERCENTILES], "max_ms"]
LOCAL_COLUMNS = ["kind", "runtime", "batch_size", "calls", "rows", "elapsed_s", "throughput_rows_s",
                 *STAT_COLUMNS, "load_s", "rss_load_delta_mb", "rss_peak_delta_mb", "rss_mb", "stopped_by", "error",
                 "histogram", "timed", "prepare_us", "finish_us"]
LOAD_COLUMNS = ["kind", "protocol", "mode", "level", "requests", "ok", "errors_total", "errors", "elapsed_s",
                "throughput_rps", *STAT_COLUMNS, *[f"uncorrected_{c}" for c in STAT_COLUMNS],
                "client_in_latency_p50_us", "client_in_latency_p99_us", "client_cpu_us_per_request",
                "stopped_by", "incomplete", "unsent", "histogram", "sent", "failed"]
_INT_COLUMNS = {"batch_size", "calls", "rows", "count", "requests", "ok", "errors_total", "incomplete", "unsent",
                "uncorrected_count", "sent", "failed"}
_TEXT_COLUMNS = {"kind", "runtime", "protocol", "mode", "stopped_by", "error", "errors", "timed"}


@dataclass
class BenchResult:
    """A result file's content: what was measured (`subject`, `plan`) and one row per configuration."""

    kind: str                                   # "local" or "load"
    rows: list[dict[str, Any]]
    subject: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    timeline: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "kind": self.kind, "created": self.created,
                "machine": self.machine, "subject": self.subject, "plan": self.plan, "summary": self.summary,
                "rows": self.rows, "timeline": self.timeline}

    @property
    def columns(self) -> list[str]:
        return LOCAL_COLUMNS if self.kind == "local" else LOAD_COLUMNS

    def key(self, row: dict[str, Any]) -> tuple[Any, ...]:
        """The configuration a row measures: (runtime, batch size) or (protocol, mode, level)."""
        if self.kind == "local":
            return (row.get("runtime"), int(row.get("batch_size") or 0))
        return (row.get("protocol"), row.get("mode"), float(row.get("level") or 0))


def machine_info() -> dict[str, Any]:
    """nproc, CPU model, RAM, OS and Python: recorded with every result."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ram = None
    try:
        ram = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1)
    except (ValueError, OSError, AttributeError):
        pass
    from workbench import __version__

    return {"nproc": os.cpu_count(), "cpu_model": cpu, "ram_gb": ram, "os": platform.platform(),
            "python": platform.python_version(), "workbench": __version__}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _stats_columns(stats: LatencyStats, prefix: str = "") -> dict[str, Any]:
    """The stats as row columns; NaN (no samples) becomes None, as it reads back from JSON and CSV."""
    return {f"{prefix}{k}": finite(v) for k, v in stats.to_json().items()}


def from_local(result: Any) -> BenchResult:
    """BenchResult of a `LocalBenchResult`."""
    rows = []
    for c in result.configs:
        row: dict[str, Any] = {"kind": "local", "runtime": c.runtime, "batch_size": c.batch_size, "calls": c.calls,
                               "rows": c.rows, "elapsed_s": c.elapsed_s, "throughput_rows_s": c.throughput_rows_s}
        row.update(_stats_columns(c.latency))
        row.update({"load_s": c.load_s, "rss_load_delta_mb": c.rss_load_delta_mb,
                    "rss_peak_delta_mb": c.rss_peak_delta_mb, "rss_mb": c.rss_mb, "stopped_by": c.stopped_by,
                    "error": c.error, "histogram": _histogram_json(getattr(c, "histogram", None)),
                    "timed": c.timed, "prepare_us": c.prepare_us, "finish_us": c.finish_us})
        rows.append(row)
    return BenchResult(kind="local", rows=rows, created=_now(), machine=machine_info(),
                       subject={"model": result.model, "format": result.format, "rows_source": result.rows_source,
                                "sample_rows": result.sample_rows},
                       plan=result.plan.to_json(), summary={"cancelled": result.cancelled, **result.meta})


def from_load(result: Any) -> BenchResult:
    """BenchResult of a `LoadResult` (the per-second timeline of every level included)."""
    rows = []
    timeline = []
    for lv in result.levels:
        row: dict[str, Any] = {"kind": "load", "protocol": result.protocol, "mode": lv.mode, "level": lv.level,
                               "requests": lv.requests, "ok": lv.ok, "errors_total": lv.error_count,
                               "errors": dict(lv.errors), "elapsed_s": lv.elapsed_s,
                               "throughput_rps": lv.throughput_rps}
        row.update(_stats_columns(lv.latency))
        row.update(_stats_columns(lv.uncorrected, "uncorrected_"))
        row.update({"client_in_latency_p50_us": lv.client.in_latency_p50_us,
                    "client_in_latency_p99_us": lv.client.in_latency_p99_us,
                    "client_cpu_us_per_request": lv.client.cpu_us_per_request,
                    "stopped_by": lv.stopped_by, "incomplete": lv.incomplete, "unsent": lv.unsent,
                    "histogram": _histogram_json(getattr(lv, "histogram", None)),
                    # sent = ok + errors_total + incomplete; failed = errors_total + incomplete
                    "sent": lv.sent, "failed": lv.failed})
        rows.append(row)
        timeline.extend(p.to_json() for p in lv.timeline)
    return BenchResult(kind="load", rows=rows, created=_now(), machine=machine_info(),
                       subject={"target": result.target, "protocol": result.protocol, "model": result.model},
                       plan=result.plan.to_json(), timeline=timeline,
                       summary={"cancelled": result.cancelled, "stopped_early": result.stopped_early,
                                "client_floor_us": result.client_floor_us,
                                "interrupted": bool(getattr(result, "interrupted", False)),
                                "failed": sum(lv.failed for lv in result.levels), **result.meta})


def _histogram_json(hist: LatencyHistogram | None) -> dict[str, Any] | None:
    return None if hist is None else hist.to_json()


def row_histogram(row: dict[str, Any]) -> LatencyHistogram | None:
    """The latency histogram of a result row (JSON or CSV); None for files written before histograms."""
    try:
        return histogram_of(row.get("histogram"))
    except (ValueError, KeyError, TypeError):
        return None


# ---- files -----------------------------------------------------------------------------------------

def to_csv_text(result: BenchResult) -> str:
    """CSV: a header of the kind's columns, one row per configuration; `errors` as kind=n;kind=n."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=result.columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in result.rows:
        flat = {}
        for col in result.columns:
            value = row.get(col)
            if col == "errors" and isinstance(value, dict):
                value = ";".join(f"{k}={v}" for k, v in value.items())
            elif col == "histogram" and value is not None:
                value = histogram_of(value).to_text()
            elif isinstance(value, float):
                value = "" if not math.isfinite(value) else repr(value)
            flat[col] = "" if value is None else value
        writer.writerow(flat)
    return out.getvalue()


_NUMBER_LIST = re.compile(r"\[\s*(-?[0-9][-+0-9.eE]*(?:,\s*-?[0-9][-+0-9.eE]*)*)\s*\]")


def to_json_text(result: BenchResult) -> str:
    """Indented JSON with lists of plain numbers (histogram edges and counts) kept on one line."""
    text = json.dumps(finite(result.to_json()), indent=2, ensure_ascii=False)
    return _NUMBER_LIST.sub(lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text) + "\n"


def save_result(result: BenchResult, path: str | Path) -> Path:
    """Write `result` as JSON (.json) or CSV (.csv), atomically. Returns the path."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        atomic_write_text(p, to_csv_text(result))
    elif suffix == ".json":
        atomic_write_text(p, to_json_text(result))
    else:
        raise WorkbenchError(f"cannot save results as {p.name!r}", hint="use a .json or .csv file name")
    return p


def load_result(path: str | Path) -> BenchResult:
    """Read a result file written by `save_result` (JSON or CSV)."""
    p = Path(path)
    if not p.exists():
        raise WorkbenchError(f"{p}: no such file or folder")
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkbenchError(f"cannot read result file {p}: {exc.strerror or exc}") from None
    if p.suffix.lower() == ".csv" or not text.lstrip().startswith("{"):
        return _from_csv(p, text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkbenchError(f"{p.name} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise WorkbenchError(f"{p.name} is not a workbench result file (no \"schema\": \"{SCHEMA}\")")
    try:
        version = int(data.get("schema_version", 0))
    except (TypeError, ValueError):
        version = -1
    if version < 0:
        raise WorkbenchError(f"{p.name} has a bad schema_version {data.get('schema_version')!r}")
    if version > SCHEMA_VERSION:
        raise WorkbenchError(f"{p.name} uses result schema {data['schema_version']}, newer than this workbench "
                             f"({SCHEMA_VERSION})", hint="upgrade the workbench")
    rows = data.get("rows", [])
    if data.get("kind") not in KINDS or not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise WorkbenchError(f"{p.name} is not a workbench result file (kind {data.get('kind')!r}, "
                             f"expected {' or '.join(KINDS)} with a list of rows)")
    return BenchResult(kind=data["kind"], rows=list(rows), subject=data.get("subject", {}),
                       plan=data.get("plan", {}), machine=data.get("machine", {}), created=data.get("created", ""),
                       timeline=list(data.get("timeline", [])), summary=data.get("summary", {}))


def _parse_cell(col: str, value: str) -> Any:
    if value == "":
        return None
    if col == "errors":
        out = {}
        for part in value.split(";"):
            if part:
                k, _, v = part.rpartition("=")
                out[k] = int(v)
        return out
    if col in _TEXT_COLUMNS:
        return value
    if col == "histogram":
        return LatencyHistogram.from_text(value).to_json()
    if col in _INT_COLUMNS:
        return int(float(value))
    return float(value)


def _from_csv(p: Path, text: str) -> BenchResult:
    try:
        reader = csv.DictReader(io.StringIO(text))
        fields = reader.fieldnames or []
    except csv.Error as exc:
        raise WorkbenchError(f"{p.name} is not a workbench result CSV: {exc}") from None
    if "kind" not in fields:
        raise WorkbenchError(f"{p.name} is not a workbench result CSV (no 'kind' column)")
    rows = []
    try:
        for line, raw in enumerate(reader, start=2):
            row = {}
            for k, v in raw.items():
                if k is None:
                    continue
                try:
                    row[k] = _parse_cell(k, v or "")
                except (ValueError, KeyError, TypeError):
                    raise WorkbenchError(f"{p.name} is not a workbench result CSV: line {line}, column {k!r}: "
                                         f"{v!r} is not a valid value") from None
            rows.append(row)
    except csv.Error as exc:
        raise WorkbenchError(f"{p.name} is not a workbench result CSV: {exc}") from None
    kind = rows[0]["kind"] if rows else ("local" if "runtime" in fields else "load")
    if kind not in KINDS or any(row.get("kind") != kind for row in rows):
        raise WorkbenchError(f"{p.name} is not a workbench result CSV (kind {kind!r}, expected "
                             f"{' or '.join(KINDS)} on every row)")
    needed = ("runtime", "batch_size") if kind == "local" else ("protocol", "mode", "level")
    missing = [c for c in needed if c not in fields]
    if missing:
        raise WorkbenchError(f"{p.name} is not a workbench {kind} result CSV (no {', '.join(map(repr, missing))} "
                             f"column)")
    for row in rows:
        if kind == "load" and row.get("errors") is None:
            row["errors"] = {}
    return BenchResult(kind=kind, rows=rows)


# ---- A/B -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ComparisonRow:
    """One configuration measured in both results: B's value over A's for the headline metrics."""

    key: tuple[Any, ...]
    a: dict[str, Any]
    b: dict[str, Any]

    def ratio(self, column: str) -> float | None:
        va, vb = self.a.get(column), self.b.get(column)
        if va in (None, 0) or vb is None:
            return None
        return float(vb) / float(va)

    @property
    def same_timing(self) -> bool:
        """False when the two local rows timed different things (see `timed_of`): their ratios mislead."""
        return timed_of(self.a) == timed_of(self.b)

    def to_json(self) -> dict[str, Any]:
        throughput = "throughput_rows_s" if "throughput_rows_s" in self.a else "throughput_rps"
        return {"key": list(self.key), "p50_ratio": self.ratio("p50_ms"), "p99_ratio": self.ratio("p99_ms"),
                "throughput_ratio": self.ratio(throughput), "same_timing": self.same_timing,
                "a": {k: self.a.get(k) for k in ("p50_ms", "p99_ms", throughput)},
                "b": {k: self.b.get(k) for k in ("p50_ms", "p99_ms", throughput)}}


def timed_of(row: dict[str, Any]) -> str | None:
    """What a local row's latency covers: "backend" or "end_to_end" (files from before the `timed`
    column timed the whole predict); None for load rows."""
    if row.get("kind") != "local":
        return None
    return row.get("timed") or "end_to_end"


def compare_results(a: BenchResult, b: BenchResult) -> list[ComparisonRow]:
    """Pair up the configurations present in both results (ratios are B / A)."""
    if a.kind != b.kind:
        raise WorkbenchError(f"cannot compare a {a.kind} result with a {b.kind} result")
    b_rows = {b.key(row): row for row in b.rows}
    return [ComparisonRow(a.key(row), row, b_rows[a.key(row)]) for row in a.rows if a.key(row) in b_rows]
