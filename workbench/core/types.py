"""Plain data shared by core, CLI and GUI: what a model takes and gives."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

Task = Literal["classification", "regression", "other"]

#: dtype names used everywhere (numpy-style); "string" for text/bytes inputs
DTYPES = ("float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8", "uint16",
          "uint32", "uint64", "bool", "string", "object")


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output.

    `shape` uses None for unknown dimensions (the batch dimension is usually None).
    `categories` are the levels of a categorical input where the model knows them;
    `value_range` is (min, max) of a numeric input where the model knows it (or, for tree ensembles,
    the span of its split thresholds: `range_from_splits`); `typical` is its (mean, standard
    deviation) where the model knows them.
    """

    name: str
    dtype: str
    shape: tuple[int | None, ...] | None = (None,)
    categories: tuple[Any, ...] | None = None
    value_range: tuple[float, float] | None = None
    accepts_missing: bool = False
    description: str = ""
    #: (mean, standard deviation) of a numeric input where the model knows them (e.g. a StandardScaler)
    typical: tuple[float, float] | None = None
    #: True when `value_range` is not the training data's (min, max) but the span of the model's split
    #: thresholds on this input, widened (tree ensembles): values beyond it are fine, they fall in the
    #: outermost branches
    range_from_splits: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "dtype": self.dtype,
                               "shape": list(self.shape) if self.shape is not None else None}
        if self.categories is not None:
            out["categories"] = list(self.categories)
        if self.value_range is not None:
            out["range"] = list(self.value_range)
            out["range_source"] = "split thresholds" if self.range_from_splits else "data"
        if self.typical is not None:
            out["typical"] = list(self.typical)
        return out


def feature_count(inputs: list[TensorSpec] | tuple[TensorSpec, ...]) -> int | None:
    """Values per row over all inputs: 1 for a one-value input, k for a (batch, k) vector input; None
    when some input's width is unknown or it takes more than a vector per row (images, sequences)."""
    total = 0
    for spec in inputs:
        shape = spec.shape
        if shape is None or len(shape) <= 1:
            total += 1
        elif len(shape) == 2 and shape[1] is not None:
            total += int(shape[1])
        else:
            return None
    return total


@dataclass
class ModelInfo:
    """What inspection found out about a model file or folder."""

    path: str
    format: str
    framework: str
    framework_version: str | None = None
    task: Task = "other"
    inputs: list[TensorSpec] = field(default_factory=list)
    outputs: list[TensorSpec] = field(default_factory=list)
    classes: list[Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: True when the file was fully loaded (trusted pickle, or a format that runs no code)
    loaded: bool = False

    def input_names(self) -> list[str]:
        return [spec.name for spec in self.inputs]

    def to_json(self) -> dict[str, Any]:
        """The `workbench inspect --json` contract: add keys, never rename them."""
        return {
            "path": self.path,
            "format": self.format,
            "framework": self.framework,
            "framework_version": self.framework_version,
            "task": self.task,
            "inputs": [spec.to_json() for spec in self.inputs],
            "outputs": [spec.to_json() for spec in self.outputs],
            "classes": _jsonable(self.classes) if self.classes is not None else None,
            "metadata": _jsonable(self.metadata),
            "warnings": list(self.warnings),
        }


def _jsonable(value: Any) -> Any:
    """Turn numpy scalars/arrays and tuples into JSON-friendly Python values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalar or array
        return _jsonable(value.tolist())
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


jsonable = _jsonable


def finite(value: Any) -> Any:
    """Replace NaN and infinities by None, recursively, so json.dumps writes strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value
