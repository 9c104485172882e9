"""What a server says is untrusted: make it safe to print, and parse its JSON within the limits.

* `clean(text)`: the one helper every rendering path (CLI text, JSON reports, the GUI) uses for text that
  came from a server. Control characters (C0 but space, DEL, C1, and the bidirectional overrides that
  reorder what a terminal shows) are replaced by a visible escape (`\\x1b`), so an answer cannot move
  the cursor, recolour, retitle or clear a terminal, and nothing it sent is silently hidden.
* `clean_json(value)`: `clean` on every string (keys too) of a JSON-like value.
* `parse_json(text, source)`: json.loads that ends in a `ServingError` with a diagnosis, never in a
  JSONDecodeError or RecursionError: "the server's answer is not JSON: ..." or "... nested deeper than N"
  (`workbench.core.limits.NESTING`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from workbench.core import limits

#: C0 controls (tab, newline, carriage return included: messages are shown on one line), DEL, C1
#: controls, and the Unicode bidi embeddings/overrides/isolates
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: Any) -> Any:
    """`text` with every control character replaced by a visible escape; non-strings unchanged."""
    if not isinstance(text, str):
        return text
    return _CONTROL.sub(_escape, text)


def clean_json(value: Any) -> Any:
    """A copy of a JSON-like value with `clean` applied to every string, dict keys included."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


def json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0, [] is 1), without recursion."""
    depth = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            level += 1
            stack.extend((v, level) for v in item.values())
        elif isinstance(item, list):
            level += 1
            stack.extend((v, level) for v in item)
        depth = max(depth, level)
    return depth


def _snippet(text: str, limit: int = 80) -> str:
    short = " ".join(text.split())
    return clean(short[:limit] + ("..." if len(short) > limit else ""))


def json_problem(text: str | bytes) -> tuple[Any, str | None]:
    """(parsed value, None) or (None, the reason it is not acceptable JSON), never raising."""
    nesting = limits.NESTING.value
    try:
        value = json.loads(text)
    except RecursionError:
        return None, f"nested deeper than {nesting}"
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        return None, f"{reason.lower()}{where} ({_snippet(shown) or 'empty body'})"
    # a cheap count first: only a body with more brackets than the limit can be nested deeper
    opener = (b"[", b"{") if isinstance(text, bytes) else ("[", "{")
    if text.count(opener[0]) + text.count(opener[1]) > nesting and json_depth(value) > nesting:
        return None, f"nested deeper than {nesting}"
    return value, None


def parse_json(text: str | bytes, source: str = "", status: int | None = None) -> Any:
    """The parsed answer, or `ServingError` (kind bad-json) saying why the server's answer is not JSON."""
    from workbench.core.serving.diagnosis import Diagnosis, ServingError

    value, problem = json_problem(text)
    if problem is None:
        return value
    where = f" from {source}" if source else ""
    if problem.startswith("nested deeper"):
        message = f"the server's answer{where} is JSON {problem} (the {limits.NESTING.name} limit)"
        hint = f"no model server nests its answer that deep; if this is genuine, raise it with " \
               f"WORKBENCH_LIMIT_{limits.NESTING.name.upper()}"
    else:
        message = f"the server's answer{where} is not JSON: {problem}"
        hint = "the endpoint answered, but not with a model server's JSON: check the URL and port (a proxy " \
               "or another service may answer there)"
    raise ServingError(Diagnosis("bad-json", message, hint, status=status))
