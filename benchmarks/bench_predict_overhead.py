"""(a) The workbench's single-row predict path vs a bare onnxruntime.InferenceSession.run loop.

Same model (sample_models/iris_logreg.onnx), same rows, one row per call, interleaved rounds.
The workbench side is the public path `workbench predict` and the GUI use: rows read from the CSV,
`prepare_rows`, a session from the runtime registry, `session.predict(frame)` on a one-row frame
(with its layout attrs) returning a PredictionBatch. The bare side feeds float32 arrays built
before the loop. Prints the median per call of both, the ratio (goal <= 1.10x) and where the
workbench's overhead goes.

    python benchmarks/bench_predict_overhead.py [--calls 1000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import REPO, header


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000, help="calls per side per round")
    parser.add_argument("--rounds", type=int, default=20,
                        help="alternating rounds (short rounds: both sides see the same machine load)")
    args = parser.parse_args()
    import numpy as np
    import onnxruntime as ort

    from workbench.core.models import inspect_model
    from workbench.core.rows import prepare_rows, read_rows
    from workbench.core.runtimes import RUNTIMES

    header("single-row predict: workbench OnnxSession.predict vs bare InferenceSession.run")
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

    def feed_of(frame) -> dict:
        """Bare feeds built once per row outside the timed loop: one float32 array per graph input."""
        if len(nodes) == 1:
            return {nodes[0].name: np.asarray(frame.to_numpy(), dtype=np.float32)}
        return {n.name: np.asarray(frame[n.name].to_numpy(), dtype=np.float32).reshape(
            (-1, 1) if len(n.shape) == 2 else (-1,)) for n in nodes}

    arrays = [feed_of(f) for f in frames]
    outputs = [o.name for o in bare.get_outputs()]
    # same answers first
    got = session.predict(frames[0])
    ref = bare.run(outputs, arrays[0])
    print(f"parity check: workbench label {got.labels[0]!r}, bare label {ref[0][0]!r}")

    def loop(fn, items) -> list[int]:
        out = []
        pc = time.perf_counter_ns
        for k in range(args.calls):
            x = items[k % len(items)]
            t = pc()
            fn(x)
            out.append(pc() - t)
        return out

    wb, raw = [], []
    loop(lambda a: bare.run(outputs, a), arrays)  # warm-up, both sides
    loop(session.predict, frames)
    for r in range(args.rounds):  # alternate which side goes first
        if r % 2:
            wb += loop(session.predict, frames)
            raw += loop(lambda a: bare.run(outputs, a), arrays)
        else:
            raw += loop(lambda a: bare.run(outputs, a), arrays)
            wb += loop(session.predict, frames)
    m_wb, m_raw = statistics.median(wb) / 1000, statistics.median(raw) / 1000
    print(f"bare InferenceSession.run   median {m_raw:8.1f} us per call ({len(raw)} calls)")
    print(f"workbench session.predict   median {m_wb:8.1f} us per call ({len(wb)} calls)")
    print(f"ratio {m_wb / m_raw:.2f}x (goal <= 1.10x); overhead {m_wb - m_raw:.1f} us per call")

    # where the overhead goes: the parts of session.predict, each timed alone on the same frames
    feeds = [session.feeds(f) for f in frames]
    names = session.output_names
    results = [dict(zip(names, session.session.run(names, fd))) for fd in feeds]
    parts = {
        "frame -> feeds (plan lookup, to_numpy, column views)": loop(session.feeds, frames),
        "InferenceSession.run on those feeds": loop(lambda fd: session.session.run(names, fd), feeds),
        "outputs -> PredictionBatch": loop(session._interpret, results),
    }
    print("breakdown (medians, each part timed alone):")
    for what, times in parts.items():
        print(f"  {statistics.median(times) / 1000:6.2f} us  {what}")

if __name__ == "__main__":
    main()
