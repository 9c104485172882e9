"""Format `onnx`: an ONNX ModelProto file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from workbench.core import limits
from workbench.core.errors import CorruptModel
from workbench.core.formats.base import ModelFormat, Probe
from workbench.core.formats.common import damaged, file_facts, read_model_bytes
from workbench.core.formats.value_facts import onnx_takes_missing
from workbench.core.formats.protowire import WireError, fields, read_varint, signed64
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
    """The onnx ModelProto, for running and converting (imports onnx: ~1 s, mostly ml_dtypes)."""
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


# ---- reading a ModelProto without onnx ------------------------------------------------------------------
# Field numbers from onnx/onnx.proto (proto2). Only what `inspect` shows is decoded, with protobuf's own
# rules: the last value of a singular field wins, a singular message that occurs several times is the
# merge of its occurrences (= the parse of their concatenation), a oneof keeps its last member, a field
# whose wire type is not its declared one is an unknown field (skipped), repeated int64s may be packed
# or not. Strings are kept as bytes: proto2 does not check UTF-8, and names that are not UTF-8 are
# reported as "damaged ONNX file" where they are used, as they were when protobuf handed back bytes.
# Sub-messages inspect does not read (tensor contents, sub-graphs, functions, training info) are not
# walked: damage inside them shows when the model is run (onnxruntime parses everything).

#: TensorProto.DataType -> numpy dtype name, as onnx.helper.tensor_dtype_to_np_dtype gives it (onnx 1.23;
#: tests/core/test_onnx_wire.py checks it against the installed onnx); 8 (STRING) is shown as "string"
_ELEM_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
                8: "string", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64",
                14: "complex64", 15: "complex128", 16: "bfloat16", 17: "float8_e4m3fn", 18: "float8_e4m3fnuz",
                19: "float8_e5m2", 20: "float8_e5m2fnuz", 21: "uint4", 22: "int4", 23: "float4_e2m1fn",
                24: "float8_e8m0fnu", 25: "uint2", 26: "int2", 27: "float6_e2m3fn", 28: "float6_e3m2fn"}
#: TypeProto's oneof `value`: field number -> member name (what WhichOneof("value") says)
_TYPE_KINDS = {1: "tensor_type", 4: "sequence_type", 5: "map_type", 9: "optional_type", 8: "sparse_tensor_type",
               7: "opaque_type"}


def _merged(chunks: list[memoryview]) -> bytes | memoryview:
    """A singular message field that occurred several times: protobuf merges them, which is what
    parsing their concatenation does."""
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class _Value:
    """A ValueInfoProto: name, and its type as (oneof member, elem_type, dims or None)."""

    __slots__ = ("name", "kind", "elem", "dims")

    def __init__(self, data: bytes | memoryview) -> None:
        self.name = b""
        type_chunks: list[memoryview] = []
        for number, wire, value in fields(data):
            if number == 1 and wire == 2:
                self.name = bytes(value)  # type: ignore[arg-type]
            elif number == 2 and wire == 2:
                type_chunks.append(value)  # type: ignore[arg-type]
        self.kind: str | None = None
        self.elem = 0
        #: one (dim_value or None, dim_param or None) per dimension; None when the tensor has no shape
        self.dims: list[int | None] | None = None
        if type_chunks:
            self._read_type(_merged(type_chunks))

    def _read_type(self, data: bytes | memoryview) -> None:
        tensor_chunks: list[memoryview] = []
        for number, wire, value in fields(data):
            if number in _TYPE_KINDS and wire == 2:
                if number != 1 or self.kind != "tensor_type":
                    tensor_chunks = []  # another oneof member clears the previous one
                self.kind = _TYPE_KINDS[number]
                if number == 1:
                    tensor_chunks.append(value)  # type: ignore[arg-type]
        if self.kind != "tensor_type":
            return
        shape_chunks: list[memoryview] = []
        for number, wire, value in fields(_merged(tensor_chunks)):
            if number == 1 and wire == 0:
                elem = value & 0xFFFFFFFF  # type: ignore[operator]  # int32: protobuf keeps the low 32 bits
                self.elem = elem - (1 << 32) if elem >= 1 << 31 else elem
            elif number == 2 and wire == 2:
                shape_chunks.append(value)  # type: ignore[arg-type]
        if not shape_chunks:
            return
        self.dims = []
        for number, wire, value in fields(_merged(shape_chunks)):
            if number == 1 and wire == 2:
                dim: int | None = None  # oneof {dim_value, dim_param}: the last one set wins
                for dnumber, dwire, dvalue in fields(value):  # type: ignore[arg-type]
                    if dnumber == 1 and dwire == 0:
                        dim = signed64(dvalue)  # type: ignore[arg-type]
                    elif dnumber == 2 and dwire == 2:
                        dim = None
                self.dims.append(dim)


class _Attribute:
    """An AttributeProto: name, ints (packed or not) and strings; floats are checked, not kept."""

    __slots__ = ("name", "ints", "strings")

    def __init__(self, data: memoryview) -> None:
        self.name = b""
        self.ints: list[int] = []
        self.strings: list[bytes] = []
        for number, wire, value in fields(data):
            if number == 1 and wire == 2:
                self.name = bytes(value)  # type: ignore[arg-type]
            elif number == 8 and wire == 0:
                self.ints.append(signed64(value))  # type: ignore[arg-type]
            elif number == 8 and wire == 2:
                pos = 0
                while pos < len(value):  # type: ignore[arg-type]
                    item, pos = read_varint(value, pos)  # type: ignore[arg-type]
                    self.ints.append(signed64(item))
            elif number == 9 and wire == 2:
                self.strings.append(bytes(value))  # type: ignore[arg-type]
            elif number == 7 and wire == 2 and len(value) % 4:  # type: ignore[arg-type]
                raise WireError(f"packed floats of {len(value)} bytes, not a multiple of 4")  # type: ignore[arg-type]


class _Node:
    __slots__ = ("op_type", "attributes")

    def __init__(self, data: memoryview) -> None:
        self.op_type = b""
        self.attributes: list[_Attribute] = []
        for number, wire, value in fields(data):
            if number == 4 and wire == 2:
                self.op_type = bytes(value)  # type: ignore[arg-type]
            elif number == 5 and wire == 2:
                self.attributes.append(_Attribute(value))  # type: ignore[arg-type]


class _Graph:
    __slots__ = ("name", "nodes", "initializers", "inputs", "outputs")

    def __init__(self, data: bytes | memoryview) -> None:
        self.name = b""
        self.nodes: list[_Node] = []
        self.initializers: set[bytes] = set()
        self.inputs: list[_Value] = []
        self.outputs: list[_Value] = []
        for number, wire, value in fields(data):
            if wire != 2:
                continue
            if number == 1:
                self.nodes.append(_Node(value))  # type: ignore[arg-type]
            elif number == 2:
                self.name = bytes(value)  # type: ignore[arg-type]
            elif number == 5:  # TensorProto: only its name (field 8)
                name = b""
                for tnumber, twire, tvalue in fields(value):  # type: ignore[arg-type]
                    if tnumber == 8 and twire == 2:
                        name = bytes(tvalue)  # type: ignore[arg-type]
                self.initializers.add(name)
            elif number == 11:
                self.inputs.append(_Value(value))  # type: ignore[arg-type]
            elif number == 12:
                self.outputs.append(_Value(value))  # type: ignore[arg-type]


class _Model:
    """The parts of a ModelProto that `inspect` shows."""

    __slots__ = ("ir_version", "producer_name", "producer_version", "graph", "opsets", "props")

    def __init__(self, data: bytes | memoryview) -> None:
        self.ir_version = 0
        self.producer_name = b""
        self.producer_version = b""
        self.opsets: list[tuple[bytes, int]] = []
        self.props: list[tuple[bytes, bytes]] = []
        graph_chunks: list[memoryview] = []
        for number, wire, value in fields(data):
            if number == 1 and wire == 0:
                self.ir_version = signed64(value)  # type: ignore[arg-type]
            elif wire != 2:
                continue
            elif number == 2:
                self.producer_name = bytes(value)  # type: ignore[arg-type]
            elif number == 3:
                self.producer_version = bytes(value)  # type: ignore[arg-type]
            elif number == 7:
                graph_chunks.append(value)  # type: ignore[arg-type]
            elif number == 8:
                domain, version = b"", 0
                for onumber, owire, ovalue in fields(value):  # type: ignore[arg-type]
                    if onumber == 1 and owire == 2:
                        domain = bytes(ovalue)  # type: ignore[arg-type]
                    elif onumber == 2 and owire == 0:
                        version = signed64(ovalue)  # type: ignore[arg-type]
                self.opsets.append((domain, version))
            elif number == 14:
                key, text = b"", b""
                for pnumber, pwire, pvalue in fields(value):  # type: ignore[arg-type]
                    if pnumber == 1 and pwire == 2:
                        key = bytes(pvalue)  # type: ignore[arg-type]
                    elif pnumber == 2 and pwire == 2:
                        text = bytes(pvalue)  # type: ignore[arg-type]
                self.props.append((key, text))
        self.graph = _Graph(_merged(graph_chunks)) if graph_chunks else _Graph(b"")


def _read_model(path: Path) -> _Model:
    raw = read_model_bytes(path)
    try:
        model = _Model(raw)
    except WireError as exc:
        raise CorruptModel(str(path), f"{path.name}: an ONNX file that cannot be parsed ({exc}): "
                           "truncated or damaged", hint="export the model again") from None
    if not model.graph.nodes and not model.graph.outputs:
        raise CorruptModel(str(path), f"{path.name}: an ONNX file with an empty graph: truncated or damaged")
    return model


def _onnx_version() -> str | None:
    """The installed onnx package's version, read from its metadata (importing onnx takes ~1 s)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("onnx")
    except PackageNotFoundError:
        return None


def _value_spec(value: _Value, path: Path) -> TensorSpec:
    name = _str(value.name, path, "an input or output name")
    kind = value.kind
    if kind == "tensor_type":
        elem = value.elem
        if not elem:
            dtype = "float32"
        elif elem in _ELEM_DTYPES:
            dtype = _ELEM_DTYPES[elem]
        else:  # onnx's table has no such element type
            raise damaged(path, "ONNX", f"{name!r} has an unknown element type {elem}")
        shape: tuple[int | None, ...] | None = None
        if value.dims is not None:
            limits.NESTING.check(len(value.dims), source=f"{path.name}: the rank of {name!r}")
            shape = tuple(value.dims)
            if any(d is not None and d < 0 for d in shape):
                raise damaged(path, "ONNX", f"{name!r} has a negative dimension in its shape {list(shape)}")
        return TensorSpec(name, dtype, shape)
    if kind == "sequence_type":
        return TensorSpec(name, "object", (None,), description="sequence of maps (ZipMap)")
    return TensorSpec(name, "object", None, description=kind or "")


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


def _str(value: bytes, path: Path, what: str) -> str:
    """A proto2 string field: its bytes need not be UTF-8 (protobuf handed such a field back as `bytes`)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise damaged(path, "ONNX", f"{what} is not UTF-8 text ({value[:40]!r})") from None


def _text(data: bytes, path: Path, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise damaged(path, "ONNX", f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def inspect(path: Path, trust: bool) -> ModelInfo:
    model = _read_model(path)
    try:
        return _describe(model, path, _onnx_version())
    except UnicodeDecodeError as exc:
        raise damaged(path, "ONNX", f"a name or text field is not UTF-8 ({exc.reason} at byte {exc.start})") from None


def _describe(model: _Model, path: Path, onnx_version: str | None) -> ModelInfo:
    graph = model.graph
    inputs = [_value_spec(v, path) for v in graph.inputs if v.name not in graph.initializers]
    outputs = [_value_spec(v, path) for v in graph.outputs]
    ops = [_str(node.op_type, path, "an operator name") for node in graph.nodes]
    if onnx_takes_missing(ops):  # tree ensembles take NaN features (missing_value_tracks_true)
        inputs = [replace(s, accepts_missing=True) if s.dtype.startswith("float") else s for s in inputs]
    classes: list[Any] | None = None
    for node, op in zip(graph.nodes, ops):
        if op in _CLASSIFIER_OPS[:-1]:
            for attribute in node.attributes:
                name = _str(attribute.name, path, f"an attribute name of {op}")
                if name in ("classlabels_int64s", "classlabels_ints") and attribute.ints:
                    classes = list(attribute.ints)
                    limits.CLASSES.check(len(classes), source=f"{path.name}: class labels")
                elif name == "classlabels_strings" and attribute.strings:
                    classes = [_text(s, path, f"a class label of {op}") for s in attribute.strings]
    if classes is not None or any(op in _CLASSIFIER_OPS for op in ops):
        task = "classification"
    elif any(op in _REGRESSOR_OPS for op in ops) or [o.name for o in outputs] == ["variable"]:
        task = "regression"
    else:
        task = "other"
    props: dict[str, str] = {}
    for raw_key, raw_value in model.props:
        key = _str(raw_key, path, "a metadata key")
        props[key] = _str(raw_value, path, f"metadata {key!r}")
    if task == "other":  # a graph without classifier ops (a converted Keras model): what the source was
        task, classes = _workbench_facts(props, classes)
    warnings = []
    if "ZipMap" in ops:
        warnings.append("probabilities come out of a ZipMap (a list of dicts); the workbench converts "
                        "without ZipMap so probabilities are a plain tensor")
    opset = {_str(domain, path, "an opset domain") or "ai.onnx": version for domain, version in model.opsets}
    producer = _str(model.producer_name, path, "the producer name")
    producer_version = _str(model.producer_version, path, "the producer version")
    graph_name = _str(graph.name, path, "the graph name")
    metadata: dict[str, Any] = {
        "ir_version": model.ir_version,
        "opset": opset,
        "producer": producer, "producer_version": producer_version,
        "graph_name": graph_name, "node_count": len(graph.nodes), "operators": sorted(set(ops)),
        "metadata_props": props,
        "feature_count": feature_count(inputs), "onnx_version": onnx_version,
    }
    metadata.update(file_facts(path))
    return ModelInfo(path=str(path), format="onnx", framework=producer or "onnx",
                     framework_version=producer_version.removesuffix(" None").strip() or None, task=task, inputs=inputs,
                     outputs=outputs, classes=classes, metadata=metadata, warnings=warnings, loaded=True)


def load(path: Path, trust: bool) -> Any:
    return _load_proto(path)


FORMAT = ModelFormat(name="onnx", title="ONNX model", extensions=(".onnx", ".ort"), match=match,
                     inspect=inspect, load=load, priority=20, frameworks=("onnx",))
