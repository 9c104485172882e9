"""The fuzz worker: runs cases through detection, inspection and row generation IN-PROCESS, under an
address-space cap and a per-case deadline, and reports one JSON line per case on stdout.

    python -m tests.fuzz.worker JOB_JSON

A job is either `{"mode": "mutate", "sample": path, "ext": ".onnx", "folder_member": null | "saved_model.pb",
"zip": bool, "seed": int, "start": int, "count": int, "others": [paths], "workdir": dir}` or
`{"mode": "replay", "paths": [...]}`. Before each case the worker writes the case's input to disk and
prints `{"event": "start", ...}`, so when it dies of a signal (or faulthandler ends a hang in C code)
the parent knows which input did it.
"""

from __future__ import annotations

import faulthandler
import json
import os
import resource
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path

#: address space of the worker: an allocation past it is a MemoryError, which fails the case
MEMORY_CAP = int(os.environ.get("WORKBENCH_FUZZ_MEMORY", 3 << 30))
#: seconds one case may take (a Python-level alarm); faulthandler ends the process at 3x (a C-level hang)
CASE_DEADLINE = float(os.environ.get("WORKBENCH_FUZZ_DEADLINE", 10))
REPO = Path(__file__).resolve().parents[2]


class CaseTimeout(Exception):
    """The case ran past CASE_DEADLINE."""


def _alarm(signum: int, frame: object) -> None:
    raise CaseTimeout(f"no result within {CASE_DEADLINE} s")


def where(tb_exc: BaseException) -> str:
    """The innermost workbench frame of an exception: 'workbench/core/formats/x.py:123 in f'."""
    frames = traceback.extract_tb(tb_exc.__traceback__)
    for frame in reversed(frames):
        path = Path(frame.filename)
        if "workbench" in path.parts and "tests" not in path.parts:
            try:
                rel = path.resolve().relative_to(REPO)
            except ValueError:
                rel = path
            return f"{rel}:{frame.lineno} in {frame.name}"
    return "outside workbench"


def run_one(target: Path) -> dict:
    from workbench.core.errors import WorkbenchError
    from workbench.core.models import inspect_model
    from workbench.core.rows import generate_rows

    started = time.monotonic()
    result: dict = {}
    signal.setitimer(signal.ITIMER_REAL, CASE_DEADLINE)
    faulthandler.dump_traceback_later(CASE_DEADLINE * 3, exit=True)
    try:
        if target.suffix.startswith(".selftest-"):  # the harness's own test: does it see each failure?
            _selftest(target.suffix)
        info = inspect_model(target)
        result = {"outcome": "ok", "format": info.format}
        if info.inputs:
            try:
                generate_rows(info, 3)
            except WorkbenchError as exc:
                result["generate"] = exc.kind
    except WorkbenchError as exc:
        result = {"outcome": f"error:{exc.kind}", "message": str(exc)[:300]}
    except CaseTimeout as exc:
        result = {"outcome": "bad", "type": "hang", "message": str(exc), "where": where(exc)}
    except BaseException as exc:  # noqa: BLE001 - exactly what the fuzzer looks for
        result = {"outcome": "bad", "type": type(exc).__name__, "message": str(exc)[:300], "where": where(exc)}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        faulthandler.cancel_dump_traceback_later()
    result["seconds"] = round(time.monotonic() - started, 3)
    return result


def keep_input(target: Path, keep: Path, prefix: str) -> str:
    keep.mkdir(parents=True, exist_ok=True)
    saved = keep / f"{prefix}{target.name}"
    if target.is_dir():
        shutil.copytree(target, saved, dirs_exist_ok=True)
    else:
        shutil.copyfile(target, saved)
    return str(saved)


def _selftest(kind: str) -> None:
    if kind == ".selftest-segv":
        faulthandler._sigsegv()
    elif kind == ".selftest-hang":
        while True:
            pass
    elif kind == ".selftest-memory":
        bytearray(MEMORY_CAP)
    elif kind == ".selftest-error":
        raise TypeError("a reader bug")


def _emit(record: dict) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def write_case(job: dict, data: bytes, workdir: Path) -> Path:
    if job.get("folder_member"):  # a SavedModel folder: the sample folder with one member mutated
        folder = workdir / "case_savedmodel"
        if not folder.exists():
            shutil.copytree(job["sample"], folder)
        (folder / job["folder_member"]).write_bytes(data)
        return folder
    target = workdir / f"case{job['ext']}"
    target.write_bytes(data)
    return target


def main() -> int:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    faulthandler.enable(file=sys.stderr)
    signal.signal(signal.SIGALRM, _alarm)
    job = json.loads(sys.argv[1])
    import workbench.core.models  # noqa: F401 - imports outside the first case's deadline
    import workbench.core.rows  # noqa: F401

    if job["mode"] == "replay":
        for path in job["paths"]:
            _emit({"event": "start", "case": path, "input": path})
            _emit({"event": "done", "case": path, "input": path, **run_one(Path(path))})
        return 0
    from tests.fuzz.mutate import make_case

    sample = Path(job["sample"])
    seed_bytes = (sample / job["folder_member"]).read_bytes() if job.get("folder_member") else sample.read_bytes()
    others = [Path(p).read_bytes() for p in job.get("others", [])]
    workdir = Path(job["workdir"])
    for index in range(job["start"], job["start"] + job["count"]):
        data, description = make_case(seed_bytes, job.get("zip", False), job["seed"], index, others)
        target = write_case(job, data, workdir)
        _emit({"event": "start", "case": index, "input": str(target), "mutations": description})
        result = run_one(target)
        if result["outcome"] == "bad":  # the next case overwrites the input: keep this one
            result["saved"] = keep_input(target, Path(job.get("save_dir") or workdir / "failures"),
                                         f"{job.get('name', 'case')}-{index}-")
        _emit({"event": "done", "case": index, "input": str(target), "mutations": description, **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
