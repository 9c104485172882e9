"""Result files: JSON and CSV round trips, schema checks, A/B comparison."""

from __future__ import annotations

import json

import pytest

from workbench.core.bench.httpclient import LevelOutcome
from workbench.core.bench.load import LoadPlan, LoadResult, _level_result
from workbench.core.bench.local import LocalBenchResult, LocalConfigResult, LocalPlan
from workbench.core.bench.recorder import Recorder
from workbench.core.bench.results import (
    compare_results,
    from_load,
    from_local,
    load_result,
    save_result,
    timed_of,
)
from workbench.core.bench.stats import summarize_ns
from workbench.core.errors import WorkbenchError


def _local(scale: float) -> LocalBenchResult:
    configs = [LocalConfigResult(runtime=rt, batch_size=b, calls=4, rows=4 * b, elapsed_s=0.004 * scale,
                                 throughput_rows_s=1000 * b / scale,
                                 latency=summarize_ns([int(x * scale) for x in (900_000, 1_000_000, 1_100_000, 5_000_001)]),
                                 load_s=0.01, rss_load_delta_mb=1.5, rss_peak_delta_mb=0.25, rss_mb=100.0,
                                 stopped_by="count", prepare_us=12.5, finish_us=3.25)
               for rt in ("native", "onnxruntime") for b in (1, 8)]
    configs.append(LocalConfigResult(runtime="jpmml", batch_size=1, stopped_by="error", error="Java missing"))
    return LocalBenchResult(model="m.onnx", format="onnx", rows_source="rows.csv", sample_rows=30,
                            plan=LocalPlan(batch_sizes=(1, 8), count=4), configs=configs)


def _load() -> LoadResult:
    rec = Recorder(4, 0)
    for i, ms in enumerate((1, 2, 3, 40)):
        rec.ok(intended_ns=i * 1_000_000, sent_ns=i * 1_000_000 + 500, done_ns=i * 1_000_000 + ms * 1_000_000,
               client_ns=20_000)
    rec.error("http-503", 9_000_000)
    rec.error("connection-reset", 9_500_000)
    outcome = LevelOutcome(recorder=rec, stopped_by="duration", elapsed_s=2.0, incomplete=0, unsent=0,
                           cpu_s=0.001, connections_opened=4)
    level = _level_result("open", 4, outcome, client_measured=True)
    return LoadResult(target="http://127.0.0.1:1/v1/models/m:predict", protocol="http", model="m",
                      plan=LoadPlan(mode="open", levels=(4,)), levels=[level], client_floor_us=20.0)


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_local_round_trip(tmp_path, suffix: str) -> None:
    original = from_local(_local(1.0))
    path = save_result(original, tmp_path / f"r{suffix}")
    back = load_result(path)
    assert back.kind == "local"
    assert back.rows == original.rows
    assert back.rows[0]["p99_ms"] == 5.000001 and back.rows[0]["p50_ms"] == 1.0
    assert back.rows[-1]["error"] == "Java missing" and back.rows[-1]["p50_ms"] is None
    assert back.rows[0]["timed"] == "backend"
    assert back.rows[0]["prepare_us"] == 12.5 and back.rows[0]["finish_us"] == 3.25
    assert back.rows[-1]["prepare_us"] is None
    if suffix == ".json":
        assert back.subject == original.subject and back.machine == original.machine
        assert back.plan["batch_sizes"] == [1, 8]


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_load_round_trip(tmp_path, suffix: str) -> None:
    original = from_load(_load())
    row = original.rows[0]
    # corrected from the intended time: 1, 2, 3, 40 ms; uncorrected 0.5 us less
    assert row["p50_ms"] == 2.0 and row["max_ms"] == 40.0
    assert row["uncorrected_p50_ms"] == 1.9995
    assert row["errors"] == {"connection-reset": 1, "http-503": 1} and row["errors_total"] == 2
    assert row["client_in_latency_p50_us"] == 20.0
    path = save_result(original, tmp_path / f"r{suffix}")
    back = load_result(path)
    assert back.rows == original.rows
    if suffix == ".json":
        assert back.summary["client_floor_us"] == 20.0
        assert back.timeline == original.timeline
        data = json.loads(path.read_text())
        assert data["schema"] == "workbench-bench-result" and data["schema_version"] == 1


def test_compare_two_results(tmp_path) -> None:
    a = load_result(save_result(from_local(_local(1.0)), tmp_path / "a.json"))
    b = load_result(save_result(from_local(_local(2.0)), tmp_path / "b.csv"))
    pairs = compare_results(a, b)
    assert [p.key for p in pairs] == [("native", 1), ("native", 8), ("onnxruntime", 1), ("onnxruntime", 8),
                                      ("jpmml", 1)]
    assert pairs[0].ratio("p50_ms") == pytest.approx(2.0)
    assert pairs[0].ratio("throughput_rows_s") == pytest.approx(0.5)
    assert pairs[-1].ratio("p50_ms") is None
    with pytest.raises(WorkbenchError, match="cannot compare a local result with a load result"):
        compare_results(a, from_load(_load()))


def test_results_from_before_the_timed_column_timed_the_whole_predict(tmp_path) -> None:
    old = from_local(_local(1.0))
    for row in old.rows:  # a file written before `timed`, `prepare_us` and `finish_us` existed
        for key in ("timed", "prepare_us", "finish_us"):
            del row[key]
    a = load_result(save_result(old, tmp_path / "old.json"))
    b = load_result(save_result(from_local(_local(1.0)), tmp_path / "new.json"))
    assert timed_of(a.rows[0]) == "end_to_end" and timed_of(b.rows[0]) == "backend"
    pairs = compare_results(a, b)
    assert not pairs[0].same_timing and pairs[0].to_json()["same_timing"] is False
    assert all(p.same_timing for p in compare_results(b, b))


def test_not_a_result_file(tmp_path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    with pytest.raises(WorkbenchError, match="not a workbench result file"):
        load_result(bad)
    with pytest.raises(WorkbenchError, match="use a .json or .csv"):
        save_result(from_local(_local(1.0)), tmp_path / "x.txt")
