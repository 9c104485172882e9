"""Keras models to a SavedModel through Keras' own export, with the inputs named after the Input names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.core.errors import ConversionFailed

METADATA_FILE = "assets.extra/workbench_model.json"


def _input_name(tensor: Any, i: int) -> str:
    name = getattr(tensor, "name", None) or f"input_{i}"
    return str(name).split(":")[0]


def _task_of(model: Any) -> tuple[str, list[int] | None]:
    """Classification when the last layer ends in softmax (or a single sigmoid unit)."""
    layers = list(getattr(model, "layers", None) or [])
    last = layers[-1] if layers else None
    activation = getattr(getattr(last, "activation", None), "__name__", "")
    units = getattr(last, "units", None)
    if activation == "softmax" and units:
        return "classification", list(range(int(units)))
    if activation == "sigmoid" and units == 1:
        return "classification", [0, 1]
    if activation == "linear" and units:
        return "regression", None
    return "other", None


def export_keras(model: Any, out_dir: Path | str) -> dict[str, Any]:
    """`serving_default` takes one input per Keras Input (named after it) and returns `output_0`..."""
    import keras
    import tensorflow as tf

    inputs = list(getattr(model, "inputs", None) or [])
    if not inputs:
        raise ConversionFailed(
            f"SavedModel: the Keras model {type(model).__name__} has no defined inputs "
            "(build it or call it once before exporting)"
        )
    names = [_input_name(t, i) for i, t in enumerate(inputs)]
    specs = [
        tf.TensorSpec(shape=tuple(t.shape), dtype=t.dtype, name=n) for t, n in zip(inputs, names, strict=True)
    ]

    def endpoint(*args: Any) -> Any:
        result = model(list(args) if len(args) > 1 else args[0], training=False)
        if isinstance(result, dict):
            return result
        if isinstance(result, list | tuple):
            return {f"output_{i}": r for i, r in enumerate(result)}
        return {"output_0": result}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=endpoint, input_signature=specs)
    try:
        archive.write_out(str(out_dir), verbose=False)
    except TypeError:  # older signature without verbose
        archive.write_out(str(out_dir))
    task, classes = _task_of(model)
    meta = {
        "producer": "workbench keras export",
        "estimator": type(model).__name__,
        "task": task,
        "classes": classes,
        "inputs": [
            {
                "name": n,
                "alias": n,
                "dtype": str(getattr(t.dtype, "name", t.dtype)),
                "shape": [d for d in t.shape],
            }
            for t, n in zip(inputs, names, strict=True)
        ],
        "signature": "serving_default",
    }
    path = Path(out_dir) / METADATA_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(meta, indent=2))
    return meta
