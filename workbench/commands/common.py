"""Helpers shared by the CLI subcommands: JSON printing and error reporting."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from workbench.core.types import jsonable


def print_json(payload: Any) -> None:
    """Print strict JSON (NaN/Infinity become null) to stdout."""
    print(json.dumps(_finite(jsonable(payload)), indent=2, ensure_ascii=False))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def fail(message: str, code: int = 2) -> int:
    """Print the one-line `error: ...` contract to stderr and return the exit code."""
    first_line = " ".join(str(message).split("\n")[0].split()) if message else "unknown error"
    print(f"error: {first_line}", file=sys.stderr)
    return code
