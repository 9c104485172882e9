"""Helpers shared by the CLI subcommands: JSON printing and error reporting."""

from __future__ import annotations

import json
import sys
from typing import Any

from workbench.core.types import finite, jsonable


def print_json(payload: Any) -> None:
    """Print strict JSON (NaN/Infinity become null) to stdout."""
    print(json.dumps(finite(jsonable(payload)), indent=2, ensure_ascii=False))



def fail(message: str, code: int = 2, *, json_out: bool = False, kind: str = "error", hint: str | None = None,
         json_error: str | None = None) -> int:
    """Print the one-line `error: ...` contract to stderr and return the exit code; with `json_out`
    (the command's --json) also {"error", "kind", "hint"} on stdout, so scripts always get JSON
    (`json_error`: the message there when `message` already carries the hint)."""
    first_line = " ".join(str(message).split("\n")[0].split()) if message else "unknown error"
    if json_out:
        print_json({"error": json_error or first_line, "kind": kind, "hint": hint})
    print(f"error: {first_line}", file=sys.stderr)
    return code


def whole_number(minimum: int) -> Any:
    """An argparse `type` for whole numbers >= `minimum` (argparse names the option in its error)."""
    import argparse

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {minimum} or more, got {value}")
        return value

    return parse


def seconds(text: str) -> float:
    """An argparse `type` for a finite number of seconds, zero or more."""
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds, zero or more, got {text}")
    return value


#: --trust, worded once for every command that loads models
TRUST_HELP = ("load models whose loading runs code from the file (pickle/joblib, TensorFlow SavedModels, Keras "
              "files with Lambda layers): only for files you trust")
