"""Overview of a model: format, framework, task, inputs/outputs, classes, metadata, warnings."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.types import ModelInfo, TensorSpec
from workbench.gui.document import ModelDocument
from workbench.gui.views.common import header, placeholder, short_value

SPEC_COLUMNS = ("Name", "Type", "Shape", "Categories / range", "Missing")


def shape_text(shape: tuple[int | None, ...] | None) -> str:
    if shape is None:
        return "unknown"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def spec_cells(spec: TensorSpec) -> list[str]:
    if spec.categories is not None:
        cats = ", ".join(str(c) for c in spec.categories[:12])
        extra = f" … (+{len(spec.categories) - 12})" if len(spec.categories) > 12 else ""
        detail = f"{{{cats}{extra}}}"
    elif spec.value_range is not None:
        lo, hi = spec.value_range
        # tree ensembles know only where they split: say so, values beyond are fine
        detail = f"splits {lo:g} … {hi:g}" if spec.range_from_splits else f"{lo:g} … {hi:g}"
    elif spec.typical is not None:  # what a scaler or imputer saw in training: mean ± std
        mean, std = spec.typical
        detail = f"≈ {mean:.4g} ± {std:.3g}"
    else:
        detail = ""
    return [spec.name, spec.dtype, shape_text(spec.shape), detail, "yes" if spec.accepts_missing else ""]


def count_text(n: int, one: str, many: str) -> str:
    """"1 item", "2 items", "0 entries"."""
    return f"{n} {one if n == 1 else many}"


def _plain(value: Any) -> str:
    """A metadata value as a person reads it: yes/no, an em dash for nothing, else its text."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _size_text(n: int) -> str:
    """1,234 bytes / 12.3 KB / 4.5 MB."""
    if n < 1024:
        return f"{n:,} bytes"
    if n < 1024**2:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024**2:.1f} MB"


def fill_tree(tree: QTreeWidget, data: Any) -> None:
    """Metadata as a tree; long values are elided in the middle (hashes, paths) with the full text as tooltip."""
    tree.clear()

    def add(parent: QTreeWidgetItem | QTreeWidget, key: str, value: Any) -> None:
        if isinstance(value, dict):
            item = QTreeWidgetItem([key, count_text(len(value), "entry", "entries")])
            for k, v in value.items():
                add(item, str(k), v)
        elif isinstance(value, list | tuple) and value and any(isinstance(v, dict | list) for v in value):
            item = QTreeWidgetItem([key, count_text(len(value), "item", "items")])
            for i, v in enumerate(value):
                add(item, f"[{i}]", v)
        else:
            text = ", ".join(_plain(v) for v in value) if isinstance(value, list | tuple) else _plain(value)
            if key == "file_size" and isinstance(value, int):
                text = _size_text(value)
            item = QTreeWidgetItem([key, short_value(text, 2000)])
            item.setToolTip(1, short_value(text, 2000))
        item.setToolTip(0, key)
        if isinstance(parent, QTreeWidget):
            parent.addTopLevelItem(item)
        else:
            parent.addChild(item)

    for k, v in (data or {}).items():
        add(tree, str(k), v)
    tree.expandToDepth(0)
    tree.resizeColumnToContents(0)
    tree.setColumnWidth(0, min(max(tree.columnWidth(0) + 8, 90), 200))


class SpecTable(QTableWidget):
    """Inputs or outputs: as tall as its rows up to `max_rows` (no scrollbar for small models)."""

    def __init__(self, max_rows: int = 12) -> None:
        super().__init__(0, len(SPEC_COLUMNS))
        self.max_rows = max_rows
        self.setHorizontalHeaderLabels(SPEC_COLUMNS)
        self.verticalHeader().setVisible(False)
        # compact rows: text height plus a little air (the style's default is ~30 px)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)

    def set_specs(self, specs: list[TensorSpec]) -> None:
        # "Missing" only when some input says it accepts missing values: an empty column is noise
        self.setColumnHidden(SPEC_COLUMNS.index("Missing"), not any(s.accepts_missing for s in specs))
        self.setRowCount(len(specs))
        for r, spec in enumerate(specs):
            for c, text in enumerate(spec_cells(spec)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.setItem(r, c, item)
        self._fit()

    def content_height(self, rows: int | None = None) -> int:
        """Pixels to show `rows` rows (default: all, up to max_rows) with the header and no scrollbar."""
        n = min(self.rowCount(), self.max_rows) if rows is None else rows
        h = self.horizontalHeader().sizeHint().height() + 2 * self.frameWidth()
        h += n * self.verticalHeader().defaultSectionSize()
        if self.horizontalScrollBar().isVisible():
            h += self.horizontalScrollBar().sizeHint().height()
        return h + 2

    def _fit(self) -> None:
        if self.rowCount() <= self.max_rows:
            self.setMaximumHeight(self.content_height(max(1, self.rowCount())))
        else:  # a big model: up to max_rows then a scrollbar, and it may take all the room there is
            self.setMaximumHeight(16777215)
        self.setMinimumHeight(self.content_height(min(max(1, self.rowCount()), 3)))
        self.updateGeometry()

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(hint.width(), self.content_height(max(1, min(self.rowCount(), self.max_rows))))

    def rows_visible(self) -> int:
        """How many rows fit without scrolling in the current height (for tests)."""
        viewport = self.viewport().height()
        return min(self.rowCount(), viewport // max(1, self.verticalHeader().defaultSectionSize()))


class OverviewView(QWidget):
    """What inspection found; "Trust and load" re-opens an untrusted model (pickle, SavedModel) with trust."""

    sig_trust_requested = Signal(str)
    """The user asked to load this (pickle) path with trust."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: ModelDocument | None = None
        self.stack = QStackedWidget()
        self.empty = placeholder("No model selected.\n\nDrop a model file or folder on the window, "
                                 "or use File ▸ Open (Ctrl+O).")
        self.stack.addWidget(self.empty)

        page = QWidget()
        self.head, self.title, self.subtitle = header("", "")
        # the facts in two columns: three short lines instead of five
        self.facts = QGridLayout()
        self.facts.setHorizontalSpacing(8)
        self.facts.setVerticalSpacing(2)
        self.fact_labels: dict[str, QLabel] = {}
        places = {"Format": (0, 0, 1), "Framework": (0, 2, 1), "Task": (1, 0, 1), "Classes": (1, 2, 1),
                  "Loaded": (2, 0, 3)}
        for key, (row, col, span) in places.items():
            label = QLabel()
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            self.fact_labels[key] = label
            name = QLabel(f"{key}:")
            name.setObjectName("viewSubtitle")
            name.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
            self.facts.addWidget(name, row, col)
            self.facts.addWidget(label, row, col + 1, 1, span)
        self.facts.setColumnStretch(1, 1)
        self.facts.setColumnStretch(3, 2)

        self.warning_box = QFrame()
        self.warning_box.setObjectName("warningBox")
        wl = QHBoxLayout(self.warning_box)
        self.warning_text = QLabel()
        self.warning_text.setWordWrap(True)
        self.warning_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.trust_button = QPushButton("Trust and load…")
        self.trust_button.setToolTip("Loading it runs code from the file (unpickling, a SavedModel's "
                                     "initializers, Keras Lambda layers): only if you trust where it came from")
        self.trust_button.clicked.connect(lambda: self.doc and self.sig_trust_requested.emit(self.doc.path))
        wl.addWidget(self.warning_text, 1)
        wl.addWidget(self.trust_button, 0, Qt.AlignmentFlag.AlignTop)

        self.inputs = SpecTable()
        self.outputs = SpecTable(max_rows=6)
        self.metadata = QTreeWidget()
        self.metadata.setHeaderLabels(["Key", "Value"])
        self.metadata.setColumnWidth(0, 150)
        self.metadata.setAlternatingRowColors(True)
        self.metadata.setTextElideMode(Qt.TextElideMode.ElideMiddle)   # hashes and paths keep both ends
        self.metadata.setUniformRowHeights(True)

        inputs_box = QGroupBox("Inputs")
        QVBoxLayout(inputs_box).addWidget(self.inputs)
        outputs_box = QGroupBox("Outputs")
        QVBoxLayout(outputs_box).addWidget(self.outputs)
        meta_box = QGroupBox("Metadata")
        QVBoxLayout(meta_box).addWidget(self.metadata)
        self.inputs_box, self.outputs_box = inputs_box, outputs_box
        for box in (inputs_box, outputs_box, meta_box):
            box.layout().setContentsMargins(6, 6, 6, 6)

        # the tables take the height of their rows; what is left stays empty below them
        tables = QWidget()
        tl = QVBoxLayout(tables)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(inputs_box)
        tl.addWidget(outputs_box)
        tl.addStretch(1)
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(tables)
        body.addWidget(meta_box)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 2)
        body.setSizes([600, 400])
        body.setChildrenCollapsible(False)

        layout = QVBoxLayout(page)
        layout.addWidget(self.head)
        layout.addLayout(self.facts)
        layout.addWidget(self.warning_box)
        layout.addWidget(body, 1)
        self.page = page
        self.stack.addWidget(page)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        outer.addWidget(self.stack)

    # -- public API -------------------------------------------------------------------------

    def set_document(self, doc: ModelDocument | None) -> None:
        if self.doc is not None:
            self.doc.sig_info_changed.disconnect(self._refresh)
        self.doc = doc
        if doc is not None:
            doc.sig_info_changed.connect(self._refresh)
        self._refresh()

    # -- private ----------------------------------------------------------------------------

    def _refresh(self) -> None:
        doc = self.doc
        if doc is None:
            self.stack.setCurrentWidget(self.empty)
            return
        info: ModelInfo = doc.info
        self.stack.setCurrentWidget(self.page)
        self.title.setText(doc.name)
        self.subtitle.setText(info.path)
        version = f" {info.framework_version}" if info.framework_version else ""
        self.fact_labels["Format"].setText(info.format)
        self.fact_labels["Framework"].setText(f"{info.framework}{version}")
        estimator = info.metadata.get("estimator") if isinstance(info.metadata, dict) else None
        short = str(estimator).rsplit(".", 1)[-1] if estimator else ""
        self.fact_labels["Task"].setText(info.task + (f"  ({short})" if short else ""))
        self.fact_labels["Task"].setToolTip(str(estimator or ""))
        self.fact_labels["Classes"].setText(
            ", ".join(str(c) for c in info.classes) if info.classes is not None else "—")
        if info.loaded:
            loaded = "yes"
        elif info.format == "sklearn":  # a pickle: loading it runs code from the file
            loaded = "no (inspected without running code from the file)"
        elif self._needs_trust(info) and not doc.trusted:
            loaded = "read from the file; loading it runs code from the file: trust it to predict"
        else:
            loaded = "read from the file; each runtime loads it to predict"
        if doc.trusted:
            loaded += " · trusted by you"
        self.fact_labels["Loaded"].setText(loaded)
        self.inputs_box.setTitle(f"Inputs ({len(info.inputs)})")
        self.outputs_box.setTitle(f"Outputs ({len(info.outputs)})")
        self.inputs.set_specs(info.inputs)
        self.outputs.set_specs(info.outputs)
        fill_tree(self.metadata, info.metadata)
        self.warning_box.setVisible(bool(info.warnings))
        self.warning_text.setText("\n".join(f"⚠ {w}" for w in info.warnings))
        needs_trust = self._needs_trust(info) and not doc.trusted
        self.trust_button.setVisible(needs_trust)

    @staticmethod
    def _needs_trust(info: ModelInfo) -> bool:
        from workbench.gui.loader import needs_trust

        return needs_trust(info)

    def warning_lines(self) -> list[str]:
        return [] if self.doc is None else list(self.doc.info.warnings)
