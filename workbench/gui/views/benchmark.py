"""Benchmark: runtimes x batch sizes with `workbench.core.bench.local.run_local_bench` on a worker.

Live: the core reports each configuration's progress about every 200 ms (calls so far); the chart
plots the mean latency of each such window (window time / calls in it). When a configuration
finishes, its percentiles go into the table, the comparison bar chart (p50 and p99 per runtime and
batch size) and, when the core hands per-call samples, the histogram. Charts export to PNG/SVG and
results to CSV/JSON through the core's `save_result`.
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
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.document import ModelDocument
from workbench.gui.notifications import describe_exception, notify
from workbench.gui.resources import icon
from workbench.gui.views.common import color, core_module, header, placeholder
from workbench.gui.workers import Progress, Worker, run_in_worker

PALETTE = ["#2f6fde", "#e8590c", "#2b8a3e", "#ae3ec9", "#c92a2a", "#0c8599", "#5c940d", "#862e9c"]
TABLE_COLUMNS = ["Runtime", "Batch", "Calls", "Mean ms", "p50 ms", "p90 ms", "p95 ms", "p99 ms", "p99.9 ms",
                 "Max ms", "Rows/s", "Load s"]


def bench_job(path: str, rows: Any, runtimes: list[str], batch_sizes: list[int], duration_s: float,
              trust: bool, task: Any = None) -> Any:
    """Worker job: the core benchmark, its progress forwarded as `Progress.data`."""
    from workbench.core.bench.local import LocalPlan, run_local_bench

    plan = LocalPlan(runtimes=tuple(runtimes), batch_sizes=tuple(batch_sizes), duration_s=duration_s)

    def progress(p: Any) -> None:
        overall = ((p.index - 1) + p.fraction) / max(1, p.total)
        task.progress(overall, f"{p.runtime} × batch {p.batch_size}: {p.calls} calls",
                      {"progress": p, "t": time.perf_counter()})

    return run_local_bench(path, rows=rows, plan=plan, trust=trust, progress=progress, cancel=task.cancel_event,
                           rows_source="the Rows table" if rows is not None else None)


def _plot(title: str, left: str, bottom: str) -> Any:
    import pyqtgraph as pg

    widget = pg.PlotWidget()
    c = color("plot_bg").name()
    fg = color("plot_fg").name()
    widget.setBackground(c)
    item = widget.getPlotItem()
    item.setTitle(title, color=fg, size="10pt")
    item.setLabel("left", left, color=fg)
    item.setLabel("bottom", bottom, color=fg)
    item.showGrid(x=True, y=True, alpha=0.2)
    for axis in ("left", "bottom"):
        item.getAxis(axis).setPen(fg)
        item.getAxis(axis).setTextPen(fg)
    item.addLegend(offset=(-10, 10), labelTextColor=fg)
    return widget


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
        self.result: Any = None
        self.checks: dict[str, QCheckBox] = {}
        self.live: dict[tuple[str, int], dict[str, Any]] = {}
        self.live_points = 0

        self.stack = QStackedWidget()
        self.empty = placeholder("No model selected." if self._core else f"Benchmark is {self._why}")
        self.stack.addWidget(self.empty)
        page = QWidget()
        self.head, self.title, self.subtitle = header("Benchmark", "")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Runtimes:"))
        self.runtime_box = QHBoxLayout()
        controls.addLayout(self.runtime_box)
        controls.addSpacing(12)
        controls.addWidget(QLabel("Batch sizes:"))
        self.batches = QLineEdit("1, 8, 64")
        self.batches.setMaximumWidth(110)
        self.batches.setToolTip("Comma-separated batch sizes; each runtime is timed at each size")
        controls.addWidget(self.batches)
        controls.addWidget(QLabel("Seconds each:"))
        self.duration = QDoubleSpinBox()
        self.duration.setRange(0.1, 600)
        self.duration.setValue(1.0)
        self.duration.setSingleStep(0.5)
        controls.addWidget(self.duration)
        controls.addStretch(1)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(200)
        self.progress.setVisible(False)
        controls.addWidget(self.progress)
        self.run_button = QPushButton(icon("run", "#ffffff"), "Run")
        self.run_button.setObjectName("primary")
        self.cancel_button = QPushButton(icon("stop"), "Cancel")
        self.cancel_button.setEnabled(False)
        controls.addWidget(self.run_button)
        controls.addWidget(self.cancel_button)

        export = QHBoxLayout()
        self.status = QLabel("Pick runtimes and batch sizes, then Run.")
        self.status.setWordWrap(True)
        export.addWidget(self.status, 1)
        self.save_chart = QPushButton(icon("export"), "Save Charts…")
        self.save_chart.setToolTip("Save the four charts as PNG or SVG")
        self.save_data = QPushButton(icon("export"), "Save Results…")
        self.save_data.setToolTip("Save the results as CSV or JSON (the `workbench bench` file format)")
        self.save_chart.setEnabled(False)
        self.save_data.setEnabled(False)
        export.addWidget(self.save_chart)
        export.addWidget(self.save_data)

        self.latency_plot = _plot("Latency while running (mean per 200 ms window)", "ms per call", "seconds")
        self.hist_plot = _plot("Latency distribution", "calls", "ms per call")
        self.bar_plot = _plot("Runtime comparison: p50 (solid) and p99 (light) per call", "ms per call", "")
        self.table = QTableWidget(0, len(TABLE_COLUMNS))
        self.table.setHorizontalHeaderLabels(TABLE_COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.curves: dict[tuple[str, int], Any] = {}

        grid = QGridLayout()
        grid.addWidget(self.latency_plot, 0, 0)
        grid.addWidget(self.hist_plot, 0, 1)
        grid.addWidget(self.table, 1, 0)
        grid.addWidget(self.bar_plot, 1, 1)
        grid.setRowStretch(0, 1)
        grid.setRowStretch(1, 1)

        layout = QVBoxLayout(page)
        layout.addWidget(self.head)
        layout.addLayout(controls)
        layout.addLayout(export)
        layout.addLayout(grid, 1)
        self.page = page
        self.stack.addWidget(page)
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
            box.setParent(None)
            box.deleteLater()
        self.checks.clear()
        if doc is None or self._core is None:
            self.stack.setCurrentWidget(self.empty)
            return
        self.stack.setCurrentWidget(self.page)
        self.title.setText(f"Benchmark {doc.name}")
        self.subtitle.setText("Per-call latency of predict() on the Rows table (or rows generated from the "
                              "schema), each runtime × batch size.")
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
        self.result = None
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setVisible(True)
        self.progress.setValue(0)
        rows = doc.rows.copy() if doc.rows is not None and len(doc.rows) else None
        self._t0 = time.perf_counter()
        self.worker = run_in_worker(bench_job, doc.path, rows, runtimes, sizes, self.duration.value(),
                                    doc.trusted, name="benchmark", on_result=self._done, on_error=self._failed,
                                    on_progress=self._progress, on_finished=self._finished)
        return self.worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def save_charts(self, path: str) -> list[str]:
        """Save every chart: `path` is NAME.png or NAME.svg; writes NAME-latency.png etc."""
        import pyqtgraph.exporters as pge

        p = Path(path)
        written = []
        for key, widget in (("latency", self.latency_plot), ("histogram", self.hist_plot),
                            ("comparison", self.bar_plot)):
            target = p.with_name(f"{p.stem}-{key}{p.suffix}")
            if p.suffix.lower() == ".svg":
                _render_svg(widget, str(target))
            else:
                exporter = pge.ImageExporter(widget.getPlotItem())
                exporter.parameters()["width"] = 900
                exporter.export(str(target))
            written.append(str(target))
        return written

    def save_results(self, path: str) -> str:
        from workbench.core.bench.results import from_local, save_result

        return str(save_result(from_local(self.result), path))

    # -- private ----------------------------------------------------------------------------

    def _reset_charts(self) -> None:
        for plot in (self.latency_plot, self.hist_plot, self.bar_plot):
            plot.getPlotItem().clear()
        self.hist_plot.getPlotItem().setLogMode(y=False)
        self.curves.clear()
        self.live.clear()
        self.live_points = 0
        self.table.setRowCount(0)
        self.save_chart.setEnabled(False)
        self.save_data.setEnabled(False)

    def _curve(self, key: tuple[str, int]) -> Any:
        import pyqtgraph as pg

        if key not in self.curves:
            pen = pg.mkPen(PALETTE[len(self.curves) % len(PALETTE)], width=2)
            self.curves[key] = self.latency_plot.plot([], [], pen=pen, name=f"{key[0]} × {key[1]}")
        return self.curves[key]

    def _progress(self, report: Progress) -> None:
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
                text = "" if math.isnan(value) else (f"{value:.0f}" if col == 10 else f"{value:.3f}")
            else:
                text = "" if value is None else str(value)
            item = QTableWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, value)
            if c.error:
                item.setToolTip(c.error)
                item.setForeground(color("bad"))
            self.table.setItem(r, col, item)
        if c.error:
            self.table.item(r, 2).setText(f"error: {c.error}")
        self.table.resizeColumnsToContents()
        self._draw_bars()
        samples = getattr(c, "samples_ns", None)
        if samples is not None and len(samples):
            self._draw_histogram((c.runtime, c.batch_size), np.asarray(samples, dtype=np.float64) / 1e6)

    def _configs(self) -> list[Any]:
        if self.result is not None:
            return list(self.result.configs)
        out = []
        for r in range(self.table.rowCount()):
            out.append({TABLE_COLUMNS[c]: self.table.item(r, c).data(Qt.ItemDataRole.UserRole)
                        for c in range(self.table.columnCount())})
        return out

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
        runtimes = list(dict.fromkeys(r["Runtime"] for r in rows))
        brushes = [PALETTE[runtimes.index(r["Runtime"]) % len(PALETTE)] for r in rows]
        p99 = [r["p99 ms"] if isinstance(r["p99 ms"], float) else r["p50 ms"] for r in rows]
        item.addItem(pg.BarGraphItem(x=x - 0.2, height=[r["p50 ms"] for r in rows], width=0.38,
                                     brushes=[pg.mkBrush(b) for b in brushes], pens=[pg.mkPen(None)] * len(rows)))
        item.addItem(pg.BarGraphItem(x=x + 0.2, height=p99, width=0.38,
                                     brushes=[pg.mkBrush(b + "66") for b in brushes],
                                     pens=[pg.mkPen(b) for b in brushes]))
        ticks = [(float(i), f"{r['Runtime']}\n×{r['Batch']}") for i, r in enumerate(rows)]
        item.getAxis("bottom").setTicks([ticks])
        self.bar_heights = [r["p50 ms"] for r in rows]

    def _draw_histogram(self, key: tuple[str, int], ms: np.ndarray) -> None:
        import pyqtgraph as pg

        hi = np.percentile(ms, 99.5) if len(ms) > 20 else ms.max()
        counts, edges = np.histogram(ms[ms <= hi], bins=40)
        colour = PALETTE[list(self.curves).index(key) % len(PALETTE)] if key in self.curves else PALETTE[0]
        self.hist_plot.getPlotItem().addItem(pg.PlotDataItem(edges, counts, stepMode="center", fillLevel=0,
                                                             brush=pg.mkBrush(colour + "55"), pen=pg.mkPen(colour),
                                                             name=f"{key[0]} × {key[1]}"))

    def _draw_percentile_curves(self, configs: list[Any]) -> None:
        """Without per-call samples: the latency distribution as percentile curves (p50 … max)."""
        import pyqtgraph as pg

        item = self.hist_plot.getPlotItem()
        item.clear()
        item.setTitle("Latency distribution by percentile (log scale)", color=color("plot_fg").name(), size="10pt")
        item.setToolTip("A histogram needs per-call samples, which the benchmark core does not hand out; "
                        "these are its exact percentiles")
        if item.legend is not None:
            item.legend.setOffset((60, 10))
        item.setLabel("left", "ms per call")
        item.setLabel("bottom", "percentile")
        marks = [50.0, 90.0, 95.0, 99.0, 99.9]
        xs = [0, 1, 2, 3, 4, 5]
        for i, c in enumerate(cfg for cfg in configs if not cfg.error):
            ys = [c.latency.percentiles_ms.get(p, float("nan")) for p in marks] + [c.latency.max_ms]
            item.plot(xs, ys, pen=pg.mkPen(PALETTE[i % len(PALETTE)], width=2), symbol="o", symbolSize=6,
                      symbolBrush=PALETTE[i % len(PALETTE)], name=f"{c.runtime} × {c.batch_size}")
        item.getAxis("bottom").setTicks([[(x, t) for x, t in zip(xs, ["p50", "p90", "p95", "p99", "p99.9", "max"],
                                                                     strict=True)]])
        item.setLogMode(y=True)

    def _done(self, result: Any) -> None:
        self.result = result
        got_samples = any(getattr(c, "samples_ns", None) is not None for c in result.configs)
        if not got_samples:
            self._draw_percentile_curves(result.configs)
        done = sum(1 for c in result.configs if not c.error)
        self.status.setText(f"{'Cancelled after' if result.cancelled else 'Done:'} {done} configuration(s) "
                            f"on {result.sample_rows} rows ({result.rows_source or 'generated'}).")
        self.save_chart.setEnabled(True)
        self.save_data.setEnabled(True)
        self.sig_finished.emit(result)

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
        path, _ = QFileDialog.getSaveFileName(self, "Save charts", str(Path(start or ".") / "benchmark.png"),
                                              "PNG image (*.png);;SVG vector (*.svg)")
        if path:
            written = self.save_charts(path)
            self.status.setText("Saved " + ", ".join(Path(w).name for w in written))
            if self.settings:
                self.settings.set_last_folder("charts", str(Path(path).parent))

    def _save_data_dialog(self) -> None:
        start = self.settings.last_folder("charts") if self.settings else ""
        path, _ = QFileDialog.getSaveFileName(self, "Save results", str(Path(start or ".") / "benchmark.json"),
                                              "JSON (*.json);;CSV (*.csv)")
        if path:
            self.status.setText(f"Saved {self.save_results(path)}")


def _render_svg(widget: QWidget, path: str) -> None:
    """SVG of a chart widget via QSvgGenerator (pyqtgraph 0.14's SVGExporter fails on bar/legend items)."""
    from PySide6.QtCore import QRect, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    generator = QSvgGenerator()
    generator.setFileName(path)
    generator.setSize(QSize(widget.width(), widget.height()))
    generator.setViewBox(QRect(0, 0, widget.width(), widget.height()))
    generator.setTitle("Model Serving Workbench benchmark")
    painter = QPainter(generator)
    widget.render(painter)
    painter.end()


def _text_item(text: str) -> Any:
    import pyqtgraph as pg

    item = pg.TextItem(text, color=color("muted").name(), anchor=(0.5, 0.5))
    item.setPos(0.5, 0.5)
    return item
