"""`workbench inspect PATH [--json] [--trust]`: what a model file or folder is."""

from __future__ import annotations

import argparse

from workbench.commands.common import print_json
from workbench.core.types import ModelInfo

NAME = "inspect"
HELP = "Detect a model's format from its content and show its inputs, outputs, task and metadata."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="model file or folder (SavedModel or TF Serving base folder)")
    parser.add_argument("--json", action="store_true", help="print the ModelInfo JSON contract")
    parser.add_argument("--trust", action="store_true",
                        help="load pickles fully (unpickling runs code from the file: only for files you trust); SavedModels "
                             "and Keras files are read without loading")


def run(args: argparse.Namespace) -> int:
    from workbench.core.models import inspect_model

    info = inspect_model(args.path, trust=args.trust)
    if args.json:
        print_json(info.to_json())
    else:
        print(render(info))
    return 0


def _shape(shape: tuple[int | None, ...] | None) -> str:
    if shape is None:
        return "unknown"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


_LABELS = {"booster_format_version": "file format", "pmml_version": "PMML version"}


def _value(key: str, value: object) -> str:
    """Metadata values as a person reads them (sizes with units, no Python reprs)."""
    if key == "file_size" and isinstance(value, int):
        for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
            if value >= size:
                return f"{value / size:.1f} {unit} ({value:,} bytes)"
        return f"{value} bytes"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_value(key, v) if isinstance(v, list | dict) else str(v) for v in value)
    return str(value)


def render(info: ModelInfo) -> str:
    """A readable summary of a ModelInfo."""
    lines = [
        f"{info.path}",
        f"  format        {info.format}",
        f"  framework     {info.framework}" + (f" {info.framework_version}" if info.framework_version else ""),
        f"  task          {info.task}",
    ]
    if info.classes is not None:
        lines.append(f"  classes       {', '.join(map(str, info.classes))}")
    lines.append(f"  inputs ({len(info.inputs)})")
    width = max((len(s.name) for s in info.inputs + info.outputs), default=4)
    for spec in info.inputs:
        extra = ""
        if spec.categories is not None:
            shown = ", ".join(map(str, spec.categories[:8])) + (" ..." if len(spec.categories) > 8 else "")
            extra = f"  categories: {shown}"
        elif spec.value_range is not None:
            what = "splits span" if spec.range_from_splits else "range"
            extra = f"  {what}: {spec.value_range[0]:g} .. {spec.value_range[1]:g}"
        elif spec.typical is not None:
            extra = f"  typical: {spec.typical[0]:.4g} +- {spec.typical[1]:.3g}"
        lines.append(f"    {spec.name:<{width}}  {spec.dtype:<8} {_shape(spec.shape)}{extra}")
    lines.append(f"  outputs ({len(info.outputs)})")
    for spec in info.outputs:
        lines.append(f"    {spec.name:<{width}}  {spec.dtype:<8} {_shape(spec.shape)}")
    meta = info.metadata
    for key in ("model_class", "estimator", "model_type", "pmml_version", "producer", "opset", "versions",
                "tags", "objective", "booster_format_version", "feature_count", "file_size", "sha256"):
        if meta.get(key) not in (None, [], {}):
            lines.append(f"  {_LABELS.get(key, key.replace('_', ' ')):<13} {_value(key, meta[key])}")
    if "signatures" in meta:
        for name, sig in meta["signatures"].items():
            ins = ", ".join(f"{a}:{v['dtype']} {_shape(tuple(v['shape']) if v['shape'] is not None else None)}"
                            for a, v in sig["inputs"].items())
            outs = ", ".join(sig["outputs"])
            lines.append(f"  signature     {name} ({sig['method'].rsplit('/', 1)[-1]}): {ins} -> {outs}")
    for warning in info.warnings:
        lines.append(f"  warning: {warning}")
    return "\n".join(lines)
