"""File ▸ Export (Ctrl+E): convert the selected model, built from the converter registry.

Targets come from `workbench.core.converters.conversion_targets` (impossible ones are shown
disabled with the reason); the options of the chosen converter become form fields; the output
path goes through the native file dialog; `convert_and_prove` runs on a worker with progress and
Cancel; then the parity report is shown and the converted model can be opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.document import ModelDocument
from workbench.gui.notifications import describe_exception, notify
from workbench.gui.resources import icon
from workbench.gui.views.common import color, core_module
from workbench.gui.workers import Progress, Worker, run_in_worker

def _ending(target: str) -> str:
    """The usual file ending of a target's output ("" for the folder targets)."""
    from workbench.core.converters.base import TARGET_ENDINGS

    return TARGET_ENDINGS.get(target, ("",))[0]

#: converter options as the form shows them: (label, tooltip); others are shown with their name humanised
OPTION_LABELS = {
    "target_opset": ("ONNX opset", "The ONNX operator set version to write; empty: the converter's default "
                     "(what ONNX Runtime here runs)"),
    "verification": ("Embed verification rows", "Write sample rows and their expected results into the PMML "
                     "(ModelVerification): PMML engines check the model against them when they load it"),
    "target_name": ("Target field name", "The name of the predicted field in the PMML file"),
    "telemetry": ("Let sklearn2pmml report failures", "Off (recommended): the Java side cannot reach its vendor's "
                  "telemetry server. On: a failed conversion is reported to telemetry.jpmml.org"),
}


#: options that take a whole number even where their default is "the converter's" (None)
WHOLE_NUMBER_OPTIONS = {"target_opset"}


def option_label(name: str) -> tuple[str, str]:
    """The form label and tooltip of converter option `name`."""
    return OPTION_LABELS.get(name, (name.replace("_", " ").capitalize(), name))


def targets_job(path: str, trust: bool) -> dict[str, Any]:
    """Worker job: load the model (if allowed) and ask the registry what it can become."""
    from workbench.core.converters import conversion_targets, find_converter
    from workbench.core.errors import UntrustedPickle, WorkbenchError
    from workbench.core.models import inspect_model, load_model

    model = None
    load_error = ""
    try:
        info, model = load_model(path, trust=trust)
    except UntrustedPickle:
        info, load_error = inspect_model(path, trust=False), UNTRUSTED_WORDS
    except WorkbenchError as exc:
        info, load_error = inspect_model(path, trust=trust), str(exc)
    statuses = conversion_targets(info, model)
    options = {}
    dirs = {}
    for status in statuses:
        conv = find_converter(info, status.target)
        options[status.target] = dict(conv.options) if conv is not None else {}
        dirs[status.target] = bool(conv.output_is_dir) if conv is not None else status.target in (
            "savedmodel", "tfserving")
    return {"statuses": statuses, "options": options, "dirs": dirs, "load_error": load_error}


def convert_job(source: str, target: str, out: str, rows: Any, trust: bool, force: bool,
                options: dict[str, Any], name: str | None, version: int | None, task: Any = None) -> Any:
    from workbench.core.conversion import convert_and_prove

    return convert_and_prove(source, target, out, rows=rows, trust=trust, force=force, options=options,
                             name=name, version=version,
                             progress=lambda f, m: task.progress(f, m), cancelled=lambda: task.cancelled)


#: room kept for the window frame (title bar, borders) when the dialog is fitted before it is shown
FRAME_ALLOWANCE = QSize(16, 40)


class FittingScrollArea(QScrollArea):
    """A vertical scroll area that asks for the full size of its content (QScrollArea caps its hint at
    24 lines) but can shrink to a few lines: the dialog is as tall as its content when the screen allows,
    and scrolls instead of pushing its buttons off a small screen. It never scrolls sideways."""

    def __init__(self, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(content)

    def _chrome(self) -> QSize:
        f = 2 * self.frameWidth()
        return QSize(f + self.verticalScrollBar().sizeHint().width(), f)

    def sizeHint(self) -> QSize:
        content = self.widget()
        if content is None:
            return super().sizeHint()
        hint = content.sizeHint()
        if content.hasHeightForWidth():   # word-wrapped labels: their height at the width they will get
            hint.setHeight(max(hint.height(), content.heightForWidth(hint.width())))
        return hint + self._chrome()

    def minimumSizeHint(self) -> QSize:
        content = self.widget()
        if content is None:
            return super().minimumSizeHint()
        lines = 8 * self.fontMetrics().height()
        return QSize(content.minimumSizeHint().width(), min(content.minimumSizeHint().height(), lines)) \
            + self._chrome()


class ExportDialog(QDialog):
    """Convert and prove parity."""

    sig_open_model = Signal(str)
    """The user wants the converted model in the library."""
    sig_open_model_with_rows = Signal(str, object)
    """The same, with the rows its parity was proved on (a DataFrame; None: rows generated from the schema)."""
    sig_converted = Signal(object)
    """A ConversionResult arrived."""

    def __init__(self, doc: ModelDocument, settings: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.settings = settings
        self.setWindowTitle(f"Export {doc.name}")
        self.setWindowIcon(icon("export"))
        self._core, self._why = core_module("workbench.core.conversion")
        self.targets: dict[str, Any] = {}
        self.option_defaults: dict[str, dict[str, Any]] = {}
        self.output_is_dir: dict[str, bool] = {}
        self.option_widgets: dict[str, QWidget] = {}
        self.result: Any = None
        self.error: BaseException | None = None
        self.worker: Worker | None = None

        title = QLabel(f"<b>Export {doc.name}</b> ({doc.info.format}, {doc.info.framework})")
        self.target_box = QGroupBox("Target")
        self.target_layout = QVBoxLayout(self.target_box)
        self.target_group = QButtonGroup(self)
        self.loading = QLabel("Asking the converters what this model can become…" if self._core else
                              f"Export is {self._why}")
        self.target_layout.addWidget(self.loading)

        self.options_box = QGroupBox("Options")
        self.options_form = QFormLayout(self.options_box)
        self.rows_choice = QCheckBox()
        self.atol = QDoubleSpinBox()
        self.atol.setDecimals(8)
        self.atol.setRange(0, 1)
        self.atol.setSingleStep(1e-5)
        self.atol.setSpecialValueText("default (1e-5; 1e-4 for float32 models)")
        self.atol.setValue(0)
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("where to write the converted model")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(browse)
        self.force = QCheckBox("Overwrite if it exists")
        self.bundle_name = QLineEdit()
        self.bundle_version = QSpinBox()
        self.bundle_version.setRange(1, 1_000_000)

        out_box = self.out_box = QGroupBox("Output and parity check")
        out_form = QFormLayout(out_box)
        out_form.addRow("Output:", out_row)
        out_form.addRow("", self.force)
        out_form.addRow("Prove on:", self.rows_choice)
        out_form.addRow("Tolerance (atol):", self.atol)
        self.bundle_rows = (QLabel("Model name:"), self.bundle_name, QLabel("Version:"), self.bundle_version)
        out_form.addRow(self.bundle_rows[0], self.bundle_name)
        out_form.addRow(self.bundle_rows[2], self.bundle_version)
        for w in self.bundle_rows:   # TF Serving bundles only (see _target_changed)
            w.setVisible(False)

        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        keep = self.progress.sizePolicy()
        keep.setRetainSizeWhenHidden(True)   # shown from the first Convert on; an idle bar looks like a text box
        self.progress.setSizePolicy(keep)
        self.progress.setVisible(False)
        self.progress_label = QLabel()
        _wrap_in_any_width(self.progress_label)   # long messages and paths never widen the dialog
        self.convert_button = QPushButton(icon("export", "#ffffff"), "Convert")
        self.convert_button.setObjectName("primary")
        self.convert_button.setEnabled(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.close_button = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.convert_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.close_button)

        self.result_box = QGroupBox("Parity")
        rl = QVBoxLayout(self.result_box)
        self.verdict = QLabel()
        _wrap_in_any_width(self.verdict)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.worst = QTableWidget(0, 5)
        self.worst.setHorizontalHeaderLabels(["Row", "Max diff", "Source", "Converted", "Features"])
        self.worst.verticalHeader().setVisible(False)
        self.worst.setWordWrap(False)
        self.worst.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.worst.horizontalHeader().setStretchLastSection(True)
        self.worst.setMaximumHeight(150)
        self.open_button = QPushButton(icon("open"), "Open the Converted Model")
        self.open_button.setEnabled(False)
        rl.addWidget(self.verdict)
        rl.addWidget(self.worst)
        rl.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignRight)
        self.result_box.setVisible(False)

        # title and buttons stay put; the rest scrolls when the screen is too short for it
        body = QWidget()
        bl = QVBoxLayout(body)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.target_box)
        bl.addWidget(self.options_box)
        bl.addWidget(out_box)
        bl.addWidget(self.result_box, 1)
        bl.addStretch(0)   # a taller dialog than its content: the room goes below, not between the boxes
        self.body = FittingScrollArea(body)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.body, 1)
        layout.addWidget(self.progress_label)
        layout.addLayout(buttons)

        self.convert_button.clicked.connect(self.convert)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        self.open_button.clicked.connect(self._open_converted)
        self._set_rows_choice()
        self.fit_to_screen()
        if self._core is not None:
            self.targets_worker = run_in_worker(targets_job, doc.path, doc.trusted, name="export targets",
                                                on_result=self._targets_ready, on_error=self._targets_failed)

    # -- public API -------------------------------------------------------------------------

    def selected_target(self) -> str | None:
        button = self.target_group.checkedButton()
        return button.property("target") if button is not None else None

    def fit_to_screen(self, available: QRect | None = None, grow_only: bool = False) -> QSize:
        """Size the dialog to its content, within `available` (default: the available geometry of its
        screen, less room for the window frame), and move it back inside if it pokes out. With
        `grow_only` it never gets smaller (the user may have enlarged it). Returns the new size."""
        area = available if available is not None else self._available_geometry()
        frame = self.frameGeometry().size() - self.geometry().size()
        frame = frame.expandedTo(FRAME_ALLOWANCE) if not self.isVisible() or frame.isEmpty() else frame
        limit = (area.size() - frame).expandedTo(QSize(200, 150))
        _settle_layouts(self)
        self.body.updateGeometry()   # the layout caches the scroll area's hints: its content changed
        layout = self.layout()
        layout.activate()
        wanted = self.sizeHint().expandedTo(self.minimumSizeHint())
        if grow_only:
            wanted = wanted.expandedTo(self.size())
        size = wanted.boundedTo(limit)
        self.resize(size)
        if self.isVisible():
            outer = self.frameGeometry()
            x = max(area.left(), min(outer.left(), area.right() + 1 - outer.width()))
            y = max(area.top(), min(outer.top(), area.bottom() + 1 - outer.height()))
            if (x, y) != (outer.left(), outer.top()):
                self.move(x, y)
        return size

    def select_target(self, target: str) -> None:
        for button in self.target_group.buttons():
            if button.property("target") == target:
                button.setChecked(True)
                self._target_changed()

    def option_values(self) -> dict[str, Any]:
        values = {}
        for name, widget in self.option_widgets.items():
            if isinstance(widget, QCheckBox):
                values[name] = widget.isChecked()
            elif isinstance(widget, QSpinBox | QDoubleSpinBox):
                values[name] = widget.value()
            elif isinstance(widget, QLineEdit):
                text = widget.text().strip()
                default = self.option_defaults.get(self.selected_target() or "", {}).get(name)
                if text == "" and default is None:
                    continue  # keep the converter's own default
                if name in WHOLE_NUMBER_OPTIONS:
                    try:
                        values[name] = int(text)
                    except ValueError:
                        raise ValueError(f"{option_label(name)[0]}: {text!r} is not a whole number") from None
                    continue
                values[name] = _parse_scalar(text) if default is None else text
        return values

    def browse(self) -> None:
        target = self.selected_target()
        if target is None:
            return
        start = self.out_edit.text() or self._default_output(target)
        if self.output_is_dir.get(target):
            path = QFileDialog.getExistingDirectory(self, "Output folder (created inside)", str(Path(start).parent))
            if path:
                path = str(Path(path) / Path(start).name)
        else:
            ext = _ending(target)
            path, _ = QFileDialog.getSaveFileName(self, "Save converted model", start,
                                                  f"{target.upper()} (*{ext});;All files (*)")
        if path:
            self.out_edit.setText(path)
            if self.settings is not None:
                self.settings.set_last_folder("export", str(Path(path).parent))

    def convert(self) -> Worker | None:
        target = self.selected_target()
        out = self.out_edit.text().strip()
        if target is None or not out:
            self.progress_label.setText("Choose a target and an output path.")
            return None
        rows = None
        if self.rows_choice.isChecked() and self.doc.rows is not None:
            rows = self.doc.rows.copy()
        try:
            options = self.option_values()
        except ValueError as exc:
            self.progress_label.setText(f"✗ {exc}")
            return None
        if self.atol.value() > 0:
            options_atol = self.atol.value()
        else:
            options_atol = None
        # an existing output is refused here, in the dialog's words, before anything runs (the same
        # refusal the core makes: it is the worker's error, so it ends like any failed conversion)
        refusal = self._output_refusal(target, out)
        self.proved_rows = rows
        self._reset_outcome()
        self.convert_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        name = self.bundle_name.text().strip() or None
        version = self.bundle_version.value() if target == "tfserving" else None

        def job(task: Any) -> Any:
            from workbench.core.conversion import CannotConvert, convert_and_prove

            if refusal:
                exc = CannotConvert(refusal)
                exc.needs_force, exc.path, exc.gui_message = True, out, refusal  # declared in WorkbenchError
                raise exc

            return convert_and_prove(self.doc.path, target, out, rows=rows, trust=self.doc.trusted,
                                     force=self.force.isChecked(), options=options, atol=options_atol,
                                     name=name if target == "tfserving" else None, version=version,
                                     progress=lambda f, m: task.progress(f, m),
                                     cancelled=lambda: task.cancelled)

        self.worker = run_in_worker(job, name=f"export {target}", on_result=self._converted,
                                    on_error=self._convert_failed, on_progress=self._progress,
                                    on_finished=self._finished)
        return self.worker

    def cancel(self) -> None:
        if self.worker is not None and not self.worker.is_done:
            self.worker.cancel()
            self.progress_label.setText("Cancelling… (stops at the next step; nothing is written in place)")

    # -- private ----------------------------------------------------------------------------

    def _available_geometry(self) -> QRect:
        screen = self.screen() or (self.parentWidget().screen() if self.parentWidget() is not None else None)
        screen = screen or QGuiApplication.primaryScreen()
        return screen.availableGeometry() if screen is not None else QRect(0, 0, 1024, 640)

    def _refit(self, grow_only: bool = False) -> None:
        """`fit_to_screen` once the widgets just added are shown (Qt shows them on a queued call)."""
        QTimer.singleShot(0, self, lambda: self.fit_to_screen(grow_only=grow_only))

    def _set_rows_choice(self) -> None:
        n = 0 if self.doc.rows is None else len(self.doc.rows)
        if n:
            self.rows_choice.setText(f"the Rows table ({n} rows); unchecked: rows generated from the schema")
            self.rows_choice.setChecked(True)
        else:
            self.rows_choice.setText("rows generated from the schema (the Rows table is empty)")
            self.rows_choice.setChecked(False)
            self.rows_choice.setEnabled(False)

    def _targets_ready(self, result: dict[str, Any]) -> None:
        self.loading.setVisible(False)
        self.option_defaults = result["options"]
        self.output_is_dir = result["dirs"]
        first_possible = None
        for status in result["statuses"]:
            self.targets[status.target] = status
            radio = QRadioButton(f"{status.title or status.target}")
            radio.setProperty("target", status.target)
            radio.setEnabled(status.possible)
            self.target_group.addButton(radio)
            self.target_layout.addWidget(radio)
            if status.possible:
                first_possible = first_possible or radio
                radio.setToolTip(f"converter: {status.converter_key}")
            else:
                reason = QLabel(status.reason or "not possible")
                reason.setWordWrap(True)
                reason.setIndent(24)
                reason.setStyleSheet(f"color: {color('muted').name()};")
                radio.setToolTip(status.reason or "")
                self.target_layout.addWidget(reason)
        if result["load_error"] and any(s.possible for s in result["statuses"]):
            note = QLabel(f"⚠ {result['load_error']}")
            note.setObjectName("loadNote")
            note.setWordWrap(True)
            self.target_layout.addWidget(note)
        self.target_group.buttonToggled.connect(lambda *_: self._target_changed())
        if first_possible is not None:
            first_possible.setChecked(True)
        else:  # say it once, plainly, and leave nothing to fill in
            fmt = self.doc.info.format
            if fmt == "sklearn" and not self.doc.trusted:  # the trained model, not loaded yet
                text = ("<b>This pickle is not loaded yet:</b> converting needs the model itself. Load it "
                        "first with Overview ▸ Trust and load…, only if you trust where it came from.")
            else:
                text = (f"<b>Nothing can be exported from this {fmt} model.</b> The workbench converts from "
                        "the trained model (scikit-learn, LightGBM, XGBoost, Keras): open that one and export it.")
            nothing = QLabel(text)
            nothing.setWordWrap(True)
            self.target_layout.insertWidget(0, nothing)
            self.nothing_to_export = nothing
            self.options_box.setVisible(False)
            self.out_box.setEnabled(False)
        self._target_changed()
        self._refit()

    def _targets_failed(self, exc: BaseException) -> None:
        message, hint, details = describe_exception(exc)
        self.loading.setText(f"✗ {message}" + (f" ({hint})" if hint else ""))
        notify(message, "error", hint=hint, details=details, context="export")

    def _reset_outcome(self) -> None:
        """Forget the last conversion's verdict, progress and message (another target, a new run)."""
        self.result = None
        self.error = None
        self.result_box.setVisible(False)
        self.verdict.clear()
        self.worst.setRowCount(0)
        self.open_button.setEnabled(False)
        self.progress.setValue(0)
        self.progress.setVisible(False)
        self.progress_label.clear()
        self.progress_label.setStyleSheet("")
        self.progress_label.setToolTip("")

    def _show_error(self, message: str, hint: str) -> None:
        self.progress_label.setText(f"✗ {message}" + (f" ({hint})" if hint else ""))
        self.progress_label.setStyleSheet(f"color: {color('bad').name()};")
        self.progress_label.setToolTip(self.progress_label.text())
        self._refit(grow_only=True)

    def _output_refusal(self, target: str, out: str) -> str:
        """The dialog's own words for an output that exists (the core's speak of --force and --version)."""
        if self.force.isChecked():
            return ""
        path = Path(out)
        if target == "tfserving":
            version = self.bundle_version.value()
            if (path / str(version)).exists():
                return (f"Version {version} already exists in {path}: check 'Overwrite if it exists' to replace "
                        f"it, or set Version to {next_free_version(path)} (the next free one). Nothing was written.")
            return ""
        if path.exists() or path.is_symlink():
            return (f"{path} already exists: check 'Overwrite if it exists' to replace it, or choose another "
                    "output. Nothing was written.")
        return ""

    def _target_changed(self) -> None:
        target = self.selected_target()
        if self.worker is None or self.worker.is_done:
            self._reset_outcome()   # the last target's verdict and progress are not this one's
        while self.options_form.rowCount():
            self.options_form.removeRow(0)
        self.option_widgets.clear()
        self.convert_button.setEnabled(target is not None)
        if target is None:
            return
        for name, default in self.option_defaults.get(target, {}).items():
            widget: QWidget
            if isinstance(default, bool):
                widget = QCheckBox()
                widget.setChecked(default)
            elif isinstance(default, int):
                widget = QSpinBox()
                widget.setRange(-1_000_000, 1_000_000)
                widget.setValue(default)
            elif isinstance(default, float):
                widget = QDoubleSpinBox()
                widget.setDecimals(8)
                widget.setRange(-1e9, 1e9)
                widget.setValue(default)
            else:
                widget = QLineEdit("" if default is None else str(default))
                if default is None:
                    widget.setPlaceholderText("converter default")
            self.option_widgets[name] = widget
            label, tip = option_label(name)
            widget.setToolTip(tip)
            self.options_form.addRow(f"{label}:", widget)
        if not self.option_widgets:
            self.options_form.addRow(QLabel("This converter has no options."))
        is_bundle = target == "tfserving"
        for w in self.bundle_rows:
            w.setVisible(is_bundle)
        if is_bundle and not self.bundle_name.text():
            self.bundle_name.setText(Path(self.doc.path).stem.replace(".", "_"))
        self.out_edit.setText(self._default_output(target))
        if is_bundle:   # a new version beside the existing ones, not a refusal
            self.bundle_version.setValue(next_free_version(Path(self.out_edit.text())))
        self._refit(grow_only=True)

    def _default_output(self, target: str) -> str:
        src = Path(self.doc.path)
        folder = (self.settings.last_folder("export") if self.settings is not None else "") or str(src.parent)
        stem = src.name if src.is_dir() else src.stem
        if target == "tfserving":
            return str(Path(folder) / f"{stem}_serving")
        if target == "savedmodel":
            return str(Path(folder) / f"{stem}_savedmodel")
        return str(Path(folder) / f"{stem}_converted{_ending(target)}")

    def _progress(self, report: Progress) -> None:
        if report.fraction is not None:
            self.progress.setValue(int(report.fraction * 100))
        if report.message:
            self.progress_label.setText(report.message + "…")

    def _finished(self) -> None:
        self.cancel_button.setEnabled(False)
        self.convert_button.setEnabled(self.selected_target() is not None)
        if self.result is None:   # cancelled or failed: no bar stuck part-way
            self.progress.setValue(0)
            self.progress.setVisible(False)
        if self.worker is not None and self.worker.is_cancelled and self.result is None:
            self.progress_label.setStyleSheet("")
            self.progress_label.setText("Cancelled: nothing was written.")

    def _convert_failed(self, exc: BaseException) -> None:
        self.error = exc
        if getattr(exc, "kind", "") == "cancelled":   # the user's own choice: not an error to report
            self.progress_label.setText("Cancelled: nothing was written.")
            return
        message, hint, details = gui_words(exc)
        self._show_error(message, hint)
        notify(message, "error", hint=hint, details=details, context="export")

    def _converted(self, result: Any) -> None:
        self.result = result
        self.progress.setValue(100)
        self.progress_label.setStyleSheet("")
        self.progress_label.setText(f"Converted in {result.seconds:.1f} s with {result.converter}: "
                                    f"{result.output or result.failed_output}")
        self.progress_label.setToolTip(self.progress_label.text())
        parity = result.parity or {}
        if not parity:  # nothing converted (a SavedModel put into a TF Serving bundle): nothing to prove
            self.verdict.setText(f"<b>✓ Done</b>: {result.rows_source}; the model was copied as it is, so there "
                                 "is no parity to prove.")
            self.verdict.setStyleSheet(f"color: {color('ok').name()};")
            self.worst.setVisible(False)
            self.open_button.setEnabled(bool(result.output))
            self.result_box.setVisible(True)
            self._refit(grow_only=True)
            self.sig_converted.emit(result)
            return
        explained = len(result.explained_rows)
        verdict = "✗ FAIL" if not result.passed else (
            "✓ PASS with explained differences" if explained else "✓ PASS")
        parts = [f"<b>{verdict}</b> on {parity.get('rows', '?')} rows ({result.rows_source})"]
        if parity.get("label_agreement") is not None:
            from workbench.core.compare import agreement_text

            parts.append(f"labels agree on {agreement_text(parity['label_agreement'])}")
        if explained and parity.get("max_abs_diff_unexplained") is not None:
            parts.append(f"max abs diff {parity['max_abs_diff_unexplained']:.3g} outside the explained rows "
                         f"({parity.get('max_abs_diff', 0.0):.3g} on them)")
        elif parity.get("max_abs_diff") is not None:
            parts.append(f"max abs diff {parity['max_abs_diff']:.3g}")
        if parity.get("max_rel_diff") is not None:
            parts.append(f"max rel diff {parity['max_rel_diff']:.3g}")
        tol = result.tolerances or {}
        if tol:
            parts.append("tolerance " + ", ".join(f"{k} {v:g}" for k, v in tol.items()))
        text = ", ".join(parts)
        notes = parity.get("notes") or []
        if explained:
            text += (f"<br>{explained} row{'s' if explained != 1 else ''} beyond tolerance lie on a split "
                     "threshold: rounding to float32 sends them down the other branch, as it will in serving "
                     "(see the report).")
        if not result.passed and result.failed_output:
            text += f"<br>Kept for inspection at {result.failed_output}; nothing was written at the output path."
        if notes:
            text += "<br>" + "<br>".join(str(n) for n in notes[:3])
        if result.report_path:
            text += f"<br>Report: {result.report_path}"
        self.verdict.setText(text)
        tone = "bad" if not result.passed else ("warn" if explained else "ok")
        self.verdict.setStyleSheet(f"color: {color(tone).name()};")
        worst = parity.get("worst_rows") or []
        self.worst.setRowCount(len(worst))
        for r, row in enumerate(worst):
            diff = row.get("diff", row.get("max_abs_diff"))
            cells = [row.get("row"), f"{diff:.3g}" if isinstance(diff, float) else diff,
                     _short(row.get("a")), _short(row.get("b")), _short(row.get("features"))]
            for c, value in enumerate(cells):
                item = QTableWidgetItem("" if value is None else str(value))
                item.setToolTip(item.text())
                if row.get("within_tolerance") is False or row.get("label_match") is False:
                    item.setBackground(color("diff_bg"))
                self.worst.setItem(r, c, item)
        self.worst.resizeColumnsToContents()
        self.worst.setVisible(bool(worst))
        self.open_button.setEnabled(bool(result.output))
        self.result_box.setVisible(True)
        self._refit(grow_only=True)
        self.sig_converted.emit(result)

    def _open_converted(self) -> None:
        if self.result is not None and self.result.output:
            rows = getattr(self, "proved_rows", None)
            if rows is not None:
                self.sig_open_model_with_rows.emit(self.result.output, rows.copy())
            else:
                self.sig_open_model.emit(self.result.output)


#: the GUI's words for "loading this model runs code" (the core's say --trust)
UNTRUSTED_WORDS = ("This model is not loaded yet: loading it runs code from the file, so converting it needs "
                   "your trust. Use Overview ▸ Trust and load… if you trust where it came from.")


def next_free_version(base: Path) -> int:
    """The version after the highest numeric folder in a TF Serving base folder (1 if there is none)."""
    try:
        taken = [int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit()]
    except OSError:
        taken = []
    return max(taken, default=0) + 1


def gui_words(exc: BaseException) -> tuple[str, str, str]:
    """(message, hint, details) of a conversion error in the dialog's words: its fields first
    (`needs_force`), then its kind; the CLI's flags never reach the dialog."""
    message, hint, details = describe_exception(exc)
    kind = getattr(exc, "kind", "")
    if kind == "untrusted":
        return UNTRUSTED_WORDS, "", details
    if getattr(exc, "needs_force", False):
        if getattr(exc, "gui_message", None):
            return exc.gui_message, "", ""  # type: ignore[attr-defined]
        version, path = getattr(exc, "version", None), getattr(exc, "path", None)
        if version is not None:
            return (f"Version {version} already exists ({path}): check 'Overwrite if it exists' to replace it, "
                    "or set another Version. Nothing was written."), "", details
        return (f"{getattr(exc, 'path', None) or 'The output'} already exists: check 'Overwrite if it exists' "
                "to replace it, or choose another output. Nothing was written."), "", details
    for flag, words in (("pass --force to overwrite it", "check 'Overwrite if it exists' to replace it"),
                        ("--force", "'Overwrite if it exists'"), ("leave --version out", "set another Version"),
                        ("--version", "Version"), ("--trust", "Overview ▸ Trust and load…")):
        # last resort for core errors without fields yet: the flag, named as the dialog's control
        message, hint = message.replace(flag, words), hint.replace(flag, words)
    return message, hint, details


def _settle_layouts(root: QWidget) -> None:
    """Lay out `root` and its descendants now, innermost first (Qt does it level by level on later
    events), so that size hints include what was just added, e.g. the target radio buttons."""
    for widget in reversed([root, *root.findChildren(QWidget)]):
        if widget.layout() is not None:
            widget.layout().activate()


def _wrap_in_any_width(label: QLabel) -> None:
    """A word-wrapped label that takes the width it is given: an unbreakable path or message does not set
    the dialog's minimum width (it is cut at the edge; the text stays selectable)."""
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    policy = label.sizePolicy()
    policy.setHorizontalPolicy(QSizePolicy.Policy.Ignored)
    label.setSizePolicy(policy)


def _parse_scalar(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _short(value: Any) -> str:
    """A compact one-line view of a worst-row side: label, then probabilities or value."""
    if value is None:
        return ""
    if not isinstance(value, dict):
        return str(value)
    parts = []
    for k, v in value.items():
        if v is None:
            continue
        if isinstance(v, dict):
            v = " ".join(f"{a}:{b:.4f}" if isinstance(b, float) else f"{a}:{b}" for a, b in v.items())
            parts.append(v if k == "probabilities" else f"{k} {v}")
        elif isinstance(v, float):
            parts.append(f"{k} {v:.6g}")
        else:
            parts.append(f"{k} {v}")
    return " · ".join(parts)
