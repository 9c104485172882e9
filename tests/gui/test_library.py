"""Drag-and-drop and opening models into the library; the Overview shows what inspection found."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent


def _mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def _drop(widget, *paths: Path) -> QDropEvent:
    mime = _mime(*paths)
    enter = QDragEnterEvent(QPointF(widget.rect().center()), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    widget.dragEnterEvent(enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(widget.rect().center()), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)
    return event


def test_drop_several_files_and_a_folder_on_the_window(qtbot, window, samples, wait_loaded) -> None:
    paths = [samples / "iris_logreg.onnx", samples / "iris_logreg.pmml", samples / "keras_mlp_savedmodel"]
    _drop(window, *paths)
    wait_loaded(window, 3)
    by_name = {d.name: d.info for d in window.documents()}
    assert {k: (v.format, v.task) for k, v in by_name.items()} == {
        "iris_logreg.onnx": ("onnx", "classification"),
        "iris_logreg.pmml": ("pmml", "classification"),
        "keras_mlp_savedmodel": ("savedmodel", by_name["keras_mlp_savedmodel"].task),
    }
    import json

    manifest = {e["file"]: e for e in json.loads((samples / "samples.json").read_text())["samples"]}
    assert by_name["iris_logreg.onnx"].input_names() == manifest["iris_logreg.onnx"]["inputs"]
    # recent files remember them, most recent first
    recent = window.settings.recent_files()
    assert set(recent) == {str(p.resolve()) for p in paths}


def test_drop_on_library_and_overview_shows_inspection(qtbot, window, samples, wait_loaded) -> None:
    from workbench.core.models import inspect_model

    path = samples / "iris_logreg.onnx"
    _drop(window.library, path)
    wait_loaded(window, 1)
    expected = inspect_model(path)
    ov = window.overview
    assert ov.title.text() == "iris_logreg.onnx"
    assert ov.fact_labels["Format"].text() == "onnx"
    assert ov.fact_labels["Classes"].text() == ", ".join(str(c) for c in expected.classes)
    table = ov.inputs
    assert table.rowCount() == len(expected.inputs)
    assert [table.item(r, 0).text() for r in range(table.rowCount())] == expected.input_names()
    assert [table.item(r, 1).text() for r in range(table.rowCount())] == [s.dtype for s in expected.inputs]
    assert ov.outputs.rowCount() == len(expected.outputs)
    assert window.actions["export"].isEnabled() and window.actions["run"].isEnabled()


def test_bad_file_is_refused_with_the_detection_reason(qtbot, window, notes, tmp_path: Path) -> None:
    from workbench.core.errors import WorkbenchError
    from workbench.core.models import detect_format

    bad = tmp_path / "notes.txt"
    bad.write_text("just some notes, not a model\n")
    with pytest.raises(WorkbenchError) as core_error:
        detect_format(bad)
    failures = []
    window.loader.sig_failed.connect(lambda p, reason: failures.append((p, reason)))
    _drop(window, bad)
    qtbot.waitUntil(lambda: bool(failures), timeout=20_000)
    assert failures == [(str(bad), str(core_error.value))]
    assert window.documents() == []
    assert notes.records[-1].severity == "error"
    assert notes.records[-1].message == core_error.value.message
    assert core_error.value.message in window.messages.messages()[-1]


def test_pickle_asks_for_trust_and_inspect_only_keeps_it_unloaded(qtbot, window, samples, wait_loaded) -> None:
    asked = []

    def prompt(path: str, fmt: str) -> bool:
        asked.append((Path(path).name, fmt))
        return False  # inspect only

    window.loader.trust_prompt = prompt
    window.open_paths([str(samples / "iris_logreg.joblib")])
    wait_loaded(window, 1)
    doc = window.documents()[0]
    assert asked == [("iris_logreg.joblib", "sklearn")]
    assert (doc.trusted, doc.info.loaded) == (False, False)
    assert any("pickle not loaded" in w for w in doc.info.warnings)
    ov = window.overview
    assert ov.warning_box.isVisibleTo(window) and "pickle not loaded" in ov.warning_text.text()
    assert ov.trust_button.isVisibleTo(window)
    item = window.library.find(doc.path)
    assert "pickle not loaded" in item.toolTip()
    # "Trust and load" re-opens it with trust, without asking again
    ov.trust_button.click()
    qtbot.waitUntil(lambda: doc.trusted and not window.loader.busy, timeout=60_000)
    assert doc.info.loaded and asked == [("iris_logreg.joblib", "sklearn")]
    assert not ov.trust_button.isVisibleTo(window)
    assert window.library.find(doc.path).toolTip() == doc.path   # the library entry says so too


def test_cancel_at_trust_question_opens_nothing(qtbot, window, notes, samples) -> None:
    window.loader.trust_prompt = lambda _p, _f: None
    window.open_paths([str(samples / "iris_logreg.joblib")])
    qtbot.waitUntil(lambda: not window.loader.busy, timeout=20_000)
    assert window.documents() == []
    assert "cancelled at the trust question" in notes.records[-1].message


def test_cancel_opening_drops_the_model(qtbot, window, samples, monkeypatch) -> None:
    """Cancel while a model is still being inspected: nothing is added, even when the worker ends."""
    import threading

    from PySide6.QtCore import QCoreApplication, QThreadPool

    from workbench.gui import loader as loader_mod

    entered, release = threading.Event(), threading.Event()
    real_inspect = loader_mod._inspect

    def slow_inspect(path: str, trust: bool):
        entered.set()
        release.wait(30)
        return real_inspect(path, trust)

    monkeypatch.setattr(loader_mod, "_inspect", slow_inspect)
    window.open_paths([str(samples / "iris_logreg.onnx")])
    qtbot.waitUntil(entered.is_set, timeout=30_000)
    assert window.loader.busy and window.cancel_open_button.isVisibleTo(window)
    window.cancel_open_button.click()
    assert not window.loader.busy and not window.cancel_open_button.isVisibleTo(window)
    release.set()
    assert QThreadPool.globalInstance().waitForDone(30_000)
    QCoreApplication.processEvents()  # deliver anything the finished worker queued for this thread
    assert window.documents() == []
    assert not window.loader.busy


def test_overview_reads_like_prose(qtbot, window, samples, wait_loaded) -> None:
    """No Python reprs in the metadata, no empty Missing column, no 'Loaded: no' for a model that predicts."""
    window.open_paths([str(samples / "keras_mlp_savedmodel")])
    wait_loaded(window, 1)
    view = window.show_page("overview")
    # a SavedModel asks for trust (loading runs its graph); this window's prompt trusts it
    assert view.fact_labels["Loaded"].text() == ("read from the file; each runtime loads it to predict"
                                                 " · trusted by you")
    assert view.inputs.isColumnHidden(4)       # no input of this model accepts missing values
    items = [view.metadata.topLevelItem(i) for i in range(view.metadata.topLevelItemCount())]
    values = {item.text(0): item.text(1) for item in items}
    assert not {"None", "True", "False"} & set(values.values())
    assert values["file_size"].endswith(("bytes", "KB", "MB"))
    from workbench.core.types import TensorSpec

    view.inputs.set_specs([TensorSpec("a", "float64"), TensorSpec("b", "float64", accepts_missing=True)])
    assert not view.inputs.isColumnHidden(4)


def test_one_entry_per_model_however_it_is_named(qtbot, window, samples, wait_loaded, tmp_path: Path,
                                                  monkeypatch) -> None:
    link = tmp_path / "linked.onnx"
    link.symlink_to(samples / "iris_logreg.onnx")
    monkeypatch.chdir(samples)
    window.open_paths([str(samples / "iris_logreg.onnx")])
    wait_loaded(window, 1)
    window.open_paths(["iris_logreg.onnx", str(samples / ".." / samples.name / "iris_logreg.onnx"), str(link)])
    qtbot.waitUntil(lambda: not window.loader.busy, timeout=60_000)
    assert len(window.documents()) == 1


def test_a_version_folder_is_named_with_its_model(qtbot, window, wait_loaded, tfserving_testdata) -> None:
    window.open_paths([str(tfserving_testdata / "saved_model_half_plus_two_cpu" / "00000123")])
    wait_loaded(window, 1)
    assert window.documents()[0].name == "saved_model_half_plus_two_cpu/00000123"
