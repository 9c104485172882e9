"""The one place built-in formats are registered, through the same public `register` call an
extension would use. Runtimes and converters register in their own packages' `register_builtins`."""

from __future__ import annotations

import threading

from workbench.core.formats.base import FORMATS

_done = False
_lock = threading.Lock()  # detection may start on several worker threads at once


def register_builtin_formats() -> None:
    """Register every built-in format once (idempotent and thread-safe)."""
    global _done
    if _done:
        return
    with _lock:
        if not _done:
            _register()


def _register() -> None:
    global _done
    from workbench.core.formats import (
        keras_format,
        lightgbm_text,
        mleap_format,
        onnx_format,
        pmml,
        savedmodel,
        skops_format,
        sklearn_pickle,
        xgboost_model,
    )

    for module in (savedmodel, onnx_format, pmml, keras_format, skops_format, lightgbm_text, xgboost_model,
                   sklearn_pickle, mleap_format):
        FORMATS.register(module.FORMAT.name, module.FORMAT)
    _done = True
