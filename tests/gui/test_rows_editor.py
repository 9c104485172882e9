"""The Rows page as a safe editor: buttons that work, undo/redo, Append or Replace, save, quit guard,
copy as TSV, Delete, plausible generated rows and unknown categories marked."""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

GUI = Path(__file__).resolve().parents[2] / "workbench" / "gui"


# -- helpers ----------------------------------------------------------------------------------------

class Answers:
    """Answers the modal dialogs that come up, in order: each answer is a button text of a message box,
    or a path for a file dialog. Records what each dialog said."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.seen: list[str] = []
        QTimer.singleShot(0, self._poll)

    def _poll(self) -> None:
        if not self.answers:
            return
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(10, self._poll)  # the dialog is not up yet: look again on the next turn
            return
        answer = self.answers.pop(0)
        if isinstance(dialog, QMessageBox):
            self.seen.append(f"{dialog.windowTitle()}|{dialog.text()}|{dialog.informativeText()}|"
                             + ",".join(b.text().replace("&", "") for b in dialog.buttons()))
            button = next(b for b in dialog.buttons() if b.text().replace("&", "") == answer)
            button.click()
        elif isinstance(dialog, QFileDialog):
            self.seen.append(f"{dialog.windowTitle()}|file")
            dialog.selectFile(answer)
            dialog.accept()
        else:  # pragma: no cover - a dialog the test did not expect
            self.seen.append(type(dialog).__name__)
            dialog.close()
        QTimer.singleShot(0, self._poll)


@pytest.fixture
def ctr(qtbot, window, samples, wait_loaded):
    window.open_paths([str(samples / "ctr_pipeline.joblib")])
    wait_loaded(window, 1)
    view = window.show_page("rows")
    qtbot.waitUntil(lambda: view.last_check is not None, timeout=30_000)
    return view


def _click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _select(view, rows: list[int], columns: list[int]) -> None:
    from PySide6.QtCore import QItemSelection, QItemSelectionModel

    selection = QItemSelection()
    for r in rows:
        for c in columns:
            index = view.model.index(r, c)
            selection.select(index, index)
    view.table.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)


# -- item 1: clicked(bool) never reaches an optional parameter ---------------------------------------

def _optional_first_parameter(function) -> bool:
    try:
        params = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):  # a Qt method: typed in C++, PySide picks the right overload
        return False
    if params and params[0].name == "self":  # a function of a class, not bound
        params = params[1:]
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    if not positional:
        return False
    first = positional[0]
    return first.kind == first.VAR_POSITIONAL or (first.default is not first.empty and first.annotation
                                                   not in (bool, "bool"))


def _connections() -> list[tuple[str, int, str, str]]:
    """(file, line, signal, slot expression) of every clicked/triggered/toggled connection to a named
    callable (not a lambda) in workbench/gui, and every QShortcut activated= / menu addAction(text, slot)."""
    found = []
    for path in sorted(GUI.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            target = None
            signal = ""
            if node.func.attr == "connect" and isinstance(node.func.value, ast.Attribute) \
                    and node.func.value.attr in ("clicked", "triggered", "toggled") and node.args:
                target, signal = node.args[0], node.func.value.attr
            elif node.func.attr == "addAction" and len(node.args) >= 2:
                target, signal = node.args[-1], "triggered"
            if target is not None and not isinstance(target, ast.Lambda):
                found.append((str(path.relative_to(GUI)), node.lineno, signal, ast.unparse(target)))
    return found


def _methods_named(name: str) -> list:
    """Every function `name` defined in a class of workbench/gui (the slot a `self.x.name` may be)."""
    import importlib

    out = []
    for path in sorted(GUI.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = "workbench.gui." + ".".join(path.relative_to(GUI).with_suffix("").parts)
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            if any(isinstance(f, ast.FunctionDef) and f.name == name for f in cls.body):
                owner = getattr(importlib.import_module(module), cls.name, None)
                if owner is not None:
                    out.append(getattr(owner, name))
    return out


def test_no_button_or_action_sends_its_checked_flag_into_an_optional_parameter() -> None:
    from workbench.gui.views.rows import RowsView

    assert _optional_first_parameter(RowsView.paste) and not _optional_first_parameter(RowsView.generate)
    connections = _connections()
    assert any(slot == "self.run" for _, _, _, slot in connections)  # the search finds the connections
    bad = []
    for file, line, signal, slot in connections:
        name = slot.rsplit(".", 1)[-1]
        for method in _methods_named(name):
            if _optional_first_parameter(method):
                bad.append(f"{file}:{line}: {signal}.connect({slot}) -> {method.__qualname__}"
                           f"{inspect.signature(method)}")
    assert not bad, "a signal's bool would land in an optional parameter:\n" + "\n".join(bad)


def test_every_rows_button_works_when_clicked(qtbot, ctr, tmp_path: Path) -> None:
    """Clicked like a user does: an exception in a slot fails the test (pytest-qt reports it)."""
    view = ctr
    QApplication.clipboard().setText("age,gender,device,hour,item_category,price,user_ctr_7d,item_popularity\n"
                                     "30,f,web,9,books,12.5,0.1,1.2\n")
    before = len(view.model.cells)
    answers = Answers("Append")
    _click(qtbot, view.paste_button)
    assert answers.seen and "Append or Replace?" in answers.seen[0]
    assert len(view.model.cells) == before + 1 and view.model.cells[-1][:3] == ["30", "f", "web"]
    _click(qtbot, view.add_button)
    assert len(view.model.cells) == before + 2 and view.model.cells[-1] == [""] * 8
    _select(view, [before + 1], [0])
    _click(qtbot, view.remove_button)
    assert len(view.model.cells) == before + 1
    view.generate_count.setValue(3)
    answers = Answers("Replace")
    _click(qtbot, view.generate_button)
    assert len(view.model.cells) == 3
    _click(qtbot, view.undo_button)
    assert len(view.model.cells) == before + 1
    _click(qtbot, view.redo_button)
    assert len(view.model.cells) == 3
    answers = Answers(str(tmp_path / "clicked.csv"))
    _click(qtbot, view.save_button)
    assert (tmp_path / "clicked.csv").read_text().count("\n") == 4


# -- item 2: undo / redo ----------------------------------------------------------------------------

def test_every_kind_of_edit_undoes_and_redoes(qtbot, window, ctr, samples, tmp_path: Path) -> None:
    view = ctr
    original = view.model.table()
    assert not view.undo_group.canUndo() and not window.actions["undo"].isEnabled()
    states = [original]
    view.model.setData(view.model.index(0, 0), "61")                      # cell edit
    states.append(view.model.table())
    assert window.actions["undo"].isEnabled() and "Edit age in row 1" in window.actions["undo"].text()
    view.add_row()                                                        # add row
    states.append(view.model.table())
    _select(view, [1, 2], [3])
    assert view.remove_selected() == 2                                    # remove
    states.append(view.model.table())
    assert view.paste("age,gender,device,hour,item_category,price,user_ctr_7d,item_popularity\n"
                      "30,f,web,9,books,12.5,0.1,1.2\n", mode="replace")  # paste (replace)
    states.append(view.model.table())
    assert view.generate(4, mode="append")                                # generate
    states.append(view.model.table())
    (tmp_path / "other.csv").write_text("age,gender,device,hour,item_category,price,user_ctr_7d,item_popularity\n"
                                        "40,m,ios,1,home,5.0,0.2,0.5\n")
    assert view.load_file(str(tmp_path / "other.csv"))                    # load file
    states.append(view.model.table())
    assert [len(s[1]) for s in states] == [30, 30, 31, 29, 1, 5, 1]
    doc = window.current_document()
    for expected in reversed(states[:-1]):
        window.actions["undo"].trigger()
        assert view.model.table() == expected
        assert doc.rows.astype(str).values.tolist() == expected[1]  # what Predict uses follows
    assert not window.actions["undo"].isEnabled()
    for expected in states[1:]:
        window.actions["redo"].trigger()
        assert view.model.table() == expected
    qtbot.waitUntil(lambda: view.last_check is not None and view.last_check["ok"], timeout=30_000)


def test_keyboard_undo_redo_copy_and_delete_in_the_table(qtbot, ctr) -> None:
    view = ctr
    view.table.setFocus()
    first = view.model.cells[0][:]
    _select(view, [0, 1], [0, 1, 3])
    qtbot.keyClick(view.table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    c = view.model.cells
    assert QApplication.clipboard().text() == f"{c[0][0]}\t{c[0][1]}\t\t{c[0][3]}\n{c[1][0]}\t{c[1][1]}\t\t{c[1][3]}\n"
    qtbot.keyClick(view.table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert QApplication.clipboard().text().splitlines()[0] == "age\tgender\tdevice\thour"  # the rectangle's names
    qtbot.keyClick(view.table, Qt.Key.Key_Delete)
    assert len(view.model.cells) == 28 and view.model.cells[0] != first
    qtbot.keyClick(view.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(view.model.cells) == 30 and view.model.cells[0] == first
    qtbot.keyClick(view.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert len(view.model.cells) == 28


def test_undo_history_is_per_model(qtbot, window, ctr, samples, wait_loaded) -> None:
    view = ctr
    ctr_doc = window.current_document()
    view.model.setData(view.model.index(0, 0), "19")
    window.open_paths([str(samples / "iris_logreg.onnx")])
    wait_loaded(window, 2)
    iris = next(d for d in window.documents() if d is not ctr_doc)
    window.library.models.setCurrentRow(window.documents().index(iris))
    qtbot.waitUntil(lambda: view.doc is iris)
    assert not view.undo_group.canUndo()  # nothing was edited in this model
    window.library.models.setCurrentRow(window.documents().index(ctr_doc))
    qtbot.waitUntil(lambda: view.doc is ctr_doc)
    assert view.model.cells[0][0] == "19"
    view.undo_group.undo()
    assert view.model.cells[0][0] != "19"


# -- item 2: Append or Replace ----------------------------------------------------------------------

def test_paste_and_generate_ask_append_or_replace_and_replace_is_undoable(qtbot, ctr) -> None:
    view = ctr
    rows = view.model.table()
    text = "age\tgender\tdevice\thour\titem_category\tprice\tuser_ctr_7d\titem_popularity\n" \
           "30\tf\tweb\t9\tbooks\t12.5\t0.1\t1.2\n"
    answers = Answers("Cancel")
    assert not view.paste(text)
    assert "The table has 30 rows. Add the 1 pasted row after them, or replace them?" in answers.seen[0]
    assert set(answers.seen[0].rsplit("|", 1)[1].split(",")) == {"Append", "Replace", "Cancel"}
    assert view.model.table() == rows
    Answers("Replace")
    assert view.paste(text)
    assert len(view.model.cells) == 1
    view.undo_group.undo()
    assert view.model.table() == rows
    answers = Answers("Append")
    assert view.generate(5)
    assert "Add the 5 generated rows" in answers.seen[0]
    assert view.model.cells[:30] == rows[1] and len(view.model.cells) == 35
    view.model.set_table(view.model.columns, [])
    assert view.generate(2)  # an empty table: nothing to ask
    assert len(view.model.cells) == 2


# -- item 2: save -----------------------------------------------------------------------------------

def test_save_rows_as_csv_and_json_and_read_them_back(qtbot, window, ctr, tmp_path: Path) -> None:
    from workbench.core.rows import read_rows

    view = ctr
    view.model.setData(view.model.index(0, 1), "m")
    view.model.setData(view.model.index(1, 5), "")
    assert view.has_unsaved_rows(window.current_document())
    answers = Answers(str(tmp_path / "edited"))
    window.actions["save_rows"].trigger()
    assert answers.seen == ["Save Rows of ctr_pipeline.joblib|file"]
    saved = tmp_path / "edited.csv"
    assert saved.is_file() and not view.has_unsaved_rows(window.current_document())
    assert read_rows(saved).fillna("").astype(str).values.tolist() == view.model.cells
    assert view.save_file(str(tmp_path / "edited.json"))
    records = json.loads((tmp_path / "edited.json").read_text())
    assert records[0]["gender"] == "m" and records[0]["age"] == int(view.model.cells[0][0])
    assert records[1]["price"] is None and isinstance(records[2]["price"], float)
    assert isinstance(records[0]["hour"], int)
    again = read_rows(tmp_path / "edited.json")
    assert again["gender"].tolist() == [r[1] for r in view.model.cells]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


# -- item 2: quit and close model guard -------------------------------------------------------------

def test_quit_and_close_model_ask_about_unsaved_rows(qtbot, window, ctr, tmp_path: Path) -> None:
    view = ctr
    window.actions["quit"].trigger()  # nothing edited: no question (the window closes)
    assert not window.isVisible()
    window.show()
    view.model.setData(view.model.index(0, 0), "70")
    answers = Answers("Cancel")
    window.actions["quit"].trigger()
    assert window.isVisible()
    assert answers.seen[0].startswith("Unsaved Rows|The rows of ctr_pipeline.joblib have changes that are not "
                                      "saved.|Save them before quitting?|")
    assert "--" not in answers.seen[0]
    answers = Answers("Cancel")
    window.actions["close_model"].trigger()
    assert "Save them before closing the model?" in answers.seen[0] and len(window.documents()) == 1
    answers = Answers("Save", str(tmp_path / "kept.csv"))
    window.actions["close_model"].trigger()
    assert len(window.documents()) == 0 and (tmp_path / "kept.csv").read_text().splitlines()[1].startswith("70,")


def test_discard_then_quit(qtbot, window, ctr) -> None:
    ctr.add_row()
    Answers("Discard")
    window.actions["quit"].trigger()
    assert not window.isVisible()


# -- item 2: plausible generated rows, unknown categories -------------------------------------------

def test_generated_rows_look_like_the_data(qtbot, ctr) -> None:
    view = ctr
    before = view.model.frame()
    assert view.generate(200, mode="replace")
    cells = view.model.frame()
    hours = [int(h) for h in cells["hour"]]  # whole numbers: int() of "25.39" would fail
    assert min(hours) >= int(before["hour"].astype(int).min()) and max(hours) <= 23
    assert all(a.isdigit() for a in cells["age"])
    for col in ("price", "user_ctr_7d", "item_popularity"):
        written = max(len(t.split(".")[1]) if "." in t else 0 for t in before[col])
        assert max(len(t.split(".")[1]) if "." in t else 0 for t in cells[col]) <= written, col
    qtbot.waitUntil(lambda: view.last_check is not None and view.last_check["ok"], timeout=30_000)


def test_an_unknown_category_is_marked_with_the_known_ones(qtbot, ctr) -> None:
    view = ctr
    qtbot.waitUntil(lambda: view.last_check is not None and view.last_check["ok"], timeout=30_000)
    col = view.model.columns.index("gender")
    index = view.model.index(3, col)
    assert view.model.data(index, Qt.ItemDataRole.BackgroundRole) is None
    view.last_check = None
    view.model.setData(index, "zz")
    qtbot.waitUntil(lambda: view.last_check is not None, timeout=30_000)
    tip = view.model.data(index, Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("'zz' is not a known category (known: 'f', 'm', 'u')")
    assert view.model.data(index, Qt.ItemDataRole.BackgroundRole) is not None
    assert view.model.data(view.model.index(2, col), Qt.ItemDataRole.BackgroundRole) is None
    assert "1 cell holds a category the model does not know" in view.status.text()


def test_an_unknown_category_stays_marked_beside_a_bad_number(qtbot, ctr) -> None:
    view = ctr
    gender, hour = view.model.columns.index("gender"), view.model.columns.index("hour")
    view.model.setData(view.model.index(2, gender), "zz")
    view.last_check = None
    view.model.setData(view.model.index(4, hour), "abc")
    qtbot.waitUntil(lambda: view.last_check is not None, timeout=30_000)
    assert view.last_check["ok"] is False and "'abc' is not a number" in view.status.text()
    tip = view.model.data(view.model.index(2, gender), Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("'zz' is not a known category (known: 'f', 'm', 'u')")
    assert view.model.data(view.model.index(2, gender), Qt.ItemDataRole.BackgroundRole) is not None
