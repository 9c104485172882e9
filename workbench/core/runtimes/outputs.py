"""Turn a runtime's raw named outputs into a `PredictionBatch` (label / probabilities / value).

Shared by the ONNX, TensorFlow and Keras runtimes, which all hand back {name: array}. Conventions
recognised: skl2onnx (`label` + `probabilities` or a ZipMap `output_probability` list of dicts,
`variable` for regressors), TF Serving (`classes` + `scores`), Keras (one softmax/sigmoid/linear
tensor, e.g. `output_0`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Roles:
    """Which raw output plays which part; decided from output names, dtypes and ranks only."""

    label: str | None
    maps: str | None
    probs: str | None
    main: str | None
    class_rows: tuple[str, ...]  # 2-D outputs named like "classes" (TF Serving's per-row class names)


def _raw_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for name, value in outputs.items():
        if type(value) is np.ndarray and value.dtype.kind not in "OS":  # plain numbers: nothing to decode
            raw[name] = value
        else:
            raw[name] = value if is_map_sequence(value) else _decode(np.asarray(value))
    return raw


def _roles(raw: Mapping[str, Any]) -> _Roles:
    label_name = next((n for n, v in raw.items() if not is_map_sequence(v) and _is_label_array(v)
                       and _LABEL_NAME.search(n)), None)
    map_name = next((n for n, v in raw.items() if is_map_sequence(v)), None)
    prob_name = map_name or next((n for n, v in raw.items() if n != label_name and not is_map_sequence(v)
                                  and np.asarray(v).dtype.kind == "f" and _PROB_NAME.search(n)), None)
    main = _main_tensor(raw) if prob_name is None and label_name is None else None
    class_rows = tuple(n for n, v in raw.items() if not is_map_sequence(v) and np.asarray(v).ndim == 2
                       and re.search(r"class", n, re.IGNORECASE))
    return _Roles(label_name, map_name, prob_name, main, class_rows)


def interpret_outputs(runtime: str, outputs: Mapping[str, Any], info: ModelInfo,
                      elapsed_ms: float = 0.0) -> PredictionBatch:
    """Find the label, probabilities and value among named outputs (see module docstring)."""
    raw = _raw_outputs(outputs)
    return _build(runtime, raw, info, _roles(raw), elapsed_ms)


class OutputInterpreter:
    """`interpret_outputs` for one session: which output is the label, the probabilities or the
    value is decided on the first batch and reused while the outputs keep their names, dtypes and
    ranks (checked on every call), so a single-row predict pays no name matching.

    `fixed_outputs=True` is the caller's promise that every call returns the same output names in
    the same order with the same element types (an ONNX graph's declared outputs): then only the
    arrays actually used are checked (rank, width, dtype kind) instead of every output.
    """

    def __init__(self, runtime: str, info: ModelInfo, fixed_outputs: bool = False) -> None:
        self.runtime = runtime
        self.info = info
        self.fixed_outputs = fixed_outputs
        self._signature: tuple[Any, ...] | None = None
        self._roles: _Roles | None = None
        self._dense: tuple[str, str, list[Any]] | None = None

    def __call__(self, outputs: Mapping[str, Any], elapsed_ms: float = 0.0) -> PredictionBatch:
        dense = self._dense
        if dense is not None and self.fixed_outputs:
            label, probs = outputs.get(dense[0]), outputs.get(dense[1])
            if type(label) is np.ndarray and type(probs) is np.ndarray and probs.ndim == 2 \
                    and probs.shape[1] == len(dense[2]) and probs.dtype.kind == "f" \
                    and label.dtype.kind in "iub" \
                    and (label.ndim == 1 or label.ndim == 2 and label.shape[1] == 1):
                return self._dense_batch(dict(outputs), elapsed_ms)
        elif self._roles is not None and _same_signature(outputs, self._signature):
            raw = dict(outputs)  # plain numeric arrays: nothing to decode
            if dense is not None:
                return self._dense_batch(raw, elapsed_ms)
            return _build(self.runtime, raw, self.info, self._roles, elapsed_ms)
        raw = _raw_outputs(outputs)
        roles = _roles(raw)
        batch = _build(self.runtime, raw, self.info, roles, elapsed_ms)
        signature = _signature(raw)
        if signature is not None:
            self._signature, self._roles = signature, roles
            self._dense = _dense_case(roles, raw, self.info)
        return batch

    def _dense_batch(self, raw: dict[str, Any], elapsed_ms: float) -> PredictionBatch:
        """What `_build` gives for a label output and a 2-D float probabilities output (see `_dense_case`)."""
        label_name, prob_name, classes = self._dense  # type: ignore[misc]
        return PredictionBatch(self.runtime, classes=list(classes),
                               labels=_flatten_if_column(raw[label_name]),
                               probabilities=raw[prob_name].astype(np.float64), outputs=raw,
                               elapsed_ms=elapsed_ms)


def _dense_case(roles: _Roles, raw: Mapping[str, Any], info: ModelInfo) -> tuple[str, str, list[Any]] | None:
    """(label output, probabilities output, classes) when `_build` reduces to taking both as they are:
    a label output, a 2-D float probabilities output as wide as the model's known classes, and no
    per-row class names. The signature check guarantees later batches have the same shape of outputs."""
    if roles.label is None or roles.probs is None or roles.maps is not None or roles.class_rows:
        return None
    probs = raw[roles.probs]
    classes = info.classes
    if classes is None or probs.ndim != 2 or probs.shape[1] != len(classes) or probs.shape[1] < 2 \
            or probs.dtype.kind != "f" or raw[roles.label].dtype.kind not in "iub":
        return None
    return roles.label, roles.probs, list(classes)


def _width(value: np.ndarray) -> int:
    """The column count of a 2-D array, else minus its rank (so the two never collide)."""
    return value.shape[1] if value.ndim == 2 else -value.ndim


def _signature(raw: Mapping[str, Any]) -> tuple[tuple[str, np.dtype, int], ...] | None:
    """What the role decisions depend on: names, dtypes, ranks, widths (None: not plain numeric arrays)."""
    out = []
    for name, value in raw.items():
        if type(value) is not np.ndarray or value.dtype.kind in "OS":
            return None
        out.append((name, value.dtype, _width(value)))
    return tuple(out)


def _same_signature(outputs: Mapping[str, Any],
                    signature: tuple[tuple[str, np.dtype, int], ...] | None) -> bool:
    """True when `outputs` has `signature` (same names in the same order, dtypes, ranks and widths)."""
    if signature is None or len(outputs) != len(signature):
        return False
    for (name, value), (want_name, want_dtype, want_width) in zip(outputs.items(), signature):
        if name != want_name or type(value) is not np.ndarray or value.dtype != want_dtype \
                or _width(value) != want_width:
            return False
    return True


def _build(runtime: str, raw: dict[str, Any], info: ModelInfo, roles: _Roles,
           elapsed_ms: float) -> PredictionBatch:
    classes: list[Any] | None = list(info.classes) if info.classes is not None else None
    label_name, map_name, prob_name = roles.label, roles.maps, roles.probs
    batch = PredictionBatch(runtime=runtime, outputs=dict(raw), elapsed_ms=elapsed_ms)
    if prob_name is not None:
        if map_name is not None:
            probs, classes = probabilities_from_maps(raw[map_name], classes)
        else:
            probs = np.asarray(raw[prob_name], dtype=np.float64)
            per_row = _per_row_classes({n: raw[n] for n in roles.class_rows}, probs) if roles.class_rows \
                else None
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
    main = roles.main
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
