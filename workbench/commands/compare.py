"""`workbench compare A B --rows ROWS.csv [--runtime-a NAME] [--runtime-b NAME] [--atol X] [--rtol Y]`.

Runs two models (any formats), or one model in two runtimes, on the same rows and checks that
they agree. Exit 0 within tolerance, 1 outside it, 2 for bad input.

B may be a serving endpoint (`http://` or `https://` URL, with `--model NAME` and optionally `--grpc
HOST:PORT`, `--version N`, `--signature S`, `--header K:V`): the rows go to it as `workbench probe` sends
them and its answer is compared with A's predictions (`core.compare.compare_model_with_endpoint`). Exit 1
also when the endpoint answered with an error, 2 when it could not be reached.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.commands.common import TRUST_HELP, fail, print_json, whole_number
from workbench.commands.predict import format_table

NAME = "compare"
HELP = ("Run two models (or one model in two runtimes, or a model and a serving endpoint) on the same rows and "
        "check that they agree.")
ENDPOINT_SCHEMES = ("http://", "https://")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from workbench.core.tolerances import DEFAULT_ATOL, DEFAULT_RTOL

    parser.add_argument("a", help="reference model file or folder")
    parser.add_argument("b", help="model to check against A (may be the same file, with another runtime), or a "
                        "serving endpoint URL (http[s]://HOST:PORT, with --model NAME)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--rows", metavar="ROWS",
                        help="feature rows: CSV with a header line, or JSON records")
    source.add_argument("--generate", metavar="N", type=int,
                        help="instead of --rows: make up N plausible rows from A's input schema")
    parser.add_argument("--seed", type=int, default=0, help="random seed for --generate (default 0)")
    parser.add_argument("--runtime-a", metavar="NAME",
                        help="runtime for A (default: its format's natural one)")
    parser.add_argument("--runtime-b", metavar="NAME",
                        help="runtime for B (default: its format's natural one)")
    parser.add_argument("--atol", type=float, default=DEFAULT_ATOL,
                        help=f"absolute tolerance (default {DEFAULT_ATOL:g})")
    parser.add_argument("--rtol", type=float, default=DEFAULT_RTOL,
                        help=f"relative tolerance (default {DEFAULT_RTOL:g})")
    parser.add_argument("--worst", type=whole_number(0), default=5,
                        help="how many of the most different rows to show (default 5)")
    parser.add_argument("--trust", action="store_true",
                        help=TRUST_HELP)
    parser.add_argument("--json", action="store_true", help="print the parity report as JSON")
    endpoint = parser.add_argument_group("when B is an endpoint URL")
    endpoint.add_argument("--model", metavar="NAME", help="the served model's name")
    endpoint.add_argument("--grpc", metavar="HOST:PORT",
                          help="send the rows over gRPC to this port (the REST URL is checked too)")
    endpoint.add_argument("--version", metavar="N", help="the served version (TF Serving: a number)")
    endpoint.add_argument("--signature", metavar="S", help="the signature to call (default serving_default)")
    endpoint.add_argument("--header", action="append", default=[], metavar="K:V",
                          help="extra header (REST) / metadata (gRPC), e.g. 'Authorization: Bearer T'; "
                          "repeatable")
    endpoint.add_argument("--timeout", type=float, default=10.0, metavar="S",
                          help="per-call timeout in seconds (default 10)")
    from workbench.commands.predict import add_strict

    add_strict(parser)


def run(args: argparse.Namespace) -> int:
    from workbench.commands.predict import apply_strict, load_rows
    from workbench.core.compare import check_tolerances, compare_models
    from workbench.core.runtimes import open_model

    apply_strict(args)
    check_tolerances(args.atol, args.rtol)
    if is_endpoint(args.b):
        return _run_endpoint(args)
    given = [f"--{k}" for k in ("model", "grpc", "version", "signature") if getattr(args, k, None)]
    given += ["--header"] if args.header else []
    if given:
        return fail(f"{', '.join(given)} apply when B is an endpoint URL (http:// or https://), not the model "
                    f"{args.b}", json_out=args.json, kind="bad-arguments")
    opened = None
    if getattr(args, "generate", None) is not None:  # rows from A's schema: load A once, before them
        opened = open_model(args.a, runtime=args.runtime_a, trust=args.trust)
    frame = load_rows(args, args.a, args.trust, info=opened[0] if opened else None)
    result = compare_models(args.a, args.b, frame, runtime_a=args.runtime_a, runtime_b=args.runtime_b,
                            trust=args.trust, atol=args.atol, rtol=args.rtol, worst=args.worst, opened_a=opened)
    return _show(result, args.json)


def _show(result: Any, json_out: bool) -> int:
    """Print a comparison (JSON or the readable report, warnings on stderr); exit 0 when it passed, else 1."""
    if json_out:
        print_json({**result.sides, **result.report.to_json(), "warnings": result.warnings})
    else:
        print(render_report(result.sides, result.report))
        for warning in result.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return 0 if result.report.passed else 1


def is_endpoint(b: str) -> bool:
    """True when B names a serving endpoint (an http:// or https:// URL) rather than a model file."""
    return b.strip().lower().startswith(ENDPOINT_SCHEMES)


def _run_endpoint(args: argparse.Namespace) -> int:
    from workbench.commands.predict import load_rows
    from workbench.core.compare import compare_model_with_endpoint
    from workbench.core.runtimes import open_model
    from workbench.core.serving.endpoint_predictions import EndpointError
    from workbench.core.serving.http import parse_headers

    if args.runtime_b:
        return fail("--runtime-b does not apply when B is an endpoint: the endpoint runs the model",
                    json_out=args.json, kind="bad-arguments")
    try:
        headers = parse_headers(args.header)
    except ValueError as exc:
        return fail(str(exc), json_out=args.json, kind="bad-arguments", hint="write --header 'Name: value'")
    if not args.timeout > 0:
        return fail("--timeout must be a positive number of seconds", json_out=args.json, kind="bad-arguments")
    opened = None
    if getattr(args, "generate", None) is not None:
        opened = open_model(args.a, runtime=args.runtime_a, trust=args.trust)
    frame = load_rows(args, args.a, args.trust, info=opened[0] if opened else None)
    try:
        result = compare_model_with_endpoint(args.a, args.b, frame, model_name=args.model, version=args.version,
                                             signature=args.signature, grpc=args.grpc, headers=headers,
                                             timeout=args.timeout, runtime=args.runtime_a, trust=args.trust,
                                             atol=args.atol, rtol=args.rtol, worst=args.worst, opened=opened)
    except EndpointError as exc:
        return fail(str(exc), exc.exit_code, json_out=args.json, kind=exc.kind, hint=exc.hint,
                    json_error=exc.message)
    return _show(result, args.json)


def render_report(sides: dict[str, dict[str, Any]], report: Any) -> str:
    """A readable parity report: verdict, per-role table, worst rows, notes."""
    from workbench.core.compare import agreement_text, describe_side, format_number

    b = sides["b"]
    b_line = f"B  {b['model']}  ({b['format']}, runtime {b['runtime']})"
    if b.get("endpoint"):
        version = f" version {b['version']}" if b.get("version") not in (None, "") else ""
        b_line = (f"B  {b['endpoint']}  (endpoint {b.get('protocol')} over {b.get('transport')}, model "
                  f"{b.get('served_model')}{version}, signature {b.get('signature') or '-'})")
    lines = [
        f"A  {sides['a']['model']}  ({sides['a']['format']}, runtime {sides['a']['runtime']})",
        b_line,
        report.summary(),
        "",
    ]
    table = [["role", "max abs diff", "max rel diff", "agreement", "rows outside", "result"]]
    for name, role in report.roles.items():
        table.append([name, format_number(role.max_abs_diff), format_number(role.max_rel_diff),
                      agreement_text(role.agreement) if role.agreement is not None else "-",
                      str(len(role.rows_outside)),
                      "not compared" if not role.compared else ("ok" if role.passed else "FAIL")])
    lines.append(format_table(table))
    shown = report.worst_rows if not report.passed else report.worst_rows[:1]
    if shown:
        lines += ["", "worst rows:" if not report.passed else "largest difference:"]
        for row in shown:
            mark = "" if row["within_tolerance"] else "  <- outside tolerance"
            lines.append(f"  row {row['row']}: diff {row['diff']:.3g}{mark}")
            lines.append(f"    A: {describe_side(row['a'])}")
            lines.append(f"    B: {describe_side(row['b'])}")
            if row.get("features"):
                feats = ", ".join(f"{k}={v}" for k, v in list(row["features"].items())[:12])
                lines.append(f"    features: {feats}")
    for note in report.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)
