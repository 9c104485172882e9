"""Compare: any two loaded models (e.g. a pipeline and its ONNX export) on the same rows, with the verdict.

The work is `workbench.core.compare.compare_models`, the flow of `workbench compare A B`, on a worker: A is
the reference, the rows are A's Rows table (or the model's sibling rows file). The page shows the verdict
line, the per-role table (max abs / rel diff, label agreement, rows outside) and the worst rows with both
sides' predictions and the features.

B may also be a saved endpoint (the Endpoints page's list: its URL, model, headers, gRPC target, TLS and
timeout): the rows go to it as `workbench probe` sends them and its answer is compared with A through
`workbench.core.compare.compare_model_with_endpoint`, the flow of `workbench compare MODEL URL`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.resources import icon
from workbench.gui.views.common import color, header
from workbench.gui.workers import Worker, run_in_worker

ROLE_COLUMNS = ["Role", "Max abs diff", "Max rel diff", "Agreement", "Rows outside", "Result"]
WORST_COLUMNS = ["Row", "Diff", "Within", "A", "B", "Features"]


def compare_job(a: str, b: str, frame: Any, runtime_a: str | None, runtime_b: str | None, trust_a: bool,
                trust_b: bool, atol: float, rtol: float, task: Any = None) -> Any:
    from workbench.core.compare import compare_models

    return compare_models(a, b, frame, runtime_a=runtime_a, runtime_b=runtime_b, trust=trust_a, trust_b=trust_b,
                          atol=atol, rtol=rtol, worst=10)


def compare_endpoint_job(a: str, endpoint: Any, frame: Any, runtime_a: str | None, trust_a: bool, atol: float,
                         rtol: float, task: Any = None) -> Any:
    """Worker job: model `a` against a saved endpoint (workbench.gui.settings.Endpoint)."""
    from workbench.core.compare import compare_model_with_endpoint

    verify: bool | str = endpoint.ca_file or endpoint.verify_tls
    return compare_model_with_endpoint(a, endpoint.url, frame, model_name=endpoint.model or None,
                                       grpc=endpoint.grpc_target or None, headers=dict(endpoint.headers),
                                       timeout=endpoint.timeout_s, verify=verify, runtime=runtime_a, trust=trust_a,
                                       atol=atol, rtol=rtol, worst=10)


def is_endpoint(item: Any) -> bool:
    from workbench.gui.settings import Endpoint

    return isinstance(item, Endpoint)


class CompareView(QWidget):
    """Pick A and B among the loaded models, Compare, read the verdict and the worst rows."""

    sig_compared = Signal(object)
    """A `ModelComparison` arrived."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window_ref: Any = None
        self.worker: Worker | None = None
        self.result: Any = None
        self.head, self.title, self.subtitle = header(
            "Compare two models", "Run two loaded models (or one model in two runtimes) on the same rows and "
            "check that they agree, as `workbench compare A B` does. A is the reference; the rows are A's.")
        self.model_a, self.model_b = QComboBox(), QComboBox()
        self.runtime_a, self.runtime_b = QComboBox(), QComboBox()
        for box in (self.model_a, self.model_b):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(24)
        self.model_a.currentIndexChanged.connect(lambda: self._fill_runtimes(self.model_a, self.runtime_a))
        self.model_b.currentIndexChanged.connect(lambda: self._fill_runtimes(self.model_b, self.runtime_b))
        self.atol = QDoubleSpinBox()
        self.rtol = QDoubleSpinBox()
        from workbench.core.compare import DEFAULT_ATOL, DEFAULT_RTOL

        for spin, value in ((self.atol, DEFAULT_ATOL), (self.rtol, DEFAULT_RTOL)):
            spin.setDecimals(10)
            spin.setRange(0.0, 1.0)
            spin.setSingleStep(value)
            spin.setValue(value)
        self.run_button = QPushButton(icon("run", "#ffffff"), "Compare")
        self.run_button.setObjectName("primary")
        self.run_button.clicked.connect(self.run)
        form = QFormLayout()
        row_a, row_b, tol = QHBoxLayout(), QHBoxLayout(), QHBoxLayout()
        for row, model, runtime in ((row_a, self.model_a, self.runtime_a), (row_b, self.model_b, self.runtime_b)):
            row.addWidget(model, 1)
            row.addWidget(QLabel("runtime"))
            row.addWidget(runtime)
        for label, spin in (("atol", self.atol), ("rtol", self.rtol)):
            tol.addWidget(QLabel(label))
            tol.addWidget(spin)
        tol.addStretch(1)
        tol.addWidget(self.run_button)
        form.addRow("A (reference)", row_a)
        form.addRow("B", row_b)
        form.addRow("Tolerance", tol)
        self.verdict = QLabel("Load two models (or one, to compare two runtimes), pick A and B, then Compare.")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.setObjectName("viewSubtitle")
        self.roles = self._table(ROLE_COLUMNS)
        self.worst = self._table(WORST_COLUMNS)
        self.worst.horizontalHeader().setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        split.addWidget(self.roles)
        split.addWidget(self.worst)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.head)
        layout.addLayout(form)
        layout.addWidget(self.verdict)
        layout.addWidget(self.notes)
        layout.addWidget(split, 1)

    @staticmethod
    def _table(columns: list[str]) -> QTableWidget:
        table = QTableWidget(0, len(columns))
        table.setHorizontalHeaderLabels(columns)
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setAlternatingRowColors(True)
        table.setMinimumHeight(table.horizontalHeader().sizeHint().height()
                               + 3 * table.verticalHeader().defaultSectionSize() + 6)
        return table

    # -- public API -------------------------------------------------------------------------

    def attach(self, window: Any) -> None:
        self.window_ref = window
        window.sig_document_added.connect(lambda _doc: self.refresh_models())
        window.library.models.model().rowsRemoved.connect(lambda *_: self.refresh_models())
        self.refresh_models()

    def documents(self) -> list[Any]:
        return self.window_ref.documents() if self.window_ref is not None else []

    def endpoints(self) -> list[Any]:
        """The saved endpoints (the Endpoints page's list), offered as B."""
        settings = getattr(self.window_ref, "settings", None)
        return settings.endpoints() if settings is not None else []

    def refresh_models(self) -> None:
        docs = self.documents()
        endpoints = self.endpoints()
        for box, default in ((self.model_a, 0), (self.model_b, 1)):
            keep = box.currentData()
            box.blockSignals(True)
            box.clear()
            for doc in docs:
                box.addItem(f"{doc.name}  ({doc.info.format})", doc)
            items: list[Any] = list(docs)
            if box is self.model_b:
                for ep in endpoints:
                    box.addItem(icon("endpoint"), f"endpoint: {ep.name}  ({ep.url}, model {ep.model or '?'})", ep)
                    box.setItemData(box.count() - 1, ep.url, Qt.ItemDataRole.ToolTipRole)
                items += endpoints
            i = next((k for k, d in enumerate(items) if d is keep or (is_endpoint(keep) and is_endpoint(d)
                                                                     and d.name == keep.name)),
                     min(default, len(docs) - 1))
            box.setCurrentIndex(i)
            box.blockSignals(False)
        self._fill_runtimes(self.model_a, self.runtime_a)
        self._fill_runtimes(self.model_b, self.runtime_b)
        self.run_button.setEnabled(bool(docs))

    def set_pair(self, a: Any, b: Any, runtime_a: str | None = None, runtime_b: str | None = None) -> None:
        """Pick A (a loaded model) and B (a loaded model, or a saved endpoint, or its name)."""
        if isinstance(b, str):
            b = next(e for e in self.endpoints() if e.name == b)
        for box, doc in ((self.model_a, a), (self.model_b, b)):
            box.setCurrentIndex(next(i for i in range(box.count()) if box.itemData(i) is doc
                                     or (is_endpoint(doc) and is_endpoint(box.itemData(i))
                                         and box.itemData(i).name == doc.name)))
        for box, name in ((self.runtime_a, runtime_a), (self.runtime_b, runtime_b)):
            if name is not None:
                box.setCurrentIndex(box.findData(name))

    def run(self) -> Worker | None:
        a, b = self.model_a.currentData(), self.model_b.currentData()
        if a is None or b is None or (self.worker is not None and not self.worker.is_done):
            return None
        frame = a.rows
        if frame is None or not len(frame):
            self._verdict(f"No rows for {a.name}: fill its Rows table first (load a CSV, paste or generate).", "warn")
            return None
        self.run_button.setEnabled(False)
        self._verdict(f"Comparing {a.name} and {b.name} on {len(frame)} rows…", "muted")
        if is_endpoint(b):
            self.worker = run_in_worker(compare_endpoint_job, a.path, b, frame.copy(), self.runtime_a.currentData(),
                                        a.trusted, self.atol.value(), self.rtol.value(), name="compare",
                                        on_result=self._done, on_error=self._failed,
                                        on_finished=lambda: self.run_button.setEnabled(True))
            return self.worker
        self.worker = run_in_worker(compare_job, a.path, b.path, frame.copy(), self.runtime_a.currentData(),
                                    self.runtime_b.currentData(), a.trusted, b.trusted, self.atol.value(),
                                    self.rtol.value(), name="compare", on_result=self._done,
                                    on_error=self._failed, on_finished=lambda: self.run_button.setEnabled(True))
        return self.worker

    # -- private ----------------------------------------------------------------------------

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        """Endpoints saved on the Endpoints page since the last visit appear as B."""
        if self.window_ref is not None:
            self.refresh_models()
        super().showEvent(event)

    def _fill_runtimes(self, model: QComboBox, runtime: QComboBox) -> None:
        runtime.clear()
        doc = model.currentData()
        runtime.setEnabled(not is_endpoint(doc))
        if is_endpoint(doc):
            runtime.addItem("the endpoint's", None)
            return
        if doc is None:
            return
        from workbench.core.runtimes import default_runtime, runtimes_for

        choices = runtimes_for(doc.info.format)
        default = default_runtime(doc.info.format) if choices else None
        for r in choices:
            ok = r.availability(doc.info.format).ok
            runtime.addItem(r.name + ("" if ok else " (not available)"), r.name)
        if default is not None:
            runtime.setCurrentIndex(runtime.findData(default))

    def _verdict(self, text: str, tone: str) -> None:
        self.verdict.setText(text)
        self.verdict.setStyleSheet(f"color: {color(tone).name()}; font-weight: 600;")

    def _failed(self, exc: BaseException) -> None:
        from workbench.gui.notifications import describe_exception

        message, hint, _details = describe_exception(exc)
        self._verdict(f"✗ {message}" + (f" ({hint})" if hint else ""), "bad")

    def _done(self, result: Any) -> None:
        from workbench.core.compare import agreement_text, describe_side, format_number

        self.result = result
        report = result.report
        a, b = result.sides["a"], result.sides["b"]
        b_text = (f"B endpoint {b['endpoint']} (model {b.get('served_model')}, {b.get('protocol')} over "
                  f"{b.get('transport')})" if b.get("endpoint") else f"B {b['format']} in {b['runtime']}")
        self._verdict(f"{'✓' if report.passed else '✗'} {report.summary()}   ·   A {a['format']} in {a['runtime']}, "
                      f"{b_text}", "ok" if report.passed else "bad")
        self.notes.setText("\n".join([*report.notes, *(f"warning: {w}" for w in result.warnings)]))
        self.roles.setRowCount(len(report.roles))
        for r, (name, role) in enumerate(report.roles.items()):
            cells = [name, format_number(role.max_abs_diff, "–"), format_number(role.max_rel_diff, "–"),
                     agreement_text(role.agreement) if role.agreement is not None else "–",
                     str(len(role.rows_outside)),
                     "not compared" if not role.compared else ("ok" if role.passed else "FAIL")]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 5:
                    item.setForeground(color("muted" if not role.compared else ("ok" if role.passed else "bad")))
                if role.note:
                    item.setToolTip(role.note)
                self.roles.setItem(r, c, item)
        self.roles.resizeColumnsToContents()
        self.worst.setRowCount(len(report.worst_rows))
        for r, row in enumerate(report.worst_rows):
            feats = ", ".join(f"{k}={v}" for k, v in (row.get("features") or {}).items())
            cells = [str(row["row"]), f"{row['diff']:.3g}", "yes" if row["within_tolerance"] else "no",
                     describe_side(row["a"], "–"), describe_side(row["b"], "–"), feats]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if not row["within_tolerance"]:
                    item.setBackground(color("bad_bg"))
                self.worst.setItem(r, c, item)
        self.worst.resizeColumnsToContents()
        self.sig_compared.emit(result)
