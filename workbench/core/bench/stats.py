"""Full-resolution latency statistics: every sample is kept, nothing is bucketed.

Samples are integer nanoseconds (from `time.perf_counter_ns`), so a percentile is one of the
measured values, exactly as measured.

Percentile definition (nearest rank, the one HdrHistogram's `valueAtPercentile` and wrk use):
for n sorted samples x[1] <= ... <= x[n] and 0 < p <= 100, the p-th percentile is x[k] with
k = ceil(p / 100 * n); p = 0 gives the minimum. Example: for [1, 2, 3, 4] p50 = 2 and p99 = 4.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: percentiles every statistics block reports (p99.9 is the JSON key "p99_9_ms")
PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0, 99.9)


def percentile_key(p: float) -> str:
    """The JSON/CSV key for percentile `p`: 50 -> "p50_ms", 99.9 -> "p99_9_ms"."""
    text = f"{p:g}".replace(".", "_")
    return f"p{text}_ms"


def nearest_rank(sorted_values: Sequence[float] | np.ndarray, p: float) -> float:
    """The nearest-rank p-th percentile of already sorted values (see the module docstring)."""
    n = len(sorted_values)
    if n == 0:
        raise ValueError("no samples")
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"percentile {p} is outside 0..100")
    if p == 0.0:
        return float(sorted_values[0])
    # round first so that e.g. 99.9/100*1000 = 999.0000000000001 does not become rank 1000
    rank = math.ceil(round(p / 100.0 * n, 9))
    return float(sorted_values[min(max(rank, 1), n) - 1])


@dataclass(frozen=True)
class LatencyStats:
    """Summary of one set of latency samples, in milliseconds (full float precision)."""

    count: int
    mean_ms: float
    stdev_ms: float
    min_ms: float
    max_ms: float
    percentiles_ms: dict[float, float]

    def percentile(self, p: float) -> float:
        return self.percentiles_ms[p]

    @property
    def p50_ms(self) -> float:
        return self.percentiles_ms[50.0]

    @property
    def p99_ms(self) -> float:
        return self.percentiles_ms[99.0]

    def to_json(self) -> dict[str, Any]:
        """Flat dict: count, mean_ms, stdev_ms, min_ms, p50_ms ... p99_9_ms, max_ms."""
        out: dict[str, Any] = {"count": self.count, "mean_ms": self.mean_ms, "stdev_ms": self.stdev_ms,
                               "min_ms": self.min_ms}
        for p, value in self.percentiles_ms.items():
            out[percentile_key(p)] = value
        out["max_ms"] = self.max_ms
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LatencyStats:
        percentiles = {p: float(data[percentile_key(p)]) for p in PERCENTILES if data.get(percentile_key(p)) is not None}
        return cls(count=int(data.get("count") or 0), mean_ms=_float(data.get("mean_ms")),
                   stdev_ms=_float(data.get("stdev_ms")), min_ms=_float(data.get("min_ms")),
                   max_ms=_float(data.get("max_ms")), percentiles_ms=percentiles)

    @classmethod
    def empty(cls) -> LatencyStats:
        nan = float("nan")
        return cls(count=0, mean_ms=nan, stdev_ms=nan, min_ms=nan, max_ms=nan,
                   percentiles_ms={p: nan for p in PERCENTILES})


def _float(value: Any) -> float:
    return float("nan") if value is None or value == "" else float(value)


def as_ns_array(samples_ns: Iterable[int] | np.ndarray | array) -> np.ndarray:
    """Samples (int nanoseconds) as an int64 numpy array, without copying an `array('q')`."""
    if isinstance(samples_ns, np.ndarray):
        return samples_ns.astype(np.int64, copy=False)
    if isinstance(samples_ns, array) and samples_ns.typecode == "q":
        return np.frombuffer(samples_ns, dtype=np.int64) if len(samples_ns) else np.empty(0, np.int64)
    return np.fromiter(samples_ns, dtype=np.int64)


def summarize_ns(samples_ns: Iterable[int] | np.ndarray | array,
                 percentiles: Sequence[float] = PERCENTILES) -> LatencyStats:
    """Statistics of latency samples given in integer nanoseconds."""
    values = np.sort(as_ns_array(samples_ns))
    n = int(values.size)
    if n == 0:
        return LatencyStats.empty()
    ns_per_ms = 1e6   # division (correctly rounded) keeps 147300001 ns == 147.300001 ms exactly
    mean = float(values.mean(dtype=np.float64)) / ns_per_ms
    stdev = float(values.std(dtype=np.float64)) / ns_per_ms
    return LatencyStats(
        count=n, mean_ms=mean, stdev_ms=stdev, min_ms=float(values[0]) / ns_per_ms,
        max_ms=float(values[-1]) / ns_per_ms,
        percentiles_ms={float(p): nearest_rank(values, p) / ns_per_ms for p in percentiles},
    )


def quick_percentiles_ms(samples_ns: np.ndarray, percentiles: Sequence[float] = (50.0, 99.0)) -> list[float]:
    """Nearest-rank percentiles (ms) of an unsorted sample window; NaN when it is empty."""
    if samples_ns.size == 0:
        return [float("nan")] * len(percentiles)
    values = np.sort(samples_ns)
    return [nearest_rank(values, p) / 1e6 for p in percentiles]
