"""(a) The workbench's single-row predict path vs a bare onnxruntime.InferenceSession.run loop.

Same model (sample_models/iris_logreg.onnx), same rows, one row per call, interleaved rounds.
Rows are read from the CSV and prepared with `prepare_rows`, and the session comes from the runtime
registry, as in `workbench bench` and the GUI. Two workbench paths are measured against the same
bare loop (float32 feeds built before the loop):

* the timed path of `workbench bench` and the GUI Benchmark: `session.prepare(one_row_frame)` once
  per row, outside the loop (like the bare side's feeds), then `PreparedCall.run()` per call;
  the goal (<= 1.10x) is about this path: it decides whether the workbench's latency figures are
  the runtime's or its own;
* the end-to-end convenience call `session.predict(one_row_frame)` (DataFrame in, PredictionBatch
  out, what `workbench predict` does per batch), with where its extra time goes.

    python benchmarks/bench_predict_overhead.py [--calls 1000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from _common import REPO, header


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000, help="calls per side per round")
    parser.add_argument("--rounds", type=int, default=20,
                        help="alternating rounds (short rounds: every side sees the same machine load)")
    args = parser.parse_args()
    import numpy as np
    import onnxruntime as ort

    from workbench.core.models import inspect_model
    from workbench.core.rows import prepare_rows, read_rows
    from workbench.core.runtimes import RUNTIMES, prepare_call

    header("single-row predict: workbench vs bare InferenceSession.run")
    path = REPO / "sample_models" / "iris_logreg.onnx"
    info = inspect_model(path)
    prepared = prepare_rows(read_rows(REPO / "sample_models" / "iris_logreg_onnx.rows.csv"), info)
    session = RUNTIMES.get("onnxruntime").load(path, info)
    frames = []
    for i in range(len(prepared)):
        f = prepared.iloc[[i]]
        f.attrs = dict(prepared.attrs)
        frames.append(f)
    bare = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    nodes = bare.get_inputs()

    def feed_of(frame: Any) -> dict:
        """Bare feeds built once per row outside the timed loop: one float32 array per graph input."""
        if len(nodes) == 1:
            return {nodes[0].name: np.asarray(frame.to_numpy(), dtype=np.float32)}
        return {n.name: np.asarray(frame[n.name].to_numpy(), dtype=np.float32).reshape(
            (-1, 1) if len(n.shape) == 2 else (-1,)) for n in nodes}

    arrays = [feed_of(f) for f in frames]
    outputs = [o.name for o in bare.get_outputs()]
    calls = [prepare_call(session, f) for f in frames]  # what workbench bench does once per batch

    # the same answers on every row, by both workbench paths
    for call, frame, feed in zip(calls, frames, arrays, strict=True):
        ref = bare.run(outputs, feed)
        for batch in (call.finish(call.run()), session.predict(frame)):
            assert batch.labels[0] == ref[0][0], (batch.labels, ref[0])
            assert np.allclose(batch.probabilities[0], ref[1][0]), (batch.probabilities, ref[1])
    print(f"parity: both workbench paths give the bare labels and probabilities on all {len(frames)} rows")

    def loop(fn: Callable[[Any], Any], items: list[Any]) -> list[int]:
        out = []
        pc = time.perf_counter_ns
        for k in range(args.calls):
            x = items[k % len(items)]
            t = pc()
            fn(x)
            out.append(pc() - t)
        return out

    def bare_run(feed: dict) -> Any:
        return bare.run(outputs, feed)

    def bench_run(call: Any) -> Any:
        return call.run()

    sides: dict[str, tuple[Callable[[Any], Any], list[Any]]] = {
        "bare InferenceSession.run": (bare_run, arrays),
        "workbench PreparedCall.run": (bench_run, calls),
        "workbench session.predict": (session.predict, frames),
    }
    times: dict[str, list[int]] = {name: [] for name in sides}
    for fn, items in sides.values():  # warm-up
        loop(fn, items)
    order = list(sides)
    for r in range(args.rounds):  # rotate which side goes first
        for name in order[r % 3:] + order[:r % 3]:
            fn, items = sides[name]
            times[name] += loop(fn, items)
    med = {name: statistics.median(t) / 1000 for name, t in times.items()}
    base = med["bare InferenceSession.run"]
    for name, m in med.items():
        print(f"{name:28s} median {m:7.2f} us per call ({len(times[name])} calls)")
    print(f"timed path of workbench bench (PreparedCall.run): ratio {med['workbench PreparedCall.run'] / base:.2f}x "
          f"(goal <= 1.10x); overhead {med['workbench PreparedCall.run'] - base:.2f} us per call")
    print(f"end to end (session.predict, frame in, PredictionBatch out): ratio "
          f"{med['workbench session.predict'] / base:.2f}x; overhead {med['workbench session.predict'] - base:.2f} us")

    # where the end-to-end overhead goes: the parts of session.predict, each timed alone on the same frames
    feeds = [session.feeds(f) for f in frames]
    names = session.output_names
    results = [session.session.run(names, fd) for fd in feeds]
    parts = {
        "frame -> feeds (plan lookup, to_numpy, column views)": loop(session.feeds, frames),
        "InferenceSession.run on those feeds": loop(lambda fd: session.session.run(names, fd), feeds),
        "outputs -> PredictionBatch": loop(session.finish, results),
    }
    print("end-to-end breakdown (medians, each part timed alone):")
    for what, t in parts.items():
        print(f"  {statistics.median(t) / 1000:6.2f} us  {what}")


if __name__ == "__main__":
    main()
