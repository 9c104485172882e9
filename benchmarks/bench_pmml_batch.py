"""(b) PMML batch scoring of 10,000 rows vs a per-row loop, same runtime session (goal >= 20x faster).

    python benchmarks/bench_pmml_batch.py [--rows 10000] [--runtime jpmml]
"""

from __future__ import annotations

import argparse
import time

from _common import REPO, header


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--runtime", default="jpmml")
    parser.add_argument("--model", default=str(REPO / "sample_models" / "iris_logreg.pmml"))
    args = parser.parse_args()
    import numpy as np

    from workbench.core.models import inspect_model
    from workbench.core.rows import prepare_rows, read_rows
    from workbench.core.runtimes import RUNTIMES

    header(f"PMML batch vs per-row scoring ({args.runtime})")
    info = inspect_model(args.model)
    sample = prepare_rows(read_rows(REPO / "sample_models" / "iris_logreg_pmml.rows.csv"), info)
    idx = np.arange(args.rows) % len(sample)
    rows = sample.iloc[idx].reset_index(drop=True)
    rows.attrs = dict(sample.attrs)
    t = time.perf_counter()
    session = RUNTIMES.get(args.runtime).load(args.model, info)
    print(f"load (incl. JVM start): {time.perf_counter() - t:.2f} s")
    session.predict(rows)  # warm-up: the JVM's JIT compiles the batch path
    batch_times = []
    for _ in range(3):
        t = time.perf_counter()
        batch = session.predict(rows)
        batch_times.append(time.perf_counter() - t)
    batch_s = sorted(batch_times)[1]  # median of 3
    singles = []
    for i in range(len(rows)):
        f = rows.iloc[[i]]
        f.attrs = dict(rows.attrs)
        singles.append(f)
    for f in singles[:1000]:  # warm-up of the single-row path
        session.predict(f)
    t = time.perf_counter()
    labels = [session.predict(f).labels[0] for f in singles]
    loop_s = time.perf_counter() - t
    same = sum(str(a) == str(b) for a, b in zip(labels, batch.labels))
    print(f"batch of {len(rows)} rows: {batch_s * 1000:.1f} ms median of 3 ({len(rows) / batch_s:,.0f} rows/s)")
    print(f"per-row loop:       {loop_s * 1000:.1f} ms ({len(rows) / loop_s:,.0f} rows/s, "
          f"{loop_s / len(rows) * 1e6:.0f} us per row)")
    print(f"labels agree on {same}/{len(rows)} rows")
    print(f"batch is {loop_s / batch_s:.1f}x faster (goal >= 20x)")


if __name__ == "__main__":
    main()
