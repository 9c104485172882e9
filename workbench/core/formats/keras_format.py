"""Format `keras`: a Keras 3 `.keras` zip, or a legacy `.h5` file with a Keras model config.
Inspection reads the config JSON only (no TensorFlow); loading needs Keras."""

from __future__ import annotations

import importlib.util
import json
import zipfile
from pathlib import Path
from typing import Any

from workbench.core.errors import BackendUnavailable, CorruptModel, UnknownFormat
from workbench.core.formats.base import ModelFormat, Probe, one_load_at_a_time
from workbench.core.formats.common import file_facts
from workbench.core.types import ModelInfo, TensorSpec, feature_count

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def match(probe: Probe) -> bool:
    if probe.is_dir:
        return False
    if "config.json" in probe.names and ("model.weights.h5" in probe.names or "metadata.json" in probe.names):
        return True
    return probe.head.startswith(HDF5_MAGIC)


def _read_config(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                config = json.loads(zf.read("config.json"))
                meta = json.loads(zf.read("metadata.json")) if "metadata.json" in zf.namelist() else {}
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
            raise CorruptModel(str(path), f"{path.name}: a .keras file that cannot be read ({exc})") from None
        return config, meta
    try:
        import h5py
    except ImportError:
        raise BackendUnavailable("reading .h5 Keras files needs h5py",
                                 hint="pip install 'model-serving-workbench[tf]'") from None
    try:
        with h5py.File(path, "r") as h5:
            raw = h5.attrs.get("model_config")
            version = h5.attrs.get("keras_version")
    except OSError as exc:
        raise CorruptModel(str(path), f"{path.name}: an HDF5 file that cannot be opened ({exc}): "
                           "truncated or damaged") from None
    if raw is None:
        raise UnknownFormat(str(path), f"{path.name}: an HDF5 file without a Keras model config "
                            "(weights only, or not a Keras file)", hint="save the whole model with model.save()")
    if isinstance(raw, bytes):
        raw = raw.decode()
    meta = {"keras_version": version.decode() if isinstance(version, bytes) else version}
    return json.loads(raw), meta


def _layers(config: dict[str, Any]) -> list[dict[str, Any]]:
    return list(config.get("config", {}).get("layers", []))


def _inputs(config: dict[str, Any]) -> list[TensorSpec]:
    specs = []
    for layer in _layers(config):
        if layer.get("class_name") == "InputLayer":
            cfg = layer.get("config", {})
            shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
            dtype = cfg.get("dtype", "float32")
            if isinstance(dtype, dict):
                dtype = dtype.get("config", {}).get("name", "float32")
            specs.append(TensorSpec(cfg.get("name", layer.get("name", "input")), str(dtype),
                                    tuple(shape) if shape else None))
    if not specs:  # Sequential built from a layer's input shape
        first = (_layers(config) or [{}])[0].get("config", {})
        shape = first.get("batch_input_shape") or first.get("batch_shape")
        if shape:
            specs.append(TensorSpec("input", "float32", tuple(shape)))
    return specs


def _outputs(config: dict[str, Any]) -> tuple[list[TensorSpec], str, int | None]:
    layers = _layers(config)
    last = layers[-1] if layers else {}
    cfg = last.get("config", {})
    units = cfg.get("units")
    activation = cfg.get("activation")
    if activation in ("softmax",) or (activation == "sigmoid" and units == 1):
        task = "classification"
    elif activation in (None, "linear") and units:
        task = "regression"
    else:
        task = "other"
    return [TensorSpec(cfg.get("name", "output"), "float32", (None, units))], task, units


def inspect(path: Path, trust: bool) -> ModelInfo:
    config, meta = _read_config(path)
    if config.get("class_name") not in ("Sequential", "Functional", "Model") and "layers" not in config.get(
            "config", {}):
        raise CorruptModel(str(path), f"{path.name}: a Keras file whose config is not a model "
                           f"(class {config.get('class_name')})")
    outputs, task, units = _outputs(config)
    classes = (list(range(units)) if task == "classification" and units and units > 1
               else [0, 1] if task == "classification" else None)
    warnings = []
    if importlib.util.find_spec("keras") is None:
        warnings.append("Keras is not installed: running this model needs pip install 'model-serving-workbench[tf]'")
    metadata: dict[str, Any] = {
        "model_class": config.get("class_name"), "keras_version": meta.get("keras_version"),
        "saved_at": meta.get("date_saved"),
        "layers": [{"name": layer.get("config", {}).get("name", layer.get("name")), "class": layer.get("class_name")}
                   for layer in _layers(config)],
        "container": "keras-zip" if zipfile.is_zipfile(path) else "hdf5",
    }
    inputs = _inputs(config)
    metadata["feature_count"] = feature_count(inputs)
    metadata.update(file_facts(path))
    return ModelInfo(path=str(path), format="keras", framework="keras", framework_version=meta.get("keras_version"),
                     task=task, inputs=inputs, outputs=outputs, classes=classes, metadata=metadata,
                     warnings=warnings, loaded=False)


@one_load_at_a_time
def load(path: Path, trust: bool) -> Any:
    if importlib.util.find_spec("keras") is None:
        raise BackendUnavailable("Keras is not installed", hint="pip install 'model-serving-workbench[tf]'")
    import keras

    # safe_mode=True (the default) refuses Lambda layers with pickled Python code unless trusted
    return keras.saving.load_model(str(path), safe_mode=not trust)


FORMAT = ModelFormat(name="keras", title="Keras model", extensions=(".keras", ".h5", ".hdf5"), match=match,
                     inspect=inspect, load=load, priority=25, frameworks=("keras",))
