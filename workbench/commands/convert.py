"""`workbench convert MODEL --to TARGET --out PATH`: convert a model and prove it on rows.

Exit codes: 0 converted and proved, 1 converted but outside tolerance (output kept beside as
`<out>.failed`), 2 cannot convert (the reason on stderr, nothing written).
"""

from __future__ import annotations

import argparse
import sys

from workbench.commands.common import fail, print_json

NAME = "convert"
HELP = "Convert a model to ONNX, PMML, SavedModel or a TF Serving bundle and prove parity on rows."

#: kept in step with workbench.core.converters.base.TARGETS (a test checks it); not imported here so
#: that building the parser stays cheap
TARGET_CHOICES = ("onnx", "pmml", "savedmodel", "tfserving")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model file or folder to convert (never modified)")
    parser.add_argument("--to", dest="target", choices=TARGET_CHOICES,
                        help="target format (tfserving: a TF Serving base folder NAME/VERSION with "
                             "models.config, warmup requests and SERVING.md)")
    parser.add_argument("--out", help="output file or folder (for tfserving: the base folder holding "
                                      "NAME/VERSION); required unless --list")
    parser.add_argument("--rows", help="CSV or JSON rows to prove parity on (default: generated rows; "
                                       "tree models also get rows on their split thresholds)")
    parser.add_argument("--name", help="model name (TF Serving bundle; default: from the file name)")
    parser.add_argument("--version", type=int, help="TF Serving version folder (default: next free version)")
    parser.add_argument("--trust", action="store_true",
                        help="load pickles (unpickling runs code from the file: only for files you trust)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output")
    parser.add_argument("--atol", type=float, default=None,
                        help="absolute tolerance (default 1e-5, 1e-4 when the converted model runs in float32)")
    parser.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance (default 1e-4)")
    parser.add_argument("--list", action="store_true",
                        help="only list every target with 'possible' or the reason it is not, then exit")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _progress(enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled:
        return None

    def show(fraction: float, message: str) -> None:
        print(f"[{fraction * 100:5.1f}%] {message}", file=sys.stderr)

    return show


def run(args: argparse.Namespace) -> int:
    from workbench.core.conversion import convert_and_prove
    from workbench.core.errors import WorkbenchError

    if args.list:
        return _list_targets(args)
    if not args.target or not args.out:
        return fail("--to TARGET and --out PATH are required (or --list to see the possible targets)")
    try:
        result = convert_and_prove(args.model, args.target, args.out, rows=args.rows, name=args.name,
                                   version=args.version, trust=args.trust, force=args.force,
                                   atol=args.atol, rtol=args.rtol,
                                   progress=_progress(not args.json and sys.stderr.isatty()))
    except WorkbenchError as exc:
        if args.json:
            payload = {"source": args.model, "target": args.target, "output": None, "error": str(exc),
                       "kind": exc.kind}
            details = getattr(exc, "details", "")
            if details:
                payload["details"] = details
            print_json(payload)
        return fail(str(exc))
    if args.json:
        print_json(result.to_json())
    else:
        print(render(result))
    return result.exit_code


def _list_targets(args: argparse.Namespace) -> int:
    from workbench.core.converters import conversion_targets
    from workbench.core.errors import UntrustedPickle
    from workbench.core.models import inspect_model, load_model

    try:
        info, model = load_model(args.model, trust=args.trust)
    except UntrustedPickle:
        info, model = inspect_model(args.model, trust=False), None
    statuses = conversion_targets(info, model)
    if args.json:
        print_json({"source": args.model, "targets": [s.to_json() for s in statuses]})
    else:
        for s in statuses:
            print(f"{s.target:<11} {'possible' if s.possible else s.reason}")
    return 0


def _num(value: object) -> str:
    return f"{value:.2g}" if isinstance(value, float) else str(value)


def render(result) -> str:  # type: ignore[no-untyped-def]
    """Human-readable summary of a ConversionResult."""
    parity = result.parity or {}
    verdict = "PROVED" if result.passed else "OUTSIDE TOLERANCE"
    lines = [f"{verdict}: {result.source} -> {result.target} ({result.converter}) in {result.seconds:.1f} s"]
    if result.output:
        lines.append(f"  output     {result.output}")
    if result.failed_output:
        lines.append(f"  kept as    {result.failed_output} (not moved into place)")
    if parity:
        lines.append(f"  rows       {result.rows_source}")
        lines.append(f"  max diff   abs {_num(parity.get('max_abs_diff'))}  rel {_num(parity.get('max_rel_diff'))}  "
                     f"(atol {_num(result.tolerances.get('atol'))}, rtol {_num(result.tolerances.get('rtol'))})")
        if result.explained_rows:
            lines.append(f"  explained  {len(result.explained_rows)} row(s) on a split threshold; largest other "
                         f"difference {_num(parity.get('max_abs_diff_unexplained'))}")
        lines.append(f"  labels     agreement {parity.get('label_agreement')}")
    for row in result.explained_rows[:5]:
        lines.append(f"  row {row['row']}: {row['explanation']}")
    if len(result.explained_rows) > 5:
        lines.append(f"  ... {len(result.explained_rows) - 5} more explained rows (see the report)")
    if result.report_path:
        lines.append(f"  report     {result.report_path}")
    return "\n".join(lines)
