"""The model library: loaded models, recent files and a drop target."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.document import ModelDocument
from workbench.gui.loader import paths_from_mime
from workbench.gui.resources import icon

_FORMAT_TITLES = {
    "sklearn": "pickle", "skops": "skops", "lightgbm": "LightGBM", "xgboost": "XGBoost", "keras": "Keras",
    "savedmodel": "SavedModel", "onnx": "ONNX", "pmml": "PMML",
}


class DropTarget(QFrame):
    """A dashed frame that says where to drop; the whole library accepts drops."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropTarget")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 10, 8, 10)
        pic = QLabel()
        pic.setPixmap(icon("drop").pixmap(28, 28))
        self.pic = pic
        from workbench.gui.theme import signals

        signals().sig_changed.connect(self._restyle)   # a pixmap does not follow the palette by itself
        pic.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = QLabel("Drop model files or folders here\n(or File ▸ Open, Ctrl+O)")
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setObjectName("viewSubtitle")
        layout.addWidget(pic)
        layout.addWidget(text)
        self.setToolTip("sklearn/joblib, skops, LightGBM, XGBoost, Keras, SavedModel folders, ONNX, PMML;\n"
                        "several at once. The format is detected from the content.")

    def _restyle(self, _colors: object = None) -> None:
        import shiboken6

        if shiboken6.isValid(self.pic):
            self.pic.setPixmap(icon("drop").pixmap(28, 28))

    def set_active(self, on: bool) -> None:
        self.setProperty("active", "true" if on else "false")
        self.style().unpolish(self)
        self.style().polish(self)


class LibraryView(QWidget):
    """Loaded models, recent files, drop target."""

    sig_paths_dropped = Signal(list)
    """Local paths dropped on the library."""
    sig_current_changed = Signal(object)
    """The selected `ModelDocument` (or None)."""
    sig_open_recent = Signal(str)
    """A recent file was activated."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.models = QListWidget()
        self.models.setObjectName("modelList")
        self.models.setToolTip("Loaded models; select one to see it in the views")
        self.models.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.models.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.models.setSpacing(2)
        self.recent = QListWidget()
        self.recent.setObjectName("recentList")
        self.recent.setToolTip("Double-click to open again")
        self.recent.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.recent.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.drop = DropTarget()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self._label("Loaded models"))
        layout.addWidget(self.models, 3)
        layout.addWidget(self.drop)
        layout.addWidget(self._label("Recent files"))
        layout.addWidget(self.recent, 2)

        self.models.currentItemChanged.connect(self._current_changed)
        self.recent.itemActivated.connect(
            lambda item: self.sig_open_recent.emit(item.data(Qt.ItemDataRole.UserRole)))

    @staticmethod
    def _label(text: str) -> QLabel:
        label = QLabel(text)
        label.setStyleSheet("font-weight: 600;")
        return label

    # -- public API -------------------------------------------------------------------------

    def add_document(self, doc: ModelDocument) -> None:
        existing = self.find(doc.path)
        if existing is not None:
            self.models.takeItem(self.models.row(existing))
        item = QListWidgetItem()
        item.setData(Qt.ItemDataRole.UserRole, doc)
        self._describe(item, doc)
        self.models.addItem(item)
        self.models.setCurrentItem(item)
        doc.sig_info_changed.connect(lambda d=doc: self.refresh(d))

    def refresh(self, doc: ModelDocument) -> None:
        """Redraw a document's entry (after it was trusted and loaded, its warning is gone)."""
        item = self.find(doc.path)
        if item is not None:
            self._describe(item, doc)

    @staticmethod
    def _describe(item: QListWidgetItem, doc: ModelDocument) -> None:
        fmt = _FORMAT_TITLES.get(doc.info.format, doc.info.format)
        item.setIcon(icon("warning" if doc.info.warnings else "model"))
        item.setText(f"{doc.name}\n{fmt} · {doc.info.framework} · {doc.info.task}")
        item.setToolTip(doc.path + ("\n" + "\n".join(doc.info.warnings) if doc.info.warnings else ""))

    def remove_document(self, doc: ModelDocument) -> None:
        item = self.find(doc.path)
        if item is not None:
            self.models.takeItem(self.models.row(item))

    def find(self, path: str) -> QListWidgetItem | None:
        for i in range(self.models.count()):
            item = self.models.item(i)
            if item.data(Qt.ItemDataRole.UserRole).path == path:
                return item
        return None

    def documents(self) -> list[ModelDocument]:
        return [self.models.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.models.count())]

    def current(self) -> ModelDocument | None:
        item = self.models.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def set_recent(self, paths: list[str]) -> None:
        from workbench.gui.settings import recent_labels

        self.recent.clear()
        for path, label in zip(paths, recent_labels(paths), strict=True):
            p = Path(path)
            item = QListWidgetItem(icon("folder" if p.is_dir() else "model"), label)
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setToolTip(path + ("" if p.exists() else "\n(missing)"))
            if not p.exists():
                item.setForeground(self.palette().placeholderText())
            self.recent.addItem(item)

    # -- drag and drop ----------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if paths_from_mime(event.mimeData()):
            self.drop.set_active(True)
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if paths_from_mime(event.mimeData()):
            event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.drop.set_active(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop.set_active(False)
        paths = paths_from_mime(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.sig_paths_dropped.emit(paths)

    # -- private ----------------------------------------------------------------------------

    def _current_changed(self, item: QListWidgetItem | None, _prev: QListWidgetItem | None) -> None:
        self.sig_current_changed.emit(item.data(Qt.ItemDataRole.UserRole) if item is not None else None)
