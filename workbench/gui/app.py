"""The QApplication: theme, exception hook, clean shutdown of workers, and `run()` for the CLI."""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from collections.abc import Sequence
from types import TracebackType

from PySide6.QtCore import QEvent, QObject, QThreadPool, QTimer
from PySide6.QtWidgets import QApplication

from workbench import __version__
from workbench.core.desktop_entry import APP_ID
from workbench.gui import workers
from workbench.gui.notifications import notify_exception

log = logging.getLogger(__name__)

APP_NAME = "Model Serving Workbench"


def create_app(argv: Sequence[str] | None = None, theme: str | None = None) -> QApplication:
    """Return the QApplication (created once), styled, with workers stopped on quit."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else [sys.argv[0]])
    assert isinstance(app, QApplication)
    if not app.property("workbench_ready"):
        app.setApplicationName("workbench")
        app.setApplicationDisplayName(APP_NAME)
        app.setApplicationVersion(__version__)
        app.setOrganizationName("model-serving-workbench")
        app.setDesktopFileName(APP_ID)  # Wayland matches the window to `workbench desktop install`'s entry
        from workbench.gui.resources import icon
        from workbench.gui.theme import apply_theme, follow_system

        apply_theme(theme or "system", app)
        follow_system(app)
        app.setWindowIcon(icon("app"))
        app.aboutToQuit.connect(workers.shutdown)
        from workbench.gui import gc_guard

        gc_guard.install(app)  # Qt objects must only ever be destroyed on this thread
        # long jobs (a benchmark, a load test) must not starve short ones (opening a model) on 2 cores
        pool = QThreadPool.globalInstance()
        pool.setMaxThreadCount(max(8, pool.maxThreadCount()))
        # pool threads never expire: each keeps its pinned Python thread state (workers.py), and a thread
        # that ended would leave that state, and every thread-local of its jobs, behind
        pool.setExpiryTimeout(-1)
        app.setProperty("workbench_ready", True)
    return app


# -- exception hook ---------------------------------------------------------------------------

_dialogs: list[object] = []


def handle_exception(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """Show an unexpected exception in a dialog and the messages panel; the app keeps running."""
    if issubclass(exc_type, KeyboardInterrupt):
        app = QApplication.instance()
        if app is not None:
            app.quit()
        return
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    log.error("unexpected error\n%s", text)
    print(text, file=sys.stderr)
    if os.environ.get("WORKBENCH_RAISE_ERRORS") == "1":
        os._exit(3)
    exc.__workbench_traceback__ = text  # type: ignore[attr-defined]
    note = notify_exception(exc, context="unexpected error")
    if QApplication.instance() is not None and threading.current_thread() is threading.main_thread():
        from workbench.gui.dialogs.error import show_error

        _dialogs.append(show_error(QApplication.activeWindow(), "Unexpected error", note.message, note.details))
        del _dialogs[:-5]


def install_excepthook() -> None:
    sys.excepthook = handle_exception

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        handle_exception(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)

    threading.excepthook = thread_hook


# -- running ----------------------------------------------------------------------------------

#: the first window's largest size; it takes 90 % of the screen's free area up to this
FIRST_WINDOW_MAX = (1440, 900)


def place_first_window(window, available=None) -> None:
    """Size a window opened without a saved geometry to 90 % of the screen's available area (capped at
    `FIRST_WINDOW_MAX`, never below its minimum size) and centre it there: a fixed 1280x800 put the status
    bar off a 1366x768 screen."""
    from PySide6.QtCore import QRect, QSize

    if available is None:
        screen = window.screen() or QApplication.primaryScreen()
        available = screen.availableGeometry() if screen is not None else QRect(0, 0, 1280, 800)
    frame = window.frameGeometry().size() - window.geometry().size()   # title bar and borders, once shown
    width = min(FIRST_WINDOW_MAX[0], int(available.width() * 0.9)) - frame.width()
    height = min(FIRST_WINDOW_MAX[1], int(available.height() * 0.9)) - frame.height()
    size = QSize(width, height).expandedTo(window.minimumSize())
    window.resize(size)
    rect = QRect(0, 0, size.width() + frame.width(), size.height() + frame.height())
    rect.moveCenter(available.center())
    window.move(rect.topLeft())


#: a file the app appends start-up events to ("shown", "loaded", "failed"), each with time.monotonic()
#: (one clock for every process), for benchmarks/bench_startup.py
STARTUP_TRACE_ENV = "WORKBENCH_STARTUP_TRACE"


def trace_startup(event: str, detail: str = "") -> None:
    """Append `<event> <monotonic seconds> <detail>` to $WORKBENCH_STARTUP_TRACE, when it is set."""
    target = os.environ.get(STARTUP_TRACE_ENV)
    if target:
        import time

        with open(target, "a", encoding="utf-8") as fh:
            fh.write(f"{event} {time.monotonic():.6f} {detail}\n")


class _FirstPaint(QObject):
    """Calls `then` once, right after the window's first paint (it is on screen); or after `fallback_ms`
    if no paint comes (a window the platform never exposes), so files are opened in any case."""

    def __init__(self, window: QObject, then, fallback_ms: int = 1000) -> None:
        super().__init__(window)
        self._then = then
        self._done = False
        window.installEventFilter(self)
        QTimer.singleShot(fallback_ms, self._fire)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self._done and event.type() == QEvent.Type.Paint:
            trace_startup("shown")
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self._fire)  # after this paint has been drawn
        return False

    def _fire(self) -> None:
        if not self._done:
            self._done = True
            self._then()

def _quiet_for_screenshot() -> None:
    """Keep stderr to the `error: ...` lines: no log echo of notifications, no offscreen-plugin chatter."""
    from PySide6.QtCore import qInstallMessageHandler

    logging.getLogger("workbench.gui").addHandler(logging.NullHandler())  # no "last resort" echo

    previous = None

    def handler(mode, context, message: str) -> None:
        if "propagateSizeHints" in message:
            return
        if previous is not None:
            previous(mode, context, message)
        else:
            print(message, file=sys.stderr)

    previous = qInstallMessageHandler(handler)


def run(files: Sequence[str] = (), screenshot: str | None = None, *, trust: bool = False,
        view: str = "overview", theme: str | None = None, timeout_s: float = 180.0) -> int:
    """Start the app; with `screenshot`, save a PNG once `files` are shown, then exit.

    With `screenshot` the exit code is 0 when the PNG was saved and every file opened, 1 when a file
    was refused (one `error: ...` line per file on stderr; the picture still shows the refusal)."""
    if screenshot:
        _quiet_for_screenshot()
    app = create_app(theme=theme)
    install_excepthook()
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import AppSettings

    if screenshot:
        # a picture leaves no trace: its models do not join the user's recent files, its window size is not
        # remembered (settings in a folder of its own, removed at exit)
        import atexit
        import shutil
        import tempfile

        folder = tempfile.mkdtemp(prefix="workbench-screenshot-")
        atexit.register(shutil.rmtree, folder, True)
        settings = AppSettings(os.path.join(folder, "workbench.ini"))
        # never stop at a modal question when taking a picture: pickles are inspected only unless --trust
        window = MainWindow(settings, trust_prompt=lambda _p, _f: trust)
        window.resize(1280, 800)
    else:
        settings = AppSettings()
        window = MainWindow(settings)
        if settings.geometry() is None:
            place_first_window(window)
    failures: list[tuple[str, str]] = []
    window.loader.sig_failed.connect(lambda path, reason: failures.append((path, reason)))
    if os.environ.get(STARTUP_TRACE_ENV):
        window.loader.sig_loaded.connect(lambda info, _t: trace_startup("loaded", str(info.path)))
        window.loader.sig_failed.connect(lambda path, _r: trace_startup("failed", path))
    opened = {"done": False}

    def open_files() -> None:  # once the window is on screen: models fill in as they load
        opened["done"] = True
        if files:
            window.open_paths(list(files), trust=True if trust else None)

    _FirstPaint(window, open_files)
    window.show()
    if not screenshot:
        if view != "overview":
            window.show_page(view)  # `workbench gui --view NAME` opens on that page
        return app.exec()

    status = {"code": 1}

    def grab() -> None:
        app.processEvents()
        pixmap = window.grab()
        ok = pixmap.save(screenshot)
        if ok:
            print(f"saved {screenshot} ({pixmap.width()}x{pixmap.height()})")
            for path, reason in failures:
                reason = " ".join(reason.split())
                print(f"error: {reason if path in reason else f'{path}: {reason}'}", file=sys.stderr)
            status["code"] = 1 if failures else 0
        else:
            print(f"error: could not save {screenshot}", file=sys.stderr)
        app.quit()

    def check() -> None:
        if opened["done"] and not window.loader.busy:
            poll.stop()
            window.show_page(view)  # the page may start work of its own (a graph to read, rows to check)
            settle.start()

    def settled() -> None:
        if not any(not worker.is_done for worker in workers.live_workers()):
            settle.stop()
            QTimer.singleShot(50, grab)

    poll = QTimer()
    poll.setInterval(50)
    poll.timeout.connect(check)
    poll.start()
    settle = QTimer()
    settle.setInterval(50)
    settle.timeout.connect(settled)

    def give_up() -> None:
        print(f"error: files still loading after {timeout_s:.0f} s; no screenshot", file=sys.stderr)
        app.quit()

    QTimer.singleShot(int(timeout_s * 1000), give_up)
    app.exec()
    window.close()
    return status["code"]
