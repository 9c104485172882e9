"""A loaded model as the views see it: its ModelInfo, trust, rows table and last predictions.

Views get a `ModelDocument` and subscribe to its signals; the document never imports a view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from workbench.core.types import ModelInfo


class ModelDocument(QObject):
    """One model in the library."""

    sig_rows_changed = Signal()
    """The rows table was replaced or edited."""
    sig_predictions_changed = Signal()
    """New prediction batches arrived (by runtime name)."""
    sig_info_changed = Signal()
    """The ModelInfo was replaced (e.g. re-inspected with trust)."""

    def __init__(self, info: ModelInfo, trusted: bool = False, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.info = info
        self.trusted = trusted
        #: the rows table as a pandas DataFrame (None until filled)
        self.rows: Any = None
        #: runtime name -> PredictionBatch of the last run
        self.predictions: dict[str, Any] = {}
        #: runtime name -> loaded Session (created on a worker, reused)
        self.sessions: dict[str, Any] = {}
        #: the last local benchmark of this model (a LocalBenchResult), shown again when it is selected
        self.benchmark: Any = None
        #: (object, session file name) for the predictions and benchmark a session gave this model
        self.restored_from: list[tuple[Any, str]] = []

    @property
    def path(self) -> str:
        return self.info.path

    @property
    def name(self) -> str:
        p = Path(self.info.path)
        if p.name.isdigit() and p.parent.name:  # a TF Serving version folder: "model/1", not "1"
            return f"{p.parent.name}/{p.name}"
        return p.name or str(p)

    def set_info(self, info: ModelInfo, trusted: bool | None = None) -> None:
        self.info = info
        if trusted is not None:
            self.trusted = trusted
        self.sessions.clear()
        self.sig_info_changed.emit()

    def set_rows(self, frame: Any) -> None:
        self.rows = frame
        self.sig_rows_changed.emit()

    def set_predictions(self, batches: dict[str, Any]) -> None:
        self.predictions = dict(batches)
        self.sig_predictions_changed.emit()
