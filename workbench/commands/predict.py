"""`workbench predict MODEL --rows ROWS.csv [--runtime NAME] [--trust] [--json]`: run a model on rows."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any

from workbench.commands.common import TRUST_HELP, print_json

NAME = "predict"
HELP = "Run a model on feature rows (CSV or JSON records) in one of its runtimes and show the predictions."

MAX_CLASS_COLUMNS = 8

#: --strict, worded once for predict, compare, bench and convert
STRICT_HELP = ("refuse rows with columns the model does not take (an id, a label, unused PMML fields); "
               "by default they are ignored and named in a warning")


def add_strict(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strict", action="store_true", help=STRICT_HELP)


def apply_strict(args: argparse.Namespace) -> None:
    """--strict for this command (every run sets it, so one process can run several commands)."""
    from workbench.core.rows.layout import set_strict_columns

    set_strict_columns(bool(getattr(args, "strict", False)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model file or folder")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--rows", metavar="ROWS",
                        help="feature rows: CSV with a header line, or JSON records")
    source.add_argument("--generate", metavar="N", type=int,
                        help="instead of --rows: make up N plausible rows from the model's input schema")
    parser.add_argument("--runtime", metavar="NAME",
                        help="native, onnxruntime, pmml4s, jpmml or tensorflow "
                             "(default: the format's natural one)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for --generate (default 0)")
    parser.add_argument("--trust", action="store_true",
                        help=TRUST_HELP)
    parser.add_argument("--json", action="store_true", help="print the predictions as JSON")
    add_strict(parser)


def load_rows(args: argparse.Namespace, model: str, trust: bool, info: Any = None) -> Any:
    """The raw rows frame from --rows, or generated from the model's schema with --generate.

    Generated rows carry warnings about guessed values in `frame.attrs["warnings"]`. Pass the
    model's `info` when it is known already, so the model is not inspected (or unpickled) again.
    """
    from workbench.core.rows import generate_rows, read_rows

    if getattr(args, "rows", None):
        return read_rows(args.rows)
    if info is None:
        from workbench.core.models import inspect_model

        info = inspect_model(model, trust=trust)
    return generate_rows(info, args.generate, seed=args.seed)


def predict(args: argparse.Namespace) -> tuple[Any, Any, list[str]]:
    """(model info, prediction batch, warnings) for the command line's model and rows.

    With --rows the rows are read and checked before the model is loaded; with --generate the model
    is loaded first (once, even for a pickle) and the rows are made from what it knows.
    """
    from workbench.core.rows import prepare_rows
    from workbench.core.runtimes import open_model, predict_prepared, predict_rows

    if getattr(args, "rows", None):
        frame = load_rows(args, args.model, args.trust)
        info, _, batch = predict_rows(args.model, frame, runtime=args.runtime, trust=args.trust)
    else:
        info, session = open_model(args.model, runtime=args.runtime, trust=args.trust)
        frame = load_rows(args, args.model, args.trust, info=info)
        batch = predict_prepared(session, prepare_rows(frame, info))
    warnings = [*frame.attrs.get("warnings", []), *batch.warnings]
    return info, batch, list(dict.fromkeys(str(w) for w in warnings))


def run(args: argparse.Namespace) -> int:
    apply_strict(args)
    info, batch, warnings = predict(args)
    if args.json:
        print_json({
            "model": args.model,
            "format": info.format,
            "runtime": batch.runtime,
            "rows": batch.rows,
            "classes": batch.classes,
            "predictions": batch.to_records(),
            "elapsed_ms": batch.elapsed_ms,
            "warnings": warnings,
        })
    else:
        print(f"{args.model}  ({info.format}, runtime {batch.runtime}): {batch.rows} "
              f"row{'s' if batch.rows != 1 else ''} in {batch.elapsed_ms:.1f} ms")
        print(render_batch(batch))
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return 0


#: decimals of fixed-notation numbers in the table
DECIMALS = 6
#: outside [SMALL, LARGE) (zero excepted) a column switches to scientific notation
SMALL, LARGE = 1e-6, 1e6


def _numbers(values: list[Any]) -> list[float]:
    out: list[float] = []
    for v in values:
        if isinstance(v, list):
            out.extend(_numbers(v))
        elif isinstance(v, float | int) and not isinstance(v, bool):
            out.append(float(v))
    return out


def column_formatter(values: list[Any]) -> Callable[[Any], str]:
    """How to print every number of one table column, decided from all of them.

    Fixed notation with `DECIMALS` decimals; scientific for the whole column when one of its
    non-zero values is below `SMALL` or at least `LARGE` in size; whole numbers without decimals
    when every value of the column is whole. None prints as "-", text as itself.
    """
    numbers = [x for x in _numbers(values) if math.isfinite(x)]
    sizes = [abs(x) for x in numbers if x != 0]
    if numbers and all(isinstance(v, int) or v is None for v in _flat(values)):
        spec = "d"
    elif any(x < SMALL or x >= LARGE for x in sizes):
        spec = f".{DECIMALS}e"
    else:
        spec = f".{DECIMALS}f"

    def fmt(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, list):
            return "[" + ", ".join(fmt(v) for v in value) + "]"
        if isinstance(value, bool) or not isinstance(value, float | int):
            return str(value)
        if not math.isfinite(value):
            return str(float(value))
        return f"{int(value)}" if spec == "d" else format(float(value), spec)

    return fmt


def _flat(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        out.extend(_flat(v) if isinstance(v, list) else [v])
    return out


def _label(value: Any) -> Any:
    """A class label as printed: whole-number floats (1.0 from some runtimes) as integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _fmt(value: Any) -> str:
    """One value alone (a column of its own)."""
    return column_formatter([value])(value)


def render_batch(batch: Any) -> str:
    """A plain-text table: row, label, one column per class probability, value.

    Numbers are formatted per column (see `column_formatter`), so one column never mixes
    fixed and scientific notation.
    """
    records = batch.to_records()
    columns: list[tuple[str, list[Any]]] = []
    if batch.labels is not None:
        columns.append(("label", [_label(rec["label"]) for rec in records]))
    class_keys: list[str] = []
    if batch.probabilities is not None and records:
        class_keys = list(records[0]["probabilities"])
        columns += [(f"p({k})", [rec["probabilities"][k] for rec in records])
                    for k in class_keys[:MAX_CLASS_COLUMNS]]
        if len(class_keys) > MAX_CLASS_COLUMNS:
            columns.append(("...", ["..."] * len(records)))
    if batch.values is not None:
        columns.append(("value", [rec["value"] for rec in records]))
    if not columns:
        columns = [(name, [rec["outputs"].get(name) for rec in records]) for name in batch.outputs]
    header = ["row"] + [name for name, _ in columns]
    cells = []
    for _, values in columns:
        fmt = column_formatter(values)
        cells.append([fmt(v) for v in values])
    table = [header] + [[str(i + 1)] + [col[i] for col in cells] for i in range(len(records))]
    return format_table(table)


def format_table(rows: list[list[str]]) -> str:
    """Left-aligned columns separated by two spaces."""
    widths = [max(len(r[j]) for r in rows if j < len(r)) for j in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(r)).rstrip() for r in rows)
