"""The chart toolkit of the Benchmark and Load test views (pyqtgraph, imported only when a chart is made).

`plot()` makes a themed chart with a legend in its top-right corner (offset, translucent background,
hidden while empty, toggled with `set_legends_visible`), a crosshair with a value readout on hover, and
a title that survives a theme switch. Charts restyle themselves when `theme.signals().sig_changed`
fires. `save_charts()` exports charts at a fixed size (1600x1000 by default, whatever the size on screen)
as PNG (pyqtgraph's ImageExporter) or SVG (pyqtgraph's SVGExporter, or Qt's SVG generator for the
items it cannot write), each with a CSV of the data drawn.
"""

from __future__ import annotations

import csv
import functools
import math
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QRectF, Qt
from PySide6.QtWidgets import QWidget

from workbench.gui.views.common import color

#: bins per decade the histograms are drawn at (the core's 40 merged in pairs: each bin 12 % wide)
HIST_BINS_PER_DECADE = 20
PALETTE = ["#2f6fde", "#e8590c", "#2b8a3e", "#ae3ec9", "#c92a2a", "#0c8599", "#5c940d", "#862e9c"]
#: the size every chart is exported at, whatever its size on screen
EXPORT_SIZE = (1600, 1000)
#: a chart is never squeezed below this height (the page scrolls or the splitter stops first)
MIN_CHART_HEIGHT = 180

#: every chart made by `plot`, restyled when the theme changes
_PLOTS: weakref.WeakSet[Any] = weakref.WeakSet()
_legends_shown = {"on": True}


def _connect_theme() -> None:
    if getattr(_connect_theme, "done", False):
        return
    from workbench.gui.theme import signals

    signals().sig_changed.connect(lambda _colors: restyle_plots())
    _connect_theme.done = True  # type: ignore[attr-defined]


def plot(title: str, left: str, bottom: str) -> Any:
    """A themed chart: grid, axis labels, corner legend, crosshair with a readout."""
    _connect_theme()
    widget = pg.PlotWidget()
    widget.setMinimumHeight(MIN_CHART_HEIGHT)
    widget.setMinimumWidth(160)
    item = widget.getPlotItem()
    item.showGrid(x=True, y=True, alpha=0.2)
    for axis in ("left", "bottom"):
        item.getAxis(axis).enableAutoSIPrefix(False)   # "ms per call (x0.001)" helps nobody
    legend = _legend_class()(offset=(-8, 8), verSpacing=-4, labelTextSize="8pt")
    legend.setParentItem(item.vb)
    legend.setZValue(100)
    item.legend = legend                       # plot(name=...) adds its entries here
    if not _legends_shown["on"]:
        legend.setVisible(False)
    widget._texts = (title, left, bottom)      # kept to redraw them in another theme's colours
    widget._title_html = None                  # a title with coloured keys (set_title)
    _add_crosshair(widget)
    style(widget)
    _PLOTS.add(widget)
    return widget


def set_title(widget: Any, html: str, size: str = "9pt") -> None:
    """A rich title (e.g. with coloured keys) that a theme switch keeps."""
    widget._title_html = (html, size)
    widget.getPlotItem().setTitle(html, color=color("plot_fg").name(), size=size)


def style(widget: Any) -> None:
    """The current theme's colours on a chart: background, title, axes, legend text and box, crosshair."""
    bg = color("plot_bg").name()
    fg = color("plot_fg").name()
    title, left, bottom = widget._texts
    widget.setBackground(bg)
    item = widget.getPlotItem()
    if widget._title_html is not None:
        item.setTitle(widget._title_html[0], color=fg, size=widget._title_html[1])
    else:
        item.setTitle(title, color=fg, size="10pt")
    item.setLabel("left", left, color=fg)
    item.setLabel("bottom", bottom, color=fg)
    for axis in ("left", "bottom"):
        item.getAxis(axis).setPen(fg)
        item.getAxis(axis).setTextPen(fg)
    legend = item.legend
    legend.setLabelTextColor(fg)
    for _sample, label in legend.items:   # setLabelTextColor leaves the labels already drawn as they were
        label.setText(label.text, color=fg)
    legend.setBrush(pg.mkBrush(bg + "c8"))     # translucent: the curves under it still show
    legend.setPen(pg.mkPen(color("border").name()))
    hair = widget._crosshair
    pen = pg.mkPen(color("muted").name(), width=1, style=Qt.PenStyle.DashLine)
    hair["v"].setPen(pen)
    hair["h"].setPen(pen)
    hair["text"].setColor(fg)
    hair["text"].fill = pg.mkBrush(bg + "e0")
    hair["text"].border = pg.mkPen(color("border").name())
    hair["text"].update()


def restyle_plots() -> None:
    """Redraw every chart in the current theme (runs on `theme.signals().sig_changed`)."""
    import shiboken6

    for widget in list(_PLOTS):
        if shiboken6.isValid(widget):  # a closed window's charts may still have Python wrappers
            style(widget)


def set_legends_visible(on: bool, widgets: Any = None) -> None:
    """Show or hide the legends of `widgets` (default: every chart, and the charts made later)."""
    if widgets is None:
        _legends_shown["on"] = bool(on)
        widgets = list(_PLOTS)
    for widget in widgets:
        legend = widget.getPlotItem().legend
        if getattr(legend, "keyed_in_title", False):
            continue
        legend.setVisible(on)


def legends_visible() -> bool:
    return _legends_shown["on"]


@functools.cache
def _legend_class() -> type:
    class AutoHideLegend(pg.LegendItem):
        """A legend shown only while it has entries (an empty box over an empty chart says nothing).

        `setVisible(False)` hides it until `setVisible(True)`."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.wanted = True
            self._sync()

        def setVisible(self, visible: bool) -> None:
            self.wanted = bool(visible)
            self._sync()

        def addItem(self, item: Any, name: str) -> None:
            super().addItem(item, name)
            self._sync()

        def removeItem(self, item: Any) -> None:
            super().removeItem(item)
            self._sync()

        def clear(self) -> None:
            super().clear()
            self._sync()

        def shown(self) -> bool:
            return pg.LegendItem.isVisible(self)

        def _sync(self) -> None:
            pg.LegendItem.setVisible(self, getattr(self, "wanted", True) and bool(getattr(self, "items", [])))

    return AutoHideLegend


# -- crosshair ---------------------------------------------------------------------------------

def _add_crosshair(widget: Any) -> None:
    item = widget.getPlotItem()
    v = pg.InfiniteLine(angle=90, movable=False)
    h = pg.InfiniteLine(angle=0, movable=False)
    text = pg.TextItem("", anchor=(0, 0))
    for part in (v, h):
        part.setZValue(50)
        item.addItem(part, ignoreBounds=True)
    text.setParentItem(item.vb)   # pinned to the top-left of the plot area, not to data coordinates
    text.setPos(6, 4)
    text.setZValue(101)
    widget._crosshair = {"v": v, "h": h, "text": text, "readout": ""}
    hide_crosshair(widget)
    widget.scene().sigMouseMoved.connect(lambda pos, w=weakref.ref(widget): _hover(w(), pos))
    widget._leave_filter = _LeaveFilter(widget)
    widget.viewport().installEventFilter(widget._leave_filter)


class _LeaveFilter(QObject):
    """Hides the crosshair when the mouse leaves the chart."""

    def __init__(self, widget: Any) -> None:
        super().__init__(widget)
        self._widget = weakref.ref(widget)

    def eventFilter(self, _obj: Any, event: Any) -> bool:
        if event.type() == QEvent.Type.Leave and self._widget() is not None:
            hide_crosshair(self._widget())
        return False


def hide_crosshair(widget: Any) -> None:
    hair = widget._crosshair
    for part in (hair["v"], hair["h"], hair["text"]):
        part.setVisible(False)
    hair["readout"] = ""


def readout(widget: Any) -> str:
    """The text of the hover readout ("" when the mouse is not over the plot)."""
    return widget._crosshair["readout"]


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"


def _hover(widget: Any, scene_pos: Any) -> None:
    if widget is None:
        return
    item = widget.getPlotItem()
    vb = item.vb
    hair = widget._crosshair
    if not vb.sceneBoundingRect().contains(scene_pos):
        hide_crosshair(widget)
        return
    point = vb.mapSceneToView(scene_pos)
    x, y = point.x(), point.y()
    hair["v"].setPos(x)
    hair["h"].setPos(y)
    log_x = bool(item.ctrl.logXCheck.isChecked())
    x_shown = 10 ** x if log_x else x
    x_label = item.getAxis("bottom").labelText or "x"
    lines = [f"{x_label.split(' (')[0] or 'x'}: {_fmt(x_shown)}"]
    for curve in item.listDataItems():
        if not isinstance(curve, pg.PlotDataItem):
            continue
        name = curve.name()
        xs, ys = curve.getData()
        if not name or xs is None or not len(xs):
            continue
        i = int(np.argmin(np.abs(np.asarray(xs, dtype=float) - x)))
        if i < len(ys):
            lines.append(f"{name}: {_fmt(float(ys[i]))}")
    for bars in (i for i in item.items if isinstance(i, pg.BarGraphItem)):
        bx, heights = bars.opts.get("x"), bars.opts.get("height")
        if bx is None or heights is None or not len(bx):
            continue
        i = int(np.argmin(np.abs(np.asarray(bx, dtype=float) - x)))
        if abs(float(bx[i]) - x) <= float(np.max(bars.opts.get("width") or 0.5)):
            lines.append(f"{bars.opts.get('name') or 'bar'}: {_fmt(float(heights[i]))}")
    if len(lines) == 1:
        lines.append(f"{item.getAxis('left').labelText or 'y'}: {_fmt(y)}")
    hair["readout"] = "\n".join(lines)
    hair["text"].setText(hair["readout"])
    for part in (hair["v"], hair["h"], hair["text"]):
        part.setVisible(True)


# -- histograms --------------------------------------------------------------------------------

def histogram_plot(title: str, what: str = "calls") -> Any:
    """A chart for latency histograms: log time axis, share of `what` per bin."""
    widget = plot(title, f"% of {what} per bin", "ms (log scale)")
    widget.getPlotItem().setLogMode(x=True, y=False)
    widget.getPlotItem().setToolTip(f"Histogram of every measured latency, {HIST_BINS_PER_DECADE} log-spaced bins "
                                    f"per factor of ten (each bin 12 % wide); the percentiles come from the "
                                    f"exact samples, not from these bins")
    return widget


def fit_log_ticks(widget: Any) -> None:
    """Readable ticks on a log-scale x axis: 1-2-5 labels (decades only over > 3 decades), the rest unlabelled.

    pyqtgraph labels every minor tick when the range is under two decades ("0.3 0.4 0.5 0.6 ...")."""
    xs = [x for item in widget.getPlotItem().listDataItems() if item.xData is not None and len(item.xData)
          for x in (float(np.min(item.xData)), float(np.max(item.xData))) if x > 0]
    if not xs:
        return
    lo, hi = math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs)))
    labelled = (1,) if hi - lo > 3 else (1, 2, 5)
    major, minor = [], []
    for decade in range(lo, hi + 1):
        for m in range(1, 10):
            value = m * 10.0 ** decade
            if not min(xs) / 1.5 <= value <= max(xs) * 1.5:
                continue
            pos = math.log10(value)
            (major if m in labelled else minor).append((pos, f"{value:g}" if m in labelled else ""))
    widget.getPlotItem().getAxis("bottom").setTicks([major, minor])


def histogram_curve(hist: Any, colour: str, name: str, dashed: bool = False) -> Any:
    """A step curve of a core `LatencyHistogram`: x = bin edges in ms, y = % of the samples per bin."""
    shown = hist.coarsen(hist.bins_per_decade // HIST_BINS_PER_DECADE) \
        if hist.bins_per_decade % HIST_BINS_PER_DECADE == 0 else hist
    percent = [100.0 * f for f in shown.fractions()]
    pen = pg.mkPen(colour, width=2 if not dashed else 1.5,
                   style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
    curve = pg.PlotDataItem(shown.edges_ms, percent, stepMode="center", fillLevel=0 if not dashed else None,
                            brush=pg.mkBrush(colour + "40") if not dashed else None, pen=pen, name=name)
    curve.histogram = shown
    return curve


# -- export ------------------------------------------------------------------------------------

def with_ending(path: Path, endings: tuple[str, ...], chosen_filter: str = "") -> Path:
    """`path` if it ends in one of `endings`; else with the ending of the chosen file-dialog filter
    ("SVG vector (*.svg)"), or the first ending (a name typed without one would write nothing useful)."""
    if path.suffix.lower() in endings:
        return path
    wanted = next((e for e in endings if f"*{e}" in chosen_filter), endings[0])
    return path.with_name(path.name + wanted)


def export_chart(widget: Any, path: str | Path, size: tuple[int, int] = EXPORT_SIZE) -> str:
    """Write one chart as PNG or SVG (by `path`'s ending) at `size`, whatever its size on screen."""
    import pyqtgraph.exporters as pge

    item = widget.getPlotItem()
    hair = widget._crosshair
    hidden = [(p, p.isVisible()) for p in (hair["v"], hair["h"], hair["text"])]
    for part, _ in hidden:
        part.setVisible(False)
    before = QRectF(item.geometry())
    item.setGeometry(QRectF(0, 0, size[0], size[1]))
    try:
        if str(path).lower().endswith(".svg"):
            try:
                pge.SVGExporter(item).export(str(path))
            except (ValueError, TypeError, AttributeError, IndexError):  # pyqtgraph 0.14: bar graphs, legends
                _render_svg(item, str(path), size)
        else:
            exporter = pge.ImageExporter(item)
            exporter.parameters()["width"] = size[0]   # the height follows from the item's 1600x1000
            exporter.export(str(path))
    finally:
        item.setGeometry(before)
        for part, was in hidden:
            part.setVisible(was)
    return str(path)


def _render_svg(item: Any, path: str, size: tuple[int, int]) -> None:
    from PySide6.QtCore import QRect, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    generator = QSvgGenerator()
    generator.setFileName(path)
    generator.setSize(QSize(*size))
    generator.setViewBox(QRect(0, 0, *size))
    generator.setTitle("Model Serving Workbench chart")
    painter = QPainter(generator)
    painter.fillRect(QRectF(0, 0, *size), color("plot_bg"))
    item.scene().render(painter, QRectF(0, 0, *size), item.sceneBoundingRect())
    painter.end()


def chart_series(widget: Any) -> list[tuple[str, list[float], list[float]]]:
    """(name, x, y) of every curve and bar series drawn (x in data units, also on a log axis)."""
    out = []
    item = widget.getPlotItem()
    for curve in item.listDataItems():
        if not isinstance(curve, pg.PlotDataItem):
            continue
        xs, ys = curve.xData, curve.yData
        if xs is None or ys is None or not len(xs):
            continue
        xs, ys = list(map(float, xs)), list(map(float, ys))
        if len(xs) == len(ys) + 1:   # a step curve: bin edges -> left edge of each bin
            xs = xs[:-1]
        out.append((curve.name() or f"series {len(out) + 1}", xs, ys))
    for bars in (i for i in item.items if isinstance(i, pg.BarGraphItem)):
        opts = bars.opts
        if opts.get("x") is not None and opts.get("height") is not None:
            out.append((opts.get("name") or f"bars {len(out) + 1}", list(map(float, opts["x"])),
                        list(map(float, opts["height"]))))
    return out


def save_csv(widget: Any, path: str | Path) -> str:
    """The data of a chart as CSV: one row per point, columns series, x, y (named after the axes)."""
    item = widget.getPlotItem()
    x_name = item.getAxis("bottom").labelText or "x"
    y_name = item.getAxis("left").labelText or "y"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["series", x_name, y_name])
        for name, xs, ys in chart_series(widget):
            for x, y in zip(xs, ys, strict=False):
                out.writerow([name, repr(x), repr(y)])
    return str(path)


def save_charts(charts: dict[str, Any], path: str | Path, size: tuple[int, int] = EXPORT_SIZE) -> list[str]:
    """Every chart of `charts` (key -> chart) as NAME-KEY.png (or .svg) at `size`, and beside each its data as
    NAME-KEY.csv. Returns the images written."""
    p = with_ending(Path(path), (".png", ".svg"))
    written = []
    for key, widget in charts.items():
        target = p.with_name(f"{p.stem}-{key}{p.suffix}")
        written.append(export_chart(widget, target, size))
        save_csv(widget, target.with_suffix(".csv"))
    return written


def chart_splitter(*charts: QWidget, orientation: Qt.Orientation = Qt.Orientation.Horizontal) -> Any:
    """A splitter of charts, each never squeezed below its minimum size."""
    from PySide6.QtWidgets import QSplitter

    splitter = QSplitter(orientation)
    splitter.setChildrenCollapsible(False)
    for chart in charts:
        splitter.addWidget(chart)
    return splitter
