"""Predict: run the rows table in one or more runtimes and show the results side by side.

Runtimes come from the core RUNTIMES registry (unavailable ones are shown disabled with the
reason). Prediction runs on a worker; cells where a runtime disagrees with the first one
(different label, or a probability/value outside the parity tolerance) are highlighted, and
`compare_batches` gives the parity line per runtime pair.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.document import ModelDocument
from workbench.core.tolerances import DEFAULT_ATOL as ATOL
from workbench.core.tolerances import DEFAULT_RTOL as RTOL
from workbench.gui.loader import needs_trust as _needs_trust
from workbench.gui.notifications import describe_exception, notify
from workbench.gui.resources import icon
from workbench.gui.views.common import color, core_module, header, placeholder, running_for
from workbench.gui.workers import Progress, Worker, run_in_worker

RAW = Qt.ItemDataRole.UserRole


def predict_job(doc_path: str, info: Any, trust: bool, frame: Any, runtimes: list[str],
                sessions: dict[str, Any], task: Any = None) -> dict[str, Any]:
    """Worker job: prepare the rows once, then predict them in every runtime."""
    from workbench.core.rows import prepare_rows
    from workbench.core.runtimes import RUNTIMES

    prepared = prepare_rows(frame, info)
    batches: dict[str, Any] = {}
    errors: dict[str, BaseException] = {}
    new_sessions: dict[str, Any] = {}
    for i, name in enumerate(runtimes):
        task.check()
        task.progress(i / len(runtimes), f"{name}: loading" if name not in sessions else f"{name}: predicting")
        try:
            session = sessions.get(name)
            if session is None:
                session = RUNTIMES.get(name).load(doc_path, info, trust)
                new_sessions[name] = session
            task.progress((i + 0.5) / len(runtimes), f"{name}: predicting {len(prepared)} rows")
            batches[name] = session.predict(prepared)
        except Exception as exc:  # noqa: BLE001 - one runtime failing must not hide the others
            errors[name] = exc
    parity: dict[str, Any] = {}
    names = list(batches)
    if len(names) > 1:
        from workbench.core.compare import compare_batches

        for other in names[1:]:
            try:
                parity[other] = compare_batches(batches[names[0]], batches[other], atol=ATOL, rtol=RTOL,
                                                frame=prepared)
            except Exception as exc:  # noqa: BLE001
                errors[f"compare {names[0]}/{other}"] = exc
    return {"prepared": prepared, "batches": batches, "errors": errors, "sessions": new_sessions,
            "parity": parity}


def _fmt(value: Any) -> str:
    if isinstance(value, float | np.floating):
        v = float(value)
        if v != 0.0 and abs(v) < 1e-4:  # 0.000000 would hide a small number
            return f"{v:.3g}"
        return f"{v:.6f}" if abs(v) < 1e5 else f"{v:.6g}"
    return str(value)


class PredictView(QWidget):
    """Runtimes, Run/Cancel, the side-by-side results table and the parity lines."""

    sig_predicted = Signal(dict)
    """Predictions arrived: runtime name -> PredictionBatch."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: ModelDocument | None = None
        self._core, self._why = core_module("workbench.core.runtimes")
        self.worker: Worker | None = None
        self._run_doc: ModelDocument | None = None   # the model the last job was started for
        self.result: dict[str, Any] | None = None
        self.checks: dict[str, QCheckBox] = {}

        self.stack = QStackedWidget()
        self.empty = placeholder("No model selected." if self._core else f"Predict is {self._why}")
        self.stack.addWidget(self.empty)
        page = QWidget()
        self.head, self.title, self.subtitle = header("Predict", "")
        self.runtime_bar = QHBoxLayout()
        self.runtime_bar.addWidget(QLabel("Runtimes:"))
        self.runtime_box = QHBoxLayout()
        self.runtime_bar.addLayout(self.runtime_box)
        self.runtime_bar.addStretch(1)
        self.run_button = QPushButton(icon("run", "#ffffff"), "Run")
        self.run_button.setObjectName("primary")
        self.run_button.setToolTip("Predict every row of the Rows table in the checked runtimes (Ctrl+R)")
        self.cancel_button = QPushButton(icon("stop"), "Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        self.runtime_bar.addWidget(self.progress)
        self.runtime_bar.addWidget(self.run_button)
        self.runtime_bar.addWidget(self.cancel_button)
        self.status = QLabel("Check one or more runtimes and press Run.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.parity = QLabel()
        self.parity.setWordWrap(True)
        self.parity.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setDefaultSectionSize(24)

        layout = QVBoxLayout(page)
        layout.addWidget(self.head)
        layout.addLayout(self.runtime_bar)
        layout.addWidget(self.status)
        layout.addWidget(self.parity)
        layout.addWidget(self.table, 1)
        self.page = page
        self.stack.addWidget(page)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        outer.addWidget(self.stack)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)

    # -- public API -------------------------------------------------------------------------

    def set_document(self, doc: ModelDocument | None) -> None:
        if self.doc is not None:
            self.doc.sig_info_changed.disconnect(self._rebuild)
        self.doc = doc
        if doc is not None:
            doc.sig_info_changed.connect(self._rebuild)
        self._rebuild()

    def selected_runtimes(self) -> list[str]:
        return [name for name, box in self.checks.items() if box.isChecked() and box.isEnabled()]

    def set_runtimes(self, names: list[str]) -> None:
        for name, box in self.checks.items():
            box.setChecked(name in names and box.isEnabled())

    def run(self) -> Worker | None:
        """Predict the document's rows in the checked runtimes (on a worker)."""
        doc = self.doc
        if doc is None or self._core is None:
            return None
        if self.worker is not None and not self.worker.is_done:
            return self.worker
        runtimes = self.selected_runtimes()
        if not runtimes:
            self._status("Check at least one runtime.", "warn")
            return None
        if doc.rows is None or len(doc.rows) == 0:
            self._status("No rows to predict: fill the Rows table first (load a CSV, paste or generate).", "warn")
            return None
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setVisible(True)
        self.progress.setValue(0)
        self._status(f"Predicting {len(doc.rows)} rows in {', '.join(runtimes)}…", "info")
        self._run_doc = doc
        self.worker = run_in_worker(predict_job, doc.path, doc.info, doc.trusted, doc.rows.copy(), runtimes,
                                    dict(doc.sessions), name="predict", on_result=lambda r, d=doc: self._done(d, r),
                                    on_error=self._failed, on_progress=self._progress,
                                    on_finished=self._finished)
        return self.worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self._status("Cancelling… (stops after the current runtime)", "warn")

    def cell(self, row: int, column: str) -> Any:
        """The raw value behind a results cell (by header text)."""
        for c in range(self.table.columnCount()):
            if self.table.horizontalHeaderItem(c).text() == column:
                item = self.table.item(row, c)
                return item.data(RAW) if item is not None else None
        raise KeyError(column)

    def headers(self) -> list[str]:
        return [self.table.horizontalHeaderItem(c).text() for c in range(self.table.columnCount())]

    # -- private ----------------------------------------------------------------------------

    def _rebuild(self) -> None:
        doc = self.doc
        for box in self.checks.values():
            # hidden, never reparented to None: a box added to the layout a moment ago has a queued "show";
            # made a top-level window, it would flash as a small window of its own and take the focus
            box.hide()
            self.runtime_box.removeWidget(box)
            box.deleteLater()
        self.checks.clear()
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.parity.clear()
        if doc is None or self._core is None:
            self.stack.setCurrentWidget(self.empty)
            return
        self.stack.setCurrentWidget(self.page)
        self.title.setText(f"Predict with {doc.name}")
        self.subtitle.setText(f"{doc.info.format} · {doc.info.task} · the rows come from the Rows view")
        runtimes = self._core.runtimes_for(doc.info.format)
        default = self._core.default_runtime(doc.info.format) if runtimes else None
        for runtime in runtimes:
            avail = runtime.availability(doc.info.format)
            box = QCheckBox(runtime.name)
            box.setEnabled(avail.ok)
            box.setChecked(avail.ok and runtime.name == default)
            title = getattr(runtime, "title", "") or runtime.name
            box.setToolTip(title if avail.ok else f"{title}: not available: {avail.message()}")
            self.checks[runtime.name] = box
            self.runtime_box.addWidget(box)
        running = running_for(self.worker, self._run_doc)
        self.cancel_button.setEnabled(running is doc)   # Cancel on this page cancels this model's job only
        if running is not None and running is not doc:
            self._status(f"Predicting with {running.name}: its results appear on its page.", "info")
        elif running is doc:
            self._status("Predicting…", "info")
        elif not runtimes:
            self._status(f"No registered runtime runs {doc.info.format} models.", "bad")
        elif not doc.trusted and _needs_trust(doc.info):
            what = "pickle" if doc.info.format == "sklearn" else "model"
            self._status(f"This {what} was opened for inspection only: loading it runs code from the file, "
                         "so predictions need your trust (Overview ▸ Trust and load).", "warn")
        else:
            self._status("Check one or more runtimes and press Run (Ctrl+R).", "info")
        if doc.predictions:
            self._show(doc.predictions, {})
            from workbench.gui.sessions import restored_note

            note = restored_note(doc, doc.predictions)
            if note and running is None:
                self._status(f"Predictions {note} (Run to predict again).", "info")

    def _shows_run(self) -> bool:
        """True while the page shows the model the last run was for."""
        return self.doc is self._run_doc

    def _progress(self, report: Progress) -> None:
        if not self._shows_run():
            return
        if report.fraction is not None:
            self.progress.setValue(int(report.fraction * 100))
        if report.message:
            self._status(report.message + "…", "info")

    def _finished(self) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)
        if not self._shows_run():
            self._status("Check one or more runtimes and press Run (Ctrl+R).", "info")
        elif self.worker is not None and self.worker.is_cancelled:
            self._status("Cancelled.", "warn")

    def _failed(self, exc: BaseException) -> None:
        message, hint, details = describe_exception(exc)
        if self._shows_run():
            self._status(f"✗ {message}" + (f" ({hint})" if hint else ""), "bad")
        notify(message, "error", hint=hint, details=details, context="predict")

    def _done(self, doc: ModelDocument, result: dict[str, Any]) -> None:
        doc.sessions.update(result["sessions"])
        doc.set_predictions(result["batches"])
        self.result = result
        if doc is not self.doc:
            return
        for name, exc in result["errors"].items():
            message, hint, details = describe_exception(exc)
            notify(message, "error", hint=hint, details=details, context=f"predict {name}")
        # rows the model accepts but may not expect (unknown categories, ...) come with warnings
        for warning in result["prepared"].attrs.get("warnings", []):
            notify(warning, "warning", context="predict rows")
        self._show(result["batches"], result["parity"])
        ok = ", ".join(f"{n} {b.elapsed_ms:.1f} ms" for n, b in result["batches"].items())
        failed = ", ".join(f"{n}: {describe_exception(e)[0]}" for n, e in result["errors"].items())
        text = f"Predicted {len(result['prepared'])} rows: {ok}" if ok else "No runtime succeeded"
        self._status(text + (f" · failed: {failed}" if failed else ""), "bad" if failed else "ok")
        self.sig_predicted.emit(result["batches"])

    def _show(self, batches: dict[str, Any], parity: dict[str, Any]) -> None:
        from workbench.core.predictions import canonical_label

        names = list(batches)
        if not names:
            return
        ref = batches[names[0]]
        # columns: per runtime, label, P(class) for each class, value
        columns: list[tuple[str, str, Any]] = []  # (runtime, role, class)
        for name in names:
            b = batches[name]
            if b.labels is not None:
                columns.append((name, "label", None))
            if b.probabilities is not None:
                classes = b.classes if b.classes is not None else list(range(b.probabilities.shape[1]))
                columns += [(name, "p", c) for c in classes]
            if b.values is not None:
                width = 1 if np.asarray(b.values).ndim == 1 else np.asarray(b.values).shape[1]
                columns += [(name, "value", k if width > 1 else None) for k in range(width)]
        n = ref.rows
        self.table.clear()
        self.table.setColumnCount(len(columns))
        self.table.setRowCount(n)
        headers = []
        for name, role, cls in columns:
            if role == "label":
                headers.append(f"{name}: label")
            elif role == "p":
                headers.append(f"{name}: P({cls})")
            else:
                headers.append(f"{name}: value" + (f"[{cls}]" if cls is not None else ""))
        self.table.setHorizontalHeaderLabels(headers)
        ref_probs = {}
        if ref.probabilities is not None:
            ref_classes = ref.classes if ref.classes is not None else list(range(ref.probabilities.shape[1]))
            ref_probs = {canonical_label(c): j for j, c in enumerate(ref_classes)}
        diff_bg = color("diff_bg")
        group_colors = [color("base"), color("alt_base")]
        for c, (name, role, cls) in enumerate(columns):
            b = batches[name]
            is_ref = name == names[0]
            for r in range(min(n, b.rows)):
                tip = ""
                differs = False
                if role == "label":
                    raw = b.labels[r]
                    value = raw.item() if hasattr(raw, "item") else raw
                    if not is_ref and ref.labels is not None:
                        other = ref.labels[r]
                        differs = canonical_label(other) != canonical_label(raw)
                        tip = f"{names[0]}: {other}" if differs else ""
                elif role == "p":
                    j = (b.classes or list(range(b.probabilities.shape[1]))).index(cls) \
                        if b.classes is not None else int(cls)
                    value = float(b.probabilities[r, j])
                    k = ref_probs.get(canonical_label(cls))
                    if not is_ref and k is not None:
                        base = float(ref.probabilities[r, k])
                        differs = abs(value - base) > ATOL + RTOL * abs(base)
                        tip = f"{names[0]}: {base:.6g} (diff {value - base:+.3g})"
                else:
                    arr = np.asarray(b.values)
                    value = float(arr[r] if cls is None else arr[r, cls])
                    if not is_ref and ref.values is not None:
                        rarr = np.asarray(ref.values)
                        if rarr.shape == arr.shape:
                            base = float(rarr[r] if cls is None else rarr[r, cls])
                            differs = abs(value - base) > ATOL + RTOL * abs(base)
                            tip = f"{names[0]}: {base:.6g} (diff {value - base:+.3g})"
                item = QTableWidgetItem(_fmt(value))
                item.setData(RAW, value)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                                      if role != "label" else Qt.AlignmentFlag.AlignCenter)
                if differs:
                    item.setBackground(diff_bg)
                    item.setToolTip(f"differs from {tip}")
                else:
                    item.setBackground(group_colors[names.index(name) % 2])
                    if tip:
                        item.setToolTip(tip)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        lines = []
        for other, report in parity.items():
            verdict = "✓" if report.passed else "✗"
            lines.append(f"{verdict} {other} vs {names[0]}: {report.summary()}")
            for note in report.notes[:2]:
                lines.append(f"    {note}")
        self.parity.setText("\n".join(lines))
        self.parity.setStyleSheet(
            f"color: {color('ok' if all(p.passed for p in parity.values()) else 'bad').name()};")

    def _status(self, text: str, kind: str) -> None:
        self.status.setText(text)
        tone = {"ok": "ok", "bad": "bad", "info": "muted"}.get(kind, "warn")   # instructions and progress: muted
        self.status.setStyleSheet(f"color: {color(tone).name()};")
