"""Inference runtimes: a registry of backends that load a model and predict whole batches.

Importing this package is cheap: each runtime imports its backend (onnxruntime, TensorFlow,
pypmml, JPype) only when it loads a model.

    from workbench.core.runtimes import RUNTIMES, default_runtime, predict_rows
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.core.errors import WorkbenchError
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

for _module in (native, onnxruntime, pmml4s, jpmml, tensorflow):
    if _module.RUNTIME.name not in RUNTIMES:
        RUNTIMES.register(_module.RUNTIME.name, _module.RUNTIME)

__all__ = ["DEFAULTS", "RUNTIMES", "Availability", "Runtime", "Session", "default_runtime", "runtimes_for",
           "get_runtime", "open_session", "predict_rows"]


def get_runtime(name: str) -> Runtime:
    """The registered runtime called `name` (the error names the known ones)."""
    return RUNTIMES.get(name)


def open_session(path: str | Path, info: ModelInfo, runtime: str | None = None,
                 trust: bool = False) -> Session:
    """Load `path` in `runtime` (default: the natural runtime of its format)."""
    name = runtime or default_runtime(info.format)
    if name not in RUNTIMES:
        raise WorkbenchError(f"unknown runtime {name!r}", hint=f"runtimes: {', '.join(RUNTIMES.keys())}")
    return RUNTIMES.get(name).load(path, info, trust)


def predict_rows(path: str | Path, frame: pd.DataFrame, runtime: str | None = None,
                 trust: bool = False) -> tuple[ModelInfo, pd.DataFrame, PredictionBatch]:
    """Inspect the model, fit `frame` to its inputs and predict it in one call.

    Returns (model info, prepared rows, predictions). Raises InputRowsError for rows that do not fit.
    """
    from workbench.core.models import inspect_model
    from workbench.core.rows import prepare_rows

    info = inspect_model(str(path), trust=trust)
    name = runtime or default_runtime(info.format)
    if name not in RUNTIMES:
        raise WorkbenchError(f"unknown runtime {name!r}", hint=f"runtimes: {', '.join(RUNTIMES.keys())}")
    chosen = RUNTIMES.get(name)
    if not chosen.can_run(info.format):
        able = ", ".join(r.name for r in runtimes_for(info.format)) or "none"
        raise WorkbenchError(f"runtime {name!r} cannot run {info.format} models",
                             hint=f"runtimes for {info.format}: {able}")
    prepared = prepare_rows(frame, info)
    session = chosen.load(path, info, trust)
    return info, prepared, session.predict(prepared)
