"""The rows table: filled from a CSV/JSON file, pasted, typed or generated from the schema.

Cells are kept as the text the user sees; `workbench.core.rows.prepare_rows` checks them against
the model's inputs (on a worker) and every bad cell is marked with its reason.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.document import ModelDocument
from workbench.gui.notifications import describe_exception, notify
from workbench.gui.resources import icon
from workbench.gui.views.common import color, core_module, header, placeholder
from workbench.gui.workers import Worker, run_in_worker

Index = QModelIndex | QPersistentModelIndex


def cell_text(value: Any) -> str:
    """How a value shows in the table (missing values as an empty cell)."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _is_number(text: Any) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return str(text).strip().lower() not in ("nan", "inf", "-inf", "infinity", "-infinity", "")


class RowsModel(QAbstractTableModel):
    """Text cells, editable, with per-cell problems."""

    sig_edited = Signal()
    """The user changed cells (not emitted by `set_table`)."""

    def __init__(self) -> None:
        super().__init__()
        self.columns: list[str] = []
        self.cells: list[list[str]] = []
        #: (row index from 0, column name) -> reason
        self.problems: dict[tuple[int, str], str] = {}
        self.column_problems: dict[str, str] = {}

    # -- public API -------------------------------------------------------------------------

    def set_table(self, columns: list[str], cells: list[list[str]]) -> None:
        self.beginResetModel()
        self.columns = list(columns)
        self.cells = [list(r) + [""] * (len(columns) - len(r)) for r in cells]
        self.problems = {}
        self.column_problems = {}
        self.endResetModel()

    def set_problems(self, cells: dict[tuple[int, str], str], columns: dict[str, str]) -> None:
        self.problems = dict(cells)
        self.column_problems = dict(columns)
        if self.cells:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.cells) - 1, len(self.columns) - 1))
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, max(len(self.columns) - 1, 0))

    def frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame([list(r) for r in self.cells], columns=list(self.columns), dtype=object)

    def add_row(self) -> None:
        n = len(self.cells)
        self.beginInsertRows(QModelIndex(), n, n)
        self.cells.append([""] * len(self.columns))
        self.endInsertRows()
        self.sig_edited.emit()

    def remove_rows(self, rows: list[int]) -> None:
        if not rows:
            return
        self.beginResetModel()
        keep = set(range(len(self.cells))) - set(rows)
        self.cells = [r for i, r in enumerate(self.cells) if i in keep]
        self.problems = {}
        self.endResetModel()
        self.sig_edited.emit()

    # -- Qt model API -------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.cells)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        key = (r, self.columns[c])
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self.cells[r][c]
        if role == Qt.ItemDataRole.BackgroundRole and (key in self.problems or self.columns[c] in
                                                        self.column_problems):
            return color("bad_bg")
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.problems.get(key) or self.column_problems.get(self.columns[c])
        if role == Qt.ItemDataRole.TextAlignmentRole and _is_number(self.cells[r][c]):
            # numbers line up on the right, as in Predict; text stays on the left
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        self.cells[index.row()][index.column()] = str(value)
        self.problems.pop((index.row(), self.columns[index.column()]), None)
        self.dataChanged.emit(index, index)
        self.sig_edited.emit()
        return True

    def flags(self, index: Index) -> Qt.ItemFlag:
        return super().flags(index) | Qt.ItemFlag.ItemIsEditable

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            if section >= len(self.columns):
                return None
            name = self.columns[section]
            if role == Qt.ItemDataRole.DisplayRole:
                return name
            if role == Qt.ItemDataRole.ToolTipRole:
                return self.column_problems.get(name)
            if role == Qt.ItemDataRole.ForegroundRole and name in self.column_problems:
                return color("bad")
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return str(section + 1)
        return None


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
        return {"ok": False, "message": exc.message, "cells": cells, "other": others, "prepared": None}
    return {"ok": True, "message": f"{len(prepared)} rows fit the model's inputs", "cells": {}, "other": [],
            "prepared": prepared}


def sibling_rows_file(model_path: str) -> Path | None:
    """A `<stem>.rows.csv` (or `<stem>_<ext>.rows.csv`) next to the model, as the sample models have."""
    p = Path(model_path)
    stem = p.name if p.is_dir() else p.stem
    ext = p.suffix.lstrip(".")
    for name in (f"{stem}_{ext}.rows.csv" if ext else None, f"{stem}.rows.csv", f"{stem}_native.rows.csv"):
        if name and (p.parent / name).is_file():
            return p.parent / name
    return None


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

        self.stack = QStackedWidget()
        self.empty = placeholder("No model selected." if self._core else self._why)
        self.stack.addWidget(self.empty)

        page = QWidget()
        self.head, self.title, self.subtitle = header("Rows", "")
        self.model = RowsModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.horizontalHeader().setDefaultSectionSize(120)
        self.table.verticalHeader().setDefaultSectionSize(24)

        self.load_button = QPushButton(icon("open"), "Load CSV/JSON…")
        self.load_button.setToolTip("Fill the table from a CSV (header line first) or JSON records file")
        self.paste_button = QPushButton(icon("paste"), "Paste")
        self.paste_button.setToolTip("Paste rows copied from a spreadsheet or a CSV (Ctrl+Shift+V)")
        self.generate_count = QSpinBox()
        self.generate_count.setRange(1, 100_000)
        self.generate_count.setValue(20)
        self.generate_count.setToolTip("How many rows to generate")
        self.generate_button = QPushButton(icon("generate"), "Generate")
        self.generate_button.setToolTip("Make up plausible rows from the model's input schema "
                                        "(categories and known ranges)")
        self.add_button = QPushButton(icon("add"), "Add Row")
        self.remove_button = QPushButton(icon("remove"), "Remove")
        self.remove_button.setToolTip("Remove the selected rows")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        bar = QHBoxLayout()
        for w in (self.load_button, self.paste_button):
            bar.addWidget(w)
        bar.addSpacing(12)
        bar.addWidget(self.generate_count)
        bar.addWidget(self.generate_button)
        bar.addSpacing(12)
        bar.addWidget(self.add_button)
        bar.addWidget(self.remove_button)
        bar.addStretch(1)

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
        self.load_button.clicked.connect(self.load_dialog)
        self.paste_button.clicked.connect(self.paste)
        self.generate_button.clicked.connect(lambda: self.generate(self.generate_count.value()))
        self.add_button.clicked.connect(self.model.add_row)
        self.remove_button.clicked.connect(
            lambda: self.model.remove_rows(sorted({i.row() for i in self.table.selectedIndexes()})))
        QShortcut(QKeySequence("Ctrl+Shift+V"), self, activated=self.paste)

    # -- public API -------------------------------------------------------------------------

    def attach(self, window: Any) -> None:
        self.settings = getattr(window, "settings", None)

    def set_document(self, doc: ModelDocument | None) -> None:
        if self.doc is not None:
            self.doc.sig_rows_changed.disconnect(self._rows_changed)
        self.doc = doc
        if doc is None or self._core is None:
            self.stack.setCurrentWidget(self.empty)
            return
        doc.sig_rows_changed.connect(self._rows_changed)
        self.stack.setCurrentWidget(self.page)
        self.title.setText(f"Rows for {doc.name}")
        names = ", ".join(f"{s.name} ({s.dtype})" for s in doc.info.inputs[:8])
        more = f", … ({len(doc.info.inputs)} inputs)" if len(doc.info.inputs) > 8 else ""
        self.subtitle.setText(f"Inputs: {names}{more}" if names else "The model does not describe its inputs.")
        if doc.rows is None:
            found = sibling_rows_file(doc.path)
            if found is not None:
                self.load_file(str(found))
                return
        self._rows_changed()

    def load_dialog(self) -> None:
        start = (self.settings.last_folder("rows") if self.settings else "") or (
            str(Path(self.doc.path).parent) if self.doc else "")
        path, _ = QFileDialog.getOpenFileName(self, "Load Rows", start, "Rows (*.csv *.tsv *.json *.jsonl);;All (*)")
        if path:
            if self.settings:
                self.settings.set_last_folder("rows", str(Path(path).parent))
            self.load_file(path)

    def load_file(self, path: str) -> bool:
        """Read a CSV/JSON rows file with the core reader (errors go to the status and messages)."""
        from workbench.core.errors import InputRowsError

        try:
            frame = self._core.read_rows(path)
        except InputRowsError as exc:
            self._show_error(exc, "load rows")
            return False
        self._set_frame(frame, f"Loaded {len(frame)} rows from {Path(path).name}")
        return True

    def paste(self, text: str | None = None) -> bool:
        """Rows from the clipboard (tab-, comma- or semicolon-separated; header line optional)."""
        if self.doc is None:
            return False
        text = QGuiApplication.clipboard().text() if text is None else text
        if not text.strip():
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
        frame.attrs.pop("source", None)
        if not has_header and self.model.cells:
            import pandas as pd

            frame = pd.concat([self.model.frame(), frame], ignore_index=True)
        self._set_frame(frame, f"Pasted {len(frame)} rows")
        return True

    def generate(self, n: int) -> bool:
        from workbench.core.errors import InputRowsError

        if self.doc is None:
            return False
        try:
            frame = self._core.generate_rows(self.doc.info, n, seed=self._generation)
        except InputRowsError as exc:
            self._show_error(exc, "generate rows")
            return False
        self._generation += 1
        self._set_frame(frame, f"Generated {n} rows from the input schema")
        return True

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

    def _set_frame(self, frame: Any, message: str) -> None:
        assert self.doc is not None
        self._self_update = True
        try:
            self.doc.set_rows(frame)
        finally:
            self._self_update = False
        self._show_frame(frame)
        self._set_status(message, "ok")
        self.check()

    def _show_frame(self, frame: Any) -> None:
        columns = [str(c) for c in frame.columns]
        by_column = []
        for c in frame.columns:
            series = frame[c]
            if str(series.dtype) in ("float32", "float16"):  # shortest text that round-trips at that precision
                values = [cell_text(None if np.isnan(v) else str(v)) for v in series.to_numpy()]
            else:
                values = [cell_text(v) for v in series.tolist()]
            by_column.append(values)
        cells = [list(row) for row in zip(*by_column, strict=True)] if by_column else []
        self.model.set_table(columns, cells)
        self.table.resizeColumnsToContents()
        for c in range(len(columns)):
            self.table.setColumnWidth(c, max(90, min(self.table.columnWidth(c) + 16, 260)))

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
        self.model.set_problems(result["cells"], columns)
        if result["ok"]:
            self._set_status(f"✓ {result['message']}", "ok")
        else:
            extra = [p for p in result["other"] if p not in columns.values()]
            tail = ("\n" + "\n".join(extra[:4])) if extra else ""
            self._set_status(f"✗ {result['message']}{tail}", "bad")
        self.sig_checked.emit(bool(result["ok"]))

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
