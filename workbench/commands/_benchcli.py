"""Shared bits of `workbench bench` and `workbench load`: progress line, tables, running with Ctrl-C."""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TextIO


class ProgressLine:
    """One live line on stderr (rewritten with \\r on a terminal; plain lines otherwise, throttled)."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.quiet = quiet
        self._width = 0

    def update(self, text: str, *, final: bool = False) -> None:
        if self.quiet:
            return
        if self.tty:
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad + ("\n" if final else ""))
            self._width = 0 if final else len(text)
        elif final:
            self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty and self._width and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        mag = abs(value)
        if mag >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}" if mag < 1 else f"{value:.{max(1, digits)}f}".rstrip("0").rstrip(".")
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if n and i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run_cancellable(work: Callable[[threading.Event], Any]) -> tuple[Any, bool]:
    """Run `work(cancel)` in a thread; Ctrl-C sets `cancel` and the partial result is returned."""
    cancel = threading.Event()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = work(cancel)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="workbench-bench", daemon=True)
    thread.start()
    interrupted = False
    while thread.is_alive():
        try:
            thread.join(0.2)
        except KeyboardInterrupt:
            interrupted = True
            cancel.set()
    if "error" in box:
        raise box["error"]
    return box.get("result"), interrupted


def parse_int_list(text: str, what: str) -> tuple[int, ...]:
    from workbench.core.errors import WorkbenchError

    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            value = int(item)
        except ValueError:
            raise WorkbenchError(f"bad {what} {item!r}: expected positive integers like 1,8,64") from None
        if value < 1:
            raise WorkbenchError(f"bad {what} {item!r}: expected positive integers like 1,8,64")
        out.append(value)
    if not out:
        raise WorkbenchError(f"no {what} given")
    return tuple(out)


def baseline_table(current: Any, baseline_path: str) -> str:
    """Ratios of this run against a saved result (B = this run, A = the baseline file)."""
    from workbench.core.bench.results import compare_results, load_result

    baseline = load_result(baseline_path)
    pairs = compare_results(baseline, current)
    if not pairs:
        return f"vs {baseline_path}: no configuration in common"
    throughput = "throughput_rows_s" if current.kind == "local" else "throughput_rps"
    rows = []
    for p in pairs:
        label = f"{p.key[0]} batch {p.key[1]}" if current.kind == "local" else f"{p.key[1]} {p.key[2]:g}"
        rows.append([label, p.a.get("p50_ms"), p.b.get("p50_ms"), p.ratio("p50_ms"), p.a.get("p99_ms"),
                     p.b.get("p99_ms"), p.ratio("p99_ms"), p.ratio(throughput)])
    head = ["configuration", "base p50", "p50", "p50 x", "base p99", "p99", "p99 x", "throughput x"]
    return f"vs {baseline_path} (x = this run / baseline):\n" + table(head, rows)
