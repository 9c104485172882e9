"""Per-level sample recording shared by the HTTP and gRPC load engines.

Every completed request leaves integer-nanosecond samples (never buckets): the latency measured from
its intended send time (`corrected`, the coordinated-omission-free number of an open loop), from its
actual send time (`uncorrected`) and the client's own part of it (`client`). Once per second of the
measurement a `TimePoint` is built from the samples of that second and handed to the callback.
"""

from __future__ import annotations

import math
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.core.bench.stats import as_ns_array, quick_percentiles_ms


@dataclass(frozen=True)
class TimePoint:
    """One second of a load test, as the live chart draws it."""

    level: float                 # concurrency (closed loop) or target rate req/s (open loop)
    second: int                  # 1, 2, ... since the level's measurement started
    requests: int                # completed requests in this second (ok + errors)
    errors: int
    throughput_rps: float        # successful responses per second in this second
    p50_ms: float                # of this second's successful responses (corrected in an open loop)
    p99_ms: float

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "second": self.second, "requests": self.requests, "errors": self.errors,
                "throughput_rps": self.throughput_rps,
                "p50_ms": None if math.isnan(self.p50_ms) else self.p50_ms,
                "p99_ms": None if math.isnan(self.p99_ms) else self.p99_ms}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TimePoint:
        nan = float("nan")
        return cls(level=float(data["level"]), second=int(data["second"]), requests=int(data["requests"]),
                   errors=int(data["errors"]), throughput_rps=float(data["throughput_rps"]),
                   p50_ms=nan if data.get("p50_ms") is None else float(data["p50_ms"]),
                   p99_ms=nan if data.get("p99_ms") is None else float(data["p99_ms"]))


ProgressCallback = Callable[[TimePoint], None]


class Recorder:
    """Collects the samples of one measurement level (not thread-safe: one engine thread owns it)."""

    def __init__(self, level: float, t0_ns: int, on_second: ProgressCallback | None = None,
                 max_errors: int | None = None, max_error_rate: float | None = None,
                 min_requests_for_rate: int = 20) -> None:
        self.level = level
        self.t0_ns = t0_ns
        self.on_second = on_second
        self.corrected = array("q")
        self.uncorrected = array("q")
        self.client = array("q")
        self.done_at = array("q")
        self.errors: dict[str, int] = {}
        self.error_count = 0
        self.max_errors = max_errors
        self.max_error_rate = max_error_rate
        self.min_requests_for_rate = min_requests_for_rate
        self.timeline: list[TimePoint] = []
        self._next_second_ns = t0_ns + 1_000_000_000
        self._second = 0
        self._window_start = 0
        self._window_errors = 0
        self.last_done_ns = t0_ns

    # -- hot path ---------------------------------------------------------------------------------
    def ok(self, intended_ns: int, sent_ns: int, done_ns: int, client_ns: int) -> None:
        self.corrected.append(done_ns - intended_ns)
        self.uncorrected.append(done_ns - sent_ns)
        self.client.append(client_ns)
        self.done_at.append(done_ns)
        self.last_done_ns = done_ns

    def error(self, kind: str, done_ns: int) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        self.error_count += 1
        self._window_errors += 1
        self.last_done_ns = done_ns

    @property
    def completed(self) -> int:
        return len(self.corrected) + self.error_count

    def over_budget(self) -> bool:
        """True when the error budget (count or rate) is spent."""
        if self.max_errors is not None and self.error_count > self.max_errors:
            return True
        if self.max_error_rate is not None:
            total = self.completed
            if total >= self.min_requests_for_rate and self.error_count / total > self.max_error_rate:
                return True
        return False

    def tick(self, now_ns: int) -> None:
        """Emit the TimePoints of every whole second that ended before `now_ns`."""
        while now_ns >= self._next_second_ns:
            self._emit(self._next_second_ns)
            self._next_second_ns += 1_000_000_000

    def finish(self, end_ns: int) -> None:
        """Emit the last partial second (if it saw anything) at the end of the level."""
        self.tick(end_ns)
        if len(self.corrected) > self._window_start or self._window_errors:
            self._emit(end_ns)

    def _emit(self, boundary_ns: int) -> None:
        end = len(self.corrected)
        # completions are appended in time order, so the window is a contiguous tail slice
        done = as_ns_array(self.done_at)[self._window_start:end]
        cut = int(np.searchsorted(done, boundary_ns, side="left"))
        stop = self._window_start + cut
        window = as_ns_array(self.corrected)[self._window_start:stop]
        span_s = max((boundary_ns - (self._next_second_ns - 1_000_000_000)) / 1e9, 1e-9)
        p50, p99 = quick_percentiles_ms(window)
        self._second += 1
        point = TimePoint(level=self.level, second=self._second, requests=int(window.size) + self._window_errors,
                          errors=self._window_errors, throughput_rps=window.size / span_s, p50_ms=p50, p99_ms=p99)
        self._window_start = stop
        self._window_errors = 0
        self.timeline.append(point)
        if self.on_second is not None:
            self.on_second(point)


def monotonic_ns() -> int:
    """The clock every engine uses (perf_counter_ns: monotonic, highest resolution)."""
    return time.perf_counter_ns()
