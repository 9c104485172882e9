"""The runtime protocol: something that loads a model file and predicts whole batches of rows.

A runtime declares the formats it runs and whether it can run here (`availability()`, with the
exact reason and what to install when it cannot). `load(path, info, trust)` gives a `Session`
whose `predict(frame)` takes rows prepared by `workbench.core.rows.prepare_rows` and returns a
`PredictionBatch`. Runtimes import their backend lazily, inside `load`.

A prediction has three parts: converting the rows into the backend's own inputs, the backend's
call, and turning what it returns into a `PredictionBatch`. `Session.prepare(frame)` does the
first once and hands back a `PreparedCall` whose `run()` is the backend's call alone, so a
benchmark times the runtime and not pandas (and measures the other two parts apart).
"""

from __future__ import annotations

import importlib.util
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from workbench.core.errors import BackendUnavailable, WorkbenchError
from workbench.core.predictions import PredictionBatch
from workbench.core.registry import Registry
from workbench.core.rows import input_arrays, is_tensor_input
from workbench.core.types import ModelInfo

TF_HINT = "pip install 'model-serving-workbench[tf]'"


@dataclass(frozen=True)
class Availability:
    """Whether a runtime can run here; when not, why (`reason`) and what to do (`install_hint`)."""

    ok: bool
    reason: str = ""
    install_hint: str = ""

    def message(self) -> str:
        """One line: the reason and the hint."""
        if self.ok:
            return "available"
        return f"{self.reason}: {self.install_hint}" if self.install_hint else self.reason

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "reason": self.reason or None, "install_hint": self.install_hint or None}


@dataclass(slots=True)
class PreparedCall:
    """A batch of rows converted into a backend's own inputs, ready to run again and again.

    `run()` is the backend's call on those inputs (InferenceSession.run, predict_proba,
    evaluateAll...) and returns what the backend returns; `finish(raw)` turns that into a
    `PredictionBatch`. `predict()` is both.
    """

    rows: int
    run: Callable[[], Any]
    finish: Callable[[Any], PredictionBatch]

    def predict(self) -> PredictionBatch:
        """Run and finish, timed as a whole in the batch's `elapsed_ms`."""
        start = time.perf_counter()
        batch = self.finish(self.run())
        batch.elapsed_ms = (time.perf_counter() - start) * 1000.0
        return batch


class Session(Protocol):
    """A loaded model in one runtime."""

    runtime: str
    info: ModelInfo

    def predict(self, frame: pd.DataFrame) -> PredictionBatch:
        """Predict every row of a prepared frame in one call."""
        ...

    def prepare(self, frame: pd.DataFrame) -> PreparedCall:
        """The rows of a prepared frame converted once into the backend's inputs (see `PreparedCall`)."""
        ...


class PreparingSession:
    """`predict(frame)` of a session that defines `prepare`: prepare, run, finish, timed as a whole."""

    def prepare(self, frame: pd.DataFrame) -> PreparedCall:
        raise NotImplementedError

    def predict(self, frame: pd.DataFrame) -> PredictionBatch:
        start = time.perf_counter()
        call = self.prepare(frame)
        batch = call.finish(call.run())
        batch.elapsed_ms = (time.perf_counter() - start) * 1000.0  # converting the rows included
        return batch


def prepare_call(session: Any, frame: pd.DataFrame) -> PreparedCall:
    """`session.prepare(frame)`; for a session without it (another program's), a call that runs
    `session.predict(frame)` whole."""
    prepare = getattr(session, "prepare", None)
    if prepare is not None:
        return prepare(frame)
    return PreparedCall(len(frame), partial(session.predict, frame), _unchanged)


def _unchanged(batch: PredictionBatch) -> PredictionBatch:
    return batch


def module_available(name: str) -> bool:
    """True when `name` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def missing_module(module: str, what: str, hint: str) -> Availability:
    """Availability for a module that may be missing."""
    if module_available(module):
        return Availability(True)
    return Availability(False, f"{what} not installed", hint)


class Runtime(ABC):
    """Base of the registered runtimes: name, formats, availability, load."""

    name: str = ""
    title: str = ""
    formats: tuple[str, ...] = ()

    def can_run(self, fmt: str) -> bool:
        """True when this runtime runs models of format `fmt`."""
        return fmt in self.formats

    def check_format(self, fmt: str) -> None:
        """Raise, naming the runtimes that can, when this runtime cannot run format `fmt`."""
        if not self.can_run(fmt):
            able = ", ".join(r.name for r in runtimes_for(fmt)) or "none"
            raise WorkbenchError(f"runtime {self.name!r} cannot run {fmt} models",
                                 hint=f"runtimes for {fmt}: {able}")

    @abstractmethod
    def availability(self, fmt: str | None = None) -> Availability:
        """Whether the runtime (for format `fmt`, if given) can run here."""

    def load(self, path: str | Path, info: ModelInfo, trust: bool = False) -> Session:
        """Load the model at `path` (described by `info`) for prediction."""
        self.check_format(info.format)
        avail = self.availability(info.format)
        if not avail.ok:
            raise BackendUnavailable(f"runtime {self.name!r} is not available here: {avail.message()}")
        return self._load(Path(path), info, trust)

    @abstractmethod
    def _load(self, path: Path, info: ModelInfo, trust: bool) -> Session:
        """Load after the format and availability checks."""

    def __repr__(self) -> str:
        return f"<runtime {self.name} formats={list(self.formats)}>"


RUNTIMES: Registry[str, Runtime] = Registry("runtime")

#: the natural runtime of each format
DEFAULTS: dict[str, str] = {
    "sklearn": "native", "skops": "native", "lightgbm": "native", "xgboost": "native", "keras": "native",
    "onnx": "onnxruntime", "pmml": "jpmml", "savedmodel": "tensorflow",
    "mleap": "mleap",
}


def runtimes_for(fmt: str) -> list[Runtime]:
    """The registered runtimes that run format `fmt`, the default first."""
    found = RUNTIMES.find(lambda r: r.can_run(fmt))
    default = DEFAULTS.get(fmt)
    return sorted(found, key=lambda r: r.name != default)


def default_runtime(fmt: str) -> str:
    """Name of the natural runtime for format `fmt`."""
    if fmt in DEFAULTS and DEFAULTS[fmt] in RUNTIMES:
        return DEFAULTS[fmt]
    found = runtimes_for(fmt)
    if not found:
        raise WorkbenchError(f"no runtime runs {fmt} models", hint=f"runtimes: {', '.join(RUNTIMES.keys())}")
    return found[0].name


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (backends put stack traces after it)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Timer:
    """Wall-clock milliseconds of a `with` block."""

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        self.ms = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.ms = (time.perf_counter() - self._start) * 1000.0


def named_columns(frame: pd.DataFrame, info: ModelInfo) -> pd.DataFrame:
    """A prepared frame with one column per scalar input, named as the model names its inputs."""
    arrays = input_arrays(frame, info)
    tensors = [s.name for s in info.inputs if is_tensor_input(s)]
    if tensors:
        raise WorkbenchError(f"input(s) {', '.join(tensors)} take a vector per row; this runtime needs one "
                             "column per input")
    return pd.DataFrame({name: arr for name, arr in arrays.items()}, index=frame.index)


def feature_matrix(frame: pd.DataFrame, info: ModelInfo, dtype: Any = np.float64) -> np.ndarray:
    """All input columns of a prepared frame as one (N, k) matrix, in input order."""
    arrays = input_arrays(frame, info)
    parts = [a.reshape(len(frame), -1) for a in arrays.values()]
    return np.concatenate(parts, axis=1).astype(dtype) if parts else np.empty((len(frame), 0), dtype=dtype)
