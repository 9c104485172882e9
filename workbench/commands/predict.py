"""`workbench predict MODEL --rows ROWS.csv [--runtime NAME] [--trust] [--json]`: run a model on rows."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.commands.common import print_json

NAME = "predict"
HELP = "Run a model on feature rows (CSV or JSON records) in one of its runtimes and show the predictions."

MAX_CLASS_COLUMNS = 8


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
                        help="load pickles (unpickling runs code from the file: only for files you trust)")
    parser.add_argument("--json", action="store_true", help="print the predictions as JSON")


def load_rows(args: argparse.Namespace, model: str, trust: bool) -> Any:
    """The raw rows frame from --rows, or generated from the model's schema with --generate."""
    from workbench.core.rows import generate_rows, read_rows

    if getattr(args, "rows", None):
        return read_rows(args.rows)
    from workbench.core.models import inspect_model

    return generate_rows(inspect_model(model, trust=trust), args.generate, seed=args.seed)


def run(args: argparse.Namespace) -> int:
    from workbench.core.runtimes import predict_rows

    frame = load_rows(args, args.model, args.trust)
    info, prepared, batch = predict_rows(args.model, frame, runtime=args.runtime, trust=args.trust)
    if args.json:
        print_json({
            "model": args.model,
            "format": info.format,
            "runtime": batch.runtime,
            "rows": batch.rows,
            "classes": batch.classes,
            "predictions": batch.to_records(),
            "elapsed_ms": batch.elapsed_ms,
            "warnings": list(batch.warnings),
        })
    else:
        print(f"{args.model}  ({info.format}, runtime {batch.runtime}): {batch.rows} rows in "
              f"{batch.elapsed_ms:.1f} ms")
        print(render_batch(batch))
        for warning in batch.warnings:
            print(f"warning: {warning}")
    return 0


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def render_batch(batch: Any) -> str:
    """A plain-text table: row, label, one column per class probability, value."""
    records = batch.to_records()
    header = ["row"]
    if batch.labels is not None:
        header.append("label")
    class_keys: list[str] = []
    if batch.probabilities is not None and records:
        class_keys = list(records[0]["probabilities"])
        header += [f"p({k})" for k in class_keys[:MAX_CLASS_COLUMNS]]
        if len(class_keys) > MAX_CLASS_COLUMNS:
            header.append("...")
    if batch.values is not None:
        header.append("value")
    if len(header) == 1:
        header += list(batch.outputs)
    table = [header]
    for i, rec in enumerate(records, start=1):
        line = [str(i)]
        if batch.labels is not None:
            line.append(_fmt(rec["label"]))
        if class_keys:
            line += [_fmt(rec["probabilities"][k]) for k in class_keys[:MAX_CLASS_COLUMNS]]
            if len(class_keys) > MAX_CLASS_COLUMNS:
                line.append("...")
        if batch.values is not None:
            line.append(_fmt(rec["value"]))
        if len(header) > 1 and len(line) == 1:
            line += [_fmt(rec["outputs"].get(name)) for name in header[1:]]
        table.append(line)
    return format_table(table)


def format_table(rows: list[list[str]]) -> str:
    """Left-aligned columns separated by two spaces."""
    widths = [max(len(r[j]) for r in rows if j < len(r)) for j in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(r)).rstrip() for r in rows)
