"""`workbench convert MODEL --to TARGET --out PATH`: convert a model and prove it on rows.

Exit codes: 0 converted and proved, 1 converted but outside tolerance (output kept beside as
`<out>.failed`), 2 cannot convert (the reason on stderr, nothing written).

"Proved" (`passed`) allows rows whose difference is explained as a float32 split-threshold flip (a
feature value exactly on a tree threshold); `parity.passed_strict` is the verdict without that
allowance. The human output shows the largest unexplained difference first, then how many rows were
explained and the largest difference among them. `--force` never replaces a folder with a file or a
file with a folder, and replaces an existing folder only when it is a SavedModel folder.
"""

from __future__ import annotations

import argparse
import sys

from workbench.commands.common import TRUST_HELP, fail, print_json

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
                        help=TRUST_HELP)
    parser.add_argument("--force", action="store_true",
                        help="overwrite an existing output file, or an existing SavedModel folder (never "
                             "another folder, never a folder by a file or a file by a folder)")
    parser.add_argument("--atol", type=float, default=None,
                        help="absolute tolerance (default 1e-5, 1e-4 when the converted model runs in float32)")
    parser.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance (default 1e-4)")
    from workbench.commands.predict import add_strict

    add_strict(parser)
    parser.add_argument("--list", action="store_true",
                        help="only list every target with 'possible' or the reason it is not, then exit")
    parser.add_argument("--json", action="store_true",
                        help='print the result as JSON. "passed" (also parity.passed) is the verdict: true when '
                             'every row outside tolerance is explained as a float32 split-threshold flip; '
                             'parity.passed_strict is the verdict with no explanation allowed; '
                             'parity.max_abs_diff is over all rows, parity.max_abs_diff_unexplained over the '
                             'rows not explained; parity.explained_rows counts the explained rows, listed in '
                             '"explained_rows" ("unexplained_rows": row numbers outside tolerance)')


def _progress(enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled:
        return None

    def show(fraction: float, message: str) -> None:
        print(f"[{fraction * 100:5.1f}%] {message}", file=sys.stderr)

    return show


def run(args: argparse.Namespace) -> int:
    from workbench.core.conversion import convert_and_prove
    from workbench.core.errors import WorkbenchError

    from workbench.commands.predict import apply_strict

    apply_strict(args)
    if args.list:
        return _list_targets(args)
    if not args.target or not args.out:
        return fail("--to TARGET and --out PATH are required (or --list to see the possible targets)",
                    json_out=args.json, kind="bad-arguments")
    mismatch = extension_mismatch(args.target, args.out)
    if mismatch:
        print(f"warning: {mismatch}", file=sys.stderr)
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
        if result.notes.get("version_skew"):
            print(f"warning: {result.notes['version_skew']} (the parity proof ran the installed one)", file=sys.stderr)
    return result.exit_code


def extension_mismatch(target: str, out: str) -> str:
    """A warning when `out`'s ending is another format's (runtimes and viewers go by the ending), else ""."""
    from pathlib import Path

    from workbench.core.converters.base import TARGET_ENDINGS

    endings = TARGET_ENDINGS.get(target)
    suffix = Path(out).suffix.lower()
    if endings is None or suffix in endings or Path(out).is_dir():  # a folder: convert refuses it anyway
        return ""
    other = next((t for t, e in TARGET_ENDINGS.items() if suffix in e), None)
    if other is None and suffix:
        return ""  # an ending of the user's own: their choice
    said = f"a {suffix} file ({other.upper()}'s ending)" if other else "a file without an ending"
    return f"writing {target.upper()} to {said}; tools pick the format by the ending: use {endings[0]}"


def _list_targets(args: argparse.Namespace) -> int:
    from workbench.core.conversion import load_source
    from workbench.core.converters import conversion_targets
    from workbench.core.errors import UntrustedPickle
    from workbench.core.models import inspect_model

    try:
        info, model = load_source(args.model, trust=args.trust)
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


def _diff_line(result, parity: dict) -> str:  # type: ignore[no-untyped-def]
    """The largest difference not explained first; rows explained as split-threshold flips after it."""
    explained = len(result.explained_rows)
    rows = parity.get("rows")
    over = f" over {rows} rows" if rows is not None else ""
    if parity.get("max_abs_diff") is None:
        return f"not measured{over}: no probabilities or values were compared (labels only)"
    if not explained:
        return f"{_num(parity.get('max_abs_diff'))}{over} (rel {_num(parity.get('max_rel_diff'))})"
    unexplained = parity.get("max_abs_diff_unexplained", parity.get("max_abs_diff"))
    return (f"{_num(unexplained)}{over}; {explained} row{'s' if explained != 1 else ''} on a split threshold "
            f"explained (up to {_num(parity.get('max_abs_diff'))}), see report")


def render(result) -> str:  # type: ignore[no-untyped-def]
    """Human-readable summary of a ConversionResult."""
    parity = result.parity or {}
    verdict = "PROVED" if result.passed else "OUTSIDE TOLERANCE"
    lines = [f"{verdict}: {result.source} -> {result.target} ({result.converter}) in {result.seconds:.1f} s"]
    compared = parity.get("compared_outputs")
    if compared:
        only = " only" if parity.get("not_compared") else ""
        lines.append(f"  compared   {', '.join(compared)}{only} ({'PASS' if result.passed else 'FAIL'} on these)")
    for name, why in (parity.get("not_compared") or {}).items():
        lines.append(f"  NOT COMPARED {name}: {why}")
    differ = parity.get("sample_rows_scored_differently") or []
    if differ:
        shown = ", ".join(str(r) for r in differ[:10]) + (" ..." if len(differ) > 10 else "")
        lines.append(f"  WARNING    {len(differ)} row(s) of your data are scored differently by the converted model "
                     f"(rows {shown}): a value on a split threshold, float32 in the converted runtime")
    if result.output:
        lines.append(f"  output     {result.output}")
    if result.failed_output:
        lines.append(f"  kept as    {result.failed_output} (not moved into place)")
    if parity:
        lines.append(f"  rows       {result.rows_source}")
        lines.append(f"  max diff   {_diff_line(result, parity)}")
        lines.append(f"  tolerance  atol {_num(result.tolerances.get('atol'))}, rtol {_num(result.tolerances.get('rtol'))}")
        if result.unexplained_rows and not result.passed:
            rows = [r + 1 for r in result.unexplained_rows if r >= 0]
            if rows:
                shown = ", ".join(str(r) for r in rows[:10]) + (" ..." if len(rows) > 10 else "")
                lines.append(f"  outside    {len(rows)} row(s) beyond tolerance, not explained: {shown}")
                n_sample = parity.get("sample_rows")
                generated = [r for r in rows if isinstance(n_sample, int) and r > n_sample]
                if generated:
                    lines.append(f"             rows above {n_sample} are generated edge-case rows (a feature placed "
                                 "on a split threshold), not rows of your data")
        agreement = parity.get("label_agreement")
        if agreement is not None:  # a regressor has no labels to agree on
            from workbench.core.compare import agreement_text

            lines.append(f"  labels     agree on {agreement_text(agreement)} of rows")
    for row in result.explained_rows[:5]:
        lines.append(f"  {row.get('row_kind') or 'row ' + str(row['row'])}: {row['explanation']}")
    if len(result.explained_rows) > 5:
        lines.append(f"  ... {len(result.explained_rows) - 5} more explained rows (see the report)")
    if result.report_path:
        lines.append(f"  report     {result.report_path}")
    return "\n".join(lines)
