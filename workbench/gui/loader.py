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
#: [(path, format name, reasons)] in drop order -> {path: True (trust) / False (inspect only)}; a path left
#: out, or None for all, is not opened
TrustManyPrompt = Callable[[list[tuple[str, str, list[str]]]], dict[str, bool] | None]


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
    sha256 = ""
    if runs_code:  # trust is remembered (in sessions) by content: a changed file is asked again
        from workbench.core.session import sha256_path

        try:
            sha256 = sha256_path(path)
        except OSError:
            sha256 = ""
    return {"path": path, "format": name, "runs_code": runs_code, "reasons": reasons, "sha256": sha256}


class _Batch:
    """The paths of one `open_paths` call (one drop): their trust is asked once, in the order given."""

    def __init__(self, order: list[str], trust: bool | None, known: dict[str, tuple[str, bool]]) -> None:
        self.order = order
        self.trust = trust
        #: path -> (sha256, trusted) decided earlier (a session): used only if the sha256 is unchanged
        self.known = known
        self.waiting = set(order)
        self.results: dict[str, dict[str, Any]] = {}


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

    def __init__(self, trust_prompt: TrustPrompt, parent: QObject | None = None,
                 trust_many: TrustManyPrompt | None = None) -> None:
        super().__init__(parent)
        self.trust_prompt = trust_prompt
        #: asks once for every untrusted file of a drop (else `trust_prompt` is asked per file, in order)
        self.trust_many = trust_many
        #: path -> sha256 of the models that run code (what their trust decision is bound to)
        self.sha256: dict[str, str] = {}
        self.pending: set[str] = set()
        self._workers: dict[str, Any] = {}
        #: path -> what loading it would touch (SavedModel file/network ops), for the trust question
        self.trust_reasons: dict[str, list[str]] = {}

    # -- public API -------------------------------------------------------------------------

    def open_paths(self, paths: Iterable[str | Path], trust: bool | None = None,
                   known: dict[str, tuple[str, bool]] | None = None) -> int:
        """Start opening every path; returns how many were started. `trust` skips the prompt; `known`
        ({path: (sha256, trusted)}) skips it for a model whose content still has that sha256.

        The untrusted files among `paths` are asked about together, once every path is detected, in the
        order of `paths` (not in the order their detection happens to finish)."""
        if not models_core_ready():
            notify("model loading is not available yet (workbench.core.models is missing)", "error",
                   context="open")
            return 0
        # registration is not thread-safe: do it once here, before several detect workers run at once
        from workbench.core.builtins import register_builtin_formats

        register_builtin_formats()
        order: list[str] = []
        for raw in paths:
            # one entry per model however it was named (relative, absolute, "..", a symlink)
            path = str(Path(raw).expanduser().resolve())
            if path in self.pending or path in order:
                continue
            order.append(path)
        known = {str(Path(p).expanduser().resolve()): v for p, v in (known or {}).items()}
        batch = _Batch(order, trust, known)
        for path in order:
            self._set_pending(path, True)
        for path in order:
            self._workers[path] = run_in_worker(_detect, path, name=f"detect {Path(path).name}",
                                                on_result=lambda r, b=batch: self._detected(r, b),
                                                on_error=lambda exc, p=path, b=batch: self._detect_failed(p, exc, b))
        return len(order)

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

    def _detect_failed(self, path: str, exc: BaseException, batch: _Batch) -> None:
        self._failed(path, exc)
        batch.waiting.discard(path)
        self._ask_batch(batch)

    def _detected(self, result: dict[str, Any], batch: _Batch) -> None:
        path = result["path"]
        batch.waiting.discard(path)
        if path in self.pending:  # else cancelled meanwhile
            batch.results[path] = result
            if result.get("sha256"):
                self.sha256[path] = result["sha256"]
        self._ask_batch(batch)

    def _ask_batch(self, batch: _Batch) -> None:
        """Once every path of the drop is detected: one trust question for all that need it, then inspect."""
        if batch.waiting:
            return
        ready = [batch.results[p] for p in batch.order if p in batch.results and p in self.pending]
        batch.results.clear()
        decisions: dict[str, bool] = {}
        ask = []
        for r in ready:
            if not r["runs_code"]:
                continue
            path = r["path"]
            self.trust_reasons[path] = list(r.get("reasons") or [])
            if batch.trust is not None:
                decisions[path] = batch.trust
            elif path in batch.known and r.get("sha256") and batch.known[path][0] == r["sha256"]:
                decisions[path] = batch.known[path][1]
            else:
                ask.append((path, r["format"], self.trust_reasons[path]))
        if ask:
            decisions.update(self._ask(ask))
        for r in ready:
            path = r["path"]
            if path not in self.pending:
                continue
            trust = decisions.get(path) if r["runs_code"] else False
            if trust is None:
                notify(f"{Path(path).name}: not opened (cancelled at the trust question)", "info", context="open")
                self._workers.pop(path, None)
                self._set_pending(path, False)
                continue
            self._workers[path] = run_in_worker(
                _inspect, path, bool(trust), name=f"inspect {Path(path).name}",
                on_result=lambda info, p=path, t=bool(trust): self._inspected(p, info, t),
                on_error=lambda exc, p=path: self._failed(p, exc))

    def _ask(self, items: list[tuple[str, str, list[str]]]) -> dict[str, bool]:
        """{path: trust} for the files in `items` the user answered (one question for all if possible)."""
        if self.trust_many is not None:
            answer = self.trust_many(items) or {}
            return {p: bool(answer[p]) for p, _f, _r in items if p in answer and answer[p] is not None}
        out = {}
        for path, fmt, _reasons in items:
            if path not in self.pending:
                continue
            trust = self.trust_prompt(path, fmt)
            if trust is not None:
                out[path] = bool(trust)
        return out

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
