"""Model input dtype names as rows see them, and how a value of each dtype is described."""

from __future__ import annotations

import numpy as np

_INT_LIMITS = {name: (int(np.iinfo(name).min), int(np.iinfo(name).max))
               for name in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")}
_FLOATS = ("float16", "float32", "float64")
_STRINGS = ("string", "object", "str")


def _article(dtype: str) -> str:
    if dtype in _FLOATS:
        return f"a number ({dtype})"
    if dtype in _INT_LIMITS:
        return f"a whole number ({dtype})"
    if dtype == "bool":
        return "a boolean (true/false)"
    return f"a {dtype} value"
