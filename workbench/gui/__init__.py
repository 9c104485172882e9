"""The desktop app (PySide6 + pyqtgraph). The only package that imports Qt."""

from workbench.gui import _refcount_guard

_refcount_guard.apply()
