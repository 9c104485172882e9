"""Runtime `tensorflow`: SavedModel signatures (the TF Serving path) and Keras models called as graphs.

TensorFlow is imported on first load only (6-8 s). A SavedModel is called through its
`serving_default` signature (or the only one it has), with the whole batch as tensors.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.errors import CorruptModel, WorkbenchError
from workbench.core.predictions import PredictionBatch
from workbench.core.rows import input_arrays
from workbench.core.runtimes.base import (
    TF_HINT,
    Availability,
    PreparedCall,
    PreparingSession,
    Runtime,
    first_line,
    missing_module,
)
from workbench.core.runtimes.outputs import interpret_outputs, named_outputs
from workbench.core.types import ModelInfo

DEFAULT_SIGNATURE = "serving_default"


def savedmodel_dir(path: Path) -> Path:
    """The version folder to load (a TF Serving base folder gives its highest version)."""
    from workbench.core.detect import normalise_path
    from workbench.core.formats.savedmodel import resolve

    model_dir, _ = resolve(normalise_path(path))
    return model_dir


class TensorFlowRuntime(Runtime):
    name = "tensorflow"
    title = "TensorFlow (SavedModel signatures, Keras)"
    formats = ("savedmodel", "keras")

    def availability(self, fmt: str | None = None) -> Availability:
        avail = missing_module("tensorflow", "TensorFlow", TF_HINT)
        if avail.ok and fmt == "keras":
            return missing_module("keras", "Keras", TF_HINT)
        return avail

    def _load(self, path: Path, info: ModelInfo, trust: bool) -> Any:
        if info.format == "keras":
            import tensorflow as tf

            from workbench.core.formats.keras_format import load_keras

            # safe_mode unless trusted: a Lambda layer's pickled Python code is refused ("trust it to load")
            return KerasGraphSession(info, load_keras(path, trust, compile=False), tf)
        folder = savedmodel_dir(path)
        from workbench.core.formats.savedmodel import check_trusted

        check_trusted(path, trust)  # loading runs the graph's resource initializers: code from the file
        import tensorflow as tf

        try:
            loaded = tf.saved_model.load(str(folder))
        except (ValueError, RuntimeError, TypeError) as exc:
            # Some TF1 SavedModels (e.g. with tf.Example parsing signatures) cannot be lifted into
            # TF2 functions; TF Serving runs them in a TF1 session, and so do we.
            try:
                return V1SignatureSession(info, folder, tf)
            except Exception:  # noqa: BLE001  report the TF2 loader's error, the more common path
                first = first_line(exc)
                raise CorruptModel(str(path), f"{folder}: TensorFlow cannot load this SavedModel: {first}") \
                    from None
        except OSError as exc:
            first = first_line(exc)
            raise CorruptModel(str(path),
                               f"{folder}: TensorFlow cannot load this SavedModel: {first}") from None
        signatures = dict(loaded.signatures)
        if not signatures:
            raise WorkbenchError(f"{folder}: the SavedModel has no signatures to call",
                                 hint="export it with a serving_default signature (model.export(dir))")
        name = DEFAULT_SIGNATURE if DEFAULT_SIGNATURE in signatures else min(signatures)
        return SignatureSession(info, loaded, signatures[name], name, tf)


class SignatureSession(PreparingSession):
    """One SavedModel signature; the batch goes in one call with one tensor per input."""

    runtime = "tensorflow"

    def __init__(self, info: ModelInfo, loaded: Any, signature: Any, name: str, tf: Any) -> None:
        self.info = info
        self._loaded = loaded  # keeps the signature's variables alive
        self.signature = signature
        self.signature_name = name
        self._tf = tf
        self.input_specs = dict(signature.structured_input_signature[1])

    def prepare(self, frame: pd.DataFrame) -> PreparedCall:
        """One tensor per signature input built once; `run()` calls the signature function."""
        tf = self._tf
        arrays = input_arrays(frame, self.info)
        feeds = {}
        for name, spec in self.input_specs.items():
            arr = _fit_rank(_find_array(arrays, name), spec.shape.rank)
            if spec.dtype == tf.string:
                feeds[name] = tf.constant([str(v).encode() for v in arr.reshape(-1)], dtype=tf.string,
                                          shape=arr.shape)
            else:
                feeds[name] = tf.constant(arr.astype(spec.dtype.as_numpy_dtype))
        return PreparedCall(len(frame), partial(self.signature, **feeds), self.finish)

    def finish(self, out: Any) -> PredictionBatch:
        """The signature's {name: tensor} result as a PredictionBatch."""
        return interpret_outputs(self.runtime, {str(k): v.numpy() for k, v in out.items()}, self.info)


class V1SignatureSession(PreparingSession):
    """A TF1 SavedModel signature run in a `tf.compat.v1.Session`, as TF Serving runs TF1 models."""

    runtime = "tensorflow"

    def __init__(self, info: ModelInfo, folder: Path, tf: Any) -> None:
        self.info = info
        self._tf = tf
        graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=graph)
        logger = tf.get_logger()
        level = logger.level
        logger.setLevel("ERROR")  # the TF1 loader is "deprecated": its notice is noise here
        try:
            with graph.as_default():
                meta = tf.compat.v1.saved_model.loader.load(self.session, ["serve"], str(folder))
        finally:
            logger.setLevel(level)
        signatures = {k: v for k, v in meta.signature_def.items() if not k.startswith("__")}
        if not signatures:
            raise WorkbenchError(f"{folder}: the SavedModel has no signatures to call")
        self.signature_name = DEFAULT_SIGNATURE if DEFAULT_SIGNATURE in signatures else min(signatures)
        signature = signatures[self.signature_name]
        self.inputs = {alias: (t.name, tf.dtypes.as_dtype(t.dtype),
                               graph.get_tensor_by_name(t.name).shape.rank)
                       for alias, t in signature.inputs.items()}
        self.outputs = {alias: t.name for alias, t in signature.outputs.items()}

    def prepare(self, frame: pd.DataFrame) -> PreparedCall:
        """The feed dict built once; `run()` is `Session.run` on it."""
        arrays = input_arrays(frame, self.info)
        feeds = {}
        for alias, (tensor, dtype, rank) in self.inputs.items():
            arr = _fit_rank(_find_array(arrays, alias), rank)
            if dtype == self._tf.string:
                encoded = [str(v).encode() for v in arr.reshape(-1)]
                feeds[tensor] = np.asarray(encoded, dtype=object).reshape(arr.shape)
            else:
                feeds[tensor] = arr.astype(dtype.as_numpy_dtype)
        return PreparedCall(len(frame), partial(self.session.run, self.outputs, feed_dict=feeds), self.finish)

    def finish(self, results: dict[str, Any]) -> PredictionBatch:
        """`Session.run`'s {alias: value} as a PredictionBatch."""
        return interpret_outputs(self.runtime, {k: np.asarray(v) for k, v in results.items()}, self.info)


class KerasGraphSession(PreparingSession):
    """A Keras model called as a compiled TF graph (`tf.function`), the way a serving export runs it."""

    runtime = "tensorflow"

    def __init__(self, info: ModelInfo, model: Any, tf: Any) -> None:
        self.info = info
        self.model = model
        self._tf = tf
        self._fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def prepare(self, frame: pd.DataFrame) -> PreparedCall:
        """The input tensors built once; `run()` calls the compiled function."""
        tf = self._tf
        arrays = input_arrays(frame, self.info)
        tensors = {name: tf.constant(np.asarray(arr, dtype=np.float32) if arr.dtype != object else arr)
                   for name, arr in arrays.items()}
        x: Any = next(iter(tensors.values())) if len(tensors) == 1 else tensors
        return PreparedCall(len(frame), partial(self._fn, x), self.finish)

    def finish(self, out: Any) -> PredictionBatch:
        """The model's output tensor(s) as a PredictionBatch."""
        outputs = named_outputs(out, list(getattr(self.model, "output_names", None) or []),
                                to_numpy=lambda t: t.numpy())
        return interpret_outputs(self.runtime, outputs, self.info)


def _find_array(arrays: dict[str, np.ndarray], name: str) -> np.ndarray:
    if name in arrays:
        return np.asarray(arrays[name])
    if len(arrays) == 1:
        return np.asarray(next(iter(arrays.values())))
    raise WorkbenchError(f"the signature input {name!r} is not among the model's described inputs "
                         f"({', '.join(arrays)})")


def _fit_rank(arr: np.ndarray, rank: int | None) -> np.ndarray:
    if rank == 2 and arr.ndim == 1:
        return arr.reshape(-1, 1)
    if rank == 1 and arr.ndim == 2 and arr.shape[1] == 1:
        return arr.reshape(-1)
    return arr


RUNTIME = TensorFlowRuntime()
