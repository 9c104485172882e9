"""Latency histograms of result files: exact counts on a fixed log grid, JSON/CSV round trips, old files."""

from __future__ import annotations

import csv
import io
import json
from array import array

import numpy as np
import pytest

from workbench.core.bench.histogram import LatencyHistogram, edges_ns, histogram_of
from workbench.core.bench.local import LocalBenchResult, LocalConfigResult, LocalPlan
from workbench.core.bench.results import (
    LOCAL_COLUMNS,
    from_local,
    load_result,
    row_histogram,
    save_result,
    to_csv_text,
)
from workbench.core.bench.stats import summarize_ns


def test_bins_by_hand() -> None:
    # 40 bins per decade: edge k is 10 ** (k/40) ns; 1000 ns is edge 120, the next edge is 1059.25 ns
    assert edges_ns(120, 1)[0] == 1000.0 and 1059 < edges_ns(120, 1)[1] < 1060
    hist = LatencyHistogram.from_ns([1060, 1000, 10_000, 1059, 1000])
    assert hist.first_edge_index == 120
    assert len(hist.counts) == 41                  # 1000 ns .. 10,000 ns is one decade, 10,000 starts bin 41
    assert hist.counts[0] == 3 and hist.counts[1] == 1 and hist.counts[40] == 1 and hist.count == 5
    assert sum(hist.counts[2:40]) == 0
    assert hist.edges_ms[0] == 0.001 and hist.edges_ms[40] == 0.01
    assert hist.relative_width == pytest.approx(0.0593, abs=1e-4)


@pytest.mark.parametrize("bins_per_decade", [1, 7, 40, 100])
def test_counts_add_up_and_bins_cover_min_to_max(bins_per_decade: int) -> None:
    rng = np.random.default_rng(7)
    samples = np.concatenate([rng.lognormal(np.log(250_000), 0.6, 20_000), rng.integers(1, 2_000, 50),
                              [1, 10**10, 10**6]]).astype(np.int64)
    hist = LatencyHistogram.from_ns(array("q", samples.tolist()), bins_per_decade)
    assert hist.count == samples.size
    edges = edges_ns(hist.first_edge_index, len(hist.counts), bins_per_decade)
    assert edges[0] <= samples.min() and samples.max() < edges[-1]
    assert hist.counts[0] > 0 and hist.counts[-1] > 0        # no empty bins at the ends
    # the same counts as numpy's histogram on the same edges (half-open bins; max < last edge)
    assert list(np.histogram(samples, bins=edges)[0]) == list(hist.counts)
    assert sum(hist.fractions()) == pytest.approx(1.0)


def test_statistics_do_not_come_from_the_bins() -> None:
    samples = [1_000_001, 1_020_000, 1_040_000]            # all in one 5.9 % wide bin
    hist = LatencyHistogram.from_ns(samples)
    assert hist.counts == (3,)
    stats = summarize_ns(samples)
    assert stats.p50_ms == 1.02 and stats.min_ms == 1.000001 and stats.max_ms == 1.04   # exact samples


def test_coarsen_keeps_counts_and_grid_alignment() -> None:
    rng = np.random.default_rng(3)
    samples = rng.lognormal(np.log(80_000), 1.0, 5_000).astype(np.int64)
    fine = LatencyHistogram.from_ns(samples)
    coarse = fine.coarsen(4)
    assert coarse.bins_per_decade == 10 and coarse.count == fine.count
    assert coarse == LatencyHistogram.from_ns(samples, 10)      # the same as binning at 10 per decade
    assert fine.coarsen(1) is fine
    with pytest.raises(ValueError):
        fine.coarsen(3)


def test_text_and_json_forms_round_trip() -> None:
    hist = LatencyHistogram.from_ns([5_000, 5_100, 80_000, 2_000_000])
    text = hist.to_text()
    assert text.startswith("log10/40@147:") and "," not in text and '"' not in text   # no CSV quoting needed
    assert LatencyHistogram.from_text(text) == hist
    data = json.loads(json.dumps(hist.to_json()))
    assert data["count"] == 4 and len(data["edges_ms"]) == len(data["counts"]) + 1
    assert LatencyHistogram.from_json(data) == hist and histogram_of(data) == hist and histogram_of(text) == hist
    assert histogram_of(None) is None and LatencyHistogram.from_ns([]) is None
    with pytest.raises(ValueError, match="not a histogram cell"):
        LatencyHistogram.from_text("1 2 3")


def _result() -> LocalBenchResult:
    rng = np.random.default_rng(11)
    configs = []
    for b in (1, 8):
        samples = (rng.lognormal(np.log(60_000 * b), 0.3, 500)).astype(np.int64)
        configs.append(LocalConfigResult(runtime="onnxruntime", batch_size=b, calls=500, rows=500 * b,
                                         elapsed_s=float(samples.sum()) / 1e9, throughput_rows_s=1.0,
                                         latency=summarize_ns(samples), stopped_by="count",
                                         histogram=LatencyHistogram.from_ns(samples)))
    configs.append(LocalConfigResult(runtime="jpmml", batch_size=1, stopped_by="error", error="Java missing"))
    return LocalBenchResult(model="m.onnx", format="onnx", rows_source=None, sample_rows=10,
                            plan=LocalPlan(batch_sizes=(1, 8), count=500), configs=configs)


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_histograms_round_trip_through_result_files(tmp_path, suffix: str) -> None:
    original = from_local(_result())
    back = load_result(save_result(original, tmp_path / f"r{suffix}"))
    assert back.rows == original.rows
    for row, config in zip(back.rows, _result().configs, strict=True):
        hist = row_histogram(row)
        if config.error:
            assert hist is None and row["histogram"] is None
        else:
            assert hist == config.histogram and hist.count == row["count"] == 500
            assert hist.edges_ms[0] <= row["min_ms"] and row["max_ms"] < hist.edges_ms[-1]


def test_files_written_before_histograms_still_read(tmp_path) -> None:
    result = from_local(_result())
    data = result.to_json()
    for row in data["rows"]:
        del row["histogram"]
    old_json = tmp_path / "old.json"
    old_json.write_text(json.dumps(data))
    old_csv = tmp_path / "old.csv"
    lines = list(csv.reader(io.StringIO(to_csv_text(result))))
    with old_csv.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(line[:-1] for line in lines)   # no histogram column
    assert old_csv.read_text().splitlines()[0].split(",") == LOCAL_COLUMNS[:-1]
    for path in (old_json, old_csv):
        back = load_result(path)
        assert [r["p50_ms"] for r in back.rows] == [r["p50_ms"] for r in result.rows]
        assert all(row_histogram(r) is None for r in back.rows)
