"""Latency statistics: nearest-rank percentiles on exact samples, checked against hand computation.

Definition under test (workbench.core.bench.stats): for n sorted samples x[1..n] and 0 < p <= 100 the
p-th percentile is x[ceil(p/100 * n)]; p = 0 is the minimum.
"""

from __future__ import annotations

from array import array

import pytest

from workbench.core.bench.stats import LatencyStats, nearest_rank, percentile_key, summarize_ns


def test_nearest_rank_by_hand() -> None:
    values = [1, 2, 3, 4]
    assert nearest_rank(values, 50) == 2      # ceil(0.5*4) = 2
    assert nearest_rank(values, 75) == 3      # ceil(3.0) = 3
    assert nearest_rank(values, 76) == 4      # ceil(3.04) = 4
    assert nearest_rank(values, 99) == 4
    assert nearest_rank(values, 0) == 1
    assert nearest_rank(values, 100) == 4
    assert nearest_rank([7], 50) == 7


def test_p99_9_of_a_thousand_samples_is_the_999th() -> None:
    # 99.9/100*1000 is 999.0000000000001 in floating point: the rank must still be 999, not 1000
    values = list(range(1, 1001))
    assert nearest_rank(values, 99.9) == 999
    assert nearest_rank(values, 99) == 990
    assert nearest_rank(values, 50) == 500
    assert nearest_rank(values, 90) == 900
    assert nearest_rank(values, 95) == 950


def test_summary_in_milliseconds_from_nanoseconds_unsorted() -> None:
    # 10 samples: 1..9 ms and one 100 ms outlier, given out of order as integer nanoseconds
    ms = [5, 1, 9, 100, 3, 7, 2, 8, 4, 6]
    stats = summarize_ns(array("q", [m * 1_000_000 for m in ms]))
    assert stats.count == 10
    assert stats.min_ms == 1.0 and stats.max_ms == 100.0
    assert stats.mean_ms == pytest.approx(14.5)              # (45 + 100) / 10
    assert stats.percentiles_ms[50.0] == 5.0                 # rank ceil(5) = 5 -> 5
    assert stats.percentiles_ms[90.0] == 9.0                 # rank 9 -> 9
    assert stats.percentiles_ms[95.0] == 100.0               # rank ceil(9.5) = 10 -> the outlier
    assert stats.percentiles_ms[99.0] == 100.0
    assert stats.percentiles_ms[99.9] == 100.0


def test_full_resolution_no_bucketing() -> None:
    # Locust would report 147.3 ms as 150 and 3432 ms as 3400; exact samples keep every nanosecond
    stats = summarize_ns([147_300_001, 3_432_000_007])
    assert stats.min_ms == 147.300001
    assert stats.max_ms == 3432.000007
    assert stats.p50_ms == 147.300001


def test_empty_and_json_round_trip() -> None:
    empty = summarize_ns([])
    assert empty.count == 0
    stats = summarize_ns([1_000, 2_000, 3_000])
    data = stats.to_json()
    assert list(data) == ["count", "mean_ms", "stdev_ms", "min_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms",
                          "p99_9_ms", "max_ms"]
    assert data["p50_ms"] == 0.002
    assert LatencyStats.from_json(data) == stats
    assert percentile_key(99.9) == "p99_9_ms"


def test_bad_percentile() -> None:
    with pytest.raises(ValueError):
        nearest_rank([1, 2], 101)
    with pytest.raises(ValueError):
        nearest_rank([], 50)
