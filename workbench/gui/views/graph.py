"""Graph: a read-only view of an ONNX, Keras or SavedModel graph (nodes, ops, tensor shapes), with search.

The graph is read by `workbench.core.graph.read_graph` on a worker, from the file alone: the model is never
loaded or run, so no trust is needed. A table lists every node (name, op, inputs, outputs with their shapes,
attributes); the search box filters it like Netron's; a layered drawing shows the main graph's nodes by
dependency depth, and selecting a node in either selects it in the other.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.document import ModelDocument
from workbench.gui.views.common import color, header, placeholder
from workbench.gui.workers import Worker, run_in_worker

COLUMNS = ["Node", "Op", "Inputs", "Outputs", "Attributes", "Scope"]
GRAPH_FORMATS = ("onnx", "keras", "savedmodel")
#: the drawing shows at most this many nodes (the table lists them all)
MAX_DRAWN = 400


def graph_job(path: str, task: Any = None) -> Any:
    from workbench.core.graph import read_graph

    return read_graph(path)


class GraphView(QWidget):
    """Searchable node table and a layered drawing of a model's graph."""

    sig_graph_read = Signal(object)
    """A `ModelGraph` was read for the selected model."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: ModelDocument | None = None
        self.graph: Any = None
        self.worker: Worker | None = None
        self._boxes: dict[str, Any] = {}

        self.stack = QStackedWidget()
        self.empty = placeholder("No model selected.")
        self.stack.addWidget(self.empty)
        page = QWidget()
        self.head, self.title, self.subtitle = header("Graph", "")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search nodes, ops and tensors (e.g. MatMul, dense, probabilities)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter)
        self.scope = QComboBox()
        self.scope.setToolTip("The main graph, or one function of a SavedModel's library")
        self.scope.currentIndexChanged.connect(self._filter)
        self.count = QLabel()
        self.count.setObjectName("viewSubtitle")
        bar = QHBoxLayout()
        bar.addWidget(self.search, 1)
        bar.addWidget(QLabel("Scope:"))
        bar.addWidget(self.scope)
        bar.addWidget(self.count)
        self.io = QLabel()
        self.io.setWordWrap(True)
        self.io.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        head.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._table_selected)

        self.scene = QGraphicsScene(self)
        self.drawing = QGraphicsView(self.scene)
        self.drawing.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.drawing.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.drawing.setMinimumWidth(220)
        self.scene.selectionChanged.connect(self._drawing_selected)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        split.addWidget(self.table)
        split.addWidget(self.drawing)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.splitter = split

        layout = QVBoxLayout(page)
        layout.addWidget(self.head)
        layout.addLayout(bar)
        layout.addWidget(self.io)
        layout.addWidget(split, 1)
        self.page = page
        self.stack.addWidget(page)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        outer.addWidget(self.stack)

    # -- public API -------------------------------------------------------------------------

    def set_document(self, doc: ModelDocument | None) -> None:
        if doc is self.doc and self.graph is not None:
            return
        self.doc = doc
        self.graph = None
        self.table.setRowCount(0)
        self.scene.clear()
        self._boxes.clear()
        if doc is None:
            self.empty.setText("No model selected.")
            self.stack.setCurrentWidget(self.empty)
            return
        if doc.info.format not in GRAPH_FORMATS:
            self.empty.setText(f"{doc.name} is a {doc.info.format} model: the Graph view shows ONNX, Keras and "
                               "SavedModel graphs. Export it to ONNX (Ctrl+E) to see its graph.")
            self.stack.setCurrentWidget(self.empty)
            return
        self.stack.setCurrentWidget(self.page)
        self.title.setText(f"Graph of {doc.name}")
        self.subtitle.setText("Read from the file without loading the model (nothing in it runs).")
        self.count.setText("reading…")
        self.worker = run_in_worker(graph_job, doc.path, name="graph",
                                    on_result=lambda g, d=doc: self._shown(d, g), on_error=self._failed)

    def visible_nodes(self) -> list[str]:
        return [self.table.item(r, 0).text() for r in range(self.table.rowCount()) if not self.table.isRowHidden(r)]

    def select_node(self, name: str) -> None:
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).text() == name:
                self.table.selectRow(r)
                return

    def selected_node(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.table.item(rows[0].row(), 0).text() if rows else None

    # -- private ----------------------------------------------------------------------------

    def _failed(self, exc: BaseException) -> None:
        from workbench.gui.notifications import describe_exception

        message, hint, _details = describe_exception(exc)
        self.count.setText("")
        self.subtitle.setText(f"✗ {message}" + (f" ({hint})" if hint else ""))

    def _tensor_text(self, name: str) -> str:
        t = self.graph.tensor(name) if self.graph is not None else None
        if t is None:
            return name
        return f"{name} {t.shape_text()}" + (" (weight)" if t.initializer else "")

    def _shown(self, doc: ModelDocument, graph: Any) -> None:
        if doc is not self.doc:
            return
        self.graph = graph
        io = ", ".join(f"{t.name} {t.dtype} {t.shape_text()}" for t in graph.inputs) or "?"
        out = ", ".join(f"{t.name} {t.dtype} {t.shape_text()}".replace("  ", " ") for t in graph.outputs) or "?"
        ops = graph.ops()
        top = ", ".join(f"{op} ×{n}" for op, n in list(ops.items())[:8])
        self.io.setText(f"<b>Inputs</b> {io}<br><b>Outputs</b> {out}<br><b>Ops</b> {top}"
                        + (f"<br><span style='color:{color('muted').name()}'>{' · '.join(graph.notes)}</span>"
                           if graph.notes else ""))
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(graph.nodes))
        for r, node in enumerate(graph.nodes):
            cells = [node.name, node.op, ", ".join(self._tensor_text(t) for t in node.inputs),
                     ", ".join(self._tensor_text(t) for t in node.outputs),
                     ", ".join(f"{k}={v}" for k, v in node.attrs.items()), node.scope]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text if len(text) < 2000 else text[:2000] + "…")
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        for c in range(len(COLUMNS)):
            self.table.setColumnWidth(c, min(self.table.columnWidth(c), 320))
        self.scope.blockSignals(True)
        self.scope.clear()
        scopes = sorted({n.scope for n in graph.nodes if n.scope})
        self.scope.addItem("All", None)
        self.scope.addItem("Main graph", "")
        for s in scopes:
            self.scope.addItem(s, s)
        self.scope.setVisible(bool(scopes))
        self.scope.blockSignals(False)
        self._draw()
        self._filter()
        self.sig_graph_read.emit(graph)

    def _filter(self) -> None:
        if self.graph is None:
            return
        wanted = {id(n) for n in self.graph.search(self.search.text())}
        scope = self.scope.currentData()
        shown = 0
        for r, node in enumerate(self.graph.nodes):
            hide = id(node) not in wanted or (scope is not None and node.scope != scope)
            self.table.setRowHidden(r, hide)
            shown += not hide
        total = len(self.graph.nodes)
        self.count.setText(f"{shown} of {total} nodes" if shown != total else f"{total} nodes")
        needle = self.search.text().strip()
        for name, box in self._boxes.items():
            node = box.data(0)
            hit = bool(needle) and id(node) in wanted
            box.setPen(QPen(color("accent" if hit else "border"), 2.5 if hit else 1))

    def _draw(self) -> None:
        """Nodes of the main graph (or, if it only calls functions, of the largest function) by dependency depth,
        top to bottom, with an edge from each producer to its consumers."""
        self.scene.clear()
        self._boxes.clear()
        g = self.graph
        scopes = {n.scope for n in g.nodes}
        scope = ""
        if g.format == "savedmodel":   # the serving function's body says more than the variable plumbing
            bodies = {s: sum(1 for n in g.nodes if n.scope == s) for s in scopes if s}
            serving = [s for s in bodies if "serve" in s.lower() or "call" in s.lower()]
            scope = max(serving or bodies, key=lambda s: bodies[s], default="")
        layers = g.layers(scope)
        fg, base, border = color("text"), color("base"), color("border")
        accent = color("accent")
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        w, h, gap_x, gap_y = 150, 34, 16, 26
        positions: dict[str, Any] = {}
        drawn = 0
        for depth, layer in enumerate(layers):
            for i, node in enumerate(layer[:12]):
                if drawn >= MAX_DRAWN:
                    break
                x = i * (w + gap_x) - (min(len(layer), 12) - 1) * (w + gap_x) / 2
                y = depth * (h + gap_y)
                box = self.scene.addRect(QRectF(x, y, w, h), QPen(border, 1), QBrush(base))
                box.setFlag(box.GraphicsItemFlag.ItemIsSelectable, True)
                box.setData(0, node)
                box.setToolTip(f"{node.name}\n{node.op}\nin: {', '.join(node.inputs)}\nout: {', '.join(node.outputs)}")
                op = self.scene.addSimpleText(node.op, font)
                op.setBrush(QBrush(accent))
                op.setPos(x + 6, y + 2)
                op.setParentItem(box)
                label = node.name if len(node.name) <= 22 else "…" + node.name[-21:]
                name = self.scene.addSimpleText(label, font)
                name.setBrush(QBrush(fg))
                name.setPos(x + 6, y + 17)
                name.setParentItem(box)
                positions[node.name] = (x, y)
                self._boxes[node.name] = box
                for out in node.outputs:
                    positions.setdefault(f"tensor:{out}", (x, y))
                drawn += 1
            if len(layer) > 12:
                more = self.scene.addSimpleText(f"+{len(layer) - 12} more", font)
                more.setBrush(QBrush(color("muted")))
                more.setPos(6 * (w + gap_x) + 8, depth * (h + gap_y) + 8)
        edge = QPen(QColor(color("muted")), 1)
        for depth, layer in enumerate(layers):
            for node in layer[:12]:
                if node.name not in positions:
                    continue
                x, y = positions[node.name]
                for t in node.inputs:
                    src = positions.get(f"tensor:{t}")
                    if src is not None and src != (x, y):
                        line = self.scene.addLine(src[0] + w / 2, src[1] + h, x + w / 2, y, edge)
                        line.setZValue(-1)
        self.drawing.setBackgroundBrush(QBrush(color("alt_base")))
        self.scene.setSceneRect(self.scene.itemsBoundingRect().adjusted(-20, -20, 20, 20))

    def _table_selected(self) -> None:
        name = self.selected_node()
        if name is None:
            return
        box = self._boxes.get(name)
        if box is not None and not box.isSelected():
            self.scene.blockSignals(True)
            self.scene.clearSelection()
            box.setSelected(True)
            self.scene.blockSignals(False)
            self.drawing.centerOn(box)

    def _drawing_selected(self) -> None:
        items = [i for i in self.scene.selectedItems() if i.data(0) is not None]
        if items:
            self.select_node(items[0].data(0).name)
