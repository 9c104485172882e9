"""Benchmark: runtimes x batch sizes with `workbench.core.bench.local.run_local_bench` on a worker.

Live: the core reports each configuration's progress about every 200 ms (calls so far); the chart
plots the mean latency of each such window (window time / calls in it). When a configuration
finishes, its percentiles go into the table, the comparison bar chart (p50 and p99 per runtime and
batch size) and its latency histogram (the core's `LatencyHistogram` of every per-call sample, on a
log time axis) into the distribution chart. Charts export to PNG/SVG and results to CSV/JSON through
the core's `save_result`.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.gui import charts
from workbench.gui.charts import (  # noqa: F401  (the chart toolkit lives in charts.py; old names kept)
    HIST_BINS_PER_DECADE,
    PALETTE,
    fit_log_ticks,
    histogram_curve,
    histogram_plot,
    restyle_plots,
    with_ending,
)
from workbench.gui.charts import plot as _plot
from workbench.gui.document import ModelDocument
from workbench.gui.notifications import describe_exception, notify
from workbench.gui.resources import icon
from workbench.gui.views.common import color, core_module, header, placeholder, running_for
from workbench.gui.workers import Progress, Worker, run_in_worker

#: table column -> the percentile it shows, for the tail percentiles that need many calls to mean anything
TAIL_COLUMNS = {7: 99.0, 8: 99.9}
TABLE_COLUMNS = ["Runtime", "Batch", "Calls", "Mean ms", "p50 ms", "p90 ms", "p95 ms", "p99 ms", "p99.9 ms",
                 "Max ms", "Rows/s", "Model load s"]


def bench_job(path: str, rows: Any, runtimes: list[str], batch_sizes: list[int], duration_s: float,
              trust: bool, timed: str = "backend", task: Any = None) -> Any:
    """Worker job: the core benchmark, its progress forwarded as `Progress.data`."""
    from workbench.core.bench.local import LocalPlan, run_local_bench

    plan = LocalPlan(runtimes=tuple(runtimes), batch_sizes=tuple(batch_sizes), duration_s=duration_s, timed=timed)

    def progress(p: Any) -> None:
        overall = ((p.index - 1) + p.fraction) / max(1, p.total)
        task.progress(overall, f"{p.runtime} × batch {p.batch_size}: {p.calls} calls",
                      {"progress": p, "t": time.perf_counter()})

    return run_local_bench(path, rows=rows, plan=plan, trust=trust, progress=progress, cancel=task.cancel_event,
                           rows_source="the Rows table" if rows is not None else None)


def timing_note(c: Any) -> str:
    """What a result row's latency covers, with the conversion costs measured apart."""
    if getattr(c, "timed", "backend") == "end_to_end":
        return "Each call timed whole: rows in, predictions out."
    parts = ["Each call times the runtime alone, on inputs converted beforehand."]
    if c.prepare_us is not None:
        parts.append(f"Converting a batch of rows into its inputs took {c.prepare_us:.1f} µs")
    if c.finish_us is not None:
        parts.append(f"turning its result into predictions {c.finish_us:.1f} µs (medians).")
    return " ".join(parts[:1]) + ("\n" + ", ".join(parts[1:]) if len(parts) > 1 else "")


class BenchmarkView(QWidget):
    """Controls, four charts/tables, export."""

    sig_finished = Signal(object)
    """A LocalBenchResult arrived."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: ModelDocument | None = None
        self.settings = None
        self._core, self._why = core_module("workbench.core.bench.local")
        self.worker: Worker | None = None
        self._run_doc: ModelDocument | None = None   # the model the last job was started for
        self._shown_doc: ModelDocument | None = None   # the model whose results the page shows
        self.result: Any = None
        self.checks: dict[str, QCheckBox] = {}
        self.live: dict[tuple[str, int], dict[str, Any]] = {}
        self.live_points = 0

        self.stack = QStackedWidget()
        self.empty = placeholder("No model selected." if self._core else f"Benchmark is {self._why}")
        self.stack.addWidget(self.empty)
        page = QWidget()
        self.head, self.title, self.subtitle = header("Benchmark", "")
        # two rows, so that nothing is squeezed at 1024 px: what to run (and Run) on top, how below
        controls = QVBoxLayout()
        what = QHBoxLayout()
        how = QHBoxLayout()
        controls.addLayout(what)
        controls.addLayout(how)
        what.addWidget(QLabel("Runtimes:"))
        self.runtime_box = QHBoxLayout()
        what.addLayout(self.runtime_box)
        what.addStretch(1)
        how.addWidget(QLabel("Batch sizes:"))
        self.batches = QLineEdit("1, 8, 64")
        # room for the default and a bit more, whatever the width of the row
        room = self.batches.fontMetrics().horizontalAdvance("1, 8, 64, 512") + 16
        self.batches.setMinimumWidth(room)
        self.batches.setMaximumWidth(room + 60)
        self.batches.setToolTip("Comma-separated batch sizes; each runtime is timed at each size")
        how.addWidget(self.batches)
        how.addSpacing(8)
        how.addWidget(QLabel("Seconds each:"))
        self.duration = QDoubleSpinBox()
        self.duration.setRange(0.1, 600)
        self.duration.setValue(1.0)
        self.duration.setSingleStep(0.5)
        how.addWidget(self.duration)
        how.addSpacing(8)
        self.end_to_end = QCheckBox("Whole predict")
        self.end_to_end.setToolTip("Time the whole prediction per call (rows in, predictions out). Unchecked, "
                                   "each call times the runtime alone, on inputs converted beforehand, and the "
                                   "conversion is shown apart (hover a result row)")
        self.end_to_end.toggled.connect(self._describe_timing)
        how.addWidget(self.end_to_end)
        how.addStretch(1)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMinimumWidth(80)
        self.progress.setMaximumWidth(200)
        keep = self.progress.sizePolicy()
        keep.setRetainSizeWhenHidden(True)   # showing it during a run does not widen the row (nor the window)
        self.progress.setSizePolicy(keep)
        self.progress.setVisible(False)
        self.run_button = QPushButton(icon("run", "#ffffff"), "Run")
        self.run_button.setObjectName("primary")
        self.cancel_button = QPushButton(icon("stop"), "Cancel")
        self.cancel_button.setEnabled(False)
        what.addWidget(self.run_button)
        what.addWidget(self.cancel_button)
        how.addWidget(self.progress)   # under Run and Cancel

        export = QHBoxLayout()
        self.status = QLabel("Pick runtimes and batch sizes, then Run.")
        self.status.setWordWrap(True)
        export.addWidget(self.status, 1)
        self.legends = QCheckBox("Legends")
        self.legends.setChecked(charts.legends_visible())
        self.legends.setToolTip("Show the key of each chart in its top-right corner")
        self.legends.toggled.connect(lambda on: charts.set_legends_visible(on, [self.latency_plot, self.hist_plot]))
        export.addWidget(self.legends)
        self.save_chart = QPushButton(icon("export"), "Save Charts…")
        self.save_chart.setToolTip(f"Save the three charts as PNG or SVG ({charts.EXPORT_SIZE[0]}×"
                                   f"{charts.EXPORT_SIZE[1]}), each with a CSV of its data")
        self.save_data = QPushButton(icon("export"), "Save Results…")
        self.save_data.setToolTip("Save the results as CSV or JSON (the `workbench bench` file format)")
        self.save_chart.setEnabled(False)
        self.save_data.setEnabled(False)
        export.addWidget(self.save_chart)
        export.addWidget(self.save_data)

        self.latency_plot = _plot("Mean latency per 200 ms", "ms per call", "seconds")
        self.hist_plot = histogram_plot("Latency distribution")
        self.bar_plot = _plot("p50 (solid), p99 (light)", "ms per call", "")
        self.bar_plot.getPlotItem().getAxis("bottom").setHeight(38)   # two-line labels: runtime, ×batch
        self.bar_plot.getPlotItem().legend.setVisible(False)        # colours match the other two charts' keys
        self.bar_plot.getPlotItem().legend.keyed_in_title = True
        self.table = QTableWidget(0, len(TABLE_COLUMNS))
        self.table.setHorizontalHeaderLabels(TABLE_COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setMinimumHeight(self.table.horizontalHeader().sizeHint().height()
                                    + 4 * self.table.verticalHeader().defaultSectionSize() + 6)  # header + 4 rows
        # twelve columns fit the width of the view at 1280x800: sized to their text, no horizontal scroll
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # runtime names
        self.table.horizontalHeader().setStretchLastSection(False)
        self.curves: dict[tuple[str, int], Any] = {}
        #: the histogram drawn per configuration (its `.histogram` is what the curve shows)
        self.hist_curves: dict[tuple[str, int], Any] = {}
        self.colours: dict[tuple[str, int], str] = {}

        # the charts side by side in a splitter (drag to widen one), the table under them in another
        charts_area = charts.chart_splitter(self.latency_plot, self.hist_plot, self.bar_plot)
        self.chart_splitter = charts_area
        # empty axes say nothing: until the first run, what will appear there
        self.charts_hint = placeholder("Press Run: each runtime × batch size is timed, and its latency while "
                                       "running, its distribution and a p50 / p99 comparison appear here.")
        self.chart_stack = QStackedWidget()
        self.chart_stack.addWidget(self.charts_hint)
        self.chart_stack.addWidget(charts_area)
        self.charts_area = charts_area
        self.chart_stack.setMinimumHeight(charts.MIN_CHART_HEIGHT)
        # charts on top, the full-width percentile table below; the user moves the line between them
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.chart_stack)
        self.splitter.addWidget(self.table)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 2)

        layout = QVBoxLayout(page)
        layout.addWidget(self.head)
        layout.addLayout(controls)
        layout.addLayout(export)
        layout.addWidget(self.splitter, 1)
        self.page = page
        # a window too short for the charts scrolls the page instead of squashing them
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(page)
        self.stack.addWidget(self.scroll)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        outer.addWidget(self.stack)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.save_chart.clicked.connect(self._save_charts_dialog)
        self.save_data.clicked.connect(self._save_data_dialog)

    # -- public API -------------------------------------------------------------------------

    def attach(self, window: Any) -> None:
        self.settings = getattr(window, "settings", None)

    def set_document(self, doc: ModelDocument | None) -> None:
        self.doc = doc
        for box in self.checks.values():
            # hidden, never reparented to None: a box added to the layout a moment ago has a queued "show";
            # made a top-level window, it would flash as a small window of its own and take the focus
            box.hide()
            self.runtime_box.removeWidget(box)
            box.deleteLater()
        self.checks.clear()
        if doc is None or self._core is None:
            self.stack.setCurrentWidget(self.empty)
            return
        self.stack.setCurrentWidget(self.scroll)
        self._show_results_of(doc)
        self.title.setText(f"Benchmark {doc.name}")
        self._describe_timing()
        from workbench.core.runtimes import default_runtime, runtimes_for

        default = default_runtime(doc.info.format) if runtimes_for(doc.info.format) else None
        for runtime in runtimes_for(doc.info.format):
            avail = runtime.availability(doc.info.format)
            box = QCheckBox(runtime.name)
            box.setEnabled(avail.ok)
            box.setChecked(avail.ok and runtime.name == default)
            box.setToolTip("available" if avail.ok else f"not available: {avail.message()}")
            self.checks[runtime.name] = box
            self.runtime_box.addWidget(box)

    def selected_runtimes(self) -> list[str]:
        return [n for n, b in self.checks.items() if b.isChecked() and b.isEnabled()]

    def batch_sizes(self) -> list[int]:
        return [int(x) for x in self.batches.text().replace(";", ",").split(",") if x.strip()]

    def run(self) -> Worker | None:
        doc = self.doc
        if doc is None or self._core is None or (self.worker is not None and not self.worker.is_done):
            return None
        try:
            sizes = self.batch_sizes()
        except ValueError:
            self.status.setText("Batch sizes must be whole numbers, e.g. 1, 8, 64.")
            return None
        runtimes = self.selected_runtimes()
        if not runtimes or not sizes:
            self.status.setText("Check at least one runtime and give at least one batch size.")
            return None
        self._reset_charts()
        self.chart_stack.setCurrentWidget(self.charts_area)
        self.result = None
        self._run_doc = self._shown_doc = doc
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setVisible(True)
        self.progress.setValue(0)
        rows = doc.rows.copy() if doc.rows is not None and len(doc.rows) else None
        self._t0 = time.perf_counter()
        timed = "end_to_end" if self.end_to_end.isChecked() else "backend"
        self.worker = run_in_worker(bench_job, doc.path, rows, runtimes, sizes, self.duration.value(),
                                    doc.trusted, timed, name="benchmark", partial_results=True, on_result=self._done, on_error=self._failed,
                                    on_progress=self._progress, on_finished=self._finished)
        return self.worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def save_charts(self, path: str) -> list[str]:
        """Save every chart: `path` is NAME.png or NAME.svg; writes NAME-latency.png and NAME-latency.csv
        (its data) etc., each image at `charts.EXPORT_SIZE` whatever the size of the window."""
        return charts.save_charts({"latency": self.latency_plot, "histogram": self.hist_plot,
                                   "comparison": self.bar_plot}, path)

    def save_results(self, path: str) -> str:
        from workbench.core.bench.results import from_local, save_result

        return str(save_result(from_local(self.result), with_ending(Path(path), (".json", ".csv"))))

    # -- private ----------------------------------------------------------------------------

    def _reset_charts(self) -> None:
        for plot in (self.latency_plot, self.hist_plot, self.bar_plot):
            plot.getPlotItem().clear()
        self.curves.clear()
        self.hist_curves.clear()
        self.colours.clear()
        self.live.clear()
        self.live_points = 0
        self.table.setRowCount(0)
        self.save_chart.setEnabled(False)
        self.save_data.setEnabled(False)

    def _colour(self, key: tuple[str, int]) -> str:
        """One colour per configuration, the same in the live chart, the histogram and the bars."""
        return self.colours.setdefault(key, PALETTE[len(self.colours) % len(PALETTE)])

    def _curve(self, key: tuple[str, int]) -> Any:
        import pyqtgraph as pg

        if key not in self.curves:
            pen = pg.mkPen(self._colour(key), width=2)
            self.curves[key] = self.latency_plot.plot([], [], pen=pen, name=f"{key[0]} × {key[1]}")
        return self.curves[key]

    def _progress(self, report: Progress) -> None:
        if self.doc is not self._run_doc:
            return  # another model is shown: its page is not this run's
        if report.fraction is not None:
            self.progress.setValue(int(report.fraction * 100))
        if report.message:
            self.status.setText(report.message)
        data = report.data or {}
        p = data.get("progress")
        if p is None:
            return
        key = (p.runtime, p.batch_size)
        state = self.live.setdefault(key, {"x": [], "y": [], "calls": 0, "t": None})
        t = data["t"]
        if state["t"] is not None and p.calls > state["calls"]:
            window_ms = (t - state["t"]) * 1000.0 / (p.calls - state["calls"])
            state["x"].append(t - self._t0)
            state["y"].append(window_ms)
            self._curve(key).setData(state["x"], state["y"])
            self.live_points += 1
        state["t"], state["calls"] = t, p.calls
        if p.last is not None:
            self._add_config(p.last)

    def _add_config(self, c: Any) -> None:
        r = self.table.rowCount()
        self.table.insertRow(r)
        lat = c.latency
        pct = lat.percentiles_ms
        cells = [c.runtime, c.batch_size, c.calls, lat.mean_ms, pct.get(50.0), pct.get(90.0), pct.get(95.0),
                 pct.get(99.0), pct.get(99.9), lat.max_ms, c.throughput_rows_s, c.load_s]
        for col, value in enumerate(cells):
            if isinstance(value, float):
                text = "" if math.isnan(value) else (f"{value:,.0f}" if col == 10 else f"{value:.3f}")
            else:
                text = "" if value is None else str(value)
            item = QTableWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, value)
            if c.error:
                item.setToolTip(c.error)
                item.setForeground(color("bad"))
            else:
                item.setToolTip(timing_note(c))
            self.table.setItem(r, col, item)
        if not c.error:
            for col, p in TAIL_COLUMNS.items():
                needed = round(100 / (100 - p))        # 100 calls for p99, 1,000 for p99.9
                if c.calls < needed:  # too few calls: this percentile is just the slowest call
                    item = self.table.item(r, col)
                    item.setForeground(color("muted"))
                    item.setToolTip(f"Only {c.calls} calls: p{p:g} needs at least {needed:,} to differ from the "
                                    "slowest call. Run longer for a real tail.")
        if c.error:
            self.table.item(r, 2).setText(f"error: {c.error}")
        self.table.resizeColumnsToContents()
        self._draw_bars()
        if getattr(c, "histogram", None) is not None:
            self._draw_histogram((c.runtime, c.batch_size), c.histogram)

    def _configs(self) -> list[Any]:
        if self.result is not None:
            return list(self.result.configs)
        out = []
        for r in range(self.table.rowCount()):
            out.append({TABLE_COLUMNS[c]: self.table.item(r, c).data(Qt.ItemDataRole.UserRole)
                        for c in range(self.table.columnCount())})
        return out

    def _show_results_of(self, doc: ModelDocument) -> None:
        """The page shows one model's results only: its last benchmark, the one running, or the hint."""
        if self._shown_doc is doc:
            return
        self._shown_doc = doc
        self._reset_charts()
        self.result = None
        running = running_for(self.worker, self._run_doc)
        if running is doc:
            self.chart_stack.setCurrentWidget(self.charts_area)
            return
        if running is not None:
            self.chart_stack.setCurrentWidget(self.charts_hint)
            self.status.setText(f"A benchmark of {running.name} is running: its results appear on its page.")
            return
        result = doc.benchmark
        if result is None:
            self.chart_stack.setCurrentWidget(self.charts_hint)
            self.status.setText("Pick runtimes and batch sizes, then Run.")
            return
        self.chart_stack.setCurrentWidget(self.charts_area)
        for config in result.configs:
            self._add_config(config)
        self._show_done(result)

    def _describe_timing(self) -> None:
        what = ("the whole predict (rows in, predictions out)" if self.end_to_end.isChecked()
                else "each runtime's own call, on rows converted beforehand")
        self.subtitle.setText(f"Per-call latency of {what}, on the Rows table (or rows generated from the "
                              "schema), each runtime × batch size.")

    def _draw_bars(self) -> None:
        import pyqtgraph as pg

        rows = [{TABLE_COLUMNS[c]: self.table.item(r, c).data(Qt.ItemDataRole.UserRole)
                 for c in range(self.table.columnCount())} for r in range(self.table.rowCount())]
        rows = [r for r in rows if isinstance(r["p50 ms"], float) and r["p50 ms"] == r["p50 ms"]]
        item = self.bar_plot.getPlotItem()
        item.clear()
        if not rows:
            return
        x = np.arange(len(rows), dtype=float)
        brushes = [self._colour((r["Runtime"], r["Batch"])) for r in rows]   # the same colour in every chart
        p99 = [r["p99 ms"] if isinstance(r["p99 ms"], float) else r["p50 ms"] for r in rows]
        item.addItem(pg.BarGraphItem(x=x - 0.2, height=[r["p50 ms"] for r in rows], width=0.38,
                                     brushes=[pg.mkBrush(b) for b in brushes], pens=[pg.mkPen(None)] * len(rows),
                                     name="p50 ms"))
        item.addItem(pg.BarGraphItem(x=x + 0.2, height=p99, width=0.38,
                                     brushes=[pg.mkBrush(b + "66") for b in brushes],
                                     pens=[pg.mkPen(b) for b in brushes], name="p99 ms"))
        # the runtime's name under the first bar of its group only: names wider than a bar never collide
        ticks = [(float(i), f"{r['Runtime'] if i == 0 or rows[i - 1]['Runtime'] != r['Runtime'] else ''}"
                            f"\n×{r['Batch']}") for i, r in enumerate(rows)]
        item.getAxis("bottom").setTicks([ticks])
        self.bar_heights = [r["p50 ms"] for r in rows]

    def _draw_histogram(self, key: tuple[str, int], hist: Any) -> None:
        curve = histogram_curve(hist, self._colour(key), f"{key[0]} × {key[1]}")
        self.hist_curves[key] = curve
        self.hist_plot.getPlotItem().addItem(curve)
        fit_log_ticks(self.hist_plot)

    def _done(self, result: Any) -> None:
        run_doc = self._run_doc
        if run_doc is not None:
            run_doc.benchmark = result
        if self.doc is not run_doc:   # shown when its model is selected again
            self.sig_finished.emit(result)
            return
        self._show_done(result)
        self.sig_finished.emit(result)

    def _show_done(self, result: Any) -> None:
        self.result = result
        done = sum(1 for c in result.configs if not c.error)
        configs = f"{done} configuration{'s' if done != 1 else ''}"
        from workbench.gui.sessions import restored_note

        note = restored_note(self.doc, result) if self.doc is not None else ""
        self.status.setText(f"{'Cancelled after' if result.cancelled else 'Done:'} {configs} "
                            f"on {result.sample_rows} rows ({result.rows_source or 'generated'})"
                            + (f", {note}." if note else "."))
        self.save_chart.setEnabled(True)
        self.save_data.setEnabled(True)

    def _failed(self, exc: BaseException) -> None:
        message, hint, details = describe_exception(exc)
        self.status.setText(f"✗ {message}" + (f" ({hint})" if hint else ""))
        notify(message, "error", hint=hint, details=details, context="benchmark")

    def _finished(self) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)

    def _save_charts_dialog(self) -> None:
        start = self.settings.last_folder("charts") if self.settings else ""
        path, chosen = QFileDialog.getSaveFileName(self, "Save charts", str(Path(start or ".") / "benchmark.png"),
                                                   "PNG image (*.png);;SVG vector (*.svg)")
        if path:
            written = self.save_charts(str(with_ending(Path(path), (".png", ".svg"), chosen)))
            self.status.setText("Saved " + ", ".join(Path(w).name for w in written))
            if self.settings:
                self.settings.set_last_folder("charts", str(Path(path).parent))

    def _save_data_dialog(self) -> None:
        start = self.settings.last_folder("charts") if self.settings else ""
        path, chosen = QFileDialog.getSaveFileName(self, "Save results", str(Path(start or ".") / "benchmark.json"),
                                                   "JSON (*.json);;CSV (*.csv)")
        if path:
            from workbench.core.errors import WorkbenchError

            try:
                saved = self.save_results(str(with_ending(Path(path), (".json", ".csv"), chosen)))
            except (WorkbenchError, OSError) as exc:
                self.status.setText(f"✗ {exc}")
                return
            self.status.setText(f"Saved {saved}")
