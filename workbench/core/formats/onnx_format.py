"""Format `onnx`: an ONNX ModelProto file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.core.errors import CorruptModel
from workbench.core.formats.base import ModelFormat, Probe
from workbench.core.formats.common import file_facts
from workbench.core.formats.protowire import WireError, read_varint
from workbench.core.types import ModelInfo, TensorSpec, feature_count

#: ModelProto field tags that may follow ir_version (producer_name .. graph, opset_import, metadata_props)
_NEXT_TAGS = {0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72, 0x7A}
_CLASSIFIER_OPS = ("LinearClassifier", "TreeEnsembleClassifier", "SVMClassifier", "ZipMap")
_REGRESSOR_OPS = ("LinearRegressor", "TreeEnsembleRegressor", "SVMRegressor", "TreeEnsemble")


def match(probe: Probe) -> bool:
    head = probe.head
    if probe.is_dir or len(head) < 4 or head[0] != 0x08:
        return False
    try:
        ir_version, pos = read_varint(head, 1)
    except WireError:
        return False
    return 3 <= ir_version <= 20 and pos < len(head) and head[pos] in _NEXT_TAGS


def _load_proto(path: Path) -> Any:
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise CorruptModel(str(path), f"{path.name}: an ONNX file that cannot be parsed ({type(exc).__name__}): "
                           "truncated or damaged", hint="export the model again") from None
    if not model.graph.node and not model.graph.output:
        raise CorruptModel(str(path), f"{path.name}: an ONNX file with an empty graph: truncated or damaged")
    return model


def _value_spec(value: Any) -> TensorSpec:
    import onnx

    kind = value.type.WhichOneof("value")
    if kind == "tensor_type":
        elem = value.type.tensor_type.elem_type
        dtype = onnx.helper.tensor_dtype_to_np_dtype(elem).name if elem else "float32"
        if elem == onnx.TensorProto.STRING:
            dtype = "string"
        shape: tuple[int | None, ...] | None = None
        if value.type.tensor_type.HasField("shape"):
            shape = tuple(d.dim_value if d.HasField("dim_value") else None
                          for d in value.type.tensor_type.shape.dim)
        return TensorSpec(value.name, dtype, shape)
    if kind == "sequence_type":
        return TensorSpec(value.name, "object", (None,), description="sequence of maps (ZipMap)")
    return TensorSpec(value.name, "object", None, description=kind or "")


def _workbench_facts(props: dict[str, str], classes: list[Any] | None) -> tuple[str, list[Any] | None]:
    """Task and classes the workbench wrote into a model it converted (metadata_props), if any."""
    import json

    task = props.get("workbench.task")
    if task not in ("classification", "regression"):
        return "other", classes
    if classes is None and task == "classification" and "workbench.classes" in props:
        try:
            names = [str(c) for c in json.loads(props["workbench.classes"])]
        except (ValueError, TypeError):
            return task, classes
        classes = [int(c) for c in names] if all(c.lstrip("-").isdigit() for c in names) else names
    return task, classes


def inspect(path: Path, trust: bool) -> ModelInfo:
    import onnx

    model = _load_proto(path)
    graph = model.graph
    initializers = {init.name for init in graph.initializer}
    inputs = [_value_spec(v) for v in graph.input if v.name not in initializers]
    outputs = [_value_spec(v) for v in graph.output]
    ops = [node.op_type for node in graph.node]
    classes: list[Any] | None = None
    for node in graph.node:
        if node.op_type in _CLASSIFIER_OPS[:-1]:
            for attribute in node.attribute:
                if attribute.name in ("classlabels_int64s", "classlabels_ints") and attribute.ints:
                    classes = list(attribute.ints)
                elif attribute.name == "classlabels_strings" and attribute.strings:
                    classes = [s.decode() for s in attribute.strings]
    if classes is not None or any(op in _CLASSIFIER_OPS for op in ops):
        task = "classification"
    elif any(op in _REGRESSOR_OPS for op in ops) or [o.name for o in outputs] == ["variable"]:
        task = "regression"
    else:
        task = "other"
    props = {p.key: p.value for p in model.metadata_props}
    if task == "other":  # a graph without classifier ops (a converted Keras model): what the source was
        task, classes = _workbench_facts(props, classes)
    warnings = []
    if "ZipMap" in ops:
        warnings.append("probabilities come out of a ZipMap (a list of dicts); the workbench converts "
                        "without ZipMap so probabilities are a plain tensor")
    metadata: dict[str, Any] = {
        "ir_version": model.ir_version,
        "opset": {op.domain or "ai.onnx": op.version for op in model.opset_import},
        "producer": model.producer_name, "producer_version": model.producer_version,
        "graph_name": graph.name, "node_count": len(graph.node), "operators": sorted(set(ops)),
        "metadata_props": props,
        "feature_count": feature_count(inputs), "onnx_version": onnx.__version__,
    }
    metadata.update(file_facts(path))
    return ModelInfo(path=str(path), format="onnx", framework=model.producer_name or "onnx",
                     framework_version=model.producer_version.removesuffix(" None").strip() or None, task=task, inputs=inputs,
                     outputs=outputs, classes=classes, metadata=metadata, warnings=warnings, loaded=True)


def load(path: Path, trust: bool) -> Any:
    return _load_proto(path)


FORMAT = ModelFormat(name="onnx", title="ONNX model", extensions=(".onnx", ".ort"), match=match,
                     inspect=inspect, load=load, priority=20, frameworks=("onnx",))
