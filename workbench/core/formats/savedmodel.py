"""Format `savedmodel`: a TensorFlow SavedModel folder, or a TF Serving base folder whose numeric
subfolders are versions. Signatures are read from saved_model.pb with a small protobuf reader, so
inspection needs no TensorFlow; running the model does (the `tensorflow` runtime)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from workbench.core.errors import CorruptModel, ModelFileError
from workbench.core.formats.base import ModelFormat, Probe, one_load_at_a_time
from workbench.core.formats.common import file_facts
from workbench.core.formats.protowire import WireError, fields, signed64
from workbench.core.types import ModelInfo, TensorSpec, feature_count

#: tensorflow.DataType enum -> numpy-style names (TFSERVING.md §2.2)
TF_DTYPES = {1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string",
             8: "complex64", 9: "int64", 10: "bool", 14: "bfloat16", 17: "uint16", 19: "float16",
             22: "uint32", 23: "uint64"}
TF_DTYPE_NAMES = {1: "DT_FLOAT", 2: "DT_DOUBLE", 3: "DT_INT32", 4: "DT_UINT8", 5: "DT_INT16", 6: "DT_INT8",
                  7: "DT_STRING", 9: "DT_INT64", 10: "DT_BOOL", 14: "DT_BFLOAT16", 17: "DT_UINT16",
                  19: "DT_HALF", 22: "DT_UINT32", 23: "DT_UINT64"}
PB_NAMES = ("saved_model.pb", "saved_model.pbtxt")


def version_dirs(base: Path) -> list[Path]:
    """Numeric subfolders that hold a SavedModel, sorted by version number."""
    found = [p for p in base.iterdir() if p.is_dir() and p.name.isdigit()
             and any((p / n).is_file() for n in PB_NAMES)]
    return sorted(found, key=lambda p: int(p.name))


def is_savedmodel_dir(path: Path) -> bool:
    return path.is_dir() and any((path / n).is_file() for n in PB_NAMES)


def match(probe: Probe) -> bool:
    if not probe.is_dir:
        return False
    if any(n in probe.names for n in PB_NAMES):
        return True
    return any(part.isdigit() and rest in PB_NAMES
               for part, _, rest in (n.partition("/") for n in probe.names))


def resolve(path: Path) -> tuple[Path, list[int]]:
    """The SavedModel folder to read (the highest version of a base folder) and all versions."""
    if is_savedmodel_dir(path):
        return path, ([int(path.name)] if path.name.isdigit() else [])
    versions = version_dirs(path)
    if not versions:
        raise ModelFileError(str(path), f"{path.name}: no saved_model.pb here nor in numeric version "
                             "subfolders", hint="point at a SavedModel folder or a TF Serving base folder")
    return versions[-1], [int(v.name) for v in versions]


def _tensor_info(data: memoryview) -> dict[str, Any]:
    info: dict[str, Any] = {"name": "", "dtype": 0, "shape": None}
    for number, _, value in fields(data):
        if number == 1:
            info["name"] = bytes(value).decode()  # type: ignore[arg-type]
        elif number == 2:
            info["dtype"] = value
        elif number == 3:
            dims: list[int | None] = []
            unknown_rank = False
            for n2, _, v2 in fields(value):  # type: ignore[arg-type]
                if n2 == 2:
                    size = 0
                    for n3, _, v3 in fields(v2):  # type: ignore[arg-type]
                        if n3 == 1:
                            size = signed64(v3)  # type: ignore[arg-type]
                    dims.append(None if size < 0 else size)
                elif n2 == 3:
                    unknown_rank = bool(v2)
            info["shape"] = None if unknown_rank else tuple(dims)
    return info


def _map_entry(data: memoryview) -> tuple[str, memoryview]:
    key, val = "", memoryview(b"")
    for number, _, value in fields(data):
        if number == 1:
            key = bytes(value).decode()  # type: ignore[arg-type]
        elif number == 2:
            val = value  # type: ignore[assignment]
    return key, val


def _signature(data: memoryview) -> dict[str, Any]:
    sig: dict[str, Any] = {"inputs": {}, "outputs": {}, "method": ""}
    for number, _, value in fields(data):
        if number in (1, 2):
            key, tinfo = _map_entry(value)  # type: ignore[arg-type]
            sig["inputs" if number == 1 else "outputs"][key] = _tensor_info(tinfo)
        elif number == 3:
            sig["method"] = bytes(value).decode()  # type: ignore[arg-type]
    return sig


def read_saved_model_pb(pb: Path) -> list[dict[str, Any]]:
    """Meta graphs of a saved_model.pb: tags, TF version and signatures (without TensorFlow)."""
    data = pb.read_bytes()
    graphs = []
    try:
        for number, _, value in fields(data):
            if number != 2:
                continue
            graph: dict[str, Any] = {"tags": [], "tensorflow_version": None, "signatures": {}}
            for n2, _, v2 in fields(value):  # type: ignore[arg-type]
                if n2 == 1:
                    for n3, _, v3 in fields(v2):  # type: ignore[arg-type]
                        if n3 == 4:
                            graph["tags"].append(bytes(v3).decode())  # type: ignore[arg-type]
                        elif n3 == 5:
                            graph["tensorflow_version"] = bytes(v3).decode()  # type: ignore[arg-type]
                elif n2 == 5:
                    key, sig = _map_entry(v2)  # type: ignore[arg-type]
                    graph["signatures"][key] = _signature(sig)
            graphs.append(graph)
    except (WireError, UnicodeDecodeError) as exc:
        raise CorruptModel(str(pb), f"{pb.parent.name}/{pb.name}: not a readable SavedModel protobuf ({exc}): "
                           "truncated or damaged") from None
    if not graphs:
        raise CorruptModel(str(pb), f"{pb.parent.name}/{pb.name} holds no MetaGraph: not a SavedModel")
    return graphs


def _spec(alias: str, info: dict[str, Any]) -> TensorSpec:
    return TensorSpec(alias, TF_DTYPES.get(info["dtype"], f"dtype{info['dtype']}"), info["shape"],
                      description=info["name"])


def _task(sig: dict[str, Any]) -> str:
    method = sig.get("method", "")
    outputs = set(sig.get("outputs", {}))
    if method.endswith("/classify") or {"label", "probabilities"} <= outputs:
        return "classification"
    if method.endswith("/regress") or outputs == {"value"}:
        return "regression"
    return "other"


def inspect(path: Path, trust: bool) -> ModelInfo:
    model_dir, versions = resolve(path)
    pb = model_dir / "saved_model.pb"
    if not pb.is_file():
        return _inspect_pbtxt(path, model_dir, versions)
    graphs = read_saved_model_pb(pb)
    serve = next((g for g in graphs if "serve" in g["tags"]), graphs[0])
    signatures = {k: v for k, v in serve["signatures"].items() if not k.startswith("__")}
    default = signatures.get("serving_default") or next(iter(signatures.values()), None)
    warnings: list[str] = []
    if "serving_default" not in signatures:
        warnings.append("no 'serving_default' signature: TF Serving requests must name a signature "
                        f"({', '.join(signatures) or 'none found'})")
    if importlib.util.find_spec("tensorflow") is None:
        warnings.append("TensorFlow is not installed: signatures were read from saved_model.pb, but running "
                        "the model needs it (pip install 'model-serving-workbench[tf]')")
    recorded = _workbench_metadata(model_dir)
    order = [entry.get("alias") or entry.get("name") for entry in recorded.get("inputs", [])]
    inputs = [_spec(a, i) for a, i in _ordered(default["inputs"], order)] if default else []
    outputs = [_spec(a, i) for a, i in default["outputs"].items()] if default else []
    metadata: dict[str, Any] = {
        "tags": [g["tags"] for g in graphs],
        "signatures": {name: {"method": sig["method"],
                              "inputs": {a: {"dtype": TF_DTYPES.get(i["dtype"]), "shape": _shape(i["shape"]),
                                             "tensor": i["name"]} for a, i in sig["inputs"].items()},
                              "outputs": {a: {"dtype": TF_DTYPES.get(i["dtype"]), "shape": _shape(i["shape"]),
                                              "tensor": i["name"]} for a, i in sig["outputs"].items()}}
                       for name, sig in signatures.items()},
        "versions": versions,
        "model_dir": str(model_dir),
        "feature_count": feature_count(inputs),
    }
    if (model_dir / "keras_metadata.pb").exists() or (model_dir / "fingerprint.pb").exists():
        metadata["fingerprint"] = (model_dir / "fingerprint.pb").exists()
    metadata.update(file_facts(model_dir))
    task = recorded.get("task") or (_task(default) if default else "other")
    if recorded:
        metadata["workbench_export"] = {k: recorded.get(k) for k in ("producer", "estimator", "task")}
    return ModelInfo(path=str(path), format="savedmodel", framework="tensorflow",
                     framework_version=serve["tensorflow_version"], task=task, inputs=inputs, outputs=outputs,
                     classes=recorded.get("classes"), metadata=metadata, warnings=warnings, loaded=False)


def _workbench_metadata(model_dir: Path) -> dict[str, Any]:
    """What the workbench's own exports record beside the model (task, classes, column order)."""
    path = model_dir / "assets.extra" / "workbench_model.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _ordered(tensors: dict[str, Any], order: list[str]) -> list[tuple[str, Any]]:
    """Signature tensors in the recorded column order, then the rest as stored in the file."""
    known = [(alias, tensors[alias]) for alias in order if alias in tensors]
    return known + [(alias, info) for alias, info in tensors.items() if alias not in order]


def _shape(shape: tuple[int | None, ...] | None) -> list[int | None] | None:
    return list(shape) if shape is not None else None


def _inspect_pbtxt(path: Path, model_dir: Path, versions: list[int]) -> ModelInfo:
    metadata: dict[str, Any] = {"versions": versions, "model_dir": str(model_dir), "encoding": "pbtxt"}
    metadata.update(file_facts(model_dir))
    return ModelInfo(path=str(path), format="savedmodel", framework="tensorflow", metadata=metadata,
                     warnings=["saved_model.pbtxt (text format): signatures are shown once loaded with TensorFlow"])


@one_load_at_a_time
def load(path: Path, trust: bool) -> Any:
    """Load with TensorFlow (tf.saved_model.load); the `tensorflow` runtime wraps the result."""
    model_dir, _ = resolve(path)
    if importlib.util.find_spec("tensorflow") is None:
        from workbench.core.errors import BackendUnavailable

        raise BackendUnavailable("TensorFlow is not installed: it is needed to run a SavedModel",
                                 hint="pip install 'model-serving-workbench[tf]'")
    import tensorflow as tf

    return tf.saved_model.load(str(model_dir))


FORMAT = ModelFormat(name="savedmodel", title="TensorFlow SavedModel folder", extensions=(), match=match,
                     inspect=inspect, load=load, is_folder=True, priority=10, frameworks=("tensorflow",))
