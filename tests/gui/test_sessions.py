"""Sessions in the app: save (no header values on disk), the restore banner at start (not a dialog),
restore models with rows, trust by sha256 and endpoints with their row sources; a bad file is a message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from workbench.core.session import RowSource


def _new_window(qtbot, trust_prompt=None):
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import AppSettings

    win = MainWindow(AppSettings(), trust_prompt=trust_prompt)
    qtbot.addWidget(win)
    win.show()
    return win


def test_save_then_restore_from_the_banner(qtbot, window, samples, wait_loaded, tmp_path: Path, notes) -> None:
    model = tmp_path / "iris.joblib"
    shutil.copy(samples / "iris_logreg.joblib", model)
    window.open_paths([str(model), str(samples / "iris_logreg.onnx")])
    wait_loaded(window, 2)
    doc = next(d for d in window.documents() if d.path == str(model.resolve()))
    rows = pd.DataFrame({"sepal_length": [5.1, 6.0], "sepal_width": [3.5, 2.9], "petal_length": [1.4, 4.5],
                         "petal_width": [0.2, 1.5]})
    doc.set_rows(rows)
    view = window.show_page("endpoints")
    view.name.setText("ctr")
    view.url.setText("http://127.0.0.1:8501")
    view.model.setText("ctr")
    view.headers.setPlainText("Authorization: Bearer TOKEN123")
    view.set_row_source(RowSource("json", '[{"x": 4}]'))
    out = tmp_path / "s.json"
    from workbench.gui import sessions

    said = sessions.save(window, str(out))
    assert "header values not saved: Authorization" in said
    text = out.read_text()
    assert "TOKEN123" not in text and json.loads(text)["format"] == "workbench-session"

    # a new window offers it with a banner; the window is usable (no modal dialog)
    asked: list[str] = []
    win2 = _new_window(qtbot, trust_prompt=lambda p, f: asked.append(p) or True)
    banner = win2.restore_banner
    assert banner.isVisible() and from_qt_modal() is None
    banner.restore_button.click()
    wait_loaded(win2, 2)
    assert asked == []   # trusted before, same sha256: not asked again
    restored = next(d for d in win2.documents() if d.path == str(model.resolve()))
    assert restored.trusted and restored.rows.values.tolist() == rows.values.tolist()
    v2 = win2.page("endpoints")
    assert (v2.url.text(), v2.model.text()) == ("http://127.0.0.1:8501", "ctr")
    assert v2.row_source() == RowSource("json", '[{"x": 4}]')
    assert any("Authorization were not saved" in n.message for n in notes.records)

    # the model changed on disk: its trust is asked again
    model.write_bytes(model.read_bytes() + b"\n")
    win3 = _new_window(qtbot, trust_prompt=lambda p, f: asked.append(p) or False)
    sessions.restore(win3, str(out))
    wait_loaded(win3, 2)
    assert asked == [str(model.resolve())]


def test_a_damaged_session_is_a_message_not_a_crash(qtbot, window, tmp_path: Path, notes) -> None:
    from workbench.gui import sessions

    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "workbench-session", "version": 1, "models": [{"path": 5}]}')
    assert sessions.restore(window, str(bad)) is None
    [note] = [n for n in notes.records if n.severity == "error"]
    assert "models[0]: \"path\" must be text" in note.message and window.documents() == []


def from_qt_modal():
    from PySide6.QtWidgets import QApplication

    return QApplication.activeModalWidget()
