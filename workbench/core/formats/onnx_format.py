"""Format `onnx`: an ONNX ModelProto file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.core import limits
from workbench.core.errors import CorruptModel
from workbench.core.formats.base import ModelFormat, Probe
from workbench.core.formats.common import damaged, file_facts, read_model_bytes
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

    raw = read_model_bytes(path)
    try:
        model = onnx.load_model_from_string(raw)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise CorruptModel(str(path), f"{path.name}: an ONNX file that cannot be parsed ({type(exc).__name__}): "
                           "truncated or damaged", hint="export the model again") from None
    if not model.graph.node and not model.graph.output:
        raise CorruptModel(str(path), f"{path.name}: an ONNX file with an empty graph: truncated or damaged")
    return model


def _value_spec(value: Any, path: Path) -> TensorSpec:
    import onnx

    _str(value.name, path, "an input or output name")
    kind = value.type.WhichOneof("value")
    if kind == "tensor_type":
        elem = value.type.tensor_type.elem_type
        try:
            dtype = onnx.helper.tensor_dtype_to_np_dtype(elem).name if elem else "float32"
        except KeyError:  # onnx's table has no such element type
            raise damaged(path, "ONNX", f"{value.name!r} has an unknown element type {elem}") from None
        if elem == onnx.TensorProto.STRING:
            dtype = "string"
        shape: tuple[int | None, ...] | None = None
        if value.type.tensor_type.HasField("shape"):
            dims = value.type.tensor_type.shape.dim
            limits.NESTING.check(len(dims), source=f"{path.name}: the rank of {value.name!r}")
            shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)
            if any(d is not None and d < 0 for d in shape):
                raise damaged(path, "ONNX", f"{value.name!r} has a negative dimension in its shape {list(shape)}")
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
        limits.CLASSES.check(len(names), source="workbench.classes")
        classes = [int(c) for c in names] if all(_is_int(c) for c in names) else names
    return task, classes


def _is_int(text: str) -> bool:
    """A class label written as a whole number Python reads back (ASCII digits, under its 4300-digit limit)."""
    digits = text[1:] if text.startswith("-") else text
    return digits.isascii() and digits.isdigit() and len(digits) <= 18


def _str(value: Any, path: Path, what: str) -> str:
    """A proto2 string field: protobuf hands back `bytes` when the field is not valid UTF-8."""
    if isinstance(value, bytes):
        raise damaged(path, "ONNX", f"{what} is not UTF-8 text ({value[:40]!r})")
    return value


def _text(data: bytes, path: Path, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise damaged(path, "ONNX", f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def inspect(path: Path, trust: bool) -> ModelInfo:
    import onnx

    model = _load_proto(path)
    try:
        return _describe(model, path, onnx.__version__)
    except UnicodeDecodeError as exc:  # a proto2 string field holding bytes that are not UTF-8
        raise damaged(path, "ONNX", f"a name or text field is not UTF-8 ({exc.reason} at byte {exc.start})") from None


def _describe(model: Any, path: Path, onnx_version: str) -> ModelInfo:
    graph = model.graph
    initializers = {init.name for init in graph.initializer}
    inputs = [_value_spec(v, path) for v in graph.input if v.name not in initializers]
    outputs = [_value_spec(v, path) for v in graph.output]
    ops = [_str(node.op_type, path, "an operator name") for node in graph.node]
    classes: list[Any] | None = None
    for node in graph.node:
        if node.op_type in _CLASSIFIER_OPS[:-1]:
            for attribute in node.attribute:
                _str(attribute.name, path, f"an attribute name of {node.op_type}")
                if attribute.name in ("classlabels_int64s", "classlabels_ints") and attribute.ints:
                    classes = list(attribute.ints)
                    limits.CLASSES.check(len(classes), source=f"{path.name}: class labels")
                elif attribute.name == "classlabels_strings" and attribute.strings:
                    classes = [_text(s, path, f"a class label of {node.op_type}") for s in attribute.strings]
    if classes is not None or any(op in _CLASSIFIER_OPS for op in ops):
        task = "classification"
    elif any(op in _REGRESSOR_OPS for op in ops) or [o.name for o in outputs] == ["variable"]:
        task = "regression"
    else:
        task = "other"
    props = {_str(p.key, path, "a metadata key"): _str(p.value, path, f"metadata {p.key!r}")
             for p in model.metadata_props}
    if task == "other":  # a graph without classifier ops (a converted Keras model): what the source was
        task, classes = _workbench_facts(props, classes)
    warnings = []
    if "ZipMap" in ops:
        warnings.append("probabilities come out of a ZipMap (a list of dicts); the workbench converts "
                        "without ZipMap so probabilities are a plain tensor")
    metadata: dict[str, Any] = {
        "ir_version": model.ir_version,
        "opset": {_str(op.domain, path, "an opset domain") or "ai.onnx": op.version for op in model.opset_import},
        "producer": model.producer_name, "producer_version": model.producer_version,
        "graph_name": graph.name, "node_count": len(graph.node), "operators": sorted(set(ops)),
        "metadata_props": props,
        "feature_count": feature_count(inputs), "onnx_version": onnx_version,
    }
    for text, what in ((model.producer_name, "the producer name"), (model.producer_version, "the producer version"),
                       (graph.name, "the graph name")):
        _str(text, path, what)
    metadata.update(file_facts(path))
    return ModelInfo(path=str(path), format="onnx", framework=model.producer_name or "onnx",
                     framework_version=model.producer_version.removesuffix(" None").strip() or None, task=task, inputs=inputs,
                     outputs=outputs, classes=classes, metadata=metadata, warnings=warnings, loaded=True)


def load(path: Path, trust: bool) -> Any:
    return _load_proto(path)


FORMAT = ModelFormat(name="onnx", title="ONNX model", extensions=(".onnx", ".ort"), match=match,
                     inspect=inspect, load=load, priority=20, frameworks=("onnx",))
