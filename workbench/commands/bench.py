"""`workbench bench MODEL --rows CSV`: local latency/throughput of a model per runtime and batch size."""

from __future__ import annotations

import argparse

from workbench.commands._benchcli import add_result_arguments
from workbench.commands.common import TRUST_HELP, seconds, whole_number

NAME = "bench"
HELP = "Benchmark local inference: runtimes x batch sizes, per-call percentiles, rows/s and memory."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model file or folder")
    parser.add_argument("--rows", metavar="CSV", help="sample rows (CSV or JSON); default: rows generated "
                        "from the model's inputs")
    parser.add_argument("--runtime", action="append", metavar="NAME",
                        help="runtime to measure (repeatable; default: every runtime available for the format)")
    parser.add_argument("--batch-sizes", default="1,8,64", metavar="LIST", help="rows per call (default 1,8,64)")
    parser.add_argument("--duration", type=float, metavar="S",
                        help="seconds measured per configuration (default 2, none when only --count is given)")
    parser.add_argument("--count", type=whole_number(1), metavar="N", help="calls per configuration (stops at whichever "
                        "of duration and count comes first; with --count alone no duration limit)")
    parser.add_argument("--warmup", type=seconds, default=0.5, metavar="S",
                        help="warm-up seconds per configuration (default 0.5; JVM engines want more)")
    parser.add_argument("--end-to-end", action="store_true",
                        help="time the whole predict (rows in, results out) instead of the runtime's own call on "
                        "inputs converted beforehand (the default; conversion is then reported as 'prep us')")
    parser.add_argument("--trust", action="store_true", help=TRUST_HELP)
    from workbench.commands.predict import add_strict

    add_strict(parser)
    add_result_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from workbench.commands._benchcli import (
        ProgressLine,
        baseline_table,
        check_out_path,
        integer,
        megabytes,
        parse_int_list,
        ratio,
        read_baseline,
        run_cancellable,
        sig,
        table,
        text,
    )
    from workbench.commands.common import print_json
    from workbench.core.bench.local import LocalPlan, LocalProgress, run_local_bench
    from workbench.core.bench.results import from_local, save_result
    from workbench.core.errors import WorkbenchError

    from workbench.commands.predict import apply_strict

    apply_strict(args)
    batch_sizes = parse_int_list(args.batch_sizes, "batch size")
    if args.duration is not None and not (0 < args.duration < float("inf")):  # NaN fails both
        raise WorkbenchError(f"--duration must be a positive number of seconds, got {args.duration}")
    duration = args.duration if args.duration is not None else (None if args.count is not None else 2.0)
    # everything that can fail without running is checked first: a bad --out or --baseline found only
    # after minutes of measuring wastes the run
    if args.out:
        check_out_path(args.out, args.force)
    baseline = read_baseline(args.baseline, "local") if args.baseline else None
    plan = LocalPlan(runtimes=tuple(args.runtime) if args.runtime else None, batch_sizes=batch_sizes,
                     duration_s=duration, count=args.count, warmup_s=max(0.0, args.warmup),
                     timed="end_to_end" if args.end_to_end else "backend")
    rows = None
    if args.rows:
        from workbench.core.rows import read_rows

        rows = read_rows(args.rows)
    line = ProgressLine()

    def progress(p: LocalProgress) -> None:
        head = f"[{p.index}/{p.total}] {p.runtime} batch {p.batch_size}"
        if p.last is not None:
            c = p.last
            if c.error:
                line.update(f"{head}: failed: {c.error}", final=True)
            else:
                line.update(f"{head}: {c.calls} calls, p50 {sig(c.latency.p50_ms)} ms, "
                            f"p99 {sig(c.latency.p99_ms)} ms, {integer(c.throughput_rows_s)} rows/s", final=True)
        else:
            line.update(f"{head}: {p.calls} calls ({p.fraction:.0%})")

    result, interrupted = run_cancellable(
        lambda cancel: run_local_bench(args.model, rows, plan, trust=args.trust, rows_source=args.rows,
                                       progress=progress, cancel=cancel))
    line.done()
    saved = from_local(result)
    if args.out:
        save_result(saved, args.out)
    if args.json:
        print_json(saved.to_json())
    else:
        headers = ["runtime", "batch", "calls", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "mean ms",
                   "rows/s", "x best p50", "prep us", "finish us", "load ms", "load MB", "peak MB"]
        # one precision per column: times 3 significant digits, rows/s whole numbers, ratios 2 decimals, MB 1
        formats = [text, integer, integer, sig, sig, sig, sig, sig, sig, integer, ratio, sig, sig, sig, megabytes,
                   megabytes]
        good = [c for c in result.configs if not c.error]
        best = {}  # side by side: each runtime's p50 over the best p50 at the same batch size
        for c in good:
            best[c.batch_size] = min(best.get(c.batch_size, c.latency.p50_ms), c.latency.p50_ms)
        rows_out = [[c.runtime, c.batch_size, c.calls, c.latency.p50_ms, c.latency.percentiles_ms.get(90.0),
                     c.latency.p99_ms, c.latency.percentiles_ms.get(99.9), c.latency.max_ms, c.latency.mean_ms,
                     c.throughput_rows_s, c.latency.p50_ms / best[c.batch_size] if best[c.batch_size] else None,
                     c.prepare_us, c.finish_us,
                     None if c.load_s is None else c.load_s * 1000, c.rss_load_delta_mb, c.rss_peak_delta_mb]
                    for c in good]
        print(f"{result.model} ({result.format}), {result.rows_description}")
        if rows_out:
            print(table(headers, rows_out, formats))
            if plan.timed == "backend":
                print("latency: the runtime's own call on inputs converted beforehand; prep us = converting one "
                      "batch of rows into its inputs, finish us = its result into predictions (medians)")
            else:
                print("latency: the whole predict per call (rows in, predictions out)")
        failed: dict[str, list[int]] = {}
        for c in result.configs:
            if c.error:
                failed.setdefault(f"{c.runtime}: failed: {c.error}", []).append(c.batch_size)
        for message, sizes in failed.items():
            print(f"{message} (batch {', '.join(map(str, sizes))})")
        if baseline is not None:
            print(baseline_table(saved, baseline, args.baseline))
        if args.out:
            print(f"saved {args.out}")
    if interrupted or result.cancelled:
        return 130
    return 1 if result.configs and all(c.error for c in result.configs) else 0

