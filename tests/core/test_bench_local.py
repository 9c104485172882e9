"""Local benchmark on the sample iris model: native (joblib) and onnxruntime (ONNX)."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import SAMPLES_DIR
from workbench.core.bench.local import LocalPlan, batches_of, run_local_bench
from workbench.core.errors import WorkbenchError
from workbench.core.rows import read_rows


@pytest.fixture(scope="module")
def iris_rows():
    return read_rows(SAMPLES_DIR / "iris_logreg.rows.csv")


@pytest.mark.parametrize("model,runtime", [("iris_logreg.onnx", "onnxruntime"), ("iris_logreg.joblib", "native")])
def test_fixed_count_per_configuration(model: str, runtime: str, iris_rows) -> None:
    seen = []
    plan = LocalPlan(runtimes=(runtime,), batch_sizes=(1, 7), duration_s=None, count=25, warmup_calls=2,
                     warmup_s=0.0)
    result = run_local_bench(SAMPLES_DIR / model, iris_rows, plan, trust=True, progress=seen.append)
    assert [(c.runtime, c.batch_size) for c in result.configs] == [(runtime, 1), (runtime, 7)]
    for c in result.configs:
        assert c.error is None and c.stopped_by == "count"
        assert c.calls == 25 and c.latency.count == 25
        assert c.rows == 25 * c.batch_size
        assert c.throughput_rows_s == pytest.approx(c.rows / c.elapsed_s)
        lat = c.latency
        assert 0 < lat.min_ms <= lat.p50_ms <= lat.percentiles_ms[90.0] <= lat.p99_ms <= lat.max_ms
        assert lat.mean_ms * 25 == pytest.approx(c.elapsed_s * 1000)   # per-call samples add up to the time
        assert c.histogram is not None and c.histogram.count == 25   # one count per call
        assert c.histogram.edges_ms[0] <= lat.min_ms and lat.max_ms < c.histogram.edges_ms[-1]
        assert c.load_s is not None and c.load_s >= 0
        assert c.rss_mb is not None and c.rss_mb > 0
    finished = [p for p in seen if p.last is not None]
    assert [(p.index, p.total) for p in finished] == [(1, 2), (2, 2)]
    assert result.format == ("onnx" if model.endswith(".onnx") else "sklearn")
    assert result.sample_rows == len(iris_rows)


def test_batches_cycle_rows(iris_rows) -> None:
    n = len(iris_rows)
    batches = batches_of(iris_rows, n + 3)       # larger than the sample: rows repeat
    assert len(batches) == 1 and len(batches[0]) == n + 3
    assert batches[0].iloc[n].tolist() == iris_rows.iloc[0].tolist()
    small = batches_of(iris_rows, 4)
    assert len(small) == 8 and all(len(b) == 4 for b in small)
    assert small[1].iloc[0].tolist() == iris_rows.iloc[4].tolist()


def test_runtime_that_cannot_run_the_format(iris_rows) -> None:
    with pytest.raises(WorkbenchError, match="cannot run onnx models"):
        run_local_bench(SAMPLES_DIR / "iris_logreg.onnx", iris_rows, LocalPlan(runtimes=("native",), count=1))


def test_cancel_stops_between_calls(iris_rows) -> None:
    cancel = threading.Event()

    def progress(p) -> None:
        if p.calls > 0:
            cancel.set()

    plan = LocalPlan(runtimes=("onnxruntime",), batch_sizes=(1, 8), duration_s=60.0, warmup_s=0.0)
    result = run_local_bench(SAMPLES_DIR / "iris_logreg.onnx", iris_rows, plan, progress=progress, cancel=cancel)
    assert result.cancelled
    assert len(result.configs) == 1 and result.configs[0].stopped_by == "cancelled"
    assert result.configs[0].calls > 0


def test_untrusted_pickle_is_refused_once_for_all_runtimes(iris_rows) -> None:
    from workbench.core.errors import UntrustedPickle

    with pytest.raises(UntrustedPickle, match="--trust"):
        run_local_bench(SAMPLES_DIR / "iris_logreg.joblib", iris_rows, LocalPlan(count=1))


def _count_feeds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the conversions of rows into ONNX feeds (OnnxSession.feeds) made from now on."""
    from workbench.core.runtimes.onnxruntime import OnnxSession

    made = []
    original = OnnxSession.feeds

    def feeds(self, frame):
        made.append(len(frame))
        return original(self, frame)

    monkeypatch.setattr(OnnxSession, "feeds", feeds)
    return made


def test_backend_timing_converts_each_batch_once(iris_rows, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.core.bench import local

    made = _count_feeds(monkeypatch)
    counts = []
    for calls in (40, 400):
        made.clear()
        plan = LocalPlan(runtimes=("onnxruntime",), batch_sizes=(1, 4), duration_s=None, count=calls,
                         warmup_calls=3, warmup_s=0.0)
        result = run_local_bench(SAMPLES_DIR / "iris_logreg.onnx", iris_rows, plan)
        counts.append(list(made))
        for c in result.configs:
            assert c.timed == "backend" and c.calls == calls
            assert c.prepare_us is not None and c.prepare_us > 0
            assert c.finish_us is not None and c.finish_us > 0
    # the 8 distinct batches of each size are converted once for the timed calls, then a few more times
    # to measure the conversion warm; never per timed call: 10 times more calls, the same conversions
    per_size = 8 * (1 + local._CONVERSION_ROUNDS)
    assert counts[0] == counts[1] == [1] * per_size + [4] * per_size


def test_end_to_end_timing_converts_on_every_call(iris_rows, monkeypatch: pytest.MonkeyPatch) -> None:
    made = _count_feeds(monkeypatch)
    plan = LocalPlan(runtimes=("onnxruntime",), batch_sizes=(2,), duration_s=None, count=40, warmup_calls=3,
                     warmup_s=0.0, timed="end_to_end")
    (c,) = run_local_bench(SAMPLES_DIR / "iris_logreg.onnx", iris_rows, plan).configs
    assert c.timed == "end_to_end" and c.calls == 40
    assert made == [2] * (40 + 3)        # every timed call and every warm-up call converted its rows
    assert c.prepare_us is None and c.finish_us is None


def test_a_result_that_makes_no_sense_fails_before_timing(iris_rows, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.core.runtimes.onnxruntime import OnnxSession

    def finish(self, results):
        raise ValueError("outputs lost")

    monkeypatch.setattr(OnnxSession, "finish", finish)
    plan = LocalPlan(runtimes=("onnxruntime",), batch_sizes=(1,), count=5, warmup_s=0.0)
    (c,) = run_local_bench(SAMPLES_DIR / "iris_logreg.onnx", iris_rows, plan).configs
    assert c.stopped_by == "error" and c.error == "ValueError: outputs lost" and c.calls == 0


def test_plan_rejects_an_unknown_timing() -> None:
    with pytest.raises(WorkbenchError, match="timed must be one of backend, end_to_end, got 'wall'"):
        LocalPlan(timed="wall")


def test_a_runtime_that_cannot_load_is_reported_with_the_plan_timing(iris_rows, monkeypatch) -> None:
    from workbench.core.runtimes import RUNTIMES

    def refuse(*args, **kwargs):
        raise WorkbenchError("backend broken")

    monkeypatch.setattr(RUNTIMES.get("onnxruntime"), "load", refuse)
    plan = LocalPlan(runtimes=("onnxruntime",), batch_sizes=(1,), count=3, warmup_s=0.0, timed="end_to_end")
    (c,) = run_local_bench(SAMPLES_DIR / "iris_logreg.onnx", iris_rows, plan).configs
    assert c.error == "backend broken" and c.timed == "end_to_end"
