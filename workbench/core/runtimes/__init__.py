"""Inference runtimes: a registry of backends that load a model and predict whole batches.

Importing this package is cheap: each runtime imports its backend (onnxruntime, TensorFlow,
pypmml, JPype) only when it loads a model.

    from workbench.core.runtimes import RUNTIMES, default_runtime, predict_rows
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from workbench.core.errors import UntrustedPickle, WorkbenchError
from workbench.core.predictions import PredictionBatch
from workbench.core.runtimes import jpmml, mleap, native, onnxruntime, pmml4s, tensorflow
from workbench.core.runtimes.base import (
    DEFAULTS,
    RUNTIMES,
    Availability,
    PreparedCall,
    Runtime,
    Session,
    default_runtime,
    prepare_call,
    runtimes_for,
)
from workbench.core.types import ModelInfo

__all__ = ["DEFAULTS", "RUNTIMES", "Availability", "PreparedCall", "Runtime", "Session", "default_runtime",
           "get_runtime", "open_model", "open_session", "predict_prepared", "predict_rows", "prepare_call",
           "register_builtin_runtimes", "resolve_runtime", "runtimes_for"]


def register_builtin_runtimes() -> None:
    """Register the built-in runtimes through the public `register` call (idempotent).

    Called when this package is imported, so `RUNTIMES` is never seen empty.
    """
    for module in (native, onnxruntime, pmml4s, jpmml, tensorflow, mleap):
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


def _target(path: str | Path, runtime: str | None) -> tuple[Path, Any, Runtime]:
    """(normalised path, its ModelFormat, the chosen runtime checked to run it)."""
    from workbench.core.detect import normalise_path
    from workbench.core.models import detect_format, model_format

    target = normalise_path(Path(path))
    fmt = model_format(detect_format(target))
    return target, fmt, resolve_runtime(runtime, fmt.name)


def _loads_pickle(path: str | Path, fmt: Any, chosen: Runtime, trust: bool) -> bool:
    """True when `chosen` would unpickle the file (then it is loaded once, and only with trust)."""
    from workbench.core.runtimes.native import TRUST_HINT

    if chosen.name != "native" or not fmt.runs_code:
        return False
    if not trust:
        raise UntrustedPickle(f"{Path(path).name} is a pickle: loading it runs code from the file; {TRUST_HINT}")
    return True


def open_model(path: str | Path, runtime: str | None = None,
               trust: bool = False) -> tuple[ModelInfo, Session]:
    """Inspect and load a model in `runtime` (default: its format's natural one): (info, session).

    A trusted pickle is unpickled once: the loaded object is both inspected and predicted with.
    Use it when the rows depend on the model (generated rows); `predict_rows` checks given rows
    before loading the model.
    """
    from workbench.core.runtimes.native import inspect_loaded

    target, fmt, chosen = _target(path, runtime)
    if _loads_pickle(path, fmt, chosen, trust):
        info, model = inspect_loaded(target, fmt)
        info.path = str(path)
        return info, native.RUNTIME.session_for(info, model)
    info = fmt.inspect(target, trust)
    info.path = str(path)
    return info, chosen.load(path, info, trust)


def predict_prepared(session: Session, prepared: pd.DataFrame) -> PredictionBatch:
    """`session.predict(prepared)`, with the rows' warnings (e.g. unknown categories) first in the batch's."""
    batch = session.predict(prepared)
    row_warnings = [w for w in prepared.attrs.get("warnings", []) if w not in batch.warnings]
    batch.warnings[:0] = row_warnings
    return batch


def predict_rows(path: str | Path, frame: pd.DataFrame, runtime: str | None = None,
                 trust: bool = False) -> tuple[ModelInfo, pd.DataFrame, PredictionBatch]:
    """Inspect the model, fit `frame` to its inputs and predict it in one call.

    Returns (model info, prepared rows, predictions). Raises InputRowsError for rows that do not fit
    (checked before a non-pickle model is loaded in its runtime). A trusted pickle is unpickled
    once: the loaded object is both inspected and predicted with. Warnings about the rows (unknown
    categories) come first in the batch's `warnings`.
    """
    from workbench.core.rows import prepare_rows
    from workbench.core.runtimes.native import inspect_loaded

    target, fmt, chosen = _target(path, runtime)
    if _loads_pickle(path, fmt, chosen, trust):
        info, model = inspect_loaded(target, fmt)
        info.path = str(path)
        prepared = prepare_rows(frame, info)
        return info, prepared, predict_prepared(native.RUNTIME.session_for(info, model), prepared)
    info = fmt.inspect(target, trust)
    info.path = str(path)
    prepared = prepare_rows(frame, info)
    session = chosen.load(path, info, trust)
    return info, prepared, predict_prepared(session, prepared)
