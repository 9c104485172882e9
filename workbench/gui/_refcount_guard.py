"""Work around a PySide6 6.12 reference-count bug on CPython < 3.12.

PySide6 6.12 (abi3 wheels) returns ``None`` from every void method and virtual override without a
new reference, and cross-thread signal delivery drops references to ``True``/``False``. On
CPython 3.12+ these singletons are immortal (PEP 683) so nothing happens; on 3.11 each call takes
one reference away until the interpreter aborts with ``Fatal Python error: none_dealloc`` (seen here
after a few thousand calls, e.g. a loop of ``processEvents()`` or a few hundred worker runs).

The singletons are static objects that are never freed, so their count only matters for that check:
we give them a very large count, which is what CPython 3.12 does. Reproduce with
``sys.getrefcount(None)`` before and after 300 calls of ``QObject().setObjectName("x")``.
"""

from __future__ import annotations

import ctypes
import sys

#: enough for ~10**15 unbalanced calls
_BOOST = 1 << 50


def apply() -> bool:
    """Raise the reference counts of None/True/False once (CPython < 3.12 only); True when applied."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False
    if getattr(sys, "_workbench_refcount_guard", False):
        return False
    for obj in (None, True, False):
        cell = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is the first field of PyObject
        cell.value += _BOOST
    sys._workbench_refcount_guard = True  # type: ignore[attr-defined]
    return True
