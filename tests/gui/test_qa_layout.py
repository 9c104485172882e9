"""QA findings: start without a display, screenshot exit codes, the overview at 1280x800, the messages dock,
hidden internal signatures in the endpoints tree, empty chart legends and the benchmark table width."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.commands.gui import NO_DISPLAY, missing_display

REPO = Path(__file__).resolve().parents[2]
TFS = REPO / "sample_models" / "tfserving"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(WORKBENCH_SETTINGS=str(tmp_path / "s.ini"),
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), **extra)
    return env


def _gui(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench", "gui", *args], capture_output=True, text=True,
                          env=_env(tmp_path, **env), cwd=tmp_path, timeout=120, check=False)


# -- 1. no display ----------------------------------------------------------------------------

@pytest.mark.parametrize(("environ", "expected"), [
    ({}, "DISPLAY is not set"),
    ({"QT_QPA_PLATFORM": ""}, "DISPLAY is not set"),
    ({"DISPLAY": ":99"}, None),
    ({"WAYLAND_DISPLAY": "wayland-0"}, None),
    ({"QT_QPA_PLATFORM": "offscreen"}, None),
    ({"QT_QPA_PLATFORM": "xcb"}, "DISPLAY is not set"),
    ({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, "DISPLAY is not set"),
    ({"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}, "WAYLAND_DISPLAY is not set"),
])
def test_missing_display_on_linux(environ: dict[str, str], expected: str | None) -> None:
    assert missing_display(environ, "linux") == expected


def test_no_display_needed_on_macos_and_windows() -> None:
    assert missing_display({}, "darwin") is None and missing_display({}, "win32") is None


def test_gui_without_display_says_so_and_exits_2(tmp_path: Path) -> None:
    proc = _gui(tmp_path, str(REPO / "sample_models" / "iris_logreg.onnx"), QT_QPA_PLATFORM="")
    assert proc.returncode == 2, proc.stderr[-800:]
    assert proc.stderr.strip().splitlines() == ["error: " + NO_DISPLAY.format(why="DISPLAY is not set")]
    assert proc.stdout == ""


def test_screenshot_without_display_falls_back_to_offscreen_and_reports_missing_files(tmp_path: Path) -> None:
    from PySide6.QtGui import QImage

    out = tmp_path / "shot.png"
    missing = tmp_path / "gone.onnx"
    trace = tmp_path / "trace.txt"
    proc = _gui(tmp_path, str(REPO / "sample_models" / "iris_logreg.onnx"), str(missing), "--screenshot", str(out),
                QT_QPA_PLATFORM="", WORKBENCH_STARTUP_TRACE=str(trace))
    assert proc.returncode == 1, proc.stderr[-800:]
    # the picture is still taken (it shows the refusal in the messages), one error line per failed file
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1280, 800)
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("error: ") and str(missing) in errors[0], proc.stderr
    # the good file loaded before the picture (the app's startup trace), the missing one failed
    events = sorted((e.split(" ", 2)[0], Path(e.split(" ", 2)[2]).name) for e in trace.read_text().splitlines()
                    if not e.startswith("shown"))
    assert events == [("failed", "gone.onnx"), ("loaded", "iris_logreg.onnx")]


def test_screenshot_into_missing_folder_is_refused_before_starting(tmp_path: Path) -> None:
    target = tmp_path / "no_such_dir" / "x.png"
    proc = _gui(tmp_path, str(REPO / "sample_models" / "iris_logreg.onnx"), "--screenshot", str(target),
                QT_QPA_PLATFORM="offscreen")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: cannot save the screenshot: folder {target.parent} does not exist (create it first)"]
    assert not target.parent.exists() and not (tmp_path / "s.ini").exists()  # the app never started


# -- 3. overview at 1280x800 ------------------------------------------------------------------

def _settle(qtbot, window) -> None:
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    qtbot.waitUntil(lambda: window.overview.inputs.viewport().height() > 0, timeout=5_000)
    QApplication.processEvents()


def test_overview_tables_show_every_row_at_1280x800(qtbot, window, samples, wait_loaded) -> None:
    window.open_paths([str(samples / "ctr_pipeline.joblib")], trust=True)
    wait_loaded(window, 1)
    _settle(qtbot, window)
    ov = window.overview
    info = window.documents()[0].info
    for table, specs in ((ov.inputs, info.inputs), (ov.outputs, info.outputs)):
        assert table.rowCount() == len(specs)
        assert not table.verticalScrollBar().isVisible()
        assert table.rows_visible() == len(specs)
        last = table.visualRect(table.model().index(len(specs) - 1, 0))
        assert last.bottom() <= table.viewport().height()   # the last row is not clipped
    # a bigger model: 12 inputs still fit without scrolling (the messages dock is closed at start-up)
    from workbench.core.types import TensorSpec

    ov.inputs.set_specs([TensorSpec(f"feature_{i}", "float32") for i in range(12)])
    qtbot.waitUntil(lambda: ov.inputs.rows_visible() == 12, timeout=5_000)
    assert not ov.inputs.verticalScrollBar().isVisible()
    assert not window.messages_dock.isVisible()


def test_metadata_counts_tooltips_and_middle_elision(qtbot) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QTreeWidget

    from workbench.gui.views.overview import fill_tree

    tree = QTreeWidget()
    tree.setColumnCount(2)
    qtbot.addWidget(tree)
    digest = "38d7698ba7e95d18c0819d" * 3
    fill_tree(tree, {"steps": [{"a": 1}], "two": [{"a": 1}, {"b": 2}], "one": {"k": "v"}, "sha256": digest})
    top = {tree.topLevelItem(i).text(0): tree.topLevelItem(i) for i in range(tree.topLevelItemCount())}
    assert top["steps"].text(1) == "1 item"
    assert top["two"].text(1) == "2 items"
    assert top["one"].text(1) == "1 entry"
    assert top["sha256"].text(1) == digest and top["sha256"].toolTip(1) == digest
    # too narrow a column elides in the middle: both ends of a hash or a path stay readable
    from workbench.gui.views.overview import OverviewView

    view = OverviewView()
    qtbot.addWidget(view)
    assert view.metadata.textElideMode() == Qt.TextElideMode.ElideMiddle


def test_messages_dock_stays_closed_at_start_until_a_warning(qtbot, window, notes) -> None:
    from workbench.gui.main_window import MainWindow
    from workbench.gui.notifications import notify
    from workbench.gui.settings import AppSettings

    window.messages_dock.show()
    assert window.messages_dock.isVisible()
    window.close()                                   # saves a window state with the dock open
    again = MainWindow(AppSettings(), trust_prompt=lambda _p, _f: True)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert not again.messages_dock.isVisible()
    notify("something to know", "info")
    assert not again.messages_dock.isVisible()      # info only goes to the status bar
    notify("conversion lost precision", "warning")
    assert again.messages_dock.isVisible()
    assert again.messages.messages()[-1].endswith("conversion lost precision")


# -- 4. endpoints tree --------------------------------------------------------------------------

def test_endpoints_tree_hides_internal_signatures_and_keeps_input_order(qtbot, window) -> None:
    from workbench.core.serving.probe import ProbeReport
    from workbench.core.serving.signatures import metadata_from_rest

    body = json.loads((TFS / "saved_model_half_plus_two_tf2_cpu_metadata.json").read_text())
    served = body["metadata"]["signature_def"]["signature_def"]
    assert "__saved_model_init_op" in served
    # a signature with several inputs, listed by the server in a non-alphabetical order
    served["multi"] = {"method_name": "tensorflow/serving/predict", "inputs": {
        alias: {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1"}]}, "name": f"{alias}:0"}
        for alias in ("zeta", "alpha", "mid")}, "outputs": {}}
    meta = metadata_from_rest(body)
    report = ProbeReport(url="http://127.0.0.1:8501", protocol="tfserving-rest", model="half_plus_two",
                         signatures=meta.signatures)
    view = window.show_page("endpoints")
    view._probed(report)
    names = view.child_texts("Signatures")
    assert names[0] == "serving_default"
    assert sorted(names) == sorted(n for n in served if not n.startswith("__"))
    assert view.tree_items()["Signatures"] == str(len(names))
    assert f"{len(names)} signature(s)" in view.verdict.text()
    sigs = next(view.tree.topLevelItem(i) for i in range(view.tree.topLevelItemCount())
                if view.tree.topLevelItem(i).text(0) == "Signatures")
    multi = next(sigs.child(j) for j in range(sigs.childCount()) if sigs.child(j).text(0) == "multi")
    inputs = multi.child(0)
    assert inputs.text(0) == "inputs"
    assert [inputs.child(k).text(0) for k in range(inputs.childCount())] == ["zeta", "alpha", "mid"]


# -- 5. benchmark charts and table ------------------------------------------------------------------

def test_benchmark_legends_hidden_while_empty_and_table_fits(qtbot, window, samples, wait_loaded) -> None:
    window.open_paths([str(samples / "iris_logreg.onnx")])
    wait_loaded(window, 1)
    view = window.show_page("benchmark")
    legends = {name: plot.getPlotItem().legend for name, plot in
               (("latency", view.latency_plot), ("hist", view.hist_plot), ("bar", view.bar_plot))}
    assert not any(legend.isVisible() for legend in legends.values())
    view._curve(("onnxruntime", 1))                     # the first live point names a configuration
    assert legends["latency"].isVisible() and not legends["hist"].isVisible()
    view._reset_charts()
    assert not legends["latency"].isVisible()
    view.bar_plot.getPlotItem().plot([1, 2], [1, 2], name="kept off")
    assert not legends["bar"].isVisible()               # hidden on purpose stays hidden
    # the twelve result columns fit the width of the view: no horizontal scrolling at 1280x800
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    header = view.table.horizontalHeader()
    assert header.length() <= view.table.viewport().width()
    assert not view.table.horizontalScrollBar().isVisible()


def test_inputs_table_shows_what_the_model_knows_of_each_column() -> None:
    from workbench.core.types import TensorSpec
    from workbench.gui.views.overview import spec_cells

    assert spec_cells(TensorSpec("device", "string", categories=("ios", "web")))[3] == "{ios, web}"
    assert spec_cells(TensorSpec("x", "float64", value_range=(0.5, 7.0)))[3] == "0.5 … 7"
    assert spec_cells(TensorSpec("age", "float64", typical=(40.25, 12.5)))[3] == "≈ 40.25 ± 12.5"
    assert spec_cells(TensorSpec("z", "float64"))[3] == ""
