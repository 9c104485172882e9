"""Inference runtimes: a registry of backends that load a model and predict whole batches.

Importing this package is cheap: each runtime imports its backend (onnxruntime, TensorFlow,
pypmml, JPype) only when it loads a model.

    from workbench.core.runtimes import RUNTIMES, default_runtime, predict_rows
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.core.errors import UntrustedPickle, WorkbenchError
from workbench.core.predictions import PredictionBatch
from workbench.core.runtimes import jpmml, native, onnxruntime, pmml4s, tensorflow
from workbench.core.runtimes.base import (
    DEFAULTS,
    RUNTIMES,
    Availability,
    Runtime,
    Session,
    default_runtime,
    runtimes_for,
)
from workbench.core.types import ModelInfo

__all__ = ["DEFAULTS", "RUNTIMES", "Availability", "Runtime", "Session", "default_runtime", "get_runtime",
           "open_session", "predict_rows", "register_builtin_runtimes", "resolve_runtime", "runtimes_for"]


def register_builtin_runtimes() -> None:
    """Register the built-in runtimes through the public `register` call (idempotent).

    Called when this package is imported, so `RUNTIMES` is never seen empty.
    """
    for module in (native, onnxruntime, pmml4s, jpmml, tensorflow):
        if module.RUNTIME.name not in RUNTIMES:
            RUNTIMES.register(module.RUNTIME.name, module.RUNTIME)


register_builtin_runtimes()


def get_runtime(name: str) -> Runtime:
    """The registered runtime called `name` (the error names the known ones)."""
    return RUNTIMES.get(name)


def resolve_runtime(name: str | None, fmt: str) -> Runtime:
    """The runtime called `name` (default: the natural one for `fmt`), checked to run `fmt`."""
    name = name or default_runtime(fmt)
    if name not in RUNTIMES:
        raise WorkbenchError(f"unknown runtime {name!r}", hint=f"runtimes: {', '.join(RUNTIMES.keys())}")
    chosen = RUNTIMES.get(name)
    chosen.check_format(fmt)
    return chosen


def open_session(path: str | Path, info: ModelInfo, runtime: str | None = None,
                 trust: bool = False) -> Session:
    """Load `path` in `runtime` (default: the natural runtime of its format)."""
    return resolve_runtime(runtime, info.format).load(path, info, trust)


def predict_rows(path: str | Path, frame: pd.DataFrame, runtime: str | None = None,
                 trust: bool = False) -> tuple[ModelInfo, pd.DataFrame, PredictionBatch]:
    """Inspect the model, fit `frame` to its inputs and predict it in one call.

    Returns (model info, prepared rows, predictions). Raises InputRowsError for rows that do not fit.
    """
    from workbench.core.models import inspect_model, model_format
    from workbench.core.rows import prepare_rows
    from workbench.core.runtimes.native import TRUST_HINT

    info = inspect_model(str(path), trust=trust)
    chosen = resolve_runtime(runtime, info.format)
    if chosen.name == "native" and not trust and model_format(info.format).runs_code:
        raise UntrustedPickle(f"{Path(path).name} is a pickle: loading it runs code from the file; "
                              f"{TRUST_HINT}")
    prepared = prepare_rows(frame, info)
    session = chosen.load(path, info, trust)
    return info, prepared, session.predict(prepared)
