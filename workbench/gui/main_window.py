"""The main window: a shell that assembles the library, the views, the messages dock and the actions.

It calls no core operation itself: loading goes through `ModelLoader`, everything else
through the views.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.gui import actions as actions_mod
from workbench.gui.dialogs.trust import ask_trust, ask_trust_many
from workbench.gui.document import ModelDocument
from workbench.gui.loader import ModelLoader, paths_from_mime
from workbench.gui.notifications import NotificationArea, manager
from workbench.gui.resources import icon
from workbench.gui.settings import AppSettings
from workbench.gui.views.library import LibraryView
from workbench.gui.views.overview import OverviewView


class LazyPage(QWidget):
    """A tab page whose real view is built the first time it is shown (keeps start-up fast)."""

    def __init__(self, factory: Callable[[], QWidget], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._factory = factory
        self._view: QWidget | None = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.on_built: Callable[[QWidget], None] | None = None

    def view(self) -> QWidget:
        if self._view is None:
            self._view = self._factory()
            self._layout.addWidget(self._view)
            if self.on_built is not None:
                self.on_built(self._view)
        return self._view

    @property
    def built(self) -> bool:
        return self._view is not None

    def showEvent(self, event) -> None:
        self.view()
        super().showEvent(event)


def _rows_view() -> QWidget:
    from workbench.gui.views.rows import RowsView

    return RowsView()


def _predict_view() -> QWidget:
    from workbench.gui.views.predict import PredictView

    return PredictView()


def _bench_view() -> QWidget:
    from workbench.gui.views.benchmark import BenchmarkView

    return BenchmarkView()


def _endpoints_view() -> QWidget:
    from workbench.gui.views.endpoints import EndpointsView

    return EndpointsView()


def _graph_view() -> QWidget:
    from workbench.gui.views.graph import GraphView

    return GraphView()


def _compare_view() -> QWidget:
    from workbench.gui.views.compare import CompareView

    return CompareView()


#: id, title, icon, factory, per model
PAGES = (
    ("rows", "Rows", "table", _rows_view, True),
    ("predict", "Predict", "run", _predict_view, True),
    ("compare", "Compare", "copy", _compare_view, False),
    ("benchmark", "Benchmark", "chart", _bench_view, True),
    ("graph", "Graph", "model", _graph_view, True),
    ("endpoints", "Endpoints", "endpoint", _endpoints_view, False),
)


def _predicted(batches: dict) -> str:
    rows = next(iter(batches.values())).rows if batches else 0
    return f"Predicted {rows} row{'s' if rows != 1 else ''} with {', '.join(batches) or 'no runtime'}"


def _finished(result: object) -> str:
    if hasattr(result, "configs"):   # a local benchmark
        done = sum(1 for c in result.configs if not c.error)  # type: ignore[attr-defined]
        return f"Benchmark {'cancelled' if result.cancelled else 'finished'}: {done} configuration" \
               f"{'s' if done != 1 else ''}"  # type: ignore[attr-defined]
    levels = len(getattr(result, "levels", []))
    return f"Load test finished: {levels} level{'s' if levels != 1 else ''}"


def _probed(report: object) -> str:
    error = getattr(report, "error", None)
    if error is not None:
        return f"Probe of {report.url}: {error.message}"  # type: ignore[attr-defined]
    grpc = getattr(report, "grpc", None)
    if grpc is not None and grpc.error is not None:  # REST answered, the gRPC port did not
        return f"Probed {report.url}: REST {report.protocol}; gRPC {grpc.url}: {grpc.error.message}"  # type: ignore[attr-defined]
    return f"Probed {report.url}: {report.protocol or 'unknown protocol'}, model {report.model}"  # type: ignore[attr-defined]


def _converted(result: object) -> str:
    verdict = "proved" if getattr(result, "passed", False) else "outside tolerance"
    return f"Converted to {result.target} ({verdict}): {result.output or result.failed_output}"  # type: ignore[attr-defined]


#: what the status bar says when a page's work finishes (signal name -> text of its payload)
STATUS_OF = {"sig_predicted": _predicted, "sig_finished": _finished, "sig_probed": _probed,
             "sig_converted": _converted}


class MainWindow(QMainWindow):
    """Model library on the left, views in tabs, messages at the bottom."""

    sig_document_added = Signal(object)
    """A `ModelDocument` joined the library."""

    def __init__(self, settings: AppSettings | None = None, trust_prompt=None) -> None:
        super().__init__()
        self.settings = settings or AppSettings()
        self.setWindowTitle("Model Serving Workbench")
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.resize(1280, 800)

        # -- model and loader ---------------------------------------------------------------
        self.loader = ModelLoader(trust_prompt or (lambda path, fmt: ask_trust(
            self, path, fmt, self.loader.trust_reasons.get(path))), self,
            trust_many=None if trust_prompt is not None else (lambda items: ask_trust_many(self, items)))
        self.loader.sig_loaded.connect(self._model_loaded)
        self.loader.sig_busy.connect(self._busy)

        # -- views --------------------------------------------------------------------------
        self.library = LibraryView()
        self.library.sig_paths_dropped.connect(self.open_paths)
        self.library.sig_current_changed.connect(self._current_changed)
        self.library.sig_open_recent.connect(lambda p: self.open_paths([p]))
        self.library.set_recent(self.settings.recent_files())

        self.overview = OverviewView()
        self.overview.sig_trust_requested.connect(lambda p: self.open_paths([p], trust=True))
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.overview, icon("info"), "Overview")
        self.pages: dict[str, LazyPage] = {}
        for page_id, title, icon_name, factory, _per_model in PAGES:
            page = LazyPage(factory)
            page.on_built = lambda view, pid=page_id: self._page_built(pid, view)
            self.pages[page_id] = page
            self.tabs.addTab(page, icon(icon_name), title)
        self.setCentralWidget(self.tabs)

        self.library_dock = self._dock("Library", self.library, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.library_dock.setMinimumWidth(250)
        self.messages = NotificationArea(manager())
        self.messages_dock = self._dock("Messages", self.messages, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.messages.setMinimumHeight(70)

        # -- actions, status bar ------------------------------------------------------------
        self.actions = actions_mod.build_actions(self)
        self._add_dock_toggles()
        actions_mod.refresh_enabled(self.actions, False)
        self.actions["undo"].setEnabled(False)  # the Rows page drives them once it is built
        self.actions["redo"].setEnabled(False)
        self.status_label = QLabel("Ready")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(160)
        self.progress.setVisible(False)
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.cancel_open_button = QPushButton("Cancel")
        self.cancel_open_button.setToolTip("Stop opening the models that are still loading")
        self.cancel_open_button.setVisible(False)
        self.cancel_open_button.clicked.connect(self.loader.cancel)
        self.statusBar().addPermanentWidget(self.cancel_open_button)
        manager().sig_notified.connect(self._notified)

        if not self._restore_geometry():
            from PySide6.QtCore import QTimer

            QTimer.singleShot(0, self._default_dock_sizes)
        self._rows_on_open: dict[str, object] = {}
        from workbench.gui import sessions

        sessions.offer_restore(self)   # a banner, not a dialog: the window is usable at once
        if not manager().records:  # room for the views, even if it was open last time: the first
            self.messages_dock.hide()  # warning or error opens it (see `_notified`)

    # -- public API -------------------------------------------------------------------------

    def open_paths(self, paths: list[str], trust: bool | None = None) -> int:
        """Open model files/folders (detection and loading run on workers)."""
        return self.loader.open_paths(paths, trust=trust)

    def current_document(self) -> ModelDocument | None:
        return self.library.current()

    def documents(self) -> list[ModelDocument]:
        return self.library.documents()

    def page(self, page_id: str) -> QWidget:
        """The view of a tab (built if needed)."""
        return self.pages[page_id].view()

    def show_page(self, page_id: str) -> QWidget:
        if page_id == "overview":
            self.tabs.setCurrentWidget(self.overview)
            return self.overview
        self.tabs.setCurrentWidget(self.pages[page_id])
        return self.page(page_id)

    # -- action handlers (named in actions.ACTIONS) -------------------------------------------

    def open_model_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open Model", self.settings.last_folder("open"),
                                                self._file_filters())
        if paths:
            self.settings.set_last_folder("open", str(Path(paths[0]).parent))
            self.open_paths(paths)

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open SavedModel Folder", self.settings.last_folder("open"))
        if folder:
            self.settings.set_last_folder("open", str(Path(folder).parent))
            self.open_paths([folder])

    def export_model(self) -> None:
        doc = self.current_document()
        if doc is None:
            return
        from workbench.gui.dialogs.export import ExportDialog

        dialog = ExportDialog(doc, self.settings, self)
        dialog.sig_open_model.connect(lambda p: self.open_paths([p]))
        dialog.sig_open_model_with_rows.connect(self.open_with_rows)
        dialog.sig_converted.connect(lambda r: self.status_label.setText(STATUS_OF["sig_converted"](r)))
        self._export_dialog = dialog
        dialog.show()

    def open_with_rows(self, path: str, rows: object) -> int:
        """Open a model with the rows given (a converted model: the rows its parity was proved on)."""
        self._rows_on_open[str(Path(path).resolve())] = rows
        return self.open_paths([path])

    def save_session_dialog(self) -> None:
        from workbench.core.errors import WorkbenchError
        from workbench.gui import sessions

        path, _ = QFileDialog.getSaveFileName(self, "Save Session", str(Path(self.settings.last_folder("session")
                                                                             or ".") / "workbench-session.json"),
                                              "Workbench session (*.json)")
        if path:
            try:
                self.status_label.setText(sessions.save(self, path))
            except (WorkbenchError, OSError) as exc:
                from workbench.gui.notifications import notify

                notify(f"session not saved: {exc}", "error", context="save session")

    def open_session_dialog(self) -> None:
        from workbench.gui import sessions

        path, _ = QFileDialog.getOpenFileName(self, "Open Session", self.settings.last_folder("session"),
                                              "Workbench session (*.json);;All files (*)")
        if path:
            sessions.restore(self, path)

    def close_model(self) -> None:
        doc = self.current_document()
        if doc is not None and self._rows_saved_or_dropped([doc], "closing the model"):
            self.library.remove_document(doc)
            doc.deleteLater()

    def save_rows(self) -> None:
        if self.current_document() is not None:
            self.show_page("rows").save_dialog()  # type: ignore[attr-defined]

    def undo_rows(self) -> None:
        """Undo a rows edit where it can be seen: on the Rows page."""
        self.show_page("rows").undo_group.undo()  # type: ignore[attr-defined]

    def redo_rows(self) -> None:
        self.show_page("rows").undo_group.redo()  # type: ignore[attr-defined]

    def quit_workbench(self) -> None:
        if self._rows_saved_or_dropped(self.documents(), "quitting"):
            self.close()

    def run_prediction(self) -> None:
        view = self.show_page("predict")
        view.run()  # type: ignore[attr-defined]

    def show_benchmark(self) -> None:
        self.show_page("benchmark")

    def refresh_endpoint(self) -> None:
        view = self.show_page("endpoints")
        view.refresh()  # type: ignore[attr-defined]

    def show_endpoints(self) -> None:
        self.show_page("endpoints")

    def use_system_theme(self) -> None:
        self._set_theme("system")

    def use_light_theme(self) -> None:
        self._set_theme("light")

    def use_dark_theme(self) -> None:
        self._set_theme("dark")

    def show_about(self) -> None:
        from workbench.gui.dialogs.about import AboutDialog

        self._about = AboutDialog(self)
        self._about.show()

    # -- drag and drop on the whole window ------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if paths_from_mime(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if paths_from_mime(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = paths_from_mime(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # -- window state ---------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        # the window's own close button asks about unsaved rows (Quit asked already); a close() from
        # code (a signal handler, a test) does not wait on a question
        if event.spontaneous() and not self._rows_saved_or_dropped(self.documents(), "quitting"):
            event.ignore()
            return
        self.settings.set_geometry(self.saveGeometry())
        self.settings.set_window_state(self.saveState())
        self.settings.sync()
        super().closeEvent(event)

    def _rows_saved_or_dropped(self, docs: list[ModelDocument], doing: str) -> bool:
        """False when rows with unsaved edits should stop `doing` (the user chose Cancel)."""
        page = self.pages["rows"]
        return not page.built or page.view().confirm_discard(docs, doing)  # type: ignore[attr-defined]

    def _restore_geometry(self) -> bool:
        geometry = self.settings.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)
        return state is not None

    def _default_dock_sizes(self) -> None:
        self.resizeDocks([self.library_dock], [280], Qt.Orientation.Horizontal)
        self.resizeDocks([self.messages_dock], [120], Qt.Orientation.Vertical)
        if not manager().records:
            self.messages_dock.hide()

    # -- private ------------------------------------------------------------------------------

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _add_dock_toggles(self) -> None:
        menu = self._menus["&View"]  # type: ignore[attr-defined]
        menu.addSeparator()
        menu.addAction(self.library_dock.toggleViewAction())
        menu.addAction(self.messages_dock.toggleViewAction())

    def _file_filters(self) -> str:
        filters = []
        try:
            from workbench.core.builtins import register_builtin_formats
            from workbench.core.formats.base import FORMATS

            register_builtin_formats()
            filters = [fmt.file_filter() for fmt in FORMATS.values() if not fmt.is_folder and fmt.extensions]
            every = sorted({f"*{ext}" for fmt in FORMATS.values() if not fmt.is_folder for ext in fmt.extensions})
            if every:
                filters.insert(0, f"All models ({' '.join(every)})")
        except ImportError:
            pass
        filters.append("All files (*)")
        return ";;".join(filters)

    def _model_loaded(self, info, trusted: bool) -> None:
        existing = self.library.find(info.path)
        if existing is not None:
            doc: ModelDocument = existing.data(Qt.ItemDataRole.UserRole)
            doc.set_info(info, trusted)
            self.library.models.setCurrentItem(existing)
            self._current_changed(doc)
        else:
            doc = ModelDocument(info, trusted, self)
            self._load_sibling_rows(doc)
            self.library.add_document(doc)
        self.library.set_recent(self.settings.add_recent_file(info.path))
        rows = f", {len(doc.rows)} rows from {doc.rows.attrs.get('source', 'a file').rsplit('/', 1)[-1]}" \
            if doc.rows is not None else ""
        self.status_label.setText(f"Opened {doc.name} ({info.format}, {info.task}{rows})")
        given = self._rows_on_open.pop(str(Path(info.path).resolve()), None)
        if given is None:   # a TF Serving bundle opens as its version folder
            given = self._rows_on_open.pop(str(Path(info.path).resolve().parent), None)
        if given is not None:
            doc.set_rows(given)
            self.status_label.setText(f"Opened {doc.name} ({info.format}, {info.task}, {len(given)} rows it "
                                      "was proved on)")
        from workbench.gui import sessions

        sessions.apply_to_document(self, doc)
        self.sig_document_added.emit(doc)

    @staticmethod
    def _load_sibling_rows(doc: ModelDocument) -> None:
        """Rows from a `<model>.rows.csv` beside the model, at once: Predict, Benchmark and Export then use
        the same rows whether or not the Rows page was visited (a bad file is shown there, not here)."""
        from workbench.core.errors import InputRowsError
        from workbench.core.rows import read_rows
        from workbench.gui.views.rows import sibling_rows_file

        found = sibling_rows_file(doc.path)
        if found is None:
            return
        try:
            doc.rows = read_rows(found)
        except InputRowsError:
            pass

    def _current_changed(self, doc: ModelDocument | None) -> None:
        self.overview.set_document(doc)
        for page_id, _t, _i, _f, per_model in PAGES:
            page = self.pages[page_id]
            if per_model and page.built:
                page.view().set_document(doc)  # type: ignore[attr-defined]
        actions_mod.refresh_enabled(self.actions, doc is not None)
        name = doc.name if doc else ""
        self.setWindowTitle(f"{name} — Model Serving Workbench" if name else "Model Serving Workbench")

    def _page_built(self, page_id: str, view: QWidget) -> None:
        per_model = next(p[4] for p in PAGES if p[0] == page_id)
        if per_model:
            view.set_document(self.current_document())  # type: ignore[attr-defined]
        if hasattr(view, "attach"):
            view.attach(self)  # type: ignore[attr-defined]
        for name, describe in STATUS_OF.items():  # the status bar says what finished last
            signal = getattr(view, name, None)
            if signal is not None:
                signal.connect(lambda payload, d=describe: self.status_label.setText(d(payload)))

    def _busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_open_button.setVisible(busy)
        if busy:
            self.status_label.setText("Opening…")

    def _notified(self, note) -> None:
        self.status_label.setText(note.title())
        if note.severity in ("error", "warning") and not self.messages_dock.isVisible():
            self.messages_dock.show()

    def _set_theme(self, theme: str) -> None:
        from workbench.gui.theme import apply_theme

        self.settings.set_theme(theme)
        apply_theme(theme)
        if "workbench.gui.views.benchmark" in sys.modules:  # charts exist only once a page made them
            sys.modules["workbench.gui.views.benchmark"].restyle_plots()
