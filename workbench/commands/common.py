"""Helpers shared by the CLI subcommands: JSON printing and error reporting."""

from __future__ import annotations

import json
import sys
from typing import Any

from workbench.core.types import finite, jsonable


def print_json(payload: Any) -> None:
    """Print strict JSON (NaN/Infinity become null) to stdout."""
    print(json.dumps(finite(jsonable(payload)), indent=2, ensure_ascii=False))



def fail(message: str, code: int = 2) -> int:
    """Print the one-line `error: ...` contract to stderr and return the exit code."""
    first_line = " ".join(str(message).split("\n")[0].split()) if message else "unknown error"
    print(f"error: {first_line}", file=sys.stderr)
    return code
