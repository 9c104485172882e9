"""`workbench lint BASE [--json]`: check a TF Serving folder before serving it."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.commands.common import fail, print_json

NAME = "lint"
HELP = (
    "Check a TF Serving folder (models root with models.config, or a model base path): numeric version "
    "folders, saved_model.pb, serving_default, variables, warmup file, base_path mistakes."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="TF Serving models root (with models.config) or a model base path")
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"path", "errors", "warnings", "findings": [{"level", "message", "hint"}]}',
    )


def run(args: argparse.Namespace) -> int:
    """Exit 0 when there is no error finding, 1 otherwise; 2 when the path is missing, unreadable or
    not a folder (one line `error: ...` on stderr)."""
    from workbench.core.tfserving.lint import lint_base_folder

    path = Path(args.path)
    problem = _path_problem(path)
    if problem:
        return fail(problem, json_out=args.json, kind="model-file")
    try:
        findings = lint_base_folder(path)
    except OSError as exc:
        return fail(f"{exc.filename or path}: cannot be read ({exc.strerror or exc})", json_out=args.json,
                    kind="model-file")
    errors = sum(f.level == "error" for f in findings)
    warnings = sum(f.level == "warning" for f in findings)
    if args.json:
        print_json(
            {
                "path": str(args.path),
                "errors": errors,
                "warnings": warnings,
                "findings": [f.to_json() for f in findings],
            }
        )
    else:
        for f in findings:
            print(f"{f.level:<7} {f.message}")
            if f.hint:
                print(f"        hint: {f.hint}")
        print(f"{errors} error(s), {warnings} warning(s)")
    return 1 if errors else 0


def _path_problem(path: Path) -> str | None:
    """Why `path` cannot be linted at all, or None."""
    if not path.exists():
        return f"{path}: no such file or folder"
    if not path.is_dir():
        return (f"{path} is a file, not a folder: give a TF Serving models root (with models.config) or a "
                "model base path (the folder holding numeric version folders)")
    try:
        next(iter(path.iterdir()), None)
    except OSError as exc:
        return f"{path}: cannot be read ({exc.strerror or exc})"
    return None
