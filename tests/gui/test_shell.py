"""The shell: workers, notifications, settings, actions, excepthook, About, start-up cost."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QKeySequence

from workbench.gui import workers
from workbench.gui.settings import SCHEMA_VERSION, AppSettings, Endpoint

REPO = Path(__file__).resolve().parents[2]


# -- workers ------------------------------------------------------------------------------------

def test_worker_delivers_result_on_gui_thread(qtbot) -> None:
    seen = {}

    def job(a: int, b: int) -> int:
        return a * b

    worker = workers.Worker(job, 6, 7)
    worker.signals.result.connect(lambda r: seen.update(result=r, main=threading.current_thread()
                                                        is threading.main_thread()))
    with qtbot.waitSignal(worker.signals.finished, timeout=10_000):
        worker.start()
    assert seen == {"result": 42, "main": True}
    assert worker not in workers.live_workers()


def test_generator_worker_reports_progress_and_returns(qtbot) -> None:
    def job():
        for i in range(4):
            yield (i + 1) / 4
        return "done"

    reports, results = [], []
    worker = workers.Worker(job)
    worker.signals.progress.connect(lambda p: reports.append(p.fraction))
    worker.signals.result.connect(results.append)
    with qtbot.waitSignal(worker.signals.finished, timeout=10_000):
        worker.start()
    assert reports == [0.25, 0.5, 0.75, 1.0]
    assert results == ["done"]


def test_cancel_stops_generator_and_suppresses_result(qtbot) -> None:
    gate = threading.Event()
    steps = []

    def job():
        for i in range(1000):
            steps.append(i)
            yield i / 1000
            gate.wait(10)  # first step waits until the test cancelled
        return "finished all"

    results, finished = [], []
    worker = workers.Worker(job)
    worker.signals.result.connect(results.append)
    worker.signals.finished.connect(lambda: finished.append(True))
    with qtbot.waitSignal(worker.signals.started, timeout=10_000):
        worker.start()
    worker.cancel()
    gate.set()
    qtbot.waitUntil(lambda: finished == [True], timeout=10_000)
    assert results == []
    assert len(steps) < 1000


def test_task_state_cancel_and_error(qtbot) -> None:
    def job(task) -> None:
        task.progress(0.5, "half")
        raise ValueError("bad thing")

    errors, progress = [], []
    worker = workers.Worker(job)
    worker.signals.error.connect(errors.append)
    worker.signals.progress.connect(lambda p: progress.append((p.fraction, p.message)))
    with qtbot.waitSignal(worker.signals.finished, timeout=10_000):
        worker.start()
    assert progress == [(0.5, "half")]
    assert [str(e) for e in errors] == ["bad thing"]
    assert "ValueError" in errors[0].__workbench_traceback__


def test_event_loop_keeps_turning_while_a_slow_job_runs(qtbot) -> None:
    """A job blocks until the GUI thread has handled 5 timer ticks: only a free event loop lets it end."""
    release = threading.Event()
    ticks = []
    timer = QTimer()
    timer.setInterval(10)

    def tick() -> None:
        ticks.append(1)
        if len(ticks) >= 5:
            release.set()

    timer.timeout.connect(tick)

    def slow_job() -> str:
        if not release.wait(30):
            return "timed out: the GUI thread was frozen"
        return "released by the GUI thread"

    results = []
    worker = workers.Worker(slow_job)
    worker.signals.result.connect(results.append)
    timer.start()
    with qtbot.waitSignal(worker.signals.finished, timeout=35_000):
        worker.start()
    timer.stop()
    assert results == ["released by the GUI thread"]
    assert len(ticks) >= 5


def test_jobs_on_one_pool_thread_share_one_python_thread_state(qtbot) -> None:
    """PySide makes a new PyThreadState per job on a reused pool thread unless the worker pins the
    first one; a thread-local set by one job is seen by the next job on the same thread."""
    from PySide6.QtCore import QThreadPool

    mark = threading.local()
    seen = []

    def job(i: int) -> tuple[int, int | None]:
        before = getattr(mark, "value", None)
        mark.value = i
        return threading.get_native_id(), before

    # one at a time, more jobs than the pool has threads: some thread runs two of them
    for i in range(QThreadPool.globalInstance().maxThreadCount() + 4):
        worker = workers.Worker(job, i)
        worker.signals.result.connect(seen.append)
        with qtbot.waitSignal(worker.signals.finished, timeout=10_000):
            worker.start()
    last_on: dict[int, int] = {}
    repeats = 0
    for i, (thread, before) in enumerate(seen):
        if thread in last_on:
            repeats += 1
            assert before == last_on[thread], seen   # the job before on this thread left its value
        last_on[thread] = i
    assert repeats, seen


def test_pool_threads_never_expire(window) -> None:
    """An expired pool thread would leave its pinned thread state (and its thread-locals) behind."""
    from PySide6.QtCore import QThreadPool

    assert QThreadPool.globalInstance().expiryTimeout() == -1


TF_JOBS = """
import sys
from workbench.gui import workers
from workbench.gui.app import create_app

app = create_app(theme="light")
path = sys.argv[1]

def predict():
    from workbench.core.models import inspect_model
    from workbench.core.rows import generate_rows, prepare_rows
    from workbench.core.runtimes import RUNTIMES
    info = inspect_model(path)
    session = RUNTIMES.get("tensorflow").load(path, info, trust=True)  # a SavedModel loads only with trust
    return session.predict(prepare_rows(generate_rows(info, 4), info)).rows

def bench():
    from workbench.core.bench.local import LocalPlan, run_local_bench
    plan = LocalPlan(runtimes=("tensorflow",), batch_sizes=(1,), duration_s=0.2, warmup_s=0.0)
    return run_local_bench(path, None, plan, trust=True).configs[0].calls > 0

def load():
    from workbench.core.models import load_model
    return load_model(path, trust=True)[0].format

results = []
for job in (predict, bench, load, predict, load):
    w = workers.run_in_worker(job, on_result=results.append)
    while w in workers.live_workers():  # until `finished` has been delivered
        app.processEvents()
        w.wait(0.01)
print(results)
"""


@pytest.mark.tf
def test_tensorflow_jobs_one_after_another_on_the_pool(tmp_path: Path) -> None:
    """Predict, benchmark, then load a SavedModel again (the Export dialog): each on a pool thread. Before
    the thread state was pinned, the third job crashed the process (TensorFlow's pybind11 took the GIL
    with the thread state of the job before)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", WORKBENCH_SETTINGS=str(tmp_path / "s.ini"),
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", TF_JOBS, str(REPO / "sample_models" / "keras_mlp_savedmodel")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-1500:]
    assert out.stdout.strip().splitlines()[-1] == "[4, True, 'savedmodel', 4, 'savedmodel']"


def test_shutdown_cancels_and_waits(qtbot) -> None:
    started = threading.Event()

    def job(task):
        started.set()
        stop = threading.Event()
        while not task.cancelled:
            stop.wait(0.005)  # a job polling its cancel flag between units of work
        return "stopped"

    results = []
    worker = workers.Worker(job)
    worker.signals.result.connect(results.append)
    worker.start()
    assert started.wait(10)
    assert workers.shutdown(10_000)
    assert worker.is_done
    qtbot.waitUntil(lambda: worker not in workers.live_workers(), timeout=5_000)
    assert results == []


# -- notifications --------------------------------------------------------------------------

def test_worker_error_goes_to_notification_area(qtbot, window, notes) -> None:
    from workbench.core.errors import InputRowsError

    def job() -> None:
        raise InputRowsError("2 bad cells", ["row 1, sepal_length: 'abc' is not a number"], hint="fix them")

    worker = workers.run_in_worker(job, name="rows")
    qtbot.waitUntil(lambda: worker.is_done and len(notes.records) == 1, timeout=10_000)
    note = notes.records[0]
    assert (note.severity, note.message, note.hint, note.context) == ("error", "2 bad cells", "fix them", "rows")
    assert "'abc' is not a number" in note.details
    assert window.messages.messages()[0].endswith("rows: 2 bad cells -- fix them")


def test_excepthook_shows_dialog_and_app_keeps_running(qtbot, window, notes) -> None:
    from workbench.gui import app as app_mod

    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError as exc:
        app_mod.handle_exception(type(exc), exc, exc.__traceback__)
    assert notes.records[-1].message == "RuntimeError: boom in a slot"
    assert "Traceback" in notes.records[-1].details
    dialog = app_mod._dialogs[-1]
    assert dialog.isVisible() and dialog.text() == "RuntimeError: boom in a slot"
    dialog.close()
    assert window.isVisible()


# -- settings ---------------------------------------------------------------------------------

def test_settings_round_trip(tmp_path: Path, qapp) -> None:
    path = tmp_path / "s.ini"
    s = AppSettings(path)
    for p in ("a.onnx", "b.pmml", "a.onnx"):
        s.add_recent_file(tmp_path / p)
    s.set_last_folder("open", "/models")
    s.set_last_folder("export", "/out")
    s.save_endpoint(Endpoint("local", "http://127.0.0.1:8501", model="half", headers={"X-Key": "v"},
                             verify_tls=False, grpc_target="127.0.0.1:8500"))
    s.set_theme("dark")
    s.sync()
    del s
    again = AppSettings(path)
    assert again.schema_version == SCHEMA_VERSION
    assert again.recent_files() == [str(tmp_path / "a.onnx"), str(tmp_path / "b.pmml")]
    assert (again.last_folder("open"), again.last_folder("export"), again.last_folder("rows")) == \
        ("/models", "/out", "")
    [ep] = again.endpoints()
    assert (ep.name, ep.url, ep.model, ep.headers, ep.verify_tls, ep.grpc_target) == \
        ("local", "http://127.0.0.1:8501", "half", {"X-Key": "v"}, False, "127.0.0.1:8500")
    assert again.theme() == "dark"
    assert "schema_version" in path.read_text()


def test_settings_migrate_from_unversioned(tmp_path: Path, qapp) -> None:
    path = tmp_path / "old.ini"
    old = QSettings(str(path), QSettings.Format.IniFormat)
    old.setValue("recent", ["/m/one.onnx", "/m/two.pmml"])
    old.sync()
    del old
    s = AppSettings(path)
    assert s.schema_version == SCHEMA_VERSION
    assert s.recent_files() == ["/m/one.onnx", "/m/two.pmml"]


def test_window_geometry_is_saved(qtbot, window) -> None:
    window.resize(720, 750)
    window.close()
    saved = AppSettings()
    assert saved.geometry() is not None
    from workbench.gui.main_window import MainWindow

    again = MainWindow(saved, trust_prompt=lambda _p, _f: False)
    qtbot.addWidget(again)
    assert (again.width(), again.height()) == (720, 750)


# -- actions ----------------------------------------------------------------------------------

def test_actions_have_standard_shortcuts(window) -> None:
    a = window.actions
    assert a["open"].shortcut() == QKeySequence(QKeySequence.StandardKey.Open)
    assert a["export"].shortcut().toString() == "Ctrl+E"
    assert a["run"].shortcut().toString() == "Ctrl+R"
    assert a["refresh"].shortcut() == QKeySequence(QKeySequence.StandardKey.Refresh)
    assert a["quit"].shortcut() == QKeySequence(QKeySequence.StandardKey.Quit)
    menus = {m.title(): [x.text() for x in m.actions() if x.text()] for m in window._menus.values()}
    assert "&Export / Convert…" in menus["&File"] and "&Run Prediction" in menus["&Model"]
    toolbar = [x.objectName() for x in window._toolbar.actions()]
    assert toolbar == ["action_open", "action_export", "action_run", "action_refresh"]
    assert not a["export"].isEnabled() and not a["run"].isEnabled()  # no model yet
    assert all(x.toolTip() for x in a.values())


def test_about_lists_backends_and_checks_java(qtbot, window) -> None:
    window.show_about()
    dialog = window._about
    qtbot.waitUntil(lambda: dialog.availability()["Java"] != "…", timeout=30_000)
    found = dialog.availability()
    import shutil

    assert found["Java"] == ("yes" if shutil.which("java") else "no")
    assert found["TensorFlow"] == ("yes" if importlib.util.find_spec("tensorflow") else "no")
    assert found["ONNX Runtime"] == "yes"
    dialog.close()


# -- start-up ---------------------------------------------------------------------------------

STARTUP = """
import json, sys, time
t0 = time.perf_counter()
from workbench.gui.app import create_app
from workbench.gui.main_window import MainWindow
from workbench.gui.settings import AppSettings
app = create_app()
win = MainWindow(AppSettings())
win.show()
app.processEvents()
heavy = [m for m in ("tensorflow", "keras", "sklearn", "skl2onnx", "lightgbm", "xgboost", "tf2onnx",
                     "sklearn2pmml", "jpype", "onnxruntime", "pyqtgraph") if m in sys.modules]
print(json.dumps({"seconds": time.perf_counter() - t0, "heavy": heavy}))
"""


def test_startup_is_light(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", WORKBENCH_SETTINGS=str(tmp_path / "s.ini"),
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", STARTUP], capture_output=True, text=True, env=env, cwd=REPO, check=False,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    # "about a second" on a developer machine; generous for a busy 2-core CI box
    assert result["seconds"] < 4.0, result


@pytest.mark.parametrize("args", [["gui", "--help"]])
def test_gui_command_is_registered(args: list[str]) -> None:
    from workbench.cli import build_parser

    parser = build_parser()
    ns = parser.parse_args(["gui", "x.onnx", "--screenshot", "o.png", "--view", "rows"])
    assert (ns.files, ns.screenshot, ns.view) == (["x.onnx"], "o.png", "rows")


GUARD = """
import sys
import workbench.gui
from PySide6.QtCore import QCoreApplication, QObject
app = QCoreApplication([])
o = QObject()
for _ in range(200_000):
    o.setObjectName("x")  # each void call drops a reference to None in PySide6 6.12 on CPython 3.11
print("alive")
"""


def test_void_calls_do_not_kill_the_interpreter() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", GUARD], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert (out.returncode, out.stdout.strip()) == (0, "alive"), out.stderr[-500:]


def test_gui_command_screenshot_waits_for_files(tmp_path: Path) -> None:
    from PySide6.QtGui import QImage

    out = tmp_path / "shot.png"
    trace = tmp_path / "trace.txt"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", WORKBENCH_SETTINGS=str(tmp_path / "s.ini"),
               WORKBENCH_STARTUP_TRACE=str(trace),
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "workbench", "gui", str(REPO / "sample_models" / "iris_logreg.onnx"),
                           "--view", "overview", "--screenshot", str(out)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-800:]
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1280, 800)
    # the model was opened before the picture was taken (the app's trace says so) ...
    events = [line.split(" ", 2) for line in trace.read_text().splitlines()]
    assert [(e[0], Path(e[2]).name) for e in events if e[0] == "loaded"] == [("loaded", "iris_logreg.onnx")]
    # ... and the picture left no trace in the user's settings (recent files, window size)
    settings = tmp_path / "s.ini"
    assert not settings.exists() or "iris_logreg.onnx" not in settings.read_text()


def test_garbage_is_collected_on_the_gui_thread_only(qtbot, qapp) -> None:
    """Automatic gc is off while the app runs; the GUI thread's collector frees cycles itself."""
    import gc
    import threading
    import weakref

    from workbench.gui import gc_guard

    collector = gc_guard.install(qapp)
    assert not gc.isenabled()

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle only the cyclic collector can free
    ref = weakref.ref(a)
    del a, b
    # a collection requested from another thread (as JPype's PyGC_Collect does) frees nothing
    import ctypes

    worker = threading.Thread(target=lambda: ctypes.pythonapi.PyGC_Collect())
    worker.start()
    worker.join()
    assert ref() is not None
    thresholds = gc.get_threshold()
    gc.set_threshold(1, 1, 1)
    try:
        qtbot.waitUntil(lambda: ref() is None, timeout=10_000)  # the GUI thread's timer collects it
    finally:
        gc.set_threshold(*thresholds)
    assert collector.timer.isActive()


def test_gui_view_choices_are_the_windows_pages() -> None:
    """`workbench gui --view` offers exactly the overview and the main window's pages."""
    from workbench.commands.gui import VIEWS
    from workbench.gui.main_window import PAGES

    assert VIEWS == ("overview", *(page[0] for page in PAGES))


def test_gui_view_opens_that_page_without_a_screenshot(qtbot, monkeypatch) -> None:
    """`workbench gui --view graph` starts on the Graph page (it was honoured only with --screenshot)."""
    from PySide6.QtWidgets import QApplication

    from workbench.gui import app as app_module

    shown: list[str] = []

    def exec_and_record() -> int:
        window = next(w for w in QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow" and w.isVisible())
        shown.append(window.tabs.currentWidget().objectName() or str(window.tabs.tabText(window.tabs.currentIndex())))
        window.close()
        return 0

    monkeypatch.setattr(QApplication.instance(), "exec", exec_and_record)
    assert app_module.run([], view="graph") == 0
    assert shown == ["Graph"]
