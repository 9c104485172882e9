"""Collect Python garbage on the GUI thread only.

Python's cyclic garbage collector runs on whichever thread happens to allocate (a worker) or is asked
to (JPype's Java reference thread calls `PyGC_Collect` when the JVM wants memory). When that garbage
holds PySide objects, their C++ destructors run on that thread: a QObject destructor takes Qt's
signal-slot mutex and then waits for the GIL, while the GUI thread holds the GIL and waits for the
same mutex -- a deadlock (seen in the GUI tests after the JPMML runtime had started its JVM).

The usual remedy for Qt apps: turn automatic collection off (which also makes `PyGC_Collect` from
other threads a no-op) and collect from a timer on the GUI thread, generation by generation, with
the interpreter's own thresholds.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

#: how often the GUI thread looks at the allocation counts
INTERVAL_MS = 500


class MainThreadCollector(QObject):
    """Disables automatic gc and collects on the thread that owns this object (the GUI thread)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> int | None:
        """Collect the oldest generation whose allocation count passed its threshold, if any."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):
            if counts[generation] > thresholds[generation]:
                return gc.collect(generation)
        return None

    def stop(self) -> None:
        """Give collection back to the interpreter (after a final collection here)."""
        self.timer.stop()
        gc.collect()
        gc.enable()


_collector: MainThreadCollector | None = None


def install(app: QObject) -> MainThreadCollector:
    """Install the collector once, owned by the application object (GUI thread)."""
    global _collector
    if _collector is None:
        _collector = MainThreadCollector(app)
    return _collector


def uninstall() -> None:
    global _collector
    if _collector is not None:
        _collector.stop()
        _collector = None
