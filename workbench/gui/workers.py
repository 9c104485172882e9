"""The one worker abstraction: run a function or generator on the global thread pool.

Modelled on superqt's ``FunctionWorker``/``GeneratorWorker``: each `Worker` is a ``QRunnable``
whose signals live on a separate ``QObject`` (`WorkerSignals`) created on the GUI thread, so
results arrive on the GUI thread through queued connections.

* Signals: ``started``, ``progress(Progress)``, ``result(object)``, ``error(BaseException)``,
  ``finished``. ``finished`` is always emitted; ``result`` is not emitted after a cancel.
* ``cancel()`` only sets a flag. A generator function is stopped at its next ``yield``;
  a plain function sees it through ``task.cancelled`` when it takes a ``task`` argument.
* Live workers are held in a module-level set so they are not garbage-collected;
  `shutdown()` (connected to ``aboutToQuit`` by the app) cancels them all and waits.
"""

from __future__ import annotations

import ctypes
import inspect
import logging
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """Raised inside a job by `TaskState.check()` once the user cancelled it."""


@dataclass(frozen=True)
class Progress:
    """One progress report: `fraction` in [0, 1] or None when unknown, and a message."""

    fraction: float | None = None
    message: str = ""
    #: anything extra a view wants live (e.g. a latency sample for a chart)
    data: Any = None


class TaskState:
    """Handed to a job that declares a ``task`` parameter: report progress, notice a cancel."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    @property
    def cancelled(self) -> bool:
        return self._worker.is_cancelled

    @property
    def cancel_event(self) -> threading.Event:
        """The cancel flag as a threading.Event, for core functions that take one."""
        return self._worker._cancel

    def check(self) -> None:
        """Raise `Cancelled` if the user asked to stop."""
        if self._worker.is_cancelled:
            raise Cancelled("cancelled")

    def progress(self, fraction: float | None = None, message: str = "", data: Any = None) -> None:
        self._worker._emit_progress(Progress(fraction, message, data))


class WorkerSignals(QObject):
    """Signals of a `Worker` (a QRunnable cannot have signals itself)."""

    started = Signal()
    """The job started on a pool thread."""
    progress = Signal(object)
    """A `Progress` report (from a ``yield`` or ``task.progress``)."""
    result = Signal(object)
    """The job's return value; not emitted after a cancel or an error."""
    error = Signal(object)
    """The exception the job raised (never emitted for `Cancelled`)."""
    finished = Signal()
    """Always the last signal, after result/error/cancel."""


#: workers that have been started and have not delivered `finished` yet
_LIVE: set[Worker] = set()
_LIVE_LOCK = threading.Lock()


class Worker(QRunnable):
    """Run ``fn(*args, **kwargs)`` on the global QThreadPool.

    ``fn`` may be a plain function (its return value is the result) or a generator function
    (each yielded value is a progress report -- a `Progress`, a float fraction or a string --
    and the generator's return value is the result). If ``fn`` has a ``task`` parameter it
    receives a `TaskState`.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "", partial_results: bool = False,
                 **kwargs: Any) -> None:
        super().__init__()
        #: deliver the job's return value after a cancel too (a benchmark returns what it measured so far)
        self.partial_results = partial_results
        self.setAutoDelete(False)
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.name = name or getattr(fn, "__name__", "job")
        self.signals = WorkerSignals()
        self._cancel = threading.Event()
        self._done = threading.Event()
        self.signals.finished.connect(self._forget)
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            params = {}
        if "task" in params and "task" not in kwargs:
            self.kwargs["task"] = TaskState(self)

    # -- public API -------------------------------------------------------------------------

    def start(self) -> Worker:
        """Hold a reference and queue the job on the global pool; returns self."""
        with _LIVE_LOCK:
            _LIVE.add(self)
        QThreadPool.globalInstance().start(self)
        return self

    def cancel(self) -> None:
        """Ask the job to stop. Only sets a flag: the job stops at its next cancellation point."""
        self._cancel.set()

    @property
    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def is_done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job's thread has finished (not for use on the GUI thread in views)."""
        return self._done.wait(timeout)

    # -- the pool thread --------------------------------------------------------------------

    def run(self) -> None:
        _pin_thread_state()
        signals = self.signals
        try:
            signals.started.emit()
            out = self.fn(*self.args, **self.kwargs)
            if inspect.isgenerator(out):
                out = self._drive(out)
            if not self.is_cancelled or (self.partial_results and out is not None):
                signals.result.emit(out)
        except Cancelled:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread, never swallowed
            if self.is_cancelled and isinstance(exc, KeyboardInterrupt):
                pass
            else:
                exc.__workbench_traceback__ = traceback.format_exc()  # type: ignore[attr-defined]
                signals.error.emit(exc)
        finally:
            _detach_from_jvm()
            self._done.set()
            signals.finished.emit()

    def _drive(self, gen: Any) -> Any:
        while True:
            if self.is_cancelled:
                gen.close()
                return None
            try:
                value = next(gen)
            except StopIteration as stop:
                return stop.value
            self._emit_progress(_as_progress(value))

    def _emit_progress(self, report: Progress) -> None:
        self.signals.progress.emit(report)

    def _forget(self) -> None:
        with _LIVE_LOCK:
            _LIVE.discard(self)


_THIS_THREAD = threading.local()


def _pin_thread_state() -> None:
    """Keep this pool thread's Python thread state for the whole life of the thread.

    PySide gives every `QRunnable.run` on a pool thread a new PyThreadState and deletes it afterwards.
    pybind11 extensions (TensorFlow's) remember a thread state per OS thread, so a later job on the same
    pool thread made them take the GIL with a deleted one: heap corruption, then a crash (seen loading
    a SavedModel after benchmarking it). One PyGILState_Ensure that is never released keeps the first
    thread state alive. `threading.local` lives in the thread state: set means pinned already.
    """
    if getattr(_THIS_THREAD, "pinned", False):
        return
    ctypes.pythonapi.PyGILState_Ensure()
    _THIS_THREAD.pinned = True


def _detach_from_jvm() -> None:
    """Detach this pool thread from a JPype JVM the job may have attached it to.

    JPype attaches threads as non-daemon Java threads; an idle pool thread left attached makes the
    JVM's shutdown (at interpreter exit) wait for it forever, so the app hangs on quit.
    """
    jpype = sys.modules.get("jpype")
    if jpype is None:
        return
    try:
        if jpype.isJVMStarted() and jpype.java.lang.Thread.isAttached():
            jpype.java.lang.Thread.detach()
    except Exception as exc:  # noqa: BLE001 - never let cleanup hide the job's own result
        log.warning("could not detach a worker thread from the JVM: %s", exc)


def _as_progress(value: Any) -> Progress:
    if isinstance(value, Progress):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Progress(float(value))
    if isinstance(value, str):
        return Progress(None, value)
    return Progress(None, "", value)


def run_in_worker(
    fn: Callable[..., Any],
    *args: Any,
    on_result: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_finished: Callable[[], None] | None = None,
    name: str = "",
    partial_results: bool = False,
    **kwargs: Any,
) -> Worker:
    """Create, connect and start a `Worker`. Errors go to notifications unless `on_error` is given;
    `partial_results`: `on_result` also gets what a cancelled job returns."""
    worker = Worker(fn, *args, name=name, partial_results=partial_results, **kwargs)
    if on_result is not None:
        worker.signals.result.connect(on_result)
    if on_progress is not None:
        worker.signals.progress.connect(on_progress)
    if on_error is not None:
        worker.signals.error.connect(on_error)
    else:
        from workbench.gui.notifications import notify_exception

        worker.signals.error.connect(lambda exc, _n=worker.name: notify_exception(exc, context=_n))
    if on_finished is not None:
        worker.signals.finished.connect(on_finished)
    return worker.start()


def live_workers() -> list[Worker]:
    """Workers started and not finished yet (finished = its `finished` signal was delivered)."""
    with _LIVE_LOCK:
        return list(_LIVE)


def running_count() -> int:
    """Workers whose pool thread is still executing the job."""
    return sum(1 for w in live_workers() if not w.is_done)


def shutdown(timeout_ms: int = 10_000) -> bool:
    """Cancel every live worker and wait for the pool; True when everything stopped in time."""
    workers = live_workers()
    for worker in workers:
        worker.cancel()
    done = QThreadPool.globalInstance().waitForDone(timeout_ms)
    if not done:
        log.warning("%d worker(s) still running after %d ms", running_count(), timeout_ms)
    return done
