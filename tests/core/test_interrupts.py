"""Interrupts and kills (issue 12, item 9): one line, exit 130, no child left, nothing beside --out.

Each test starts the real workbench (real sklearn2pmml + Java, real PMML4S/JPMML) in its own session,
waits for a condition seen in /proc (a `java` child, its py4j connection, the in-process JVM's signal
thread), then signals it. Ctrl-C at a terminal goes to the whole foreground process group, so SIGINT is
sent with killpg.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.core.convert_helpers import REPO, SAMPLES

IRIS_PMML = SAMPLES / "iris_logreg.pmml"
IRIS_JOBLIB = SAMPLES / "iris_logreg.joblib"
DEADLINE_S = 120.0


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgid) of `pid`, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[2])


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def _descendants(root: int) -> dict[int, str]:
    """{pid: cmdline} of every live process whose parent chain or process group leads to `root`."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            table[int(entry)] = st
    found = {}
    for pid, (state, ppid, pgid) in table.items():
        chain, current = {pgid}, ppid
        while current > 1 and current not in chain and current in table:
            chain.add(current)
            current = table[current][1]
        if pid != root and root in chain | {ppid} and state not in ("Z", "X"):
            try:
                found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                pass
    return found


def _wait_for(condition: Callable[[], object], proc: subprocess.Popen[str] | None, what: str) -> object:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the workbench ended (rc {proc.returncode}) before {what}: {proc.stderr.read()[-2000:]}")
        time.sleep(0.005)  # polling interval of the condition, not a wait for the event
    pytest.fail(f"timed out waiting for {what}")


def _java_children(pid: int, marker: str = "") -> list[int]:
    return [p for p, cmd in _descendants(pid).items() if "java" in cmd.split(" ")[0] and marker in cmd]


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        pass
    return inodes


def _established(pid: int) -> bool:
    """True when `pid` has an ESTABLISHED TCP connection (the py4j gateway talking to the workbench)."""
    inodes = _socket_inodes(pid)
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "01" and parts[9] in inodes:
                return True
    return False


def _start(args: list[str], tmp: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), TMPDIR=str(tmp))
    env.pop("WORKBENCH_RAISE_ERRORS", None)
    return subprocess.Popen([sys.executable, "-m", "workbench", *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _all_gone(pids: list[int]) -> bool:
    return not any(_alive(p) for p in pids)


def _wait_gone(pids: list[int], timeout: float) -> None:
    """Wait until each process has exited, on its pidfd (readable when the process ends), within `timeout`."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        finally:
            os.close(fd)


@pytest.fixture()
def private_tmp(tmp_path: Path) -> Path:
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    return folder


def _big_rows(path: Path, n: int = 200_000) -> Path:
    lines = (SAMPLES / "iris_logreg_pmml.rows.csv").read_text().splitlines()
    header, body = lines[0], lines[1:]
    path.write_text("\n".join([header, *(body[i % len(body)] for i in range(n))]) + "\n")
    return path


def test_ctrl_c_while_pmml4s_talks_to_its_gateway_is_one_line_130(tmp_path: Path, private_tmp: Path) -> None:
    rows = _big_rows(tmp_path / "rows.csv")
    proc = _start(["predict", str(IRIS_PMML), "--rows", str(rows), "--runtime", "pmml4s"], private_tmp)
    try:
        java = _wait_for(lambda: _java_children(proc.pid, "py4j.GatewayServer"), proc, "the py4j gateway java")
        _wait_for(lambda: _established(java[0]), proc, "the gateway's connection")
        os.killpg(proc.pid, signal.SIGINT)
        _out, err = proc.communicate(timeout=DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert err.splitlines() == ["error: interrupted"], err[-3000:]
    assert proc.returncode == 130
    _wait_for(lambda: _all_gone(java), None, "the gateway java to end with the workbench")


def _convert_pmml(out_dir: Path, private_tmp: Path) -> subprocess.Popen[str]:
    return _start(["convert", str(IRIS_JOBLIB), "--trust", "--to", "pmml", "--out", str(out_dir / "m.pmml")],
                  private_tmp)


def test_kill_9_during_convert_to_pmml_takes_java_down_and_leaves_nothing_beside_out(
        tmp_path: Path, private_tmp: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = _convert_pmml(out_dir, private_tmp)
    try:
        java = _wait_for(lambda: _java_children(proc.pid, "com.sklearn2pmml.Main"), proc, "sklearn2pmml's java")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    # the child dies with its parent: at once (PDEATHSIG), not when its conversion is done seconds later
    _wait_gone(java, 3.0)
    assert _all_gone(java), f"java survived the kill -9 of the workbench: {java}"
    assert sorted(os.listdir(out_dir)) == []
    # what the killed run left is in its private temp folder, removed by the next run
    from workbench.core import conversion

    stale = list(private_tmp.glob(f"{conversion.WORKDIR_PREFIX}*"))
    assert stale, "the killed conversion worked outside its private temp folder"
    old = time.time() - 3600
    for path in stale:
        os.utime(path, (old, old))
    original = conversion.tempfile.tempdir
    conversion.tempfile.tempdir = str(private_tmp)
    try:
        assert sorted(conversion.sweep_stale(out_dir)) == sorted(stale)
    finally:
        conversion.tempfile.tempdir = original
    assert not any(p.exists() for p in stale)


def test_sweep_keeps_the_work_folder_of_a_running_conversion(tmp_path: Path, monkeypatch) -> None:
    from workbench.core import conversion

    monkeypatch.setattr(conversion.tempfile, "tempdir", str(tmp_path))
    with conversion.private_workdir() as work:
        (work / "m.pmml").write_text("<PMML/>")
        old = time.time() - 3600
        os.utime(work, (old, old))
        assert conversion.sweep_stale() == []
        assert (work / "m.pmml").exists()
    assert not work.exists()


@pytest.mark.parametrize("sig,code,line", [(signal.SIGINT, 130, "error: interrupted"),
                                           (signal.SIGTERM, 143, "error: terminated")])
def test_interrupt_during_the_jpmml_proof_is_one_line_and_leaves_no_temp_files(
        tmp_path: Path, private_tmp: Path, sig: int, code: int, line: str) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = _convert_pmml(out_dir, private_tmp)

    def jvm_running() -> bool:  # the in-process JVM of the proof is up (JPype started its reference queue)
        try:
            tasks = os.listdir(f"/proc/{proc.pid}/task")
        except OSError:
            return False
        for task in tasks:
            try:
                if Path(f"/proc/{proc.pid}/task/{task}/comm").read_text().startswith("Python Referenc"):
                    return True
            except OSError:
                continue
        return False

    try:
        _wait_for(jvm_running, proc, "the JPMML JVM of the proof")
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
        _out, err = proc.communicate(timeout=DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert err.splitlines() == [line], err[-3000:]
    assert proc.returncode == code
    assert sorted(os.listdir(out_dir)) == []
    from workbench.core.conversion import WORKDIR_PREFIX

    assert list(private_tmp.glob(f"{WORKDIR_PREFIX}*")) == []


def test_children_get_their_own_group_and_the_death_signal_also_from_a_worker_thread() -> None:
    from workbench.core import processes

    code = ("import ctypes, os, sys; sig = ctypes.c_int(); "
            "ctypes.CDLL(None).prctl(2, ctypes.byref(sig), 0, 0, 0); "
            "print(sig.value, os.getpgrp() == os.getpid(), os.getppid() == int(sys.argv[1]), flush=True); "
            "sys.stdin.readline(); print('alive', flush=True)")
    result: dict[str, object] = {}

    def worker() -> None:
        result["proc"] = processes.popen([sys.executable, "-c", code, str(os.getpid())], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True)
        result["tid"] = threading.get_native_id()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    proc = result["proc"]
    assert isinstance(proc, subprocess.Popen)
    try:
        assert proc.stdout.readline().split() == [str(int(signal.SIGKILL)), "True", "True"]
        # the starting worker thread is gone; its child lives on (it was forked by the spawner thread)
        _wait_for(lambda: not Path(f"/proc/self/task/{result['tid']}").exists(), None, "the worker to end")
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "alive"
    finally:
        processes.end(proc)
