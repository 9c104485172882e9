"""The rows table's model: text cells, per-cell problems, and every edit as an undoable command.

Edits made through the model (`setData`, `add_row`, `replace`, `remove_rows`) go on its
`QUndoStack` when it has one, so the Edit menu can take them back; `set_table` is for showing rows
that came from elsewhere and is not an edit. Saving (CSV or JSON records) is here too, written
atomically by `workbench.core.files`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from workbench.gui.views.common import color

Index = QModelIndex | QPersistentModelIndex
Table = tuple[list[str], list[list[str]]]


def cell_text(value: Any) -> str:
    """How a value shows in the table (missing values as an empty cell)."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def is_number(text: Any) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return str(text).strip().lower() not in ("nan", "inf", "-inf", "infinity", "-infinity", "")


def frame_table(frame: Any) -> Table:
    """A pandas frame as (column names, rows of cell texts); float32 values as their shortest text."""
    import numpy as np

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
    return columns, cells


def joined(first: Table, second: Table) -> Table:
    """The rows of `second` after those of `first`; columns only `second` has are added at the end."""
    columns = list(first[0]) + [c for c in second[0] if c not in first[0]]
    where = {c: second[0].index(c) for c in columns if c in second[0]}
    pad = len(columns) - len(first[0])
    cells = [list(r) + [""] * pad for r in first[1]]
    cells += [[row[where[c]] if c in where else "" for c in columns] for row in second[1]]
    return columns, cells


# ------------------------------------------------------------------------------ commands

class TableCommand(QUndoCommand):
    """The whole table before and after (paste, generate, load, remove rows)."""

    def __init__(self, model: RowsModel, before: Table, after: Table, text: str) -> None:
        super().__init__(text)
        self.model, self.before, self.after = model, before, after

    def redo(self) -> None:
        self.model.apply_table(*self.after)

    def undo(self) -> None:
        self.model.apply_table(*self.before)


class CellCommand(QUndoCommand):
    """One cell typed over."""

    def __init__(self, model: RowsModel, row: int, column: int, old: str, new: str) -> None:
        name = model.columns[column] if column < len(model.columns) else str(column)
        super().__init__(f"Edit {name} in row {row + 1}")
        self.model, self.row, self.column, self.old, self.new = model, row, column, old, new

    def redo(self) -> None:
        self.model.apply_cell(self.row, self.column, self.new)

    def undo(self) -> None:
        self.model.apply_cell(self.row, self.column, self.old)


class AddRowCommand(QUndoCommand):
    def __init__(self, model: RowsModel) -> None:
        super().__init__("Add Row")
        self.model = model

    def redo(self) -> None:
        self.model.apply_insert([[""] * len(self.model.columns)])

    def undo(self) -> None:
        self.model.apply_remove_last(1)


# ------------------------------------------------------------------------------ the model

class RowsModel(QAbstractTableModel):
    """Text cells, editable, with per-cell problems; edits go through `stack` when it is set."""

    sig_edited = Signal()
    """The cells changed by an edit, its undo or its redo (not emitted by `set_table`)."""

    def __init__(self) -> None:
        super().__init__()
        self.columns: list[str] = []
        self.cells: list[list[str]] = []
        #: (row index from 0, column name) -> reason
        self.problems: dict[tuple[int, str], str] = {}
        #: (row index from 0, column name) -> a warning (e.g. an unknown category the model accepts)
        self.notes: dict[tuple[int, str], str] = {}
        self.column_problems: dict[str, str] = {}
        #: where edits go to be undoable (None: applied at once)
        self.stack: QUndoStack | None = None

    # -- showing rows -------------------------------------------------------------------------

    def set_table(self, columns: list[str], cells: list[list[str]]) -> None:
        """Show rows that came from elsewhere (not an edit: no undo step, no `sig_edited`)."""
        self.beginResetModel()
        self.columns = list(columns)
        self.cells = [list(r) + [""] * (len(columns) - len(r)) for r in cells]
        self.problems, self.notes, self.column_problems = {}, {}, {}
        self.endResetModel()

    def table(self) -> Table:
        """A copy of (columns, cells)."""
        return list(self.columns), [list(r) for r in self.cells]

    def set_problems(self, cells: dict[tuple[int, str], str], columns: dict[str, str],
                     notes: dict[tuple[int, str], str] | None = None) -> None:
        self.problems = dict(cells)
        self.notes = dict(notes or {})
        self.column_problems = dict(columns)
        if self.cells:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.cells) - 1, len(self.columns) - 1))
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, max(len(self.columns) - 1, 0))

    def frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame([list(r) for r in self.cells], columns=list(self.columns), dtype=object)

    # -- edits (undoable) -----------------------------------------------------------------------

    def push(self, command: QUndoCommand) -> None:
        if self.stack is not None:
            self.stack.push(command)
        else:
            command.redo()

    def replace(self, columns: list[str], cells: list[list[str]], text: str) -> None:
        """Put a whole new table in, as one undoable step named `text`."""
        self.push(TableCommand(self, self.table(), (list(columns), [list(r) for r in cells]), text))

    def add_row(self) -> None:
        self.push(AddRowCommand(self))

    def remove_rows(self, rows: list[int]) -> int:
        """Remove rows (indices from 0) as one undoable step; returns how many went."""
        gone = {r for r in rows if 0 <= r < len(self.cells)}
        if not gone:
            return 0
        kept = [list(r) for i, r in enumerate(self.cells) if i not in gone]
        self.replace(self.columns, kept, f"Remove {len(gone)} Row{'s' if len(gone) != 1 else ''}")
        return len(gone)

    # -- what commands do ---------------------------------------------------------------------

    def apply_table(self, columns: list[str], cells: list[list[str]]) -> None:
        self.set_table(columns, cells)
        self.sig_edited.emit()

    def apply_cell(self, row: int, column: int, text: str) -> None:
        self.cells[row][column] = text
        self.problems.pop((row, self.columns[column]), None)
        self.notes.pop((row, self.columns[column]), None)
        index = self.index(row, column)
        self.dataChanged.emit(index, index)
        self.sig_edited.emit()

    def apply_insert(self, rows: list[list[str]]) -> None:
        n = len(self.cells)
        self.beginInsertRows(QModelIndex(), n, n + len(rows) - 1)
        self.cells.extend(list(r) for r in rows)
        self.endInsertRows()
        self.sig_edited.emit()

    def apply_remove_last(self, count: int) -> None:
        n = len(self.cells)
        self.beginRemoveRows(QModelIndex(), n - count, n - 1)
        del self.cells[n - count:]
        self.endRemoveRows()
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
        if role == Qt.ItemDataRole.BackgroundRole and (key in self.problems or key in self.notes
                                                        or self.columns[c] in self.column_problems):
            return color("bad_bg")
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.problems.get(key) or self.notes.get(key) or self.column_problems.get(self.columns[c])
        if role == Qt.ItemDataRole.TextAlignmentRole and is_number(self.cells[r][c]):
            # numbers line up on the right, as in Predict; text stays on the left
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        r, c = index.row(), index.column()
        new = "" if value is None else str(value)
        if new == self.cells[r][c]:
            return False  # opening and leaving an editor is not an edit
        self.push(CellCommand(self, r, c, self.cells[r][c], new))
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


# ------------------------------------------------------------------------------ copy and save

def selection_tsv(cells: list[list[str]], columns: list[str], selected: list[tuple[int, int]],
                  header: bool = False) -> str:
    """The selected cells as tab-separated lines: the rectangle around the selection, cells in it
    that are not selected left empty; with `header`, the column names first."""
    if not selected:
        return ""
    rows = [r for r, _ in selected]
    cols = [c for _, c in selected]
    top, bottom, left, right = min(rows), max(rows), min(cols), max(cols)
    chosen = set(selected)

    def clean(text: str) -> str:  # a tab or newline inside a cell would break the rectangle
        return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")

    lines = []
    if header:
        lines.append("\t".join(clean(columns[c]) for c in range(left, right + 1)))
    for r in range(top, bottom + 1):
        lines.append("\t".join(clean(cells[r][c]) if (r, c) in chosen else "" for c in range(left, right + 1)))
    return "\n".join(lines) + "\n"


def rows_csv(columns: list[str], cells: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(cells)
    return out.getvalue()


def _json_value(text: str, numeric: bool) -> Any:
    if text == "":
        return None
    if numeric and is_number(text):
        number = float(text)
        stripped = text.strip()
        if number.is_integer() and "." not in stripped and "e" not in stripped.lower():
            return int(number)
        return number
    return text


def rows_json(columns: list[str], cells: list[list[str]], text_columns: set[str] = frozenset()) -> str:  # type: ignore[assignment]
    """JSON records: numbers as numbers (except in `text_columns`), empty cells as null."""
    records = [{c: _json_value(v, c not in text_columns) for c, v in zip(columns, row, strict=True)}
               for row in cells]
    return json.dumps(records, indent=1, ensure_ascii=False) + "\n"


def save_rows(path: str | Path, columns: list[str], cells: list[list[str]],
              text_columns: set[str] = frozenset()) -> str:  # type: ignore[assignment]
    """Write the rows to `path` (JSON records for .json, else CSV) atomically; returns the format."""
    from workbench.core.files import atomic_write_text

    p = Path(path)
    if p.suffix.lower() == ".json":
        atomic_write_text(p, rows_json(columns, cells, text_columns))
        return "JSON"
    atomic_write_text(p, rows_csv(columns, cells))
    return "CSV"
