"""One result shape for every runtime: labels, class probabilities, regression values, raw outputs.

Runtimes differ in how they hand results back (ONNX ZipMap lists of dicts, PMML `probability(x)`
columns, TensorFlow output names, numpy arrays); each runtime normalises into `PredictionBatch`
with the helpers here, so that comparison and display never need to know where a batch came from.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.core.types import jsonable

_INT_TEXT = re.compile(r"^[+-]?\d+(\.0*)?$")
_FLOAT_TEXT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def canonical_label(x: Any) -> str:
    """The text a class label is compared by, so labels from different runtimes line up.

    `1`, `1.0`, `np.int64(1)`, `"1"`, `"1.0"` and `b"1"` all give `"1"`; `True` gives `"True"`;
    other strings are kept as they are (surrounding blanks removed).
    """
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, bytes | bytearray):
        x = bytes(x).decode("utf-8", "replace")
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if math.isfinite(x) and x.is_integer():
            return str(int(x))
        return repr(x)
    if x is None:
        return "None"
    text = str(x).strip()
    if _INT_TEXT.match(text):
        return str(int(float(text)))
    if _FLOAT_TEXT.match(text):
        value = float(text)
        return str(int(value)) if value.is_integer() else repr(value)
    return text


def canonical_labels(values: Sequence[Any] | np.ndarray) -> list[str]:
    """`canonical_label` of each item."""
    return [canonical_label(v) for v in list(values)]


def natural_label(x: Any) -> Any:
    """A label as a plain JSON-friendly Python value (numpy scalars and bytes unwrapped)."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, bytes | bytearray):
        x = bytes(x).decode("utf-8", "replace")
    return x


def align_probabilities(probabilities: np.ndarray, source_classes: Sequence[Any],
                        target_classes: Sequence[Any]) -> np.ndarray:
    """Reorder probability columns from `source_classes` order into `target_classes` order.

    Classes are matched by `canonical_label`; a target class missing from the source gets 0.
    Raises ValueError when no class matches at all.
    """
    src = {lab: i for i, lab in enumerate(canonical_labels(source_classes))}
    dst = canonical_labels(target_classes)
    if not set(src) & set(dst):
        raise ValueError(f"class labels do not match: {list(source_classes)} vs {list(target_classes)}")
    probabilities = np.asarray(probabilities, dtype=np.float64)
    out = np.zeros((probabilities.shape[0], len(dst)), dtype=np.float64)
    for j, lab in enumerate(dst):
        if lab in src:
            out[:, j] = probabilities[:, src[lab]]
    return out


def probabilities_from_maps(maps: Sequence[Mapping[Any, float]],
                            classes: Sequence[Any] | None = None) -> tuple[np.ndarray, list[Any]]:
    """Turn a list of {class: probability} maps (ONNX ZipMap, PMML engines) into an (N, C) matrix.

    Returns the matrix and the class labels of its columns (`classes` if given, else the keys of
    the first map in their order).
    """
    if classes is None:
        classes = list(maps[0].keys()) if len(maps) else []
    labels = canonical_labels(classes)
    out = np.zeros((len(maps), len(labels)), dtype=np.float64)
    for i, row in enumerate(maps):
        by_label = {canonical_label(k): v for k, v in dict(row).items()}
        for j, lab in enumerate(labels):
            out[i, j] = float(by_label.get(lab, 0.0))
    return out, list(classes)


def labels_from_probabilities(probabilities: np.ndarray, classes: Sequence[Any]) -> np.ndarray:
    """The arg-max class of each row (first class wins ties, as scikit-learn does)."""
    idx = np.argmax(np.asarray(probabilities), axis=1)
    return np.asarray([classes[i] for i in idx], dtype=object)


def binary_to_two_columns(p1: np.ndarray) -> np.ndarray:
    """(N,) or (N, 1) probability of the positive class -> (N, 2) [P(class 0), P(class 1)]."""
    p1 = np.asarray(p1, dtype=np.float64).reshape(-1)
    return np.column_stack([1.0 - p1, p1])


@dataclass
class PredictionBatch:
    """Predictions for a batch of rows, in the same shape whatever the runtime.

    `probabilities` columns follow `classes`; `labels` are the predicted classes (for
    classifiers); `values` are regression outputs (or, for models of unknown task, their
    main numeric output); `outputs` keeps every raw named output as the runtime returned it.
    """

    runtime: str
    classes: list[Any] | None = None
    labels: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    values: np.ndarray | None = None
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    elapsed_ms: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return self.rows

    @property
    def rows(self) -> int:
        """Number of rows predicted."""
        for arr in (self.labels, self.probabilities, self.values):
            if arr is not None:
                return int(np.asarray(arr).shape[0])
        for arr in self.outputs.values():
            return int(len(arr))
        return 0

    @property
    def roles(self) -> list[str]:
        """Which of label / probabilities / value this batch has."""
        out = []
        if self.labels is not None:
            out.append("label")
        if self.probabilities is not None:
            out.append("probabilities")
        if self.values is not None:
            out.append("value")
        return out

    def row_record(self, i: int, *, with_outputs: bool = True) -> dict[str, Any]:
        """Row `i` as {"label", "probabilities": {class: p}, "value", "outputs": {name: value}}."""
        label = natural_label(self.labels[i]) if self.labels is not None else None
        probs = None
        if self.probabilities is not None:
            names = self.classes if self.classes is not None else list(range(self.probabilities.shape[1]))
            probs = {canonical_label(c): float(p) for c, p in zip(names, self.probabilities[i], strict=False)}
        value: Any = None
        if self.values is not None:
            v = np.asarray(self.values[i])
            value = float(v) if v.ndim == 0 else [float(x) for x in v.reshape(-1)]
        record: dict[str, Any] = {"label": label, "probabilities": probs, "value": value}
        if with_outputs:
            record["outputs"] = {name: jsonable(_row_of(arr, i)) for name, arr in self.outputs.items()}
        return record

    def to_records(self) -> list[dict[str, Any]]:
        """Every row as a JSON-friendly record (the `workbench predict --json` contract)."""
        return [self.row_record(i) for i in range(self.rows)]


def _row_of(arr: Any, i: int) -> Any:
    item = arr[i]
    if isinstance(item, Mapping):
        return {natural_label(k): _py(v) for k, v in item.items()}
    return _py(item)


def _py(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value
