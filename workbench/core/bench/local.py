"""Local benchmark: one model x runtimes x batch sizes, on sample rows, honest per-call percentiles.

For each runtime the model is loaded once (load time and RSS delta recorded); for each batch size the
rows are cycled into batches, each converted once into the runtime's own inputs
(`Session.prepare`), a warm-up runs, then the runtime's call on those inputs (`PreparedCall.run`) is
timed call by call (perf_counter_ns, every sample kept) until the duration or the call count is
reached. So the percentiles are the runtime's, not pandas'; converting a batch and turning the
result into a PredictionBatch are measured apart (`prepare_us`, `finish_us`). `LocalPlan(timed=
"end_to_end")` times the whole `session.predict(batch)` instead. The peak RSS of each configuration
is measured with the kernel's resettable high-water mark (see memory.py).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from workbench.core.bench import memory
from workbench.core.bench.histogram import LatencyHistogram
from workbench.core.bench.stats import LatencyStats, summarize_ns
from workbench.core.errors import UntrustedPickle, WorkbenchError

#: `rows_source` of a benchmark on rows generated from the model's inputs
GENERATED = "generated"
#: distinct pre-built batches cycled through per configuration (slicing a DataFrame per call would be timed)
_DISTINCT_BATCHES = 8
#: rounds over the distinct batches, and the time budget, for measuring conversion costs (prepare_us, finish_us)
_CONVERSION_ROUNDS = 5
_CONVERSION_BUDGET_NS = 300_000_000
#: what each timed call covers: the runtime's own call on converted inputs, or the whole predict(frame)
TIMED = ("backend", "end_to_end")


@dataclass
class LocalPlan:
    """What to run: runtimes (None = every runtime available for the format), batch sizes, stop rule."""

    runtimes: tuple[str, ...] | None = None
    batch_sizes: tuple[int, ...] = (1, 8, 64)
    duration_s: float | None = 2.0
    #: calls per configuration (stops at whichever of duration/count comes first)
    count: int | None = None
    warmup_calls: int = 5
    warmup_s: float = 0.5
    #: "backend": time `PreparedCall.run()` (inputs converted beforehand); "end_to_end": `predict(frame)`
    timed: str = "backend"

    def __post_init__(self) -> None:
        if self.timed not in TIMED:
            raise WorkbenchError(f"timed must be one of {', '.join(TIMED)}, got {self.timed!r}")
        if not self.batch_sizes or any(int(b) != b or b < 1 for b in self.batch_sizes):
            raise WorkbenchError(f"batch sizes must be positive integers, got {list(self.batch_sizes)}")
        if self.duration_s is None and self.count is None:
            raise WorkbenchError("a benchmark needs a duration or a call count")

    def to_json(self) -> dict[str, Any]:
        return {"runtimes": list(self.runtimes) if self.runtimes else None, "batch_sizes": list(self.batch_sizes),
                "duration_s": self.duration_s, "count": self.count, "warmup_calls": self.warmup_calls,
                "warmup_s": self.warmup_s, "timed": self.timed}


@dataclass
class LocalConfigResult:
    """One runtime x batch size: per-call latency, throughput and memory."""

    runtime: str
    batch_size: int
    calls: int = 0
    rows: int = 0
    elapsed_s: float = 0.0
    throughput_rows_s: float = 0.0
    latency: LatencyStats = field(default_factory=LatencyStats.empty)   # per timed call (see LocalPlan.timed)
    load_s: float | None = None            # loading the model in this runtime (same for all batch sizes)
    rss_load_delta_mb: float | None = None  # RSS growth caused by loading the model
    rss_peak_delta_mb: float | None = None  # peak RSS during this configuration minus RSS before it
    rss_mb: float | None = None            # RSS after the configuration
    stopped_by: str = ""                   # duration | count | cancelled | error
    error: str | None = None
    #: per-call latency histogram from every sample (log bins, see histogram.py); None without samples
    histogram: LatencyHistogram | None = None
    #: what the latency covers: "backend" (the runtime's call) or "end_to_end" (the whole predict)
    timed: str = "backend"
    #: median microseconds to convert one batch into the runtime's inputs (timed "backend" only)
    prepare_us: float | None = None
    #: median microseconds to turn one call's result into a PredictionBatch (timed "backend" only)
    finish_us: float | None = None

    @property
    def per_row_us(self) -> float | None:
        return None if not self.rows else self.elapsed_s / self.rows * 1e6


@dataclass
class LocalBenchResult:
    """A whole local benchmark."""

    model: str
    format: str
    rows_source: str | None
    sample_rows: int
    plan: LocalPlan
    configs: list[LocalConfigResult]
    cancelled: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_description(self) -> str:
        """"64 generated rows" or "30 rows from rows.csv"."""
        if not self.rows_source or self.rows_source == GENERATED:
            return f"{self.sample_rows} generated rows"
        return f"{self.sample_rows} rows from {self.rows_source}"


@dataclass(frozen=True)
class LocalProgress:
    """Where a running benchmark is: configuration `index` of `total`, and its fraction done."""

    runtime: str
    batch_size: int
    index: int
    total: int
    calls: int
    fraction: float       # of the current configuration, 0..1
    last: LocalConfigResult | None = None   # set when a configuration just finished


def resolve_runtimes(fmt: str, names: Sequence[str] | None) -> list[str]:
    """The runtimes to benchmark: `names` checked against the registry, or all that can run `fmt` here."""
    from workbench.core.runtimes import RUNTIMES, runtimes_for

    if names:
        for name in names:
            runtime = RUNTIMES.get(name)
            if not runtime.can_run(fmt):
                able = ", ".join(r.name for r in runtimes_for(fmt)) or "none"
                raise WorkbenchError(f"runtime {name!r} cannot run {fmt} models", hint=f"runtimes for {fmt}: {able}")
        return list(dict.fromkeys(names))
    able = runtimes_for(fmt)
    if not able:
        raise WorkbenchError(f"no runtime runs {fmt} models")
    checked = [(r.name, r.availability(fmt)) for r in able]
    found = [name for name, avail in checked if avail.ok]
    if not found:
        raise WorkbenchError(f"no runtime available here runs {fmt} models -- {unavailable_reasons(checked)}")
    return found


def unavailable_reasons(checked: Sequence[tuple[str, Any]]) -> str:
    """Why each runtime cannot run here, runtimes with the same reason named together:
    "jpmml, pmml4s: Java not found: install a JRE 11 or newer, ..."."""
    by_reason: dict[str, list[str]] = {}
    for name, avail in checked:
        if not avail.ok:
            by_reason.setdefault(avail.message(), []).append(name)
    return "; ".join(f"{', '.join(names)}: {reason}" for reason, names in by_reason.items())


def run_local_bench(model_path: str | Path, rows: Any = None, plan: LocalPlan | None = None, *,
                    trust: bool = False, rows_source: str | None = None, sample_rows: int = 64,
                    progress: Callable[[LocalProgress], None] | None = None,
                    cancel: threading.Event | None = None) -> LocalBenchResult:
    """Benchmark `model_path` over `plan` on `rows` (a DataFrame; generated from the model's inputs if None)."""
    from workbench.core.models import inspect_model
    from workbench.core.rows import generate_rows, prepare_rows

    plan = plan or LocalPlan()
    cancel = cancel or threading.Event()
    info = inspect_model(model_path, trust=trust)
    if rows is None:
        rows = generate_rows(info, sample_rows)
        rows_source = rows_source or GENERATED
    prepared = prepare_rows(rows, info)
    names = resolve_runtimes(info.format, plan.runtimes)
    total = len(names) * len(plan.batch_sizes)
    configs: list[LocalConfigResult] = []
    index = 0
    for name in names:
        if cancel.is_set():
            break
        session, load_s, load_delta, error = _load(name, model_path, info, trust)
        for batch_size in plan.batch_sizes:
            if cancel.is_set():
                break
            index += 1
            if session is None:
                result = LocalConfigResult(runtime=name, batch_size=batch_size, stopped_by="error", error=error,
                                           timed=plan.timed)
            else:
                result = _measure(session, name, batch_size, prepared, plan, cancel, progress, index, total)
                result.load_s, result.rss_load_delta_mb = load_s, load_delta
            configs.append(result)
            if progress is not None:
                progress(LocalProgress(name, batch_size, index, total, result.calls, 1.0, last=result))
        del session
    return LocalBenchResult(model=str(model_path), format=info.format, rows_source=rows_source,
                            sample_rows=len(prepared), plan=plan, configs=configs, cancelled=cancel.is_set())


def _load(name: str, path: str | Path, info: Any, trust: bool) -> tuple[Any, float | None, float | None, str | None]:
    from workbench.core.runtimes import RUNTIMES

    before = memory.rss_bytes()
    start = time.perf_counter()
    try:
        session = RUNTIMES.get(name).load(path, info, trust)
    except UntrustedPickle:
        raise  # the same for every runtime: the user has to decide, not the benchmark
    except WorkbenchError as exc:
        return None, None, None, str(exc)
    load_s = time.perf_counter() - start
    after = memory.rss_bytes()
    delta = memory.to_mb(after - before) if (after is not None and before is not None) else None
    return session, load_s, delta, None


def batches_of(prepared: Any, batch_size: int, distinct: int = _DISTINCT_BATCHES) -> list[Any]:
    """Up to `distinct` batches of `batch_size` rows, cycling the rows (repeated when too few)."""
    import numpy as np

    n = len(prepared)
    out = []
    for i in range(max(1, min(distinct, -(-n // batch_size)))):
        idx = (np.arange(batch_size) + i * batch_size) % n
        batch = prepared.iloc[idx]
        batch.attrs = dict(prepared.attrs)
        out.append(batch)
    return out


def _measure(session: Any, name: str, batch_size: int, prepared: Any, plan: LocalPlan,
             cancel: threading.Event, progress: Callable[[LocalProgress], None] | None,
             index: int, total: int) -> LocalConfigResult:
    from array import array

    from workbench.core.runtimes.base import prepare_call

    pc = time.perf_counter_ns
    batches = batches_of(prepared, batch_size)
    prepare_ns: list[int] = []
    finish_ns: list[int] = []
    try:
        if plan.timed == "backend":
            calls_of = [prepare_call(session, batch) for batch in batches]
            raws = [call.run() for call in calls_of]
            for call, raw in zip(calls_of, raws, strict=True):  # every result must make sense before timing
                call.finish(raw)
            prepare_ns, finish_ns = _conversion_costs(session, batches, calls_of, raws)
            timed = [call.run for call in calls_of]
        else:
            timed = [partial(session.predict, batch) for batch in batches]
        warm_end = pc() + int(plan.warmup_s * 1e9)
        for i in range(max(1, plan.warmup_calls)):
            timed[i % len(timed)]()
        i = 0
        while pc() < warm_end and not cancel.is_set():
            timed[i % len(timed)]()
            i += 1
    except Exception as exc:  # noqa: BLE001 - a runtime that cannot predict these rows: report it, go on
        return LocalConfigResult(runtime=name, batch_size=batch_size, stopped_by="error", timed=plan.timed,
                                 error=f"{type(exc).__name__}: {exc}".splitlines()[0])
    memory.reset_peak()
    rss_before = memory.rss_bytes()
    samples = array("q")
    nb = len(timed)
    start = pc()
    end = start + int(plan.duration_s * 1e9) if plan.duration_s else 0
    count = plan.count
    next_report = start + 200_000_000
    stopped_by = ""
    calls = 0
    error = None
    while True:
        t = pc()
        if end and t >= end:
            stopped_by = "duration"
            break
        if count is not None and calls >= count:
            stopped_by = "count"
            break
        if cancel.is_set():
            stopped_by = "cancelled"
            break
        if progress is not None and t >= next_report:
            frac = (t - start) / (end - start) if end else calls / max(1, count or 1)
            if count is not None and end:
                frac = max(frac, calls / count)
            progress(LocalProgress(name, batch_size, index, total, calls, min(1.0, frac)))
            next_report = t + 200_000_000
        call = timed[calls % nb]
        t0 = pc()
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - reported in the result, the other configurations go on
            stopped_by, error = "error", f"{type(exc).__name__}: {exc}".splitlines()[0]
            break
        samples.append(pc() - t0)
        calls += 1
    elapsed_ns = sum(samples)
    rss_after = memory.rss_bytes()
    peak_delta = memory.peak_since_reset(rss_before, rss_after)
    rows = calls * batch_size
    return LocalConfigResult(
        runtime=name, batch_size=batch_size, calls=calls, rows=rows, elapsed_s=elapsed_ns / 1e9,
        throughput_rows_s=rows / (elapsed_ns / 1e9) if elapsed_ns else 0.0, latency=summarize_ns(samples),
        rss_peak_delta_mb=memory.to_mb(peak_delta),
        rss_mb=memory.to_mb(rss_after), stopped_by=stopped_by, error=error,
        histogram=LatencyHistogram.from_ns(samples), timed=plan.timed,
        prepare_us=_median_us(prepare_ns), finish_us=_median_us(finish_ns))


def _conversion_costs(session: Any, batches: list[Any], calls: list[Any],
                      raws: list[Any]) -> tuple[list[int], list[int]]:
    """Nanoseconds to convert each batch into the runtime's inputs and to finish each result, measured
    warm (caches filled by the first conversion) over a few rounds of the distinct batches."""
    from workbench.core.runtimes.base import prepare_call

    pc = time.perf_counter_ns
    prepare_ns: list[int] = []
    finish_ns: list[int] = []
    deadline = pc() + _CONVERSION_BUDGET_NS
    for _ in range(_CONVERSION_ROUNDS):
        for batch, call, raw in zip(batches, calls, raws, strict=True):
            t = pc()
            prepare_call(session, batch)
            prepare_ns.append(pc() - t)
            t = pc()
            call.finish(raw)
            finish_ns.append(pc() - t)
        if pc() > deadline:
            break
    return prepare_ns, finish_ns


def _median_us(ns: list[int]) -> float | None:
    return statistics.median(ns) / 1000.0 if ns else None
