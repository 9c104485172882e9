"""Opening model paths: detect on a worker, ask for trust when the format runs code, inspect on a worker.

Two steps, as in Orange's ``OWUrlDropBase`` and napari's ``QtViewer.dropEvent``: `paths_from_mime`
turns a drop into local paths at the edge, then `ModelLoader.open_paths` hands them to core.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QObject, Signal

from workbench.gui.notifications import describe_exception, notify
from workbench.gui.workers import run_in_worker

#: (path, format name) -> True (trust and load), False (inspect only), None (cancel)
TrustPrompt = Callable[[str, str], bool | None]


def paths_from_mime(mime: QMimeData) -> list[str]:
    """Local file/folder paths of a drag (non-local URLs are ignored)."""
    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


def models_core_ready() -> bool:
    return importlib.util.find_spec("workbench.core.models") is not None


def _detect(path: str) -> dict[str, Any]:
    """Worker job: detect the format, whether loading it runs code, and what the code touches
    (for a SavedModel: the ops of its graph that reach files or the network, read without loading it)."""
    from workbench.core.errors import WorkbenchError
    from workbench.core.formats.base import FORMATS
    from workbench.core.models import detect_format

    name = detect_format(path)
    runs_code = bool(name in FORMATS and FORMATS.get(name).runs_code)
    reasons: list[str] = []
    if runs_code and name == "savedmodel":
        from workbench.core.formats.savedmodel import file_ops, resolve

        try:
            reasons = file_ops(resolve(Path(path))[0])
        except WorkbenchError:
            reasons = []  # a damaged graph: inspection reports it
    return {"path": path, "format": name, "runs_code": runs_code, "reasons": reasons}


def needs_trust(info: Any) -> bool:
    """True when loading this inspected model runs code from the file (a pickle not loaded yet, a
    SavedModel, a Keras model with Lambda layers), so predicting or converting it needs the user's trust."""
    from workbench.core.formats.base import FORMATS

    if info.format in FORMATS and FORMATS.get(info.format).runs_code and not info.loaded:
        return True
    metadata = info.metadata if isinstance(info.metadata, dict) else {}
    return info.format == "keras" and bool(metadata.get("lambda_layers"))


def _inspect(path: str, trust: bool) -> Any:
    from workbench.core.models import inspect_model

    return inspect_model(path, trust=trust)


class ModelLoader(QObject):
    """Opens paths into `ModelInfo`s; the main window turns them into documents."""

    sig_loaded = Signal(object, bool)
    """(ModelInfo, trusted) for a path that was inspected."""
    sig_failed = Signal(str, str)
    """(path, reason) for a path that was refused or failed to load."""
    sig_busy = Signal(bool)
    """True while any path is being detected or inspected."""

    def __init__(self, trust_prompt: TrustPrompt, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.trust_prompt = trust_prompt
        self.pending: set[str] = set()
        self._workers: dict[str, Any] = {}
        #: path -> what loading it would touch (SavedModel file/network ops), for the trust question
        self.trust_reasons: dict[str, list[str]] = {}

    # -- public API -------------------------------------------------------------------------

    def open_paths(self, paths: Iterable[str | Path], trust: bool | None = None) -> int:
        """Start opening every path; returns how many were started. `trust` skips the prompt."""
        if not models_core_ready():
            notify("model loading is not available yet (workbench.core.models is missing)", "error",
                   context="open")
            return 0
        # registration is not thread-safe: do it once here, before several detect workers run at once
        from workbench.core.builtins import register_builtin_formats

        register_builtin_formats()
        started = 0
        for raw in paths:
            # one entry per model however it was named (relative, absolute, "..", a symlink)
            path = str(Path(raw).expanduser().resolve())
            if path in self.pending:
                continue
            self._set_pending(path, True)
            self._workers[path] = run_in_worker(_detect, path, name=f"detect {Path(path).name}",
                                                on_result=lambda r, t=trust: self._detected(r, t),
                                                on_error=lambda exc, p=path: self._failed(p, exc))
            started += 1
        return started

    def cancel(self) -> int:
        """Stop opening every pending path; returns how many were cancelled.

        Core inspection has no cancellation points, so a running worker finishes in the background;
        its result is dropped (workers emit no result after cancel) and nothing is added.
        """
        cancelled = sorted(self.pending)
        for path in cancelled:
            worker = self._workers.pop(path, None)
            if worker is not None:
                worker.cancel()
            self._set_pending(path, False)
        if cancelled:
            notify(f"opening cancelled: {', '.join(Path(p).name for p in cancelled)}", "info", context="open")
        return len(cancelled)

    @property
    def busy(self) -> bool:
        return bool(self.pending)

    # -- private ----------------------------------------------------------------------------

    def _set_pending(self, path: str, on: bool) -> None:
        was = self.busy
        if on:
            self.pending.add(path)
        else:
            self.pending.discard(path)
        if was != self.busy:
            self.sig_busy.emit(self.busy)

    def _detected(self, result: dict[str, Any], trust: bool | None) -> None:
        path = result["path"]
        if path not in self.pending:  # cancelled meanwhile
            return
        if result["runs_code"]:
            self.trust_reasons[path] = list(result.get("reasons") or [])
            if trust is None:
                trust = self.trust_prompt(path, result["format"])
            if trust is None:
                notify(f"{Path(path).name}: not opened (cancelled at the trust question)", "info", context="open")
                self._set_pending(path, False)
                return
        else:
            trust = False
        self._workers[path] = run_in_worker(
            _inspect, path, bool(trust), name=f"inspect {Path(path).name}",
            on_result=lambda info, t=bool(trust): self._inspected(path, info, t),
            on_error=lambda exc: self._failed(path, exc))

    def _inspected(self, path: str, info: Any, trusted: bool) -> None:
        if path not in self.pending:  # cancelled meanwhile
            return
        self._workers.pop(path, None)
        self._set_pending(path, False)
        self.sig_loaded.emit(info, trusted)

    def _failed(self, path: str, exc: BaseException) -> None:
        if path not in self.pending:  # cancelled meanwhile: the error no longer matters
            return
        self._workers.pop(path, None)
        message, hint, details = describe_exception(exc)
        notify(message, "error", hint=hint, details=details, context=f"open {Path(path).name}")
        self._set_pending(path, False)
        self.sig_failed.emit(path, message + (f" ({hint})" if hint else ""))
