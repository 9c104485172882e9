"""`workbench` command line: the same capabilities as the app, headless.

With no subcommand it starts the desktop app (like `workbench gui`).
Exit codes: 0 success, 1 the check asked for failed (parity, endpoint error), 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
import typing
from collections.abc import Sequence

from workbench import __version__
from workbench.commands import available_commands
from workbench.commands.common import fail, print_json
from workbench.core import processes, quiet
from workbench.core.errors import WorkbenchError


class _Parser(argparse.ArgumentParser):
    """argparse with the workbench's error contract: one line `error: ...` on stderr, exit 2."""

    #: set by `main` when the command line asks for --json: argparse's refusals are JSON on stdout too
    json_errors = False

    def error(self, message: str) -> typing.NoReturn:
        hint = f"see `{self.prog} --help`"
        if _Parser.json_errors:
            print_json({"error": message, "kind": "bad-arguments", "hint": hint})
        self.exit(2, f"error: {message} ({hint})\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="workbench",
        description="Model Serving Workbench: inspect, convert, predict, compare, probe and benchmark models. "
                    "Without a command it starts the desktop app (same as `workbench gui`).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in available_commands():
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `workbench` console script."""
    quiet.install()
    parser = build_parser()
    _Parser.json_errors = "--json" in (sys.argv[1:] if argv is None else list(argv))
    args = parser.parse_args(argv)
    if args.command is None:
        from workbench.commands import gui

        args = parser.parse_args(["gui", *(argv or [])[len(argv or []):]])
        return gui.run(args)
    json_out = bool(getattr(args, "json", False))
    if args.command != "gui":  # SIGTERM unwinds like Ctrl-C: temporary folders and children go
        processes.install_signal_handlers()
    try:
        return int(args._run(args) or 0)
    except WorkbenchError as exc:
        if processes.interrupted_by(exc):
            return _interrupted(json_out)
        return fail(str(exc), json_out=json_out, kind=exc.kind, hint=exc.hint, json_error=exc.message)
    except KeyboardInterrupt:
        return _interrupted(json_out)
    except BrokenPipeError:  # `workbench ... | head` closed the pipe: not an error
        sys.stderr.close()
        return 0
    except Exception as exc:  # last resort: one line, never a traceback, unless asked for
        if processes.interrupted_by(exc):  # a library turned the Ctrl-C into its own error
            return _interrupted(json_out)
        if os.environ.get("WORKBENCH_RAISE_ERRORS") == "1":
            raise
        return fail(f"unexpected {type(exc).__name__}: {exc} (set WORKBENCH_RAISE_ERRORS=1 for the traceback)",
                    json_out=json_out, kind="unexpected")


def _interrupted(json_out: bool) -> int:
    """Ctrl-C: one line, exit 130; SIGTERM (raised as a KeyboardInterrupt so cleanup ran): exit 143."""
    if processes.sigterm_received():
        return fail("terminated", 143, json_out=json_out, kind="interrupted")
    return fail("interrupted", 130, json_out=json_out, kind="interrupted")


if __name__ == "__main__":
    sys.exit(main())
