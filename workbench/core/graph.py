"""The graph of a model, read without loading or running it: nodes, ops, inputs, outputs, tensor shapes.

`read_graph(path)` reads an ONNX file (through onnx's protobuf reader), a Keras `.keras` file (its
config.json, never deserialized into layers) or a SavedModel (saved_model.pb through `protowire`,
without TensorFlow). Nothing the file names is imported or called, so no trust is needed. The
desktop app's Graph view shows the result; `ModelGraph.search` and `ModelGraph.layers` serve its
search box and its layered drawing.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.errors import CorruptModel, UnknownFormat

#: TensorFlow DataType enum -> name (the common ones; others are shown as "dtype N")
_TF_DTYPES = {1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string",
              8: "complex64", 9: "int64", 10: "bool", 14: "bfloat16", 17: "uint16", 19: "float16",
              20: "resource", 21: "variant", 22: "uint32", 23: "uint64"}
#: most nodes read per graph (a huge graph is cut, and says so in `notes`)
MAX_NODES = 20_000

Shape = tuple[int | str | None, ...] | None


@dataclass
class Tensor:
    """A named value flowing between nodes (or a weight, `initializer=True`)."""

    name: str
    dtype: str = ""
    shape: Shape = None
    initializer: bool = False

    def shape_text(self) -> str:
        if self.shape is None:
            return "?"
        return "[" + ", ".join("?" if d is None else str(d) for d in self.shape) + "]"


@dataclass
class Node:
    """One operation: its name, op type, the tensors it reads and writes, and a few attributes."""

    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)
    #: the function (SavedModel) or sub-graph the node belongs to; "" for the main graph
    scope: str = ""


@dataclass
class ModelGraph:
    """The graph of one model file."""

    path: str
    format: str
    nodes: list[Node]
    inputs: list[Tensor]
    outputs: list[Tensor]
    tensors: dict[str, Tensor] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def tensor(self, name: str) -> Tensor | None:
        return self.tensors.get(name)

    def ops(self) -> dict[str, int]:
        """How many nodes of each op type, most frequent first."""
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.op] = counts.get(node.op, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def search(self, text: str) -> list[Node]:
        """Nodes whose name, op, scope or an input/output tensor name contains `text` (case-insensitive)."""
        needle = text.strip().lower()
        if not needle:
            return list(self.nodes)
        return [n for n in self.nodes
                if needle in n.name.lower() or needle in n.op.lower() or needle in n.scope.lower()
                or any(needle in t.lower() for t in (*n.inputs, *n.outputs))]

    def layers(self, scope: str = "") -> list[list[Node]]:
        """The nodes of one scope in dependency layers: layer k holds nodes whose inputs come from layers
        before k (graph inputs and weights count as layer -1). Cycles, if any, go into the last layer."""
        nodes = [n for n in self.nodes if n.scope == scope]
        producer = {out: i for i, n in enumerate(nodes) for out in n.outputs}
        depth: dict[int, int] = {}
        for _ in range(len(nodes) + 1):
            changed = False
            for i, n in enumerate(nodes):
                deps = [producer[t] for t in n.inputs if t in producer and producer[t] != i]
                if all(d in depth for d in deps):
                    d = 1 + max((depth[d] for d in deps), default=-1)
                    if depth.get(i) != d:
                        depth[i] = d
                        changed = True
            if not changed:
                break
        last = max(depth.values(), default=-1) + 1
        out: list[list[Node]] = [[] for _ in range(last + (1 if len(depth) < len(nodes) else 0))]
        for i, n in enumerate(nodes):
            out[depth.get(i, last)].append(n)
        return [layer for layer in out if layer]


def read_graph(path: str | Path) -> ModelGraph:
    """The graph of the model at `path` (ONNX, Keras .keras, SavedModel folder), read without loading it."""
    p = Path(path)
    if p.is_dir() or p.name == "saved_model.pb":
        return _savedmodel(p if p.is_dir() else p.parent)
    if p.suffix.lower() == ".onnx":
        return _onnx(p)
    if p.suffix.lower() == ".keras" or zipfile.is_zipfile(p):
        return _keras(p)
    from workbench.core.detect import detect_format

    fmt = detect_format(p)
    if fmt == "onnx":
        return _onnx(p)
    raise UnknownFormat(str(p), f"{p.name}: no graph to show for a {fmt} model",
                        hint="the Graph view reads ONNX, Keras (.keras) and SavedModel files")


# -------------------------------------------------------------------------------------------- ONNX

def _onnx_attr(attr: Any) -> str:
    import onnx

    value = onnx.helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, list | tuple):
        items = [v.decode(errors="replace") if isinstance(v, bytes) else v for v in value]
        text = "[" + ", ".join(str(v) for v in items[:8]) + (", …" if len(items) > 8 else "") + "]"
    elif hasattr(value, "dims"):   # a TensorProto
        text = f"tensor {list(value.dims)}"
    elif hasattr(value, "node"):   # a sub-graph
        text = f"graph ({len(value.node)} nodes)"
    else:
        text = str(value)
    return text if len(text) <= 120 else text[:119] + "…"


def _onnx_value(value: Any) -> Tensor:
    import onnx

    kind = value.type.WhichOneof("value")
    if kind == "tensor_type":
        elem = value.type.tensor_type.elem_type
        try:
            dtype = "string" if elem == onnx.TensorProto.STRING else onnx.helper.tensor_dtype_to_np_dtype(elem).name
        except (KeyError, TypeError):
            dtype = f"elem {elem}"
        shape: Shape = None
        if value.type.tensor_type.HasField("shape"):
            shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                          for d in value.type.tensor_type.shape.dim)
        return Tensor(value.name, dtype, shape)
    return Tensor(value.name, (kind or "").replace("_type", ""), None)


def _onnx(path: Path) -> ModelGraph:
    from workbench.core.formats.onnx_format import _load_proto

    model = _load_proto(path)
    g = model.graph
    tensors: dict[str, Tensor] = {}
    for init in g.initializer:
        import onnx

        try:
            dtype = onnx.helper.tensor_dtype_to_np_dtype(init.data_type).name
        except (KeyError, TypeError):
            dtype = f"elem {init.data_type}"
        tensors[init.name] = Tensor(init.name, dtype, tuple(int(d) for d in init.dims), initializer=True)
    for value in (*g.value_info, *g.input, *g.output):
        tensors[value.name] = _onnx_value(value)
    inits = {i.name for i in g.initializer}
    nodes = [Node(n.name or f"{n.op_type}_{i}", n.op_type, [x for x in n.input if x], [x for x in n.output if x],
                  {a.name: _onnx_attr(a) for a in n.attribute}, scope=n.domain if n.domain not in ("", "ai.onnx") else "")
             for i, n in enumerate(g.node[:MAX_NODES])]
    for n in nodes:   # every domain in one scope: ai.onnx.ml nodes feed ai.onnx nodes
        n.scope = ""
    notes = list(dict.fromkeys(f"opset {o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import))
    if len(g.node) > MAX_NODES:
        notes.append(f"only the first {MAX_NODES:,} of {len(g.node):,} nodes are shown")
    inputs = [tensors[v.name] for v in g.input if v.name not in inits]
    outputs = [tensors[v.name] for v in g.output]
    return ModelGraph(str(path), "onnx", nodes, inputs, outputs, tensors, notes)


# ------------------------------------------------------------------------------------------- Keras

def _keras_shape(value: Any) -> Shape:
    if isinstance(value, list | tuple) and all(v is None or isinstance(v, int) for v in value):
        return tuple(value)
    return None


def _keras_history(arg: Any, found: list[tuple[str, Shape, str]]) -> None:
    """Collect (layer name, shape, dtype) of every keras tensor an inbound node's args name."""
    if isinstance(arg, dict):
        if arg.get("class_name") == "__keras_tensor__":
            cfg = arg.get("config", {})
            hist = cfg.get("keras_history") or []
            if hist:
                found.append((str(hist[0]), _keras_shape(cfg.get("shape")), str(cfg.get("dtype") or "")))
            return
        for v in arg.values():
            _keras_history(v, found)
    elif isinstance(arg, list | tuple):
        if len(arg) >= 3 and isinstance(arg[0], str) and isinstance(arg[1], int):   # Keras 2: [name, i, j, {}]
            found.append((arg[0], None, ""))
            return
        for v in arg:
            _keras_history(v, found)


def _keras(path: Path) -> ModelGraph:
    from workbench.core.formats.keras_format import _read_config

    config, _meta = _read_config(path)
    layers = list(config.get("config", {}).get("layers", [])) if isinstance(config.get("config"), dict) else []
    sequential = config.get("class_name") == "Sequential"
    nodes: list[Node] = []
    tensors: dict[str, Tensor] = {}
    inputs: list[Tensor] = []
    previous = ""
    for i, layer in enumerate(layers[:MAX_NODES]):
        if not isinstance(layer, dict):
            continue
        cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
        name = str(cfg.get("name") or layer.get("name") or f"layer_{i}")
        op = str(layer.get("class_name") or "?")
        found: list[tuple[str, Shape, str]] = []
        _keras_history(layer.get("inbound_nodes", []), found)
        ins = [f"{src}:out" for src, _s, _d in found]
        for (src, shape, dtype), t in zip(found, ins, strict=True):
            known = tensors.get(t)
            if known is None or known.shape is None:
                tensors[t] = Tensor(t, dtype, shape)
        if sequential and not ins and previous and op != "InputLayer":
            ins = [f"{previous}:out"]
        out = f"{name}:out"
        shape = _keras_shape(cfg.get("batch_shape") or cfg.get("batch_input_shape"))
        if op == "InputLayer":
            tensors[out] = Tensor(out, _keras_dtype(cfg.get("dtype")), shape)
            inputs.append(tensors[out])
        else:
            tensors.setdefault(out, Tensor(out, _keras_dtype(cfg.get("dtype")), None))
            seen = tensors[ins[0]].shape if ins and ins[0] in tensors else None
            if tensors[out].shape is None and seen and isinstance(cfg.get("units"), int):   # Dense-like
                tensors[out].shape = (*seen[:-1], cfg["units"])
        attrs = {k: _short(v) for k, v in cfg.items()
                 if k in ("units", "activation", "filters", "kernel_size", "strides", "padding", "rate", "axis",
                          "use_bias", "pool_size", "target_shape", "output_dim", "input_dim")}
        nodes.append(Node(name, op, ins, [out], attrs))
        previous = name
    if sequential and layers and not inputs:   # Sequential with build_config: its input shape
        shape = _keras_shape((config.get("build_config") or {}).get("input_shape"))
        if shape is not None and nodes:
            t = Tensor("input", "float32", shape)
            tensors["input"] = t
            nodes[0].inputs.insert(0, "input")
            inputs.append(t)
    output_names = _keras_outputs(config.get("config", {}).get("output_layers"))
    outputs = [tensors[f"{n}:out"] for n in output_names if f"{n}:out" in tensors] or \
        ([tensors[nodes[-1].outputs[0]]] if nodes else [])
    # a layer's output shape is the shape its consumers saw it with (Keras 3 writes it there)
    return ModelGraph(str(path), "keras", nodes, inputs, outputs, tensors,
                      [f"{len(nodes)} layers ({config.get('class_name', '?')})"])


def _keras_outputs(spec: Any) -> list[str]:
    if not isinstance(spec, list):
        return []
    if len(spec) >= 1 and isinstance(spec[0], str):
        return [spec[0]]
    return [s[0] for s in spec if isinstance(s, list) and s and isinstance(s[0], str)]


def _keras_dtype(value: Any) -> str:
    if isinstance(value, dict):
        return str((value.get("config") or {}).get("name") or "")
    return str(value or "")


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"


# -------------------------------------------------------------------------------------- SavedModel

def _tf_shape(data: memoryview) -> Shape:
    from workbench.core.formats.protowire import fields, message, signed64

    dims: list[int | None] = []
    for number, wire, value in fields(data):
        if number == 3 and value:   # unknown_rank
            return None
        if number == 2:
            size = None
            for n2, _w2, v2 in fields(message(number, wire, value)):
                if n2 == 1:
                    size = signed64(v2)   # type: ignore[arg-type]
            dims.append(None if size is None or size < 0 else size)
    return tuple(dims)


def _tf_attrs(attrs: dict[str, memoryview]) -> tuple[str, list[Shape], dict[str, str]]:
    """(dtype, output shapes, readable attributes) of a NodeDef's attr map."""
    from workbench.core.formats.protowire import fields, message

    dtype, shapes, shown = "", [], {}
    for key, raw in attrs.items():
        for number, wire, value in fields(raw):
            if number == 6 and key in ("dtype", "T"):   # AttrValue.type
                dtype = _TF_DTYPES.get(int(value), f"dtype {value}")   # type: ignore[arg-type]
                shown[key] = dtype
            elif number == 7 and key == "shape":      # AttrValue.shape
                shown[key] = Tensor("", shape=_tf_shape(message(number, wire, value))).shape_text()
            elif number == 1 and key == "_output_shapes":   # AttrValue.list -> ListValue.shape
                shapes = [_tf_shape(message(n2, w2, v2)) for n2, w2, v2 in fields(message(number, wire, value))
                          if n2 == 7]
            elif number == 5 and not key.startswith("_"):   # AttrValue.b
                shown[key] = str(bool(value))
            elif number == 3 and not key.startswith("_") and isinstance(value, int):   # AttrValue.i
                shown[key] = str(value)
            elif number == 10 and key == "f":   # AttrValue.func -> NameAttrList.name
                for n2, w2, v2 in fields(message(number, wire, value)):
                    if n2 == 1:
                        shown[key] = bytes(message(n2, w2, v2)).decode(errors="replace")
    return dtype, shapes, shown


def _tf_node(name: str, op: str, inputs: list[str], attrs: dict[str, memoryview], scope: str,
             tensors: dict[str, Tensor]) -> Node:
    dtype, shapes, shown = _tf_attrs(attrs)
    outputs = [name if k == 0 else f"{name}:{k}" for k in range(max(1, len(shapes)))]
    for out, shape in zip(outputs, shapes or [None], strict=False):
        tensors[f"{scope}/{out}" if scope else out] = Tensor(out, dtype, shape)
    data_inputs = [i for i in inputs if not i.startswith("^")]
    return Node(name, op, [i[:-2] if i.endswith(":0") else i for i in data_inputs], outputs, shown, scope)


def _savedmodel(model_dir: Path) -> ModelGraph:
    from workbench.core.formats.protowire import WireError
    from workbench.core.formats.savedmodel import _map_pb, graph_scopes, read_saved_model_pb, resolve

    try:
        model_dir, _versions = resolve(model_dir)
    except Exception:   # noqa: BLE001 - a folder that is the SavedModel itself
        pass
    pb = model_dir / "saved_model.pb"
    if not pb.is_file():
        raise UnknownFormat(str(model_dir), f"{model_dir.name}: no saved_model.pb to read a graph from")
    nodes: list[Node] = []
    tensors: dict[str, Tensor] = {}
    notes: list[str] = []
    try:
        for scope, body in graph_scopes(_map_pb(pb), first_meta_graph_only=True):
            # the first MetaGraph: the "serve" one in every SavedModel the workbench reads
            for item in body[: max(0, MAX_NODES - len(nodes))]:
                nodes.append(_tf_node(*item, scope, tensors))
    except WireError as exc:
        raise CorruptModel(str(pb), f"{model_dir.name}/saved_model.pb: damaged SavedModel file ({exc})") from None
    if len(nodes) >= MAX_NODES:
        notes.append(f"only the first {MAX_NODES:,} nodes are shown")
    inputs: list[Tensor] = []
    outputs: list[Tensor] = []
    graphs = read_saved_model_pb(pb)
    sigs = graphs[0]["signatures"] if graphs else {}
    sig = sigs.get("serving_default") or next(iter(sigs.values()), None)
    if sig is not None:
        for alias, info in sig.get("inputs", {}).items():
            inputs.append(_sig_tensor(alias, info))
        for alias, info in sig.get("outputs", {}).items():
            outputs.append(_sig_tensor(alias, info))
        notes.append(f"signatures: {', '.join(sigs)}")
    scopes = sorted({n.scope for n in nodes if n.scope})
    if scopes:
        notes.append(f"{len(scopes)} functions")
    return ModelGraph(str(model_dir), "savedmodel", nodes, inputs, outputs, tensors, notes)


def _sig_tensor(alias: str, info: dict[str, Any]) -> Tensor:
    shape = info.get("shape")
    dtype = info.get("dtype")
    return Tensor(f"{alias} ({info.get('name', '')})", _TF_DTYPES.get(dtype, str(dtype or "")) if isinstance(dtype, int)
                  else str(dtype or ""), tuple(shape) if shape is not None else None)
