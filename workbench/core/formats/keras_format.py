"""Format `keras`: a Keras 3 `.keras` zip, or a legacy `.h5` file with a Keras model config.
Inspection reads the config JSON only (no TensorFlow); loading needs Keras."""

from __future__ import annotations

import importlib.util
import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

from workbench.core import limits
from workbench.core.errors import BackendUnavailable, CorruptModel, UnknownFormat, UntrustedPickle
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


def _damaged(path: Path, what: str) -> CorruptModel:
    return CorruptModel(str(path), f"{path.name}: damaged Keras file: {what}")


def check_zip(zf: zipfile.ZipFile, path: Path) -> None:
    """Refuse a zip whose members declare more than DECOMPRESSED_BYTES or inflate more than
    COMPRESSION_RATIO times (a 2 MB .keras inflating to gigabytes), before anything inflates them.
    Python's zipfile stops a member at its declared size, so a lying header cannot go further."""
    total = 0
    for member in zf.infolist():
        source = f"{path.name}: member {member.filename}"
        limits.DECOMPRESSED_BYTES.check(member.file_size, source=source)
        total += member.file_size
        if member.file_size > 1 << 20:  # small members may compress well; a bomb is large by nature
            ratio = member.file_size // max(member.compress_size, 1)
            limits.COMPRESSION_RATIO.check(ratio, source=source)
    limits.DECOMPRESSED_BYTES.check(total, source=f"{path.name}: all members together")


def read_member(zf: zipfile.ZipFile, name: str, limit: limits.Limit = limits.METADATA_FILE_BYTES) -> bytes:
    """A zip member's bytes through a bounded stream: LimitExceeded past `limit`, whatever it declares."""
    with zf.open(name) as stream:
        data = stream.read(limit.value + 1)
    limit.check(len(data), source=f"member {name}")
    return data


def _json(raw: bytes | str, path: Path, what: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, nesting
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else (
            "nested too deeply" if isinstance(exc, RecursionError) else f"not UTF-8 ({type(exc).__name__})")
        raise _damaged(path, f"{what} is not readable JSON ({reason})") from None


def _read_config(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                check_zip(zf, path)
                config = _json(read_member(zf, "config.json"), path, "config.json")
                meta = (_json(read_member(zf, "metadata.json"), path, "metadata.json")
                        if "metadata.json" in zf.namelist() else {})
        except KeyError as exc:
            raise _damaged(path, f"a .keras zip without {exc}") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as exc:
            raise _damaged(path, f"the zip cannot be read ({exc})") from None
        if not isinstance(config, dict) or not isinstance(meta, dict):
            raise _damaged(path, "config.json or metadata.json is not a JSON object")
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
        raise CorruptModel(str(path), f"{path.name}: damaged Keras file: an HDF5 file that cannot be opened "
                           f"({exc}): truncated or damaged") from None
    if raw is None:
        raise UnknownFormat(str(path), f"{path.name}: an HDF5 file without a Keras model config "
                            "(weights only, or not a Keras file)", hint="save the whole model with model.save()")
    if not isinstance(raw, bytes | str):
        raise _damaged(path, f"its model_config attribute is {type(raw).__name__}, not text")
    if isinstance(version, bytes):
        version = version.decode(errors="replace")
    meta = {"keras_version": version if isinstance(version, str) else None}
    config = _json(raw, path, "the model_config attribute")
    if not isinstance(config, dict):
        raise _damaged(path, "the model_config attribute is not a JSON object")
    return config, meta


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
    try:
        return _inspect(path, config, meta)
    except (AttributeError, TypeError, ValueError, KeyError, IndexError, RecursionError) as exc:
        raise _damaged(path, f"its config is not a Keras model config ({type(exc).__name__}: {exc})") from None


def _lambda_layers(config: Any, depth: int = 0) -> list[str]:
    """Names of Lambda layers (Python code, refused by Keras' safe mode) anywhere in the config."""
    found: list[str] = []
    if depth > 64:
        return found
    if isinstance(config, dict):
        if config.get("class_name") == "Lambda":
            cfg = config.get("config")
            found.append(str(cfg.get("name") if isinstance(cfg, dict) else "lambda"))
        for value in config.values():
            found += _lambda_layers(value, depth + 1)
    elif isinstance(config, list):
        for value in config:
            found += _lambda_layers(value, depth + 1)
    return found


def _inspect(path: Path, config: dict[str, Any], meta: dict[str, Any]) -> ModelInfo:
    if config.get("class_name") not in ("Sequential", "Functional", "Model") and "layers" not in config.get(
            "config", {}):
        raise CorruptModel(str(path), f"{path.name}: a Keras file whose config is not a model "
                           f"(class {config.get('class_name')})")
    outputs, task, units = _outputs(config)
    classes = (list(range(units)) if task == "classification" and units and units > 1
               else [0, 1] if task == "classification" else None)
    warnings = []
    lambdas = _lambda_layers(config)
    if lambdas:
        warnings.append(f"Lambda layers hold Python code ({', '.join(lambdas[:5])}): Keras' safe mode refuses "
                        "to load them; trust it to load (runs code from the file)")
    if importlib.util.find_spec("keras") is None:
        warnings.append("Keras is not installed: running this model needs pip install 'model-serving-workbench[tf]'")
    metadata: dict[str, Any] = {
        "model_class": config.get("class_name"), "keras_version": meta.get("keras_version"),
        "saved_at": meta.get("date_saved"),
        "layers": [{"name": layer.get("config", {}).get("name", layer.get("name")), "class": layer.get("class_name")}
                   for layer in _layers(config)],
        "container": "keras-zip" if zipfile.is_zipfile(path) else "hdf5",
        "lambda_layers": lambdas,
    }
    from workbench.core.formats.value_facts import newer_file_warning  # saved by a newer Keras?

    warnings.extend(w for w in [newer_file_warning("Keras", "keras", meta.get("keras_version"))] if w)
    inputs = _inputs(config)
    metadata["feature_count"] = feature_count(inputs)
    metadata.update(file_facts(path))
    return ModelInfo(path=str(path), format="keras", framework="keras", framework_version=meta.get("keras_version"),
                     task=task, inputs=inputs, outputs=outputs, classes=classes, metadata=metadata,
                     warnings=warnings, loaded=False)


def load_keras(path: Path, trust: bool, **kwargs: Any) -> Any:
    """keras.saving.load_model, in safe mode unless trusted, after the zip checks; a Lambda layer refused
    by safe mode is UntrustedPickle ("trust it to load"), Keras' own errors are CorruptModel."""
    if importlib.util.find_spec("keras") is None:
        raise BackendUnavailable("Keras is not installed", hint="pip install 'model-serving-workbench[tf]'")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                check_zip(zf, path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise _damaged(path, f"the zip cannot be read ({exc})") from None
    import keras

    try:
        # safe_mode=True (the default) refuses Lambda layers with pickled Python code unless trusted
        return keras.saving.load_model(str(path), safe_mode=not trust, **kwargs)
    except ValueError as exc:
        if not trust and "safe_mode" in str(exc):
            raise UntrustedPickle(f"{path.name} holds a Lambda layer with Python code, which Keras' safe mode "
                                  "refuses: loading it runs code from the file; trust it to load (--trust, "
                                  "or the trust dialog) only if you trust where it came from") from None
        raise _damaged(path, f"Keras cannot load it: {_first_line(exc)}") from None
    except (OSError, TypeError, KeyError, AttributeError, RecursionError, UnicodeDecodeError,
            zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise _damaged(path, f"Keras cannot load it: {type(exc).__name__}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@one_load_at_a_time
def load(path: Path, trust: bool) -> Any:
    return load_keras(path, trust)


FORMAT = ModelFormat(name="keras", title="Keras model", extensions=(".keras", ".h5", ".hdf5"), match=match,
                     inspect=inspect, load=load, priority=25, frameworks=("keras",))
