"""`workbench load URL --model NAME --rows CSV`: load-test a serving endpoint (REST or gRPC)."""

from __future__ import annotations

import argparse

from workbench.commands._benchcli import add_result_arguments
from workbench.commands.common import seconds, whole_number

NAME = "load"
HELP = "Load-test a serving endpoint: closed loop (concurrency) or open loop (rate), honest percentiles."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="URL", nargs="?",
                        help="REST endpoint: base URL (http://host:8501) or the full :predict / v2 infer URL")
    parser.add_argument("--model", required=True, metavar="NAME", help="served model name")
    parser.add_argument("--rows", required=True, metavar="CSV", help="feature rows to send (CSV or JSON)")
    parser.add_argument("--grpc", metavar="HOST:PORT", help="load the TF Serving gRPC endpoint instead of REST")
    levels = parser.add_mutually_exclusive_group()
    levels.add_argument("--concurrency", metavar="LIST",
                        help="closed loop: requests kept in flight, swept (default 1)")
    levels.add_argument("--rate", metavar="LIST",
                        help="open loop: requests per second, swept; latency counted from each request's "
                             "intended send time (coordinated-omission corrected)")
    parser.add_argument("--duration", type=float, metavar="S", help="seconds per level (default 10; none when "
                        "only --count is given)")
    parser.add_argument("--count", type=whole_number(1), metavar="N", help="requests per level")
    parser.add_argument("--warmup", type=seconds, default=1.0, metavar="S",
                        help="warm-up seconds per level (default 1)")
    parser.add_argument("--batch-size", type=int, default=1, metavar="N", help="rows per request (default 1)")
    parser.add_argument("--connections", type=int, default=16, metavar="N",
                        help="open loop: connections (REST) / calls in flight (gRPC) carrying the rate (default 16)")
    parser.add_argument("--max-errors", type=int, metavar="N", help="stop when a level has more errors than N")
    parser.add_argument("--max-error-rate", type=float, metavar="F",
                        help="stop when more than this fraction of a level's requests fail (e.g. 0.05)")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S", help="per-request timeout (default 10)")
    parser.add_argument("--header", action="append", metavar="'NAME: VALUE'",
                        help="extra header on every request (gRPC: metadata), repeatable; e.g. an authorization")
    parser.add_argument("--version", type=int, metavar="N", help="model version (default: latest)")
    parser.add_argument("--signature", default="serving_default", help="signature name (default serving_default)")
    parser.add_argument("--no-preflight", action="store_true",
                        help="skip sending one request first to check (and diagnose) the endpoint")
    add_result_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from workbench.commands._benchcli import (
        ProgressLine,
        baseline_table,
        check_out_path,
        integer,
        read_baseline,
        run_cancellable,
        sig,
        table,
        text,
    )
    from workbench.commands.common import print_json
    from workbench.core.bench.load import LoadPlan, parse_levels, run_load
    from workbench.core.bench.recorder import TimePoint
    from workbench.core.bench.requests import build_grpc_target, build_rest_target, url_model, url_version
    from workbench.core.bench.results import from_load, save_result
    from workbench.core.errors import WorkbenchError
    from workbench.core.rows import read_rows

    if not args.url and not args.grpc:
        raise WorkbenchError("give the endpoint: a REST URL, or --grpc HOST:PORT")
    if args.url and args.grpc:
        raise WorkbenchError("give a REST URL or --grpc HOST:PORT, not both: one load test measures one protocol")
    named = url_model(args.url) if args.url else None
    if named is not None and named != args.model:
        raise WorkbenchError(f"the URL names model {named!r} but --model says {args.model!r}",
                             hint=f"use --model {named}, or a URL without a model path")
    if args.url and "/labels/" in args.url and args.version is not None:
        raise WorkbenchError("the URL names a version label and --version a version: give one of them")
    in_url = url_version(args.url) if args.url else None
    if in_url is not None and args.version is not None and in_url != str(args.version):
        raise WorkbenchError(f"the URL names version {in_url} but --version says {args.version}",
                             hint=f"use --version {in_url}, or a URL without a version")
    if args.batch_size < 1:
        raise WorkbenchError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.rate:
        mode, levels = "open", parse_levels(args.rate, integers=False)
    else:
        mode, levels = "closed", parse_levels(args.concurrency or "1", integers=True)
    duration = args.duration if args.duration is not None else (None if args.count is not None else 10.0)
    if duration is not None and not (0 < duration < float("inf")):
        raise WorkbenchError(f"--duration must be a positive number of seconds, got {duration}")
    plan = LoadPlan(mode=mode, levels=levels, duration_s=duration, count=args.count,
                    warmup_s=max(0.0, args.warmup), max_errors=args.max_errors,
                    max_error_rate=args.max_error_rate, timeout_s=args.timeout, connections=max(1, args.connections))
    # checked before the endpoint is contacted: a bad --out or --baseline found after the run wastes it
    if args.out:
        check_out_path(args.out, args.force)
    baseline = read_baseline(args.baseline, "load") if args.baseline else None
    from workbench.core.serving.http import parse_headers

    try:
        headers = parse_headers(args.header)
    except ValueError as exc:
        raise WorkbenchError(str(exc), hint="write headers as 'Name: value'") from None
    frame = read_rows(args.rows)
    if args.grpc:
        target = build_grpc_target(args.grpc, args.model, frame, batch_size=args.batch_size, version=args.version,
                                   signature=args.signature, timeout=args.timeout, headers=headers)
    else:
        target = build_rest_target(args.url, args.model, frame, batch_size=args.batch_size, version=args.version,
                                   signature=args.signature, headers=headers, timeout=args.timeout)
    if not args.no_preflight:
        from workbench.commands.common import fail
        from workbench.core.bench.requests import preflight
        from workbench.core.serving.diagnosis import ServingError

        try:
            preflight(target, timeout=args.timeout)
        except ServingError as exc:
            diag = exc.diagnosis
            return fail(f"the first request failed before any load ({diag.kind}): {exc}",
                        1 if diag.reachable else 2, json_out=args.json, kind=diag.kind, hint=diag.hint or None)
    line = ProgressLine()
    what = "concurrency" if mode == "closed" else "rate"

    def on_point(p: TimePoint) -> None:
        level = f"{int(p.level)}" if mode == "closed" else f"{p.level:g}/s"
        line.update(f"{what} {level}  t={p.second}s  {sig(p.throughput_rps)} req/s  p50 {sig(p.p50_ms)} ms  "
                    f"p99 {sig(p.p99_ms)} ms  errors {p.errors}")

    def failures(lv) -> dict[str, int]:
        """The level's failures by kind, requests that never came back included."""
        out = dict(lv.errors)
        if lv.incomplete:
            out["incomplete (never answered)"] = lv.incomplete
        return out

    def on_level(lv) -> None:
        level = f"{int(lv.level)}" if mode == "closed" else f"{lv.level:g}/s"
        errs = ", ".join(f"{k} {v}" for k, v in failures(lv).items()) or "no errors"
        line.update(f"{what} {level}: {lv.ok} ok, {sig(lv.throughput_rps)} req/s, p50 {sig(lv.latency.p50_ms)} ms, "
                    f"p99 {sig(lv.latency.p99_ms)} ms, {errs} ({lv.stopped_by})", final=True)

    result, interrupted = run_cancellable(
        lambda cancel: run_load(target, plan, model=args.model, on_point=on_point, on_level=on_level, cancel=cancel))
    line.done()
    result.interrupted = interrupted
    saved = from_load(result)
    if args.out:
        save_result(saved, args.out)
    if args.json:
        print_json(saved.to_json())
    else:
        print(f"{result.target} ({result.protocol}, {'closed loop' if mode == 'closed' else 'open loop'})")
        headers = [what, "ok", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"]
        if mode == "open":
            headers += ["uncorr p50", "uncorr p99"]
        headers += ["client us"]
        # one precision per column: 3 significant digits (whole numbers with separators from 100 on)
        formats = [text, integer, integer] + [sig] * (len(headers) - 3)
        rows = []
        for lv in result.levels:
            level = str(int(lv.level)) if mode == "closed" else f"{lv.level:g}/s"
            row = [level, lv.ok, lv.failed, lv.throughput_rps,
                   lv.latency.p50_ms, lv.latency.percentiles_ms.get(90.0), lv.latency.p99_ms,
                   lv.latency.percentiles_ms.get(99.9), lv.latency.max_ms]
            if mode == "open":
                row += [lv.uncorrected.p50_ms, lv.uncorrected.p99_ms]
            row += [lv.client.in_latency_p50_us if lv.client.in_latency_p50_us is not None
                    else lv.client.cpu_us_per_request]
            rows.append(row)
        if rows:
            print(table(headers, rows, formats))
        for lv in result.levels:
            if lv.errors or lv.incomplete:
                kinds = ", ".join(f"{k}: {v}" for k, v in failures(lv).items())
                print(f"{what} {lv.level:g}: errors {kinds} (of {lv.sent} sent)")
        floor = result.client_floor_us
        if floor is not None:
            how = "median client time inside each measured latency" if result.protocol == "http" \
                else "client CPU per request"
            print(f"client floor: {floor:.1f} us ({how}); latencies below ~{floor / 1000:.3f} ms are the client's")
        if result.stopped_early:
            print("stopped early: the error budget was spent")
        if baseline is not None:
            print(baseline_table(saved, baseline, args.baseline))
        if interrupted:
            print("interrupted: the result is partial")
        if args.out:
            print(f"saved {args.out}")
    if interrupted or result.cancelled:
        from workbench.commands.common import fail
        from workbench.core import processes

        saved_to = f", partial result saved to {args.out}" if args.out else ""
        if processes.sigterm_received():  # SIGTERM stops the run the same way: exit 143
            return fail(f"terminated{saved_to}", 143)
        return fail(f"interrupted{saved_to}", 130)
    # requests that never came back are failures: a run that lost some did not measure what it claims
    lost = any(lv.incomplete for lv in result.levels)
    if result.stopped_early or not any(lv.ok for lv in result.levels) or lost:
        return 1
    return 0
