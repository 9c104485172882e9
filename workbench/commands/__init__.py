"""CLI subcommands: one module each, exposing NAME, HELP, add_arguments(parser) and run(args) -> int.

Modules here import only cheap things at module level; heavy backends load inside run().
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: module names under workbench.commands, in the order `workbench --help` lists them
COMMAND_MODULES = ("inspect", "predict", "compare", "convert", "lint", "probe", "bench", "load", "desktop", "gui")


def available_commands() -> list[ModuleType]:
    """Import every command module that exists (a missing one is skipped)."""
    modules = []
    for name in COMMAND_MODULES:
        try:
            modules.append(importlib.import_module(f"workbench.commands.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"workbench.commands.{name}":
                raise
    return modules
