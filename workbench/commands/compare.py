"""`workbench compare A B --rows ROWS.csv [--runtime-a NAME] [--runtime-b NAME] [--atol X] [--rtol Y]`.

Runs two models (any formats), or one model in two runtimes, on the same rows and checks that
they agree. Exit 0 within tolerance, 1 outside it, 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.commands.common import TRUST_HELP, print_json, whole_number
from workbench.commands.predict import format_table

NAME = "compare"
HELP = "Run two models (or one model in two runtimes) on the same rows and check that they agree."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from workbench.core.compare import DEFAULT_ATOL, DEFAULT_RTOL

    parser.add_argument("a", help="reference model file or folder")
    parser.add_argument("b", help="model to check against A (may be the same file, with another runtime)")
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
    from workbench.commands.predict import add_strict

    add_strict(parser)


def run(args: argparse.Namespace) -> int:
    from workbench.commands.predict import apply_strict, load_rows
    from workbench.core.compare import check_tolerances, compare_models
    from workbench.core.runtimes import open_model

    apply_strict(args)
    check_tolerances(args.atol, args.rtol)
    opened = None
    if getattr(args, "generate", None) is not None:  # rows from A's schema: load A once, before them
        opened = open_model(args.a, runtime=args.runtime_a, trust=args.trust)
    frame = load_rows(args, args.a, args.trust, info=opened[0] if opened else None)
    result = compare_models(args.a, args.b, frame, runtime_a=args.runtime_a, runtime_b=args.runtime_b,
                            trust=args.trust, atol=args.atol, rtol=args.rtol, worst=args.worst, opened_a=opened)
    if args.json:
        print_json({**result.sides, **result.report.to_json(), "warnings": result.warnings})
    else:
        print(render_report(result.sides, result.report))
        for warning in result.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return 0 if result.report.passed else 1


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _side_text(side: dict[str, Any]) -> str:
    parts = []
    if side.get("label") is not None:
        parts.append(f"label {side['label']}")
    if side.get("probabilities"):
        parts.append("p " + " ".join(f"{k}:{v:.4g}" for k, v in list(side["probabilities"].items())[:6]))
    if side.get("value") is not None:
        value = side["value"]
        parts.append("value " + (f"{value:.6g}" if isinstance(value, float) else str(value)))
    return ", ".join(parts) or "-"


def render_report(sides: dict[str, dict[str, Any]], report: Any) -> str:
    """A readable parity report: verdict, per-role table, worst rows, notes."""
    from workbench.core.compare import agreement_text

    lines = [
        f"A  {sides['a']['model']}  ({sides['a']['format']}, runtime {sides['a']['runtime']})",
        f"B  {sides['b']['model']}  ({sides['b']['format']}, runtime {sides['b']['runtime']})",
        report.summary(),
        "",
    ]
    table = [["role", "max abs diff", "max rel diff", "agreement", "rows outside", "result"]]
    for name, role in report.roles.items():
        table.append([name, _fmt(role.max_abs_diff), _fmt(role.max_rel_diff),
                      agreement_text(role.agreement) if role.agreement is not None else "-",
                      str(len(role.rows_outside)), "ok" if role.passed else "FAIL"])
    lines.append(format_table(table))
    shown = report.worst_rows if not report.passed else report.worst_rows[:1]
    if shown:
        lines += ["", "worst rows:" if not report.passed else "largest difference:"]
        for row in shown:
            mark = "" if row["within_tolerance"] else "  <- outside tolerance"
            lines.append(f"  row {row['row']}: diff {row['diff']:.3g}{mark}")
            lines.append(f"    A: {_side_text(row['a'])}")
            lines.append(f"    B: {_side_text(row['b'])}")
            if row.get("features"):
                feats = ", ".join(f"{k}={v}" for k, v in list(row["features"].items())[:12])
                lines.append(f"    features: {feats}")
    for note in report.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)
