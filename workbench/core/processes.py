"""Child processes that die with the workbench, and the signals that end the workbench.

Every child the workbench starts (sklearn2pmml's `java`, pypmml's py4j gateway `java`, ...) goes
through `popen`:

* its own process group (`process_group=0`): a Ctrl-C at the terminal reaches the workbench only,
  which then ends its children itself (a JVM that got the SIGINT too would die under a py4j call and
  turn the interrupt into a connection error);
* PR_SET_PDEATHSIG=SIGKILL (prctl through ctypes, in the child between fork and exec, then a check
  that the parent did not die before it): a `kill -9` of the workbench takes the child down too;
* stdin from /dev/null unless given (a child in another process group must not read the terminal).

Linux sends the death signal when the *thread* that started the child ends, not the process. A child
started from a worker thread (the GUI's thread pool retires idle threads) would be killed with that
thread, so off the main thread `popen` forks from one long-lived spawner thread instead.

Libraries that start `java` themselves with `from subprocess import Popen` (sklearn2pmml, py4j) are
routed through `popen` for the duration of one call with `children_die_with_us(module)`: their module's
`Popen` name is swapped inside the block only (one block per module at a time) and restored after; any
child still running when the block ends by an exception (an interrupt) is killed and reaped.

`install_signal_handlers` (the CLI, not the GUI) turns SIGTERM into `Terminated`, a KeyboardInterrupt,
so that `finally` blocks (temporary folders, children) run on `kill` as on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

PR_SET_PDEATHSIG = 1


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like a Ctrl-C so that cleanup runs (see `install_signal_handlers`)."""


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.restype = ctypes.c_int
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return prctl


#: resolved once, before any fork: the child only calls it
_PRCTL = _load_prctl()


def _die_with(parent: int, then: Callable[[], Any] | None) -> Callable[[], None]:
    """The preexec_fn: SIGKILL this child when its parent goes; exit at once if it is already gone."""

    def preexec() -> None:
        if _PRCTL is not None:
            _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl
            os._exit(1)
        if then is not None:
            then()

    return preexec


class _Spawner:
    """One long-lived daemon thread that starts children for other threads (see the module doc)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], queue.SimpleQueue[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, job: Callable[[], Any]) -> Any:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="workbench-child-spawner", daemon=True)
                self._thread.start()
        answer: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._jobs.put((job, answer))
        ok, value = answer.get()
        if not ok:
            raise value
        return value

    def _loop(self) -> None:
        while True:
            job, answer = self._jobs.get()
            try:
                answer.put((True, job()))
            except BaseException as exc:  # handed to the calling thread
                answer.put((False, exc))


_SPAWNER = _Spawner()


def popen(args: Any, **kwargs: Any) -> subprocess.Popen[Any]:
    """`subprocess.Popen` for a child that dies with the workbench (own process group, PDEATHSIG)."""
    if not kwargs.get("start_new_session"):
        kwargs.setdefault("process_group", 0)
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    kwargs["preexec_fn"] = _die_with(os.getpid(), kwargs.get("preexec_fn"))
    if threading.current_thread() is threading.main_thread():
        return subprocess.Popen(args, **kwargs)
    return _SPAWNER.run(lambda: subprocess.Popen(args, **kwargs))


def run(args: Any, timeout: float | None = None, **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """`subprocess.run` through `popen`: the child is killed if the wait ends by an exception."""
    capture = kwargs.pop("capture_output", False)
    if capture:
        kwargs["stdout"] = kwargs["stderr"] = subprocess.PIPE
    proc = popen(args, **kwargs)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        end(proc)
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def end(proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """Terminate `proc` (SIGTERM, then SIGKILL after `grace` seconds) and reap it."""
    if proc.poll() is not None:
        return
    try:
        proc.terminate()
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except OSError:
        pass


_ROUTE_LOCKS: dict[str, threading.Lock] = {}
_ROUTE_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def children_die_with_us(module: ModuleType) -> Iterator[list[subprocess.Popen[Any]]]:
    """Within the block, `module.Popen` starts children through `popen`; yields the children started.

    Scoped to the block (restored after, one block per module at a time). Children still running when
    the block ends by an exception are ended (terminate, then kill) and reaped.
    """
    with _ROUTE_LOCKS_GUARD:
        lock = _ROUTE_LOCKS.setdefault(module.__name__, threading.Lock())
    started: list[subprocess.Popen[Any]] = []

    def routed(args: Any, *rest: Any, **kwargs: Any) -> subprocess.Popen[Any]:
        if rest:  # Popen(args, bufsize, executable, ...) positionally: name them
            names = ("bufsize", "executable", "stdin", "stdout", "stderr", "preexec_fn")
            kwargs.update(zip(names, rest, strict=False))
        proc = popen(args, **kwargs)
        started.append(proc)
        return proc

    with lock:
        original = module.Popen
        module.Popen = routed
        try:
            yield started
        except BaseException:
            for proc in started:
                end(proc, grace=2.0)
            raise
        finally:
            module.Popen = original


_sigterm_received = False


def _raise_terminated(signum: int, frame: Any) -> None:
    global _sigterm_received
    _sigterm_received = True
    raise Terminated()


def sigterm_received() -> bool:
    """True once SIGTERM arrived (a library may re-raise the Terminated as a plain KeyboardInterrupt)."""
    return _sigterm_received


def install_signal_handlers() -> None:
    """SIGTERM raises `Terminated` in the main thread (so cleanup runs); call from the main thread."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


def interrupted_by(exc: BaseException | None) -> bool:
    """True when `exc` was raised while handling a KeyboardInterrupt (a library that turned the
    interrupt into another error, e.g. py4j's AttributeError after its KeyboardInterrupt cleanup)."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, KeyboardInterrupt):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False
