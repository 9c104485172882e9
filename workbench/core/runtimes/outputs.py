"""Turn a runtime's raw named outputs into a `PredictionBatch` (label / probabilities / value).

Shared by the ONNX, TensorFlow and Keras runtimes, which all hand back {name: array}. Conventions
recognised: skl2onnx (`label` + `probabilities` or a ZipMap `output_probability` list of dicts,
`variable` for regressors), TF Serving (`classes` + `scores`), Keras (one softmax/sigmoid/linear
tensor, e.g. `output_0`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from workbench.core.predictions import (
    PredictionBatch,
    binary_to_two_columns,
    labels_from_probabilities,
    probabilities_from_maps,
)
from workbench.core.types import ModelInfo

_LABEL_NAME = re.compile(r"(^|[_/:.])(label|labels|class|classes|predicted_?label|output_label)(:\d+)?$",
                         re.IGNORECASE)
_PROB_NAME = re.compile(r"prob|scores?(:\d+)?$", re.IGNORECASE)


def named_outputs(out: Any, names: Sequence[str], to_numpy: Any = np.asarray) -> dict[str, Any]:
    """A Keras call's result (dict, list or one tensor) as {output name: array}."""
    if isinstance(out, Mapping):
        return {str(k): to_numpy(v) for k, v in out.items()}
    if isinstance(out, list | tuple):
        return {(names[i] if i < len(names) else f"output_{i}"): to_numpy(v) for i, v in enumerate(out)}
    return {(names[0] if names else "output_0"): to_numpy(out)}


def is_map_sequence(value: Any) -> bool:
    """A ZipMap-style output: a list of {class: probability} dicts."""
    return isinstance(value, list | tuple | np.ndarray) and len(value) > 0 and isinstance(value[0], Mapping)


def _is_label_array(arr: np.ndarray) -> bool:
    arr = np.asarray(arr)
    flat = arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1)
    return flat and (arr.dtype.kind in "iubOSU")


def _flatten_if_column(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    return arr.reshape(-1) if arr.ndim == 2 and arr.shape[1] == 1 else arr


def _decode(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype.kind == "S" or (arr.dtype == object and arr.size and isinstance(arr.flat[0], bytes)):
        decoded = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in arr.reshape(-1)]
        return np.asarray(decoded, dtype=object).reshape(arr.shape)
    return arr


def interpret_outputs(runtime: str, outputs: Mapping[str, Any], info: ModelInfo,
                      elapsed_ms: float = 0.0) -> PredictionBatch:
    """Find the label, probabilities and value among named outputs (see module docstring)."""
    raw: dict[str, Any] = {}
    for name, value in outputs.items():
        raw[name] = value if is_map_sequence(value) else _decode(np.asarray(value))
    classes: list[Any] | None = list(info.classes) if info.classes is not None else None
    label_name = next((n for n, v in raw.items() if not is_map_sequence(v) and _is_label_array(v)
                       and _LABEL_NAME.search(n)), None)
    map_name = next((n for n, v in raw.items() if is_map_sequence(v)), None)
    prob_name = map_name or next((n for n, v in raw.items() if n != label_name and not is_map_sequence(v)
                                  and np.asarray(v).dtype.kind == "f" and _PROB_NAME.search(n)), None)
    batch = PredictionBatch(runtime=runtime, outputs=dict(raw), elapsed_ms=elapsed_ms)
    if prob_name is not None:
        if map_name is not None:
            probs, classes = probabilities_from_maps(raw[map_name], classes)
        else:
            probs = np.asarray(raw[prob_name], dtype=np.float64)
            per_row = _per_row_classes(raw, probs)
            if per_row is None and classes is None and label_name is not None:
                classes = _classes_from_labels(_flatten_if_column(raw[label_name]), probs, batch.warnings)
            probs, classes = _probabilities_and_classes(probs, per_row or classes)
        batch.probabilities, batch.classes = probs, classes
        batch.labels = (_flatten_if_column(raw[label_name]) if label_name is not None
                        else labels_from_probabilities(probs, classes))
        return batch
    if label_name is not None:
        batch.labels = _flatten_if_column(raw[label_name])
        batch.classes = classes
        return batch
    main = _main_tensor(raw)
    if main is None:
        return batch
    arr = np.asarray(raw[main])
    if info.task == "classification" and arr.dtype.kind == "f":
        probs, classes = _probabilities_and_classes(arr.astype(np.float64), classes)
        batch.probabilities, batch.classes = probs, classes
        batch.labels = labels_from_probabilities(probs, classes)
    elif info.task == "classification" and _is_label_array(arr):
        batch.labels, batch.classes = _flatten_if_column(arr), classes
    else:
        batch.values = _flatten_if_column(arr).astype(np.float64) if arr.dtype.kind in "fiub" else arr
    return batch


def _per_row_classes(raw: Mapping[str, Any], probs: np.ndarray) -> list[Any] | None:
    """TF Serving classify convention: a `classes` [N, C] output names the class of each score column."""
    for name, value in raw.items():
        arr = np.asarray(value) if not is_map_sequence(value) else None
        if arr is not None and arr.ndim == 2 and arr.shape == probs.shape and probs.shape[1] > 1 \
                and re.search(r"class", name, re.IGNORECASE) and len(arr):
            first = arr[0].tolist()
            if all((np.asarray(arr) == np.asarray(first, dtype=arr.dtype)).all(axis=1)):
                return first
    return None


def _classes_from_labels(labels: np.ndarray, probs: np.ndarray, warnings: list[str]) -> list[Any] | None:
    """Class order when the model does not say it: the sorted distinct labels when every class was
    predicted (scikit-learn's `classes_` order), else 0..C-1 for integer labels."""
    width = probs.shape[1] if probs.ndim == 2 else 2
    distinct = list(dict.fromkeys(v.item() if isinstance(v, np.generic) else v for v in labels.tolist()))
    if len(distinct) == width:
        try:
            return sorted(distinct)
        except TypeError:
            return sorted(distinct, key=str)
    if labels.dtype.kind in "iu":
        return None
    warnings.append("the model does not list its classes and not every class was predicted: probability "
                    "columns are numbered 0..C-1")
    return None


def _main_tensor(raw: Mapping[str, Any]) -> str | None:
    numeric = [n for n, v in raw.items() if not is_map_sequence(v) and np.asarray(v).dtype.kind in "fiub"]
    return numeric[0] if numeric else (next(iter(raw)) if raw else None)


def _probabilities_and_classes(probs: np.ndarray,
                               classes: Sequence[Any] | None) -> tuple[np.ndarray, list[Any]]:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 1 or (probs.ndim == 2 and probs.shape[1] == 1):
        probs = binary_to_two_columns(probs)
        return probs, list(classes) if classes is not None and len(classes) == 2 else [0, 1]
    n = probs.shape[1]
    if classes is None or len(classes) != n:
        classes = list(range(n))
    return probs, list(classes)
