"""`workbench lint BASE [--json]`: check a TF Serving folder before serving it."""

from __future__ import annotations

import argparse

from workbench.commands.common import print_json

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
    """Exit 0 when there is no error finding, 1 otherwise."""
    from workbench.core.tfserving_bundle import lint_base_folder

    findings = lint_base_folder(args.path)
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
