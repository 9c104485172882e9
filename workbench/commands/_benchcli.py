"""Shared bits of `workbench bench` and `workbench load`: progress line, tables, running with Ctrl-C."""

from __future__ import annotations

import argparse

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


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def sig(value: Any, digits: int = 3) -> str:
    """`value` with `digits` significant digits (4.21, 2.07, 0.000951, 12.3); from 10**(digits-1) on a
    whole number with thousands separators (304, 1,450). "-" when missing."""
    if _missing(value):
        return "-"
    v = float(value)
    if v == 0:
        return "0"
    rounded = float(f"{v:.{digits}g}")
    if abs(rounded) >= 10 ** (digits - 1):
        return f"{rounded:,.0f}"
    decimals = digits - 1 - math.floor(math.log10(abs(rounded)))
    return f"{rounded:.{decimals}f}"


def integer(value: Any) -> str:
    """A whole number with thousands separators (1,450); "-" when missing."""
    return "-" if _missing(value) else f"{float(value):,.0f}"


def megabytes(value: Any) -> str:
    """Megabytes with one decimal (28.1, 0.0); "-" when missing."""
    return "-" if _missing(value) else f"{float(value):,.1f}"


def ratio(value: Any) -> str:
    """A ratio with two decimals (1.00, 2.35); "-" when missing."""
    return "-" if _missing(value) else f"{float(value):.2f}"


def text(value: Any) -> str:
    return "-" if value is None else str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
          formats: Sequence[Callable[[Any], str] | None] | None = None) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned. `formats` gives one
    formatter per column (None: `fmt`), so every column keeps one precision."""
    formats = list(formats or [])
    formats += [None] * (len(headers) - len(formats))
    cells = [[str(h) for h in headers]] + [[(f or fmt)(v) for f, v in zip(formats, row)] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if n and i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run_cancellable(work: Callable[[threading.Event], Any]) -> tuple[Any, bool]:
    """Run `work(cancel)` in a thread; Ctrl-C sets `cancel` and the partial result is returned.

    In the main thread Ctrl-C (SIGINT) is caught by a handler that only sets `cancel` while the work runs,
    so it never lands as a KeyboardInterrupt in the middle of anything. The wait is on an Event, never on
    Thread.join: a KeyboardInterrupt inside join() marks a still-running thread as finished (CPython
    3.11), and the result was lost as None."""
    import signal

    cancel = threading.Event()
    finished = threading.Event()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = work(cancel)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc
        finally:
            finished.set()

    interrupted = False

    def on_sigint(_signum: int, _frame: Any) -> None:
        nonlocal interrupted
        interrupted = True
        cancel.set()

    previous = None
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        thread = threading.Thread(target=target, name="workbench-bench", daemon=True)
        thread.start()
        while not finished.is_set():
            try:
                finished.wait(0.2)
            except KeyboardInterrupt:  # not the main thread's handler (embedded use): same meaning
                interrupted = True
                cancel.set()
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
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


def read_baseline(path: str, kind: str) -> Any:
    """The --baseline result, read and checked before anything runs (a `kind` result file)."""
    from workbench.core.bench.results import load_result
    from workbench.core.errors import WorkbenchError

    try:
        baseline = load_result(path)
    except WorkbenchError as exc:
        raise WorkbenchError(f"--baseline: {exc.message}", hint=exc.hint) from None
    if baseline.kind != kind:
        what = {"local": "`workbench bench`", "load": "`workbench load`"}
        raise WorkbenchError(f"--baseline {path} is a {baseline.kind} result; compare with a {kind} result",
                             hint=f"give a file saved by {what.get(kind, kind)} --out")
    return baseline


def check_out_path(path: str, force: bool = False) -> None:
    """Fail before anything runs when --out cannot be written: a .json or .csv file in a writable folder,
    and not an existing file unless `force` (a saved result, perhaps a baseline, is kept)."""
    import os
    import tempfile
    from pathlib import Path

    from workbench.core.errors import WorkbenchError

    p = Path(path)
    if p.suffix.lower() not in (".json", ".csv"):
        raise WorkbenchError(f"--out {path}: cannot save results as {p.name!r}", hint="use a .json or .csv file name")
    if p.is_dir():
        raise WorkbenchError(f"--out {path} is a folder", hint="give a file name ending in .json or .csv")
    if p.exists() and not force:
        raise WorkbenchError(f"--out {path} exists: pass --force to overwrite it (nothing was measured)")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.exists():
        raise WorkbenchError(f"--out {path}: folder {folder} does not exist", hint="create it first")
    if not folder.is_dir():
        raise WorkbenchError(f"--out {path}: {folder} is not a folder")
    try:  # a real probe: permissions, read-only mounts and ACLs all show here
        fd, probe = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise WorkbenchError(f"--out {path}: cannot write in folder {folder}: {exc.strerror or exc}") from None


def baseline_table(current: Any, baseline: Any, label: str) -> str:
    """Ratios of this run against a saved result (B = this run, A = the baseline, read by `read_baseline`)."""
    from workbench.core.bench.results import compare_results, timed_of

    pairs = compare_results(baseline, current)
    if not pairs:
        return f"vs {label}: no configuration in common"
    throughput = "throughput_rows_s" if current.kind == "local" else "throughput_rps"
    rows = []
    for p in pairs:
        name = f"{p.key[0]} batch {p.key[1]}" if current.kind == "local" else f"{p.key[1]} {p.key[2]:g}"
        rows.append([name, p.a.get("p50_ms"), p.b.get("p50_ms"), p.ratio("p50_ms"), p.a.get("p99_ms"),
                     p.b.get("p99_ms"), p.ratio("p99_ms"), p.ratio(throughput)])
    head = ["configuration", "base p50 ms", "p50 ms", "p50 x", "base p99 ms", "p99 ms", "p99 x", "throughput x"]
    out = f"vs {label} (x = this run / baseline):\n" + table(
        head, rows, [text, sig, sig, ratio, sig, sig, ratio, ratio])
    # rows of a runtime that failed measured nothing: they cannot have timed anything differently
    mixed = next((p for p in pairs if not p.same_timing and not p.a.get("error") and not p.b.get("error")), None)
    if mixed is not None:
        out += (f"\nnote: the baseline timed {_TIMED_WORDS[timed_of(mixed.a)]}, this run "
                f"{_TIMED_WORDS[timed_of(mixed.b)]}: the ratios compare different things "
                "(use --end-to-end to time like an older baseline)")
    return out


_TIMED_WORDS = {"backend": "the runtime's call alone", "end_to_end": "the whole predict (rows in, results out)",
                None: "requests"}


def add_result_arguments(parser: argparse.ArgumentParser) -> None:
    """--out, --baseline and --json, shared by `bench` and `load`."""
    parser.add_argument("--out", metavar="RESULT", help="save the result (.json or .csv)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    parser.add_argument("--baseline", metavar="RESULT", help="a saved result to compare with (A/B ratios)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
