"""Process memory readings without extra packages: RSS and a resettable peak (Linux).

Linux keeps the peak resident set (VmHWM in /proc/PID/status); writing "5" to /proc/PID/clear_refs
resets it to the current RSS (Linux >= 4.0), so a benchmark can measure the peak of one phase. The kernel
updates the high-water mark lazily, so callers take max(peak, RSS readings) (see `peak_since_reset`).

Readings cover this process and its child processes (a runtime may run its engine in a helper process,
e.g. pypmml's Java gateway). Elsewhere than Linux the peak falls back to `resource.getrusage`
(lifetime peak of this process, not resettable) and children are not seen.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_MB = 1024 * 1024


def _children(pid: str) -> list[str]:
    out: list[str] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                out += (task / "children").read_text().split()
            except OSError:
                pass
    except OSError:
        pass
    return out


def process_tree(pid: str = "self") -> list[str]:
    """`pid` and all its descendants (Linux; just [pid] elsewhere)."""
    root = str(os.getpid()) if pid == "self" else pid
    tree, todo = [], [root]
    while todo:
        current = todo.pop()
        if current in tree:
            continue
        tree.append(current)
        todo += _children(current)
    return tree


def _rss_of(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _hwm_of(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def rss_bytes(children: bool = True) -> int | None:
    """Current resident set size of this process (and its children) in bytes; None when unknown."""
    pids = process_tree() if children else [str(os.getpid())]
    values = [v for v in (_rss_of(p) for p in pids) if v is not None]
    if not values:
        return None
    return sum(values)


def peak_rss_bytes(children: bool = True) -> int | None:
    """Sum of the peak RSS of this process (and its children) since the last `reset_peak()`."""
    pids = process_tree() if children else [str(os.getpid())]
    values = [v for v in (_hwm_of(p) for p in pids) if v is not None]
    if values:
        return sum(values)
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024
    except (ImportError, OSError):
        return None


def reset_peak(children: bool = True) -> bool:
    """Reset the kernel's peak RSS to the current RSS; False when this system cannot."""
    ok = False
    for pid in (process_tree() if children else [str(os.getpid())]):
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as fh:
                fh.write("5")
            ok = True
        except OSError:
            pass
    return ok


def peak_since_reset(before: int | None, *readings: int | None) -> int | None:
    """Peak minus `before`, never below the RSS readings taken meanwhile (the kernel's mark is lazy)."""
    peak = peak_rss_bytes()
    known = [v for v in (peak, before, *readings) if v is not None]
    if before is None or not known:
        return None
    return max(known) - before


def to_mb(value: int | None) -> float | None:
    return None if value is None else value / _MB
