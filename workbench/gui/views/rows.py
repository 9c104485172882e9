"""The rows table: filled from a CSV/JSON file, pasted, typed or generated from the schema.

Cells are kept as the text the user sees; `workbench.core.rows.prepare_rows` checks them against
the model's inputs (on a worker) and every bad cell (and every category the model does not know)
is marked with its reason. Every edit can be undone (one undo history per model), the rows can be
saved as CSV or JSON, and the window asks before unsaved rows are lost.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeyEvent, QKeySequence, QShortcut, QUndoGroup, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.document import ModelDocument
from workbench.gui.notifications import describe_exception, notify
from workbench.gui.resources import icon
from workbench.gui.rows_model import (  # noqa: F401  (RowsModel and cell_text are imported from here too)
    Index,
    RowsModel,
    Table,
    cell_text,
    frame_table,
    is_number,
    joined,
    save_rows,
    selection_tsv,
)
from workbench.gui.views.common import color, core_module, header, placeholder
from workbench.gui.workers import Worker, run_in_worker

_is_number = is_number

def _check(frame: Any, info: Any) -> dict[str, Any]:
    """Worker job: prepare_rows, turned into per-cell and per-column problems."""
    from workbench.core.errors import InputRowsError
    from workbench.core.rows import prepare_rows

    try:
        prepared = prepare_rows(frame, info)
    except InputRowsError as exc:
        cells = {(c.row - 1, c.column): str(c) for c in getattr(exc, "cells", [])}
        cell_texts = set(cells.values())
        others = [p for p in exc.problems if p not in cell_texts]
        return {"ok": False, "message": exc.message, "cells": cells, "other": others, "prepared": None,
                "notes": _text_category_notes(frame, info, cells)}
    from workbench.core.rows.categories import unknown_category_cells

    return {"ok": True, "message": f"{len(prepared)} rows fit the model's inputs", "cells": {}, "other": [],
            "prepared": prepared, "notes": unknown_category_cells(prepared, info)}


def _text_category_notes(frame: Any, info: Any, bad: dict[tuple[int, str], str]) -> dict[tuple[int, str], str]:
    """Unknown categories of text inputs while other cells are bad (no prepared frame to judge them
    in): the cells as they are, judged by core's `unknown_categories`."""
    import numpy as np

    from workbench.core.rows import unknown_categories

    columns = {}
    layout = {}
    for spec in info.inputs:
        if spec.categories and all(isinstance(c, str) for c in spec.categories) and spec.name in frame.columns:
            values = np.asarray([None if str(v).strip() == "" else str(v) for v in frame[spec.name]], dtype=object)
            columns[spec.name], layout[spec.name] = values, [spec.name]
    notes = {}
    for u in unknown_categories(columns, layout, info):
        for row in u.rows:
            if (row - 1, u.column) not in bad:
                notes[(row - 1, u.column)] = u.reason()
    return notes


def sibling_rows_file(model_path: str) -> Path | None:
    """A `<stem>.rows.csv` (or `<stem>_<ext>.rows.csv`) next to the model, as the sample models have."""
    p = Path(model_path)
    stem = p.name if p.is_dir() else p.stem
    ext = p.suffix.lstrip(".")
    for name in (f"{stem}_{ext}.rows.csv" if ext else None, f"{stem}.rows.csv", f"{stem}_native.rows.csv"):
        if name and (p.parent / name).is_file():
            return p.parent / name
    return None


class RowsTable(QTableView):
    """The table, with the keys of a spreadsheet: Ctrl+C copies the selection (Ctrl+Shift+C with the
    column names), Delete removes the selected rows, Ctrl+V pastes rows, Ctrl+Z / Ctrl+Shift+Z undo
    and redo (when no window-wide shortcut took them first)."""

    def __init__(self, view: RowsView) -> None:
        super().__init__()
        self._view = view

    def keyPressEvent(self, event: QKeyEvent) -> None:
        view = self._view
        if self.state() == QAbstractItemView.State.EditingState:
            super().keyPressEvent(event)
            return
        ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        if event.key() == Qt.Key.Key_C and event.modifiers() == ctrl_shift:
            view.copy_selection(header=True)
        elif event.matches(QKeySequence.StandardKey.Copy):
            view.copy_selection()
        elif event.matches(QKeySequence.StandardKey.Paste):
            view.paste()
        elif event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and not event.modifiers():
            view.remove_selected()
        elif event.key() == Qt.Key.Key_Z and event.modifiers() == ctrl_shift:
            view.undo_group.redo()
        elif event.matches(QKeySequence.StandardKey.Undo):
            view.undo_group.undo()
        elif event.matches(QKeySequence.StandardKey.Redo):
            view.undo_group.redo()
        else:
            super().keyPressEvent(event)


class RowsView(QWidget):
    """Edit the rows the Predict and Benchmark views use."""

    sig_checked = Signal(bool)
    """A check of the rows against the model finished: True when they fit."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: ModelDocument | None = None
        self.settings = None
        self._core, self._why = core_module("workbench.core.rows")
        self._check_worker: Worker | None = None
        self._generation = 0
        self._self_update = False
        self.last_check: dict[str, Any] | None = None
        #: one undo history per model; the group's active stack is the shown model's
        self.undo_group = QUndoGroup(self)
        self._stacks: dict[int, QUndoStack] = {}
        self._docs: dict[int, ModelDocument] = {}

        self.stack = QStackedWidget()
        self.empty = placeholder("No model selected." if self._core else self._why)
        self.stack.addWidget(self.empty)

        page = QWidget()
        self.head, self.title, self.subtitle = header("Rows", "")
        self.model = RowsModel()
        self.table = RowsTable(self)
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.horizontalHeader().setDefaultSectionSize(120)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)

        self.load_button = QPushButton(icon("open"), "Load…")
        self.load_button.setToolTip("Fill the table from a CSV (header line first) or JSON records file")
        self.save_button = QPushButton("Save…")
        self.save_button.setToolTip("Save the rows as a CSV or JSON file (Ctrl+S)")
        self.paste_button = QPushButton(icon("paste"), "Paste")
        self.paste_button.setToolTip("Paste rows copied from a spreadsheet or a CSV (Ctrl+V in the table, "
                                     "Ctrl+Shift+V)")
        self.generate_count = QSpinBox()
        self.generate_count.setRange(1, 100_000)
        self.generate_count.setValue(20)
        self.generate_count.setToolTip("How many rows to generate")
        self.generate_count.setMaximumWidth(76)  # six digits fit; the row of buttons must fit a 1024 px window
        self.generate_button = QPushButton(icon("generate"), "Generate")
        self.generate_button.setToolTip("Make up plausible rows from what the model knows of its inputs "
                                        "(categories, value ranges) and from the rows in the table")
        self.add_button = QPushButton(icon("add"), "Add Row")
        self.remove_button = QPushButton(icon("remove"), "Remove")
        self.remove_button.setToolTip("Remove the selected rows (Delete)")
        self.undo_button = _short_action_button("Undo", self.undo_group.createUndoAction(self, "Undo"))
        self.redo_button = _short_action_button("Redo", self.undo_group.createRedoAction(self, "Redo"))
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        bar = QHBoxLayout()
        for w in (self.load_button, self.save_button, self.paste_button):
            bar.addWidget(w)
        bar.addWidget(self.generate_count)
        bar.addWidget(self.generate_button)
        bar.addWidget(self.add_button)
        bar.addWidget(self.remove_button)
        bar.addStretch(1)
        bar.addWidget(self.undo_button)
        bar.addWidget(self.redo_button)

        layout = QVBoxLayout(page)
        layout.addWidget(self.head)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        self.page = page
        self.stack.addWidget(page)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        outer.addWidget(self.stack)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.check)
        self.model.sig_edited.connect(self._edited)
        self.model.modelReset.connect(self._fit_columns)
        # clicked(bool) would land in a slot's first optional parameter: every slot here is called with none
        self.load_button.clicked.connect(lambda: self.load_dialog())
        self.save_button.clicked.connect(lambda: self.save_dialog())
        self.paste_button.clicked.connect(lambda: self.paste())
        self.generate_button.clicked.connect(lambda: self.generate(self.generate_count.value()))
        self.add_button.clicked.connect(lambda: self.add_row())
        self.remove_button.clicked.connect(lambda: self.remove_selected())
        QShortcut(QKeySequence("Ctrl+Shift+V"), self, activated=lambda: self.paste())

    # -- public API -------------------------------------------------------------------------

    def attach(self, window: Any) -> None:
        """Use the window's settings, and drive its Edit menu's Undo / Redo (if it has them)."""
        self.settings = getattr(window, "settings", None)
        actions = getattr(window, "actions", None) or {}
        undo, redo = actions.get("undo"), actions.get("redo")
        if undo is not None:
            self.undo_group.canUndoChanged.connect(undo.setEnabled)
            self.undo_group.undoTextChanged.connect(lambda text: undo.setText(f"&Undo {text}".rstrip()))
            undo.setEnabled(self.undo_group.canUndo())
        if redo is not None:
            self.undo_group.canRedoChanged.connect(redo.setEnabled)
            self.undo_group.redoTextChanged.connect(lambda text: redo.setText(f"&Redo {text}".rstrip()))
            redo.setEnabled(self.undo_group.canRedo())

    def set_document(self, doc: ModelDocument | None) -> None:
        if self.doc is not None:
            self.doc.sig_rows_changed.disconnect(self._rows_changed)
        self.doc = doc
        if doc is None or self._core is None:
            self.model.stack = None
            self.undo_group.setActiveStack(None)
            self.stack.setCurrentWidget(self.empty)
            return
        stack = self.undo_stack(doc)
        self.model.stack = stack
        self.undo_group.setActiveStack(stack)
        doc.sig_rows_changed.connect(self._rows_changed)
        self.stack.setCurrentWidget(self.page)
        self.title.setText(f"Rows for {doc.name}")
        names = ", ".join(f"{s.name} ({s.dtype})" for s in doc.info.inputs[:8])
        more = f", … ({len(doc.info.inputs)} inputs)" if len(doc.info.inputs) > 8 else ""
        self.subtitle.setText(f"Inputs: {names}{more}" if names else "The model does not describe its inputs.")
        if doc.rows is None:
            found = sibling_rows_file(doc.path)
            if found is not None:
                self.load_file(str(found), undoable=False)
                return
        self._rows_changed()

    def undo_stack(self, doc: ModelDocument) -> QUndoStack:
        """The undo history of `doc`'s rows (made on first use, gone with the document)."""
        key = id(doc)
        if key not in self._stacks:
            stack = QUndoStack(self)
            self._stacks[key] = stack
            self._docs[key] = doc
            self.undo_group.addStack(stack)
            doc.destroyed.connect(lambda _obj=None, k=key: self._forget(k))
        return self._stacks[key]

    def has_unsaved_rows(self, doc: ModelDocument) -> bool:
        stack = self._stacks.get(id(doc))
        return stack is not None and not stack.isClean()

    def confirm_discard(self, docs: list[ModelDocument], doing: str = "quitting") -> bool:
        """Ask, for each of `docs` with unsaved row edits, whether to save them; False when the user
        chose Cancel (or cancelled a save), True when `doing` may go on."""
        for doc in docs:
            if not self.has_unsaved_rows(doc):
                continue
            box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved Rows",
                              f"The rows of {doc.name} have changes that are not saved.", parent=self.window())
            box.setInformativeText(f"Save them before {doing}?")
            box.setStandardButtons(QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                                   | QMessageBox.StandardButton.Cancel)
            box.setDefaultButton(QMessageBox.StandardButton.Save)
            answer = box.exec()
            if answer == QMessageBox.StandardButton.Cancel:
                return False
            if answer == QMessageBox.StandardButton.Save and not self.save_dialog(doc):
                return False
        return True

    def load_dialog(self) -> None:
        start = (self.settings.last_folder("rows") if self.settings else "") or (
            str(Path(self.doc.path).parent) if self.doc else "")
        path, _ = QFileDialog.getOpenFileName(self, "Load Rows", start, "Rows (*.csv *.tsv *.json *.jsonl);;All (*)")
        if path:
            if self.settings:
                self.settings.set_last_folder("rows", str(Path(path).parent))
            self.load_file(path)

    def load_file(self, path: str, undoable: bool = True) -> bool:
        """Read a CSV/JSON rows file with the core reader (errors go to the status and messages).

        The rows replace the table as one undoable step, and count as saved (they are the file's)."""
        from workbench.core.errors import InputRowsError

        if self.doc is None:
            return False
        try:
            frame = self._core.read_rows(path)
        except InputRowsError as exc:
            self._show_error(exc, "load rows")
            return False
        message = f"Loaded {len(frame)} rows from {Path(path).name}"
        if undoable:
            self._replace(frame_table(frame), f"Load {Path(path).name}", message)
        else:
            self._self_update = True
            try:
                self.doc.set_rows(frame)
            finally:
                self._self_update = False
            self.model.set_table(*frame_table(frame))
            self._set_status(message, "ok")
            self.check()
        stack = self.model.stack
        if stack is not None:
            stack.setClean()
        return True

    def save_dialog(self, doc: ModelDocument | None = None) -> bool:
        """Ask where to save `doc`'s rows (the shown model's by default), as CSV or JSON; True once saved."""
        doc = doc or self.doc
        if doc is None or doc.rows is None:
            self._set_status("There are no rows to save.", "warn")
            return False
        folder = (self.settings.last_folder("rows") if self.settings else "") or str(Path(doc.path).parent)
        stem = Path(doc.path).stem if not Path(doc.path).is_dir() else Path(doc.path).name
        dialog = QFileDialog(self.window(), f"Save Rows of {doc.name}", str(Path(folder) / f"{stem}.rows.csv"),
                             "CSV (*.csv);;JSON records (*.json)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("csv")
        dialog.filterSelected.connect(lambda f: dialog.setDefaultSuffix("json" if "json" in f else "csv"))
        if not dialog.exec() or not dialog.selectedFiles():
            return False
        path = dialog.selectedFiles()[0]
        if self.settings:
            self.settings.set_last_folder("rows", str(Path(path).parent))
        return self.save_file(path, doc)

    def save_file(self, path: str, doc: ModelDocument | None = None) -> bool:
        """Write `doc`'s rows to `path` (JSON records for .json, else CSV), atomically; they count as saved."""
        doc = doc or self.doc
        if doc is None:
            return False
        columns, cells = self.model.table() if doc is self.doc else frame_table(doc.rows)
        text_columns = {s.name for s in doc.info.inputs if s.dtype in ("string", "object")}
        try:
            kind = save_rows(path, columns, cells, text_columns)
        except OSError as exc:
            self._show_error(exc, "save rows")
            return False
        self.undo_stack(doc).setClean()
        if doc is self.doc:
            self._set_status(f"Saved {len(cells)} rows to {Path(path).name} ({kind})", "ok")
        return True

    def paste(self, text: str | None = None, mode: str | None = None) -> bool:
        """Rows from the clipboard (tab-, comma- or semicolon-separated; header line optional).

        `mode` "append" or "replace" says what to do with rows already in the table; None asks."""
        if self.doc is None:
            return False
        text = QGuiApplication.clipboard().text() if text is None else text
        if not isinstance(text, str) or not text.strip():
            self._set_status("The clipboard holds no text to paste.", "warn")
            return False
        lines = text.strip("\n").splitlines()
        first = [f.strip() for f in _split(lines[0])]
        known = set(self.model.columns) | {s.name for s in self.doc.info.inputs}
        has_header = bool(known & set(first))
        if not has_header:
            if not self.model.columns or len(first) != len(self.model.columns):
                self._set_status(f"Pasted rows have {len(first)} values but the table has "
                                 f"{len(self.model.columns)} columns; paste with a header line.", "bad")
                return False
            sep = _separator(lines[0])  # the header we add must use the rows' own separator
            text = sep.join(self.model.columns) + "\n" + "\n".join(lines)
        from workbench.core.errors import InputRowsError

        fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="workbench-paste-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            frame = self._core.read_rows(tmp)
        except InputRowsError as exc:  # about "the pasted rows", not a temporary file the user never saw
            message = exc.message.replace(f"rows file {tmp}", "the pasted rows").replace(tmp, "the pasted rows")
            self._show_error(InputRowsError(message, exc.problems, hint=exc.hint), "paste rows")
            return False
        finally:
            os.unlink(tmp)
        mode = mode or self._ask_append_or_replace(len(frame), "pasted")
        if mode is None:
            return False
        table, there = frame_table(frame), len(self.model.cells)
        if mode == "append":
            table = joined(self.model.table(), table)
        self._replace(table, f"Paste {len(frame)} Row{'s' if len(frame) != 1 else ''}",
                      f"Pasted {len(frame)} rows" + (f" after the {there} rows there" if mode == "append" else ""))
        return True

    def generate(self, n: int, mode: str | None = None) -> bool:
        """Make up `n` rows (like the rows in the table, where there are some); `mode` as in `paste`."""
        from workbench.core.errors import InputRowsError

        if self.doc is None:
            return False
        mode = mode or self._ask_append_or_replace(n, "generated")
        if mode is None:
            return False
        observed = self.model.frame() if self.model.cells else None
        try:
            frame = self._core.generate_rows(self.doc.info, n, seed=self._generation, observed=observed)
        except InputRowsError as exc:
            self._show_error(exc, "generate rows")
            return False
        self._generation += 1
        table = frame_table(frame)
        if mode == "append":
            table = joined(self.model.table(), table)
        how = "from the model's inputs and the rows in the table" if observed is not None \
            else "from the model's inputs"
        self._replace(table, f"Generate {n} Row{'s' if n != 1 else ''}", f"Generated {n} rows {how}")
        for warning in frame.attrs.get("warnings", []):
            self._set_status(f"Generated {n} rows. Note: {warning}", "warn")
        return True

    def add_row(self) -> None:
        if self.doc is not None:
            self.model.add_row()
            self.table.scrollToBottom()

    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.table.selectedIndexes()})

    def remove_selected(self) -> int:
        """Remove the rows that have a selected cell (one undoable step); returns how many."""
        rows = self.selected_rows()
        if not rows:
            self._set_status("Select cells in the rows to remove first.", "warn")
            return 0
        count = self.model.remove_rows(rows)
        self._set_status(f"Removed {count} row{'s' if count != 1 else ''} (Ctrl+Z brings "
                         f"{'them' if count != 1 else 'it'} back)", "ok")
        return count

    def copy_selection(self, header: bool = False) -> str:
        """Copy the selected cells as tab-separated text (the rectangle around them), for a spreadsheet."""
        selected = [(i.row(), i.column()) for i in self.table.selectedIndexes()]
        text = selection_tsv(self.model.cells, self.model.columns, selected, header=header)
        if text:
            QGuiApplication.clipboard().setText(text)
        return text

    def check(self) -> None:
        """Check the rows against the model on a worker; bad cells get marked."""
        if self.doc is None or self._core is None or not self.model.columns:
            return
        if self._check_worker is not None and not self._check_worker.is_done:
            self._check_worker.cancel()
        frame = self.model.frame()
        self._check_worker = run_in_worker(_check, frame, self.doc.info, name="check rows",
                                           on_result=self._checked)

    # -- private ----------------------------------------------------------------------------

    def _ask_append_or_replace(self, count: int, what: str) -> str | None:
        """"append" or "replace" when the table has rows (asked), "replace" when it has none; None: cancel."""
        if not self.model.cells:
            return "replace"
        n = len(self.model.cells)
        box = QMessageBox(QMessageBox.Icon.Question, "Append or Replace?",
                          f"The table has {n} row{'s' if n != 1 else ''}. Add the {count} {what} "
                          f"row{'s' if count != 1 else ''} after them, or replace them?", parent=self.window())
        box.setInformativeText("Either way, Undo (Ctrl+Z) takes it back.")
        append = box.addButton("Append", QMessageBox.ButtonRole.AcceptRole)
        replace = box.addButton("Replace", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(append)
        box.exec()
        clicked = box.clickedButton()
        return "append" if clicked is append else "replace" if clicked is replace else None

    def _replace(self, table: Table, command: str, message: str) -> None:
        """Put `table` in as one undoable step, and check it at once."""
        self.model.replace(*table, command)
        self._set_status(message, "ok")
        self._debounce.stop()
        self.check()

    def _fit_columns(self) -> None:
        self.table.resizeColumnsToContents()
        for c in range(len(self.model.columns)):
            self.table.setColumnWidth(c, max(90, min(self.table.columnWidth(c) + 16, 260)))

    def _forget(self, key: int) -> None:
        import shiboken6

        if not shiboken6.isValid(self.undo_group):  # the view went first (the window is closing)
            return
        stack = self._stacks.pop(key, None)
        self._docs.pop(key, None)
        if stack is not None:
            if self.model.stack is stack:
                self.model.stack = None
            self.undo_group.removeStack(stack)
            stack.deleteLater()

    def _show_frame(self, frame: Any) -> None:
        self.model.set_table(*frame_table(frame))

    def _rows_changed(self) -> None:
        if self._self_update or self.doc is None:
            return
        if self.doc.rows is None:
            columns = [s.name for s in self.doc.info.inputs]
            self.model.set_table(columns, [])
            self._set_status("No rows yet: load a CSV, paste, generate from the schema, or add rows and type.",
                             "warn")
        else:
            self._show_frame(self.doc.rows)
            self.check()

    def _edited(self) -> None:
        if self.doc is None:
            return
        self._self_update = True
        try:
            self.doc.set_rows(self.model.frame())
        finally:
            self._self_update = False
        self._debounce.start()

    def _checked(self, result: dict[str, Any]) -> None:
        self.last_check = result
        columns: dict[str, str] = {}
        for problem in result["other"]:
            for name in self.model.columns:
                if repr(name) in problem or f"'{name}'" in problem:
                    columns[name] = problem
        notes = result.get("notes") or {}
        self.model.set_problems(result["cells"], columns, notes)
        if result["ok"] and notes:
            k = len(notes)
            self._set_status(f"⚠ {result['message']}, but {k} cell{'s' if k != 1 else ''} "
                             f"{'hold categories' if k != 1 else 'holds a category'} the model does not know "
                             "(marked; hover for the known ones)", "warn")
        elif result["ok"]:
            self._set_status(f"✓ {result['message']}", "ok")
        else:
            extra = [p for p in result["other"] if p not in columns.values()]
            tail = ("\n" + "\n".join(extra[:4])) if extra else ""
            self._set_status(f"✗ {result['message']}{tail}", "bad")
        self.sig_checked.emit(bool(result["ok"]))

    def _context_menu(self, pos: Any) -> None:
        menu = QMenu(self)
        menu.addAction("Copy", lambda: self.copy_selection())
        menu.addAction("Copy with Column Names", lambda: self.copy_selection(header=True))
        menu.addAction("Paste Rows", lambda: self.paste())
        menu.addSeparator()
        menu.addAction("Add Row", lambda: self.add_row())
        menu.addAction("Remove Rows", lambda: self.remove_selected())
        menu.exec(self.table.viewport().mapToGlobal(pos))

    def _set_status(self, text: str, kind: str) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {color({'ok': 'ok', 'bad': 'bad'}.get(kind, 'warn')).name()};")

    def _show_error(self, exc: BaseException, context: str) -> None:
        message, hint, details = describe_exception(exc)
        self._set_status(f"✗ {message}" + (f" ({hint})" if hint else ""), "bad")
        notify(message, "error", hint=hint, details=details, context=context)

def _separator(line: str) -> str:
    """The separator of a pasted line: tab, then semicolon, then comma."""
    return next((sep for sep in ("\t", ";", ",") if sep in line), ",")


def _split(line: str) -> list[str]:
    return line.split(_separator(line))


def _short_action_button(label: str, action: QAction) -> QToolButton:
    """A tool button that triggers `action` but keeps its short `label`: the undo stack's texts ("Undo Edit
    age in row 1") go to the tooltip, so the button row keeps its width as the history changes."""
    button = QToolButton()
    button.setText(label)

    def follow() -> None:
        button.setEnabled(action.isEnabled())
        button.setToolTip(action.text())

    action.changed.connect(follow)
    button.clicked.connect(lambda: action.trigger())
    follow()
    return button
