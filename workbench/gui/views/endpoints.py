"""Endpoints: saved serving endpoints, probe (status + signature tree), request preview, curl, diagnosis.

Everything goes through `workbench.core.serving.probe.run_probe` on a worker; the report fills the
status tree, the request preview (the exact JSON body and a copyable curl command), the response
and, when something failed, the diagnosis with its hint.

The form sits beside the result tabs when the page is wide enough for both (the load test alone needs
about 600 px); on a narrower page (a 1024 px window with the library open) it becomes the first tab,
"Endpoint", so that the page never makes the window wider than it is.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import WorkbenchError
from workbench.core.session import RowSource
from workbench.gui.notifications import describe_exception, notify
from workbench.gui.resources import icon
from workbench.gui.row_source import KIND_TITLES, describe, load_rows
from workbench.gui.settings import Endpoint
from workbench.gui.views.common import color, core_module, placeholder
from workbench.gui.workers import Worker, run_in_worker


def probe_job(endpoint: Endpoint, rows: Any) -> Any:
    """Worker job: one probe of the endpoint (never raises for endpoint failures: see the report)."""
    from workbench.core.serving.probe import ProbeOptions, run_probe

    verify: bool | str = endpoint.ca_file or endpoint.verify_tls
    opts = ProbeOptions(url=endpoint.url, model=endpoint.model or None, grpc=endpoint.grpc_target or None,
                        headers=dict(endpoint.headers), verify=verify, timeout=endpoint.timeout_s, rows=rows)
    return run_probe(opts)


def _min_width(widget: QWidget) -> int:
    """The minimum width a layout gives `widget` (its minimum size if set, else its minimum size hint)."""
    return widget.minimumWidth() or widget.minimumSizeHint().width()


def parse_headers(text: str) -> dict[str, str]:
    """`Name: value` lines (or a JSON object) -> dict; ValueError naming what is wrong otherwise."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"Headers: not valid JSON ({exc.msg}, line {exc.lineno}): write a JSON object "
                             "or one 'Name: value' per line") from None
        if not isinstance(data, dict):
            raise ValueError("Headers: the JSON must be an object of names and values")
        return {str(k): str(v) for k, v in data.items()}
    out = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if ":" not in line:
            raise ValueError(f"Headers line {n} ({line.strip()!r}) has no ':': write 'Name: value'")
        k, v = line.split(":", 1)
        out[k.strip()] = v.strip()
    return out


def shown_signatures(signatures: dict[str, Any]) -> dict[str, Any]:
    """The signatures a user can call, as `workbench probe` lists them: serving_default first, then by
    name; internal ones (`__saved_model_init_op`, no inputs, DT_INVALID output) are left out."""
    names = sorted((n for n in signatures if not n.startswith("__")), key=lambda n: (n != "serving_default", n))
    return {n: signatures[n] for n in names}


#: the load-test charts: shorter than this, their axis labels overlap
LOAD_CHART_MIN_HEIGHT = 150
#: the form is put beside the results only if it gets at least this width there
FORM_MIN_WIDTH = 300


class VerticalScrollArea(QScrollArea):
    """Scrolls its content up and down when the page is too short for it; never sideways: it is as wide
    as its content must be, but its minimum height is a few lines (a short window does not grow).

    The content gets the whole viewport, or its minimum size if that is larger. (QScrollArea's own
    `widgetResizable` gives content with word-wrapped labels its preferred height instead: always a
    scroll bar, the buttons at the bottom out of sight.)"""

    def __init__(self, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(False)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(content)
        content.installEventFilter(self)

    def sizeHint(self) -> QSize:
        return self.widget().sizeHint() + QSize(self._bar_width(), 0)

    def minimumSizeHint(self) -> QSize:
        content = self._content_minimum()
        return QSize(content.width() + self._bar_width(), min(content.height(), 8 * self.fontMetrics().height()))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self._fit_content()   # its minimum may have changed
        return super().eventFilter(watched, event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_content()

    def _bar_width(self) -> int:
        return self.verticalScrollBar().sizeHint().width()

    def _content_minimum(self) -> QSize:
        content = self.widget()
        return content.minimumSizeHint().expandedTo(content.minimumSize())

    def _fit_content(self) -> None:
        room = self.maximumViewportSize()
        least = self._content_minimum()
        width = room.width() - (self._bar_width() if least.height() > room.height() else 0)
        self.widget().resize(max(width, least.width()), max(room.height(), least.height()))


class EndpointsView(QWidget):
    """Saved endpoints on the left (or in the first tab when the page is narrow); probe results on the right."""

    sig_probed = Signal(object)
    """A ProbeReport arrived."""
    sig_finished = Signal(object)
    """A load test finished (its LoadResult; forwarded from the Load test tab)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = None
        self.window_ref: Any = None
        self._core, self._why = core_module("workbench.core.serving.probe")
        self.worker: Worker | None = None
        self.report: Any = None
        self.compact = False
        """True while the form is the first tab (a narrow page), False while it is beside the tabs."""

        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        if self._core is None:
            outer.addWidget(placeholder(f"Endpoints are {self._why}"))
            return

        # -- left: saved endpoints and the form --------------------------------------------
        self.saved = QListWidget()
        self.saved.setToolTip("Saved endpoints (kept in the settings)")
        self.name = QLineEdit()
        self.url = QLineEdit()
        self.url.setPlaceholderText("http://127.0.0.1:8501  (TF Serving REST, KServe v2 …)")
        self.model = QLineEdit()
        self.model.setPlaceholderText("model name (empty: the only one served)")
        self.grpc = QLineEdit()
        self.grpc.setPlaceholderText("127.0.0.1:8500 (optional)")
        self.headers = QPlainTextEdit()
        self.headers.setPlaceholderText("Authorization: Bearer …")
        self.headers.setMaximumHeight(60)
        self.verify = QCheckBox("Verify TLS certificates")
        self.verify.setChecked(True)
        self.ca_file = QLineEdit()
        self.ca_file.setPlaceholderText("CA bundle for a private CA (optional)")
        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(0.1, 600)
        self.timeout.setValue(10)
        # -- this endpoint's own rows (a probe sends the first 5; the load test sends them all) --
        self.row_kind = QComboBox()
        for kind, title in KIND_TITLES.items():
            self.row_kind.addItem(title, kind)
        self.row_kind.setToolTip("The rows this endpoint is probed and load-tested with (its own, whatever "
                                 "model is selected in the library)")
        self.row_model = QComboBox()
        self.row_model.setToolTip("The loaded model whose Rows table is sent")
        self.row_file = QLineEdit()
        self.row_file.setPlaceholderText("rows.csv or rows.json")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_rows)
        file_page = QWidget()
        fl = QHBoxLayout(file_page)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.addWidget(self.row_file, 1)
        fl.addWidget(browse)
        self.row_json = QPlainTextEdit('[{"x": 1.0}, {"x": 2.0}]')
        self.row_json.setMaximumHeight(60)
        self.row_json.setToolTip("Rows as JSON records")
        self.row_value = QStackedWidget()
        for page in (QWidget(), self.row_model, file_page, self.row_json):
            self.row_value.addWidget(page)
        self.row_kind.currentIndexChanged.connect(self._row_kind_changed)
        self.row_source_label = QLabel()
        self.row_source_label.setWordWrap(True)
        self.row_source_label.setStyleSheet(f"color: {color('muted').name()};")
        self._row_kind_changed()
        #: the old "send the selected model's rows" switch, kept for scripts: checking it chooses that model
        self.send_rows = QCheckBox("Send the selected model's rows")
        self.send_rows.setVisible(False)
        self.send_rows.toggled.connect(self._send_rows_toggled)
        self._stale = False
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)   # labels above the fields when narrow
        form.addRow("Name:", self.name)
        form.addRow("URL:", self.url)
        form.addRow("Model:", self.model)
        form.addRow("gRPC:", self.grpc)
        form.addRow("Headers:", self.headers)
        form.addRow("Timeout (s):", self.timeout)
        form.addRow("", self.verify)
        form.addRow("CA file:", self.ca_file)
        form.addRow("Rows:", self.row_kind)
        form.addRow("", self.row_value)
        self.save_button = QPushButton(icon("add"), "Save")
        self.delete_button = QPushButton(icon("remove"), "Delete")
        self.probe_button = QPushButton(icon("refresh", "#ffffff"), "Probe")
        self.probe_button.setObjectName("primary")
        self.probe_button.setToolTip("Ask the endpoint for its status and signatures (F5)")
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        buttons.addWidget(self.probe_button)
        form_page = QWidget()
        ll = QVBoxLayout(form_page)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel("<b>Saved endpoints</b>"))
        self.saved.setMinimumHeight(60)
        ll.addWidget(self.saved, 1)
        box = QGroupBox("Endpoint")
        box.setLayout(form)
        ll.addWidget(box)
        ll.addLayout(buttons)
        self.form_panel = VerticalScrollArea(form_page)
        """Saved endpoints, the form and its buttons: beside the tabs, or the "Endpoint" tab."""

        # -- right: status tree, request, response -------------------------------------------
        self.verdict = QLabel("Probe an endpoint to see its status, versions and signatures.")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["What", "Value"])
        self.tree.setColumnWidth(0, 260)
        self.tree.setAlternatingRowColors(True)
        self.request_text = QPlainTextEdit()
        self.request_text.setReadOnly(True)
        self.request_text.setPlaceholderText("The exact request body appears here after a probe with rows.")
        self.copy_curl = QPushButton(icon("copy"), "Copy as curl")
        self.copy_curl.setEnabled(False)
        self.response_text = QPlainTextEdit()
        self.response_text.setReadOnly(True)
        req = QWidget()
        rl = QVBoxLayout(req)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.request_text, 1)
        rl.addWidget(self.copy_curl, 0, Qt.AlignmentFlag.AlignRight)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.tree, "Status and signatures")
        self.tabs.addTab(req, "Request")
        self.tabs.addTab(self.response_text, "Response")
        from workbench.gui.views.load_test import LoadTestPanel

        self.load_test = LoadTestPanel(self.endpoint, self._endpoint_rows)
        self.load_test.sig_finished.connect(self.sig_finished.emit)
        # tall enough for their axis labels; the tab scrolls when the window is shorter than that
        for chart in (self.load_test.latency_plot, self.load_test.rps_plot):
            chart.setMinimumHeight(LOAD_CHART_MIN_HEIGHT)
        self.load_test.hist_plot.setMinimumHeight(2 * LOAD_CHART_MIN_HEIGHT)
        self.load_tab = VerticalScrollArea(self.load_test)
        self.tabs.addTab(self.load_tab, "Load test")
        right = QWidget()
        rr = QVBoxLayout(right)
        rr.setContentsMargins(0, 0, 0, 0)
        rr.addWidget(self.verdict)
        rr.addWidget(self.tabs, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.form_panel)
        self.splitter.addWidget(right)
        self.form_panel.setMaximumWidth(380)
        self.splitter.setSizes([360, 720])
        outer.addWidget(self.splitter)
        self._set_compact(False)

        self.saved.currentItemChanged.connect(self._select)
        # old verdicts are marked stale as soon as what they were measured on changes
        for edit in (self.url, self.model, self.grpc, self.ca_file):
            edit.textEdited.connect(lambda _t: self._mark_stale("the endpoint changed"))
        self.headers.textChanged.connect(lambda: self._mark_stale("the endpoint's headers changed"))
        self.row_kind.currentIndexChanged.connect(lambda _i: self._mark_stale("the endpoint's rows changed"))
        self.row_model.currentIndexChanged.connect(lambda _i: self._mark_stale("the endpoint's rows changed"))
        self.row_file.textEdited.connect(lambda _t: self._mark_stale("the endpoint's rows changed"))
        self.row_json.textChanged.connect(lambda: self._mark_stale("the endpoint's rows changed"))
        self.save_button.clicked.connect(self.save_current)
        self.delete_button.clicked.connect(self.delete_current)
        self.probe_button.clicked.connect(self.refresh)
        self.copy_curl.clicked.connect(self._copy_curl)

    # -- public API -------------------------------------------------------------------------

    def attach(self, window: Any) -> None:
        self.window_ref = window
        self.settings = getattr(window, "settings", None)
        if self._core is None:
            return
        if self.settings is not None:
            self._reload_saved()
        self._reload_models()
        if hasattr(window, "sig_document_added"):
            window.sig_document_added.connect(lambda _doc: self._reload_models())
        library = getattr(window, "library", None)
        if library is not None and hasattr(library, "sig_current_changed"):
            library.sig_current_changed.connect(lambda _doc: self._reload_models())

    def show_tab(self, which: str) -> None:
        """Bring a tab to the front: "endpoint" (the form: its tab when compact), "status", "request",
        "response" or "load"."""
        pages = {"endpoint": self.form_panel, "status": self.tree, "request": self.request_text.parentWidget(),
                 "response": self.response_text, "load": self.load_tab}
        page = pages[which]
        if page is self.form_panel and not self.compact:
            self.name.setFocus()
            return
        self.tabs.setCurrentWidget(page)

    def minimum_wide_width(self) -> int:
        """The width the page needs to show the form beside the tabs (less: the form is a tab)."""
        m = self.layout().contentsMargins()
        form = max(FORM_MIN_WIDTH, self.form_panel.minimumSizeHint().width())
        return m.left() + m.right() + form + self.splitter.handleWidth() + self._results_min_width()

    def endpoint(self) -> Endpoint:
        """The endpoint described by the form."""
        return Endpoint(name=self.name.text().strip() or self.url.text().strip(), url=self.url.text().strip(),
                        model=self.model.text().strip(), grpc_target=self.grpc.text().strip(),
                        headers=parse_headers(self.headers.toPlainText()), verify_tls=self.verify.isChecked(),
                        ca_file=self.ca_file.text().strip(), timeout_s=self.timeout.value())

    def set_endpoint(self, ep: Endpoint) -> None:
        self.name.setText(ep.name)
        self.url.setText(ep.url)
        self.model.setText(ep.model)
        self.grpc.setText(ep.grpc_target)
        self.headers.setPlainText("\n".join(f"{k}: {v}" for k, v in ep.headers.items()))
        self.verify.setChecked(ep.verify_tls)
        self.ca_file.setText(ep.ca_file)
        self.timeout.setValue(ep.timeout_s)
        self.set_row_source(self._stored_row_source(ep.name))
        self._mark_stale("another endpoint was chosen")

    def row_source(self) -> RowSource:
        """The rows of the endpoint in the form: none, a loaded model's (its path), a file, inline JSON."""
        kind = self.row_kind.currentData() or "none"
        value = {"model": self.row_model.currentData() or "", "file": self.row_file.text().strip(),
                 "json": self.row_json.toPlainText().strip()}.get(kind, "")
        return RowSource(kind, value)

    def set_row_source(self, source: RowSource) -> None:
        self.row_kind.setCurrentIndex(max(0, self.row_kind.findData(source.kind)))
        if source.kind == "model":
            self._reload_models(extra=source.value)
            self.row_model.setCurrentIndex(max(0, self.row_model.findData(source.value)))
        elif source.kind == "file":
            self.row_file.setText(source.value)
        elif source.kind == "json":
            self.row_json.setPlainText(source.value)

    def save_current(self) -> None:
        if self.settings is None or not self.url.text().strip():
            return
        try:
            ep = self.endpoint()
        except ValueError as exc:
            self.verdict.setText(f"✗ {exc}")
            return
        self.settings.save_endpoint(ep)
        self._store_row_source(ep.name, self.row_source())
        self._reload_saved()

    def delete_current(self) -> None:
        item = self.saved.currentItem()
        if item is not None and self.settings is not None:
            self.settings.remove_endpoint(item.text())
            self._reload_saved()

    def refresh(self) -> Worker | None:
        """Probe the endpoint in the form (F5)."""
        if self._core is None or (self.worker is not None and not self.worker.is_done):
            return None
        try:
            ep = self.endpoint()
        except ValueError as exc:  # the headers box
            self.verdict.setText(f"✗ {exc}")
            return None
        if not ep.url:
            self.verdict.setText("Give the endpoint's URL first.")
            return None
        try:
            rows = load_rows(self.row_source(), self._documents(), limit=5)
        except WorkbenchError as exc:
            self._show_verdict(f"✗ {exc.message}" + (f"\nHint: {exc.hint}" if exc.hint else ""), "bad")
            notify(exc.message, "error", hint=exc.hint or "", context=f"probe {ep.url}")
            return None
        self.rows_sent = None if rows is None else rows.attrs.get("row_source", "")
        self.probe_button.setEnabled(False)
        self._stale = False
        self.verdict.setStyleSheet("")
        self.verdict.setText(f"Probing {ep.url}" + (f" with the first {self.rows_sent}…" if self.rows_sent else "…"))
        self.worker = run_in_worker(probe_job, ep, rows, name=f"probe {ep.url}", on_result=self._probed,
                                    on_error=self._failed,
                                    on_finished=lambda: self.probe_button.setEnabled(True))
        return self.worker

    def tree_items(self) -> dict[str, str]:
        """Top-level tree rows as {what: value} (for tests and the status line)."""
        out = {}
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            out[item.text(0)] = item.text(1)
        return out

    def child_texts(self, top: str) -> list[str]:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.text(0) == top:
                return [item.child(j).text(0) for j in range(item.childCount())]
        return []

    # -- layout -----------------------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_width()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._fit_width()

    def _fit_width(self) -> None:
        if self._core is not None:
            self._set_compact(self.width() < self.minimum_wide_width())

    def _results_min_width(self) -> int:
        widths = [self.verdict.minimumSizeHint().width()]
        for i in range(self.tabs.count()):
            page = self.tabs.widget(i)
            if page is not self.form_panel:
                widths.append(_min_width(page))
        frame = self.tabs.minimumSizeHint().width() - max(_min_width(self.tabs.widget(i))
                                                           for i in range(self.tabs.count()))
        return max(widths) + max(0, frame)

    def _set_compact(self, compact: bool) -> None:
        """Move the form into the first tab (compact) or beside the tabs. The splitter's minimum width is
        set to what the compact layout needs, so that the page never asks the window for the width of both."""
        if compact != self.compact:
            current = self.tabs.currentWidget()
            self.compact = compact
            if compact:
                self.form_panel.setMaximumWidth(16777215)
                self.tabs.insertTab(0, self.form_panel, icon("endpoint"), "Endpoint")
                if current is self.tree and self.report is None:
                    current = self.form_panel   # nothing probed yet: the form is what there is to see
            else:
                self.tabs.removeTab(self.tabs.indexOf(self.form_panel))
                self.splitter.insertWidget(0, self.form_panel)
                self.form_panel.setMaximumWidth(380)
                self.form_panel.show()
                self.splitter.setSizes([360, max(1, self.splitter.width() - 360)])
                if current is self.form_panel:
                    current = self.tree
            self.tabs.setCurrentWidget(current)
        if compact:
            self.splitter.setMinimumWidth(0)   # only the tabs in it: their own minimum
        else:
            form = self.form_panel.minimumSizeHint().width()
            self.splitter.setMinimumWidth(max(form, self._results_min_width()))

    # -- private ----------------------------------------------------------------------------

    def _documents(self) -> list[Any]:
        return list(self.window_ref.documents()) if self.window_ref is not None else []

    def _endpoint_rows(self) -> Any:
        """The load test's rows: the whole of this endpoint's row source (None when it has none)."""
        return load_rows(self.row_source(), self._documents())

    def _reload_models(self, extra: str = "") -> None:
        """The loaded models the row source can name (a saved source's model, even if not open)."""
        current = self.row_model.currentData() or extra
        self.row_model.blockSignals(True)
        self.row_model.clear()
        paths = []
        for doc in self._documents():
            self.row_model.addItem(f"{doc.name} ({0 if doc.rows is None else len(doc.rows)} rows)", doc.path)
            self.row_model.setItemData(self.row_model.count() - 1, doc.path, Qt.ItemDataRole.ToolTipRole)
            paths.append(doc.path)
            if not getattr(doc, "_endpoint_rows_hooked", False):
                doc._endpoint_rows_hooked = True
                doc.sig_rows_changed.connect(lambda d=doc: self._model_rows_changed(d))
        for path in (current, extra):
            if path and path not in paths:
                self.row_model.addItem(f"{path.rsplit('/', 1)[-1]} (not open)", path)
                paths.append(path)
        if current:
            self.row_model.setCurrentIndex(max(0, self.row_model.findData(current)))
        self.row_model.blockSignals(False)

    def _model_rows_changed(self, doc: Any) -> None:
        source = self.row_source()
        if source.kind == "model" and source.value == doc.path:
            self._mark_stale(f"the rows of {doc.name} changed")

    def _row_kind_changed(self, *_args: Any) -> None:
        kind = self.row_kind.currentData() or "none"
        self.row_value.setCurrentIndex(list(KIND_TITLES).index(kind))
        self.row_value.setVisible(kind != "none")

    def _send_rows_toggled(self, on: bool) -> None:
        doc = self.window_ref.current_document() if self.window_ref is not None else None
        if on and doc is not None:
            self.set_row_source(RowSource("model", doc.path))
        elif not on:
            self.set_row_source(RowSource("none"))

    def _browse_rows(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Rows for this endpoint", self.row_file.text(),
                                              "Rows (*.csv *.json *.tsv *.txt);;All files (*)")
        if path:
            self.row_file.setText(path)
            self._mark_stale("the endpoint's rows changed")

    def _stored_row_source(self, name: str) -> RowSource:
        store = getattr(self.settings, "store", None)
        raw = store.value(f"endpoint_rows/{name}") if store is not None and name else None
        try:
            data = json.loads(raw) if isinstance(raw, str) else {}
            return RowSource(str(data.get("kind", "none")), str(data.get("value", "")))
        except (ValueError, AttributeError):
            return RowSource()

    def _store_row_source(self, name: str, source: RowSource) -> None:
        store = getattr(self.settings, "store", None)
        if store is not None and name:
            store.setValue(f"endpoint_rows/{name}", json.dumps(source.to_json()))

    def _show_verdict(self, text: str, tone: str | None) -> None:
        self.verdict.setText(text)
        self.verdict.setStyleSheet(f"color: {color(tone).name()};" if tone else "")

    def _mark_stale(self, why: str) -> None:
        """Keep the last verdict readable but say it is about something else now (a probe clears it)."""
        if self._core is None:
            return
        self.load_test.mark_stale(why)
        if self._stale or self.report is None and not self.verdict.text().startswith("✗"):
            return
        self._stale = True
        old = self.verdict.text()
        self.verdict.setText(f"Outdated ({why}; probe again with F5). It said: {old}")
        self.verdict.setStyleSheet(f"color: {color('muted').name()};")

    def _reload_saved(self) -> None:
        self.saved.clear()
        for ep in self.settings.endpoints():
            item = QListWidgetItem(icon("endpoint"), ep.name)
            item.setData(Qt.ItemDataRole.UserRole, ep)
            item.setToolTip(ep.url)
            self.saved.addItem(item)

    def _select(self, item: QListWidgetItem | None, _prev: QListWidgetItem | None) -> None:
        if item is not None:
            self.set_endpoint(item.data(Qt.ItemDataRole.UserRole))

    def _failed(self, exc: BaseException) -> None:
        message, hint, details = describe_exception(exc)
        sent = f" (rows: {self.rows_sent})" if getattr(self, "rows_sent", None) else ""
        self._show_verdict(f"✗ {message}{sent}" + (f"\nHint: {hint}" if hint else ""), "bad")
        notify(message + sent, "error", hint=hint, details=details, context="probe")

    def _probed(self, report: Any) -> None:
        self.report = report
        data = report.to_json()
        self.tree.clear()

        def add(parent: Any, what: str, value: Any = "") -> QTreeWidgetItem:
            item = QTreeWidgetItem([what, "" if value is None else str(value)])
            item.setToolTip(1, item.text(1))
            if isinstance(parent, QTreeWidget):
                parent.addTopLevelItem(item)
            else:
                parent.addChild(item)
            return item

        add(self.tree, "Protocol", data.get("protocol") or "unknown")
        add(self.tree, "URL", data.get("url"))
        add(self.tree, "Model", data.get("model"))
        versions = add(self.tree, "Versions", f"{len(data.get('versions') or [])}")
        for v in data.get("versions") or []:
            add(versions, f"version {v.get('version')}", v.get("state") + (f" ({v['error']})" if v.get("error")
                                                                             else ""))
        signatures = shown_signatures(data.get("signatures") or {})
        sigs = add(self.tree, "Signatures", f"{len(signatures)}")
        for name, sig in signatures.items():
            s = add(sigs, name, sig.get("method", ""))
            for kind in ("inputs", "outputs"):
                group = add(s, kind, len(sig.get(kind) or {}))
                for alias, meta in (sig.get(kind) or {}).items():  # in the order the server sent them
                    shape = meta.get("shape")
                    add(group, alias, f"{meta.get('dtype')} {shape if shape is not None else '(unknown shape)'}")
        if data.get("latency_ms"):
            add(self.tree, "Latency (ms)", ", ".join(f"{x:.1f}" for x in data["latency_ms"]))
        grpc = data.get("grpc")
        if grpc:
            g = add(self.tree, "gRPC", grpc.get("target"))
            add(g, "protocol", grpc.get("protocol"))
            if grpc.get("error"):
                add(g, "error", f"{grpc['error']['kind']}: {grpc['error']['message']}")
        for note in data.get("notes") or []:
            add(self.tree, "Note", note)
        error = data.get("error")
        if error:
            e = add(self.tree, "Error", f"{error['kind']}: {error['message']}")
            if error.get("hint"):
                add(e, "hint", error["hint"])
        self.tree.expandToDepth(3)
        # request and response
        request = data.get("request")
        if request:
            self.request_text.setPlainText(f"POST {request['url']}\n\n" + json.dumps(request["body"], indent=2))
            self.copy_curl.setEnabled(True)
        else:
            self.request_text.clear()
            self.copy_curl.setEnabled(False)
        self.response_text.setPlainText(json.dumps({"predictions": data.get("predictions"),
                                                    "error": error}, indent=2))
        failures = report.failures()
        if failures:
            d = failures[0]
            sent = f"\nRows: the first {self.rows_sent}." if getattr(self, "rows_sent", None) else ""
            self.verdict.setText(f"✗ {d.kind}: {d.message}" + (f"\nHint: {d.hint}" if d.hint else "") + sent)
            self.verdict.setStyleSheet(f"color: {color('bad').name()};")
            # every failed probe reaches the Messages panel too (the verdict is gone after the next one)
            notify(f"probe of {report.url}: {d.message}" + (f" (rows: {self.rows_sent})" if sent else ""),
                   "error", hint=d.hint or "", context="probe")
        else:
            available = sum(1 for v in data.get("versions") or [] if v.get("state") == "AVAILABLE")
            self.verdict.setText(f"✓ {data.get('protocol')} · model {data.get('model')} · "
                                 f"{available} version(s) available · {len(signatures)} signature(s)")
            self.verdict.setStyleSheet(f"color: {color('ok').name()};")
        if self.compact and self.tabs.currentWidget() is self.form_panel:
            self.tabs.setCurrentWidget(self.tree)   # the form's tab hides the answer
        self._stale = False
        self.sig_probed.emit(report)

    def _copy_curl(self) -> None:
        if self.report is not None and self.report.request is not None:
            QGuiApplication.clipboard().setText(self.report.request.curl(self.report.headers or None))
