"""Load test of an endpoint with live charts, through `workbench.core.bench.load.run_load` on a worker.

Each second of measurement arrives as a `TimePoint`: the latency chart draws p50 and p99 over time,
the throughput chart successful responses per second and errors. Each finished level arrives as a
`LevelResult` whose latency histogram (every response, log bins) goes into the distribution chart,
one curve per level. The previous run stays on the charts (dashed, "A") under the current one ("B")
for an A/B comparison.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.notifications import describe_exception, notify
from workbench.gui.resources import icon
from workbench.gui import charts
from workbench.gui.charts import PALETTE, fit_log_ticks, histogram_curve, histogram_plot
from workbench.gui.charts import plot as _plot
from workbench.gui.views.common import color
from workbench.gui.workers import Progress, Worker, run_in_worker

WARN = "#e8590c"
#: error fraction above which a load test stops early (every request failed)
ALL_FAILED = 0.999
LEVEL_COLUMNS = ["Run", "Level", "OK", "Errors", "Req/s", "p50 ms", "p90 ms", "p99 ms", "Max ms"]


def load_job(url: str, model: str, frame: Any, levels: tuple[float, ...], duration_s: float, batch_size: int,
             headers: dict[str, str] | None = None, timeout_s: float = 10.0, task: Any = None) -> Any:
    """Worker job: build the requests from the rows and run the sweep, forwarding each second.

    `headers` (the saved endpoint's, e.g. an authorization token) go with every request."""
    from workbench.core.bench.load import LoadPlan, run_load
    from workbench.core.bench.requests import build_rest_target, preflight

    target = build_rest_target(url, model, frame, batch_size=batch_size, headers=headers, timeout=timeout_s)
    # the first request once, as `workbench load` does: a dead port or a 404 fails here, before any load
    task.progress(0.0, "checking the endpoint with one request")
    preflight(target, timeout=timeout_s)
    # everything failing (after 20 requests) ends the sweep: nothing more would be learnt
    plan = LoadPlan(mode="closed", levels=levels, duration_s=duration_s, warmup_s=min(0.5, duration_s / 4),
                    timeout_s=timeout_s, max_error_rate=ALL_FAILED)
    total = len(levels) * duration_s

    def on_point(point: Any) -> None:
        done = levels.index(point.level) * duration_s + point.second if point.level in levels else 0
        task.progress(min(1.0, done / total), f"level {point.level:g}: second {point.second}", point)

    def on_level(level: Any) -> None:
        done = (levels.index(level.level) + 1) * duration_s if level.level in levels else 0
        task.progress(min(1.0, done / total), f"level {level.level:g} done", level)

    return run_load(target, plan, model=model, on_point=on_point, on_level=on_level, cancel=task.cancel_event)


class LoadTestPanel(QWidget):
    """Controls, live latency/throughput charts with the previous run overlaid, per-level table."""

    sig_finished = Signal(object)
    """A LoadResult arrived."""

    def __init__(self, endpoint_source: Any, rows_source: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        #: () -> Endpoint of the form; () -> DataFrame | None of the selected model's rows
        self.endpoint_source = endpoint_source
        self.rows_source = rows_source
        self.worker: Worker | None = None
        self.result: Any = None
        #: {"label", "x", "p50", "p99", "rps", "err", "curves" (the 4 time curves), "hist" {level: curve}}
        self.runs: list[dict[str, Any]] = []

        self.levels = QLineEdit("1, 4")
        self.levels.setToolTip("Concurrency levels (closed loop), e.g. 1, 4, 16")
        self.levels.setMaximumWidth(70)
        self.duration = QDoubleSpinBox()
        self.duration.setRange(1, 600)
        self.duration.setValue(5)
        self.batch = QSpinBox()
        self.batch.setRange(1, 10_000)
        self.use_model_rows = QCheckBox("The endpoint's rows")
        self.use_model_rows.setToolTip("Send the rows chosen for this endpoint in its form (Rows:)")
        self.use_model_rows.setChecked(True)
        self.rows_json = QLineEdit('[{"x": 1.0}, {"x": 2.0}, {"x": 5.0}]')
        self.rows_json.setToolTip("Rows as JSON records, used when the endpoint's rows are not")
        self.run_button = QPushButton(icon("run", "#ffffff"), "Start")
        self.run_button.setObjectName("primary")
        self.cancel_button = QPushButton(icon("stop"), "Stop")
        self.cancel_button.setEnabled(False)
        self.keep = QCheckBox("A/B overlay")
        self.keep.setToolTip("Keep the previous run on the charts (dashed, A) under the new one (B)")
        self.keep.setChecked(True)
        self.rows_json.setMinimumWidth(100)
        top = QHBoxLayout()
        for w in (QLabel("Concurrency:"), self.levels, QLabel("Seconds each:"), self.duration,
                  QLabel("Rows/request:"), self.batch):
            top.addWidget(w)
        top.addWidget(self.keep)
        top.addStretch(1)
        rows = QHBoxLayout()
        rows.addWidget(self.use_model_rows)
        rows.addWidget(QLabel("or:"))
        rows.addWidget(self.rows_json, 1)
        rows.addWidget(self.run_button)
        rows.addWidget(self.cancel_button)
        self.status = QLabel("Sends predict requests from the rows at each concurrency level and charts each "
                             "second.")
        self.status.setWordWrap(True)

        self.latency_plot = _plot("Latency per second (p50, p99)", "ms", "")
        self.rps_plot = _plot("Throughput and errors", "per second", "seconds")
        self.rps_plot.setXLink(self.latency_plot)
        self.hist_plot = histogram_plot("Latency distribution per level", "responses")
        self.table = QTableWidget(0, len(LEVEL_COLUMNS))
        self.table.setHorizontalHeaderLabels(LEVEL_COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # room for the header and four rows (two levels of runs A and B) before it scrolls
        self.table.setMinimumHeight(self.table.horizontalHeader().sizeHint().height()
                                    + 4 * self.table.verticalHeader().defaultSectionSize() + 6)
        # these two charts are short: the key goes into the title instead of a legend over the curves
        accent, fg = color("accent").name(), color("plot_fg").name()
        bad = color("bad").name()
        for plot, title in ((self.latency_plot, f"Latency per second {_key(accent, 'p50')} {_key(WARN, 'p99')}"),
                            (self.rps_plot, f"Throughput {_key(accent, 'ok/s')} {_key(bad, 'errors/s')}")):
            item = plot.getPlotItem()
            charts.set_title(plot, title, "9pt")   # kept, coloured keys and all, through a theme switch
            item.setToolTip("Solid: this run (B); dashed: the previous run (A)")
            item.legend.setVisible(False)
            item.legend.keyed_in_title = True
            plot.setMinimumHeight(130)
        # time series stacked on a shared time axis, the histogram beside them, the table below: all in
        # splitters, so the user gives the room to what matters now
        series = charts.chart_splitter(self.latency_plot, self.rps_plot, orientation=Qt.Orientation.Vertical)
        self.chart_splitter = charts.chart_splitter(series, self.hist_plot)
        self.splitter = charts.chart_splitter(self.chart_splitter, self.table, orientation=Qt.Orientation.Vertical)
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 1)
        save = QHBoxLayout()
        self.legends = QCheckBox("Legends")
        self.legends.setChecked(charts.legends_visible())
        self.legends.setToolTip("Show the key of the distribution chart in its top-right corner")
        self.legends.toggled.connect(lambda on: charts.set_legends_visible(on, [self.hist_plot]))
        self.save_chart = QPushButton(icon("export"), "Save Charts…")
        self.save_chart.setToolTip(f"Save the three charts as PNG or SVG ({charts.EXPORT_SIZE[0]}×"
                                   f"{charts.EXPORT_SIZE[1]}), each with a CSV of its data")
        self.save_data = QPushButton(icon("export"), "Save Results…")
        self.save_data.setToolTip("Save the per-level results as CSV or JSON (the `workbench load` file format)")
        self.save_chart.setEnabled(False)
        self.save_data.setEnabled(False)
        save.addStretch(1)
        for w in (self.legends, self.save_chart, self.save_data):
            save.addWidget(w)
        self.save_chart.clicked.connect(self._save_charts_dialog)
        self.save_data.clicked.connect(self._save_data_dialog)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addLayout(rows)
        layout.addWidget(self.status)
        layout.addLayout(save)
        layout.addWidget(self.splitter, 1)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.stop)

    # -- public API -------------------------------------------------------------------------

    def frame(self) -> Any:
        import pandas as pd

        if self.use_model_rows.isChecked():
            rows = self.rows_source()   # raises an error that says where the rows came from
            if rows is not None and len(rows):
                return rows
        try:
            frame = pd.DataFrame(json.loads(self.rows_json.text() or "[]"))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"rows typed in the load test: not JSON records ({exc})") from None
        frame.attrs["row_source"] = f"{len(frame)} rows typed in the load test"
        return frame

    def start(self) -> Worker | None:
        if self.worker is not None and not self.worker.is_done:
            return None
        from workbench.core.bench.load import parse_levels
        from workbench.core.errors import WorkbenchError

        try:
            ep = self.endpoint_source()
            levels = parse_levels(self.levels.text(), integers=True)
            frame = self.frame()
        except (WorkbenchError, ValueError) as exc:
            self._banner(f"✗ {exc}", "bad")
            return None
        if not ep.url or not ep.model:
            self._banner("Give the endpoint's URL and model name first.", None)
            return None
        if not len(frame):
            self._banner("No rows to send: choose the endpoint's rows (Rows: in its form) or type rows as JSON.",
                         None)
            return None
        self.rows_sent = frame.attrs.get("row_source") or f"{len(frame)} rows"
        if not self.keep.isChecked():
            self._clear_runs()
        elif len(self.runs) >= 2:
            self._drop_run(0)
        self._new_run()
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._banner(f"Load testing {ep.url} (model {ep.model}) with {self.rows_sent}: checking the endpoint "
                     "first…", None)
        self.worker = run_in_worker(load_job, ep.url, ep.model, frame, levels, self.duration.value(),
                                    self.batch.value(), dict(ep.headers), ep.timeout_s, name="load test", on_progress=self._point,
                                    on_result=self._done, on_error=self._failed, on_finished=self._finished,
                                    partial_results=True)   # a stopped run shows what it measured
        return self.worker

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def save_charts(self, path: str) -> list[str]:
        """NAME-latency.png, NAME-throughput.png, NAME-distribution.png (or .svg) at `charts.EXPORT_SIZE`,
        each with a CSV of its data."""
        return charts.save_charts({"latency": self.latency_plot, "throughput": self.rps_plot,
                                   "distribution": self.hist_plot}, path)

    def save_results(self, path: str) -> str:
        """The last run's result in the `workbench load` file format (JSON or CSV by the ending)."""
        from pathlib import Path

        from workbench.core.bench.results import from_load, save_result

        return str(save_result(from_load(self.result), charts.with_ending(Path(path), (".json", ".csv"))))

    def _save_charts_dialog(self) -> None:
        from pathlib import Path

        from PySide6.QtWidgets import QFileDialog

        settings = getattr(self.window(), "settings", None)   # the main window's
        start = settings.last_folder("charts") if settings else ""
        path, chosen = QFileDialog.getSaveFileName(self, "Save charts", str(Path(start or ".") / "load-test.png"),
                                                   "PNG image (*.png);;SVG vector (*.svg)")
        if path:
            written = self.save_charts(str(charts.with_ending(Path(path), (".png", ".svg"), chosen)))
            self.status.setText("Saved " + ", ".join(Path(w).name for w in written))
            if settings:
                settings.set_last_folder("charts", str(Path(path).parent))

    def _save_data_dialog(self) -> None:
        from pathlib import Path

        from PySide6.QtWidgets import QFileDialog

        from workbench.core.errors import WorkbenchError

        settings = getattr(self.window(), "settings", None)   # the main window's
        start = settings.last_folder("charts") if settings else ""
        path, chosen = QFileDialog.getSaveFileName(self, "Save results", str(Path(start or ".") / "load-test.json"),
                                                   "JSON (*.json);;CSV (*.csv)")
        if path:
            try:
                saved = self.save_results(str(charts.with_ending(Path(path), (".json", ".csv"), chosen)))
            except (WorkbenchError, OSError) as exc:
                self.status.setText(f"✗ {exc}")
                return
            self.status.setText(f"Saved {saved}")

    def points(self, run: int = -1) -> dict[str, list[float]]:
        r = self.runs[run]
        return {k: list(r[k]) for k in ("x", "p50", "p99", "rps", "err")}

    # -- private ----------------------------------------------------------------------------

    def _new_run(self) -> None:
        import pyqtgraph as pg

        for old in self.runs:  # the earlier run becomes the dashed "A"
            for i, curve in enumerate(old["curves"]):
                pen = curve.opts["pen"]
                pen = pg.mkPen(pen.color(), width=pen.widthF(), style=Qt.PenStyle.DashLine)
                curve.setPen(pen)
                plot = self.latency_plot if i < 2 else self.rps_plot
                _rename(plot, curve, "A" + curve.name()[1:])
            for curve in old["hist"].values():
                pen = curve.opts["pen"]
                curve.setPen(pg.mkPen(pen.color(), width=1.5, style=Qt.PenStyle.DashLine))
                curve.setFillLevel(None)
                curve.setBrush(None)
                _rename(self.hist_plot, curve, "A" + curve.name()[1:])
            old["label"] = "A"
            self._relabel_rows(old["id"], "A")
        label = "B" if self.runs else "A"
        self._run_seq = getattr(self, "_run_seq", 0) + 1
        accent = color("accent").name()
        warn = WARN
        curves = [
            self.latency_plot.plot([], [], pen=pg.mkPen(accent, width=2), name=f"{label} p50"),
            self.latency_plot.plot([], [], pen=pg.mkPen(warn, width=1), name=f"{label} p99"),
            self.rps_plot.plot([], [], pen=pg.mkPen(accent, width=2), name=f"{label} ok/s"),
            self.rps_plot.plot([], [], pen=pg.mkPen(color("bad").name(), width=1), name=f"{label} errors/s"),
        ]
        self.runs.append({"label": label, "x": [], "p50": [], "p99": [], "rps": [], "err": [], "curves": curves,
                          "offset": {}, "hist": {}, "id": self._run_seq})

    def _run_rows(self, run_id: int) -> list[int]:
        """Table rows of one run (its id is kept in the first cell), bottom first."""
        return [r for r in reversed(range(self.table.rowCount()))
                if self.table.item(r, 0) is not None
                and self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) == run_id]

    def _relabel_rows(self, run_id: int, label: str) -> None:
        for r in self._run_rows(run_id):
            self.table.item(r, 0).setText(label)

    def _drop_run(self, index: int) -> None:
        run = self.runs.pop(index)
        for r in self._run_rows(run["id"]):  # the table shows the runs the charts show, no others
            self.table.removeRow(r)
        for i, curve in enumerate(run["curves"]):
            plot = self.latency_plot if i < 2 else self.rps_plot
            plot.getPlotItem().removeItem(curve)
            legend = plot.getPlotItem().legend
            if legend is not None:
                legend.removeItem(curve)
        for curve in run["hist"].values():
            self.hist_plot.getPlotItem().removeItem(curve)
            if self.hist_plot.getPlotItem().legend is not None:
                self.hist_plot.getPlotItem().legend.removeItem(curve)

    def _clear_runs(self) -> None:
        while self.runs:
            self._drop_run(0)
        self.table.setRowCount(0)

    def _point(self, report: Progress) -> None:
        point = report.data
        if point is None or not self.runs:
            return
        if hasattr(point, "histogram"):   # a finished level (LevelResult), not a second (TimePoint)
            self._level_done(point)
            return
        run = self.runs[-1]
        # seconds since the start of the run: levels follow each other
        offset = run["offset"].setdefault(point.level, len(run["offset"]) * self.duration.value())
        run["x"].append(offset + point.second)
        run["p50"].append(point.p50_ms)
        run["p99"].append(point.p99_ms)
        run["rps"].append(point.throughput_rps)
        run["err"].append(float(point.errors))
        c = run["curves"]
        c[0].setData(run["x"], run["p50"])
        c[1].setData(run["x"], run["p99"])
        c[2].setData(run["x"], run["rps"])
        c[3].setData(run["x"], run["err"])
        self.status.setText(f"level {point.level:g} · second {point.second}: {point.throughput_rps:.0f} ok/s, "
                            f"p50 {point.p50_ms:.2f} ms, p99 {point.p99_ms:.2f} ms, {point.errors} errors")

    def _level_done(self, level: Any) -> None:
        run = self.runs[-1]
        if level.histogram is None or level.level in run["hist"]:
            return
        colour = PALETTE[len(run["hist"]) % len(PALETTE)]
        curve = histogram_curve(level.histogram, colour, f"{run['label']} c={level.level:g}")
        run["hist"][level.level] = curve
        self.hist_plot.getPlotItem().addItem(curve)
        fit_log_ticks(self.hist_plot)

    def histograms(self, run: int = -1) -> dict[float, Any]:
        """The histogram curve drawn per level of a run (its `.histogram` is the data shown)."""
        return dict(self.runs[run]["hist"])

    def _done(self, result: Any) -> None:
        self.result = result
        label = self.runs[-1]["label"] if self.runs else "run"
        run_id = self.runs[-1]["id"] if self.runs else None
        for lv in result.levels:
            r = self.table.rowCount()
            self.table.insertRow(r)
            pct = lv.latency.percentiles_ms
            cells = [label, f"{lv.level:g}", lv.ok, lv.error_count, f"{lv.throughput_rps:.1f}",
                     pct.get(50.0), pct.get(90.0), pct.get(99.0), lv.latency.max_ms]
            for col, value in enumerate(cells):
                text = f"{value:.3f}" if isinstance(value, float) else str(value)
                item = QTableWidgetItem("" if text == "nan" else text)
                if col == 3 and lv.error_count:
                    item.setForeground(color("bad"))
                    item.setToolTip(", ".join(f"{k}: {v}" for k, v in lv.errors.items()))
                if col == 0:
                    item.setData(Qt.ItemDataRole.UserRole, run_id)
                self.table.setItem(r, col, item)
        self.table.resizeColumnsToContents()
        errors = sum(lv.error_count for lv in result.levels)
        ok = sum(lv.ok for lv in result.levels)
        if result.stopped_early and ok == 0:
            kinds: dict[str, int] = {}
            for lv in result.levels:
                for k, v in lv.errors.items():
                    kinds[k] = kinds.get(k, 0) + v
            why = ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))
            text = (f"Stopped early: every request failed ({why}) after {errors} requests to {result.target}"
                    f" with {getattr(self, 'rows_sent', 'the rows')}.")
            self._banner(f"✗ {text}", "bad")
            notify(text, "error", hint="probe the endpoint (F5) to see what it answers", context="load test")
        else:
            self._banner(f"{'Stopped' if result.cancelled else 'Done'}: {len(result.levels)} level(s), "
                         f"{ok} ok, {errors} errors"
                         + (f" (stopped early: {result.stopped_early})" if result.stopped_early else ""),
                         "warn" if errors else None)
        self.save_chart.setEnabled(True)
        self.save_data.setEnabled(True)
        self.sig_finished.emit(result)

    def show_restored(self, result: Any, source: str) -> None:
        """A load test saved in a session: its curves, histograms and table rows drawn as a finished run,
        marked "restored from session <file>"."""
        from types import SimpleNamespace

        self._clear_runs()
        self._new_run()
        for lv in result.levels:
            for point in lv.timeline:
                self._point(SimpleNamespace(data=point))
            self._level_done(lv)
        self._done(result)
        self.restored_from = source
        self._banner(f"{self.status.text()}, restored from session {source}", self._tone)

    def _failed(self, exc: BaseException) -> None:
        message, hint, details = describe_exception(exc)
        if getattr(exc, "diagnosis", None) is not None:   # the preflight request failed: no load was sent
            message = f"The endpoint failed the first request, so no load was sent ({exc.diagnosis.kind}): {message}"
        self._banner(f"✗ {message}" + (f"\nHint: {hint}" if hint else ""), "bad")
        notify(message, "error", hint=hint, details=details, context="load test")

    def mark_stale(self, why: str) -> None:
        """The last result was measured on another endpoint or other rows: say so in the banner."""
        if self.result is None and not self.status.text().startswith("✗"):
            return
        if self.worker is not None and not self.worker.is_done:
            return
        if not self.status.text().startswith("Outdated"):
            self._banner(f"Outdated ({why}): {self.status.text()}", "muted")

    def _banner(self, text: str, tone: str | None) -> None:
        self._tone = tone
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {color(tone).name()};" if tone else "")

    def _finished(self) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)


def _key(colour: str, text: str) -> str:
    """A coloured line sample and its label, for a chart title."""
    return f"<span style='color:{colour}'>━ {text}</span>"


def _rename(plot: Any, curve: Any, name: str) -> None:
    """Rename a curve and its legend entry."""
    curve.opts["name"] = name
    legend = plot.getPlotItem().legend
    label = legend.getLabel(curve) if legend is not None and hasattr(legend, "getLabel") else None
    if label is not None:
        label.setText(name)
