"""Format `savedmodel`: a TensorFlow SavedModel folder, or a TF Serving base folder whose numeric
subfolders are versions. Signatures are read from saved_model.pb with a small protobuf reader, so
inspection needs no TensorFlow; running the model does (the `tensorflow` runtime)."""

from __future__ import annotations

import importlib.util
import json
import mmap
import os
import re
import stat
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.core import limits
from workbench.core.errors import CorruptModel, ModelFileError, UntrustedPickle
from workbench.core.formats.base import ModelFormat, Probe, one_load_at_a_time
from workbench.core.formats.common import file_facts
from workbench.core.formats.protowire import WireError, fields, message, signed64, text, varint
from workbench.core.types import ModelInfo, TensorSpec, feature_count

#: tensorflow.DataType enum -> numpy-style names (tensorflow/core/framework/types.proto)
TF_DTYPES = {1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string",
             8: "complex64", 9: "int64", 10: "bool", 14: "bfloat16", 17: "uint16", 19: "float16",
             22: "uint32", 23: "uint64"}
TF_DTYPE_NAMES = {1: "DT_FLOAT", 2: "DT_DOUBLE", 3: "DT_INT32", 4: "DT_UINT8", 5: "DT_INT16", 6: "DT_INT8",
                  7: "DT_STRING", 9: "DT_INT64", 10: "DT_BOOL", 14: "DT_BFLOAT16", 17: "DT_UINT16",
                  19: "DT_HALF", 22: "DT_UINT32", 23: "DT_UINT64"}
PB_NAMES = ("saved_model.pb", "saved_model.pbtxt")


def is_version_name(name: str) -> bool:
    """A TF Serving version folder name: ASCII digits only (str.isdigit also accepts '²' and '٣',
    which int() refuses or TF Serving ignores)."""
    return name.isascii() and name.isdigit()


def version_dirs(base: Path) -> list[Path]:
    """Numeric subfolders that hold a SavedModel, sorted by version number."""
    found = [p for p in base.iterdir() if is_version_name(p.name) and p.is_dir()
             and any((p / n).is_file() for n in PB_NAMES)]
    return sorted(found, key=lambda p: int(p.name))


def is_savedmodel_dir(path: Path) -> bool:
    return path.is_dir() and any((path / n).is_file() for n in PB_NAMES)


def match(probe: Probe) -> bool:
    if not probe.is_dir:
        return False
    if any(n in probe.names for n in PB_NAMES):
        return True
    return any(is_version_name(part) and rest in PB_NAMES
               for part, _, rest in (n.partition("/") for n in probe.names))


def resolve(path: Path) -> tuple[Path, list[int]]:
    """The SavedModel folder to read (the highest version of a base folder) and all versions."""
    if is_savedmodel_dir(path):
        return path, ([int(path.name)] if is_version_name(path.name) else [])
    versions = version_dirs(path)
    if not versions:
        raise ModelFileError(str(path), f"{path.name}: no saved_model.pb here nor in numeric version "
                             "subfolders", hint="point at a SavedModel folder or a TF Serving base folder")
    return versions[-1], [int(v.name) for v in versions]


def _tensor_info(data: memoryview) -> dict[str, Any]:
    info: dict[str, Any] = {"name": "", "dtype": 0, "shape": None}
    for number, wire, value in fields(data):
        if number == 1:
            info["name"] = text(number, wire, value)
        elif number == 2:
            info["dtype"] = varint(number, wire, value)
        elif number == 3:
            dims: list[int | None] = []
            unknown_rank = False
            for n2, w2, v2 in fields(message(number, wire, value)):
                if n2 == 2:
                    size = 0
                    for n3, w3, v3 in fields(message(n2, w2, v2)):
                        if n3 == 1:
                            size = signed64(varint(n3, w3, v3))
                    dims.append(None if size < 0 else size)
                elif n2 == 3:
                    unknown_rank = bool(varint(n2, w2, v2))
            info["shape"] = None if unknown_rank else tuple(dims)
    return info


def _map_entry(data: memoryview) -> tuple[str, memoryview]:
    key, val = "", memoryview(b"")
    for number, wire, value in fields(data):
        if number == 1:
            key = text(number, wire, value)
        elif number == 2:
            val = message(number, wire, value)
    return key, val


def _signature(data: memoryview) -> dict[str, Any]:
    sig: dict[str, Any] = {"inputs": {}, "outputs": {}, "method": ""}
    for number, wire, value in fields(data):
        if number in (1, 2):
            key, tinfo = _map_entry(message(number, wire, value))
            sig["inputs" if number == 1 else "outputs"][key] = _tensor_info(tinfo)
        elif number == 3:
            sig["method"] = text(number, wire, value)
    return sig


# ---- reading files of a model folder without following them out of it ----------------------------------

def open_regular(path: Path, root: Path) -> int:
    """A read-only descriptor of `path`, which must be a regular file inside `root`.

    A FIFO would block the reader forever, a link to /dev/zero would feed it forever, and a link out
    of the model folder reads what the model's author chose on the user's machine: all are refused
    with ModelFileError. The file is opened with O_NOFOLLOW|O_NONBLOCK and checked with fstat, so a
    swap between the check and the open changes nothing."""
    where = f"{root.name}/{path.relative_to(root)}" if path.is_relative_to(root) else str(path)
    real_root = os.path.realpath(root)
    if os.path.commonpath([real_root, os.path.realpath(path.parent)]) != real_root:
        raise ModelFileError(str(path), f"{where}: its folder is a link out of the model folder; not read")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if os.path.islink(path):
            raise ModelFileError(str(path), f"{where}: a symbolic link; model files are read only when they "
                                 "are regular files inside the model folder") from None
        raise ModelFileError(str(path), f"{where}: cannot be read ({exc.strerror})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        raise ModelFileError(str(path), f"{where}: {kind}, not a regular file; not read")
    return fd


def read_small_file(path: Path, root: Path, limit: limits.Limit = limits.METADATA_FILE_BYTES) -> bytes:
    """The bytes of a regular file inside `root`, at most `limit` of them (LimitExceeded beyond)."""
    fd = open_regular(path, root)
    try:
        limit.check(os.fstat(fd).st_size, source=f"{root.name}/{path.relative_to(root)}")
        chunks, total = [], 0
        while True:  # bounded even if the file grows while it is read
            chunk = os.read(fd, min(1 << 20, limit.value + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit.value:
                limit.check(total, source=f"{root.name}/{path.relative_to(root)}")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _map_pb(pb: Path) -> memoryview:
    """saved_model.pb mapped read-only (nothing is read until a field is used), size-checked."""
    fd = open_regular(pb, pb.parent)
    try:
        size = limits.MODEL_FILE_BYTES.check(os.fstat(fd).st_size, source=f"{pb.parent.name}/{pb.name}")
        if size == 0:
            return memoryview(b"")
        return memoryview(mmap.mmap(fd, 0, access=mmap.ACCESS_READ))
    finally:
        os.close(fd)


def _damaged(pb: Path, exc: Exception) -> CorruptModel:
    return CorruptModel(str(pb), f"{pb.parent.name}/{pb.name}: damaged SavedModel file: not a readable "
                        f"SavedModel protobuf ({exc})")


def read_saved_model_pb(pb: Path) -> list[dict[str, Any]]:
    """Meta graphs of a saved_model.pb: tags, TF version and signatures (without TensorFlow)."""
    data = _map_pb(pb)
    graphs = []
    try:
        for number, wire, value in fields(data):
            if number != 2:
                continue
            graph: dict[str, Any] = {"tags": [], "tensorflow_version": None, "signatures": {}}
            for n2, w2, v2 in fields(message(number, wire, value)):
                if n2 == 1:
                    for n3, w3, v3 in fields(message(n2, w2, v2)):
                        if n3 == 4:
                            graph["tags"].append(text(n3, w3, v3))
                        elif n3 == 5:
                            graph["tensorflow_version"] = text(n3, w3, v3)
                elif n2 == 5:
                    key, sig = _map_entry(message(n2, w2, v2))
                    graph["signatures"][key] = _signature(sig)
            graphs.append(graph)
    except WireError as exc:
        raise _damaged(pb, exc) from None
    if not graphs:
        raise CorruptModel(str(pb), f"{pb.parent.name}/{pb.name}: damaged SavedModel file: it holds no "
                           "MetaGraph (not a SavedModel)")
    return graphs


# ---- what loading would run ----------------------------------------------------------------------------

#: ops that read, write, list or delete files, run Python, or talk to the network
FILE_OPS = frozenset({
    "ReadFile", "WriteFile", "MatchingFiles", "DeleteFile", "FileExists", "ImmutableConst",
    "PyFunc", "PyFuncStateless", "EagerPyFunc",
    "InitializeTableFromTextFile", "InitializeTableFromTextFileV2", "GenerateVocabRemapping",
    "LoadAndRemapMatrix", "DecodeProtoV2", "EncodeProto",  # descriptor_source may name a file
    "DebugIdentity", "DebugIdentityV2", "DebugIdentityV3", "DebugNanCount", "DebugNumericSummary",
    "DebugNumericSummaryV2",  # debug_urls: file:// and grpc://
    "DatasetToTFRecord", "ExperimentalDatasetToTFRecord", "DistributedSave",
    "CreateSummaryFileWriter", "CreateSummaryDbWriter", "ImportEvent", "FlushSummaryWriter",
})
#: checkpoint ops: normal when fed the variables/ prefix by the loader, hostile on a constant path
_CHECKPOINT_OPS = frozenset({"SaveV2", "RestoreV2", "Save", "SaveSlices", "Restore", "RestoreSlice",
                             "MergeV2Checkpoints"})
_RISKY_PARTS = re.compile(r"Reader|Rpc|DataService|Summary.*Writer|Write.*Summary|Sql|LMDB|Socket|Grpc|Http")
_FILE_DATASET = re.compile(r"(Record|TextLine|CSV|File|Snapshot|Save|Load|Cache|Sql|LMDB|Matching).*Dataset")


def is_file_op(op: str) -> bool:
    """True for an op that touches files or the network (readers, writers, file datasets, RPC, PyFunc)."""
    return op in FILE_OPS or bool(_RISKY_PARTS.search(op)) or bool(_FILE_DATASET.search(op))


def _node(data: memoryview) -> tuple[str, str, list[str], dict[str, memoryview]]:
    """(name, op, inputs, attrs) of a NodeDef."""
    name, op, inputs, attrs = "", "", [], {}
    for number, wire, value in fields(data):
        if number == 1:
            name = text(number, wire, value)
        elif number == 2:
            op = text(number, wire, value)
        elif number == 3:
            inputs.append(text(number, wire, value))
        elif number == 5:
            key, val = _map_entry(message(number, wire, value))
            attrs[key] = val
    return name, op, inputs, attrs


def _const_strings(attrs: dict[str, memoryview]) -> list[str]:
    """The string values of a Const node (AttrValue.tensor -> TensorProto.string_val)."""
    found = []
    for number, wire, value in fields(attrs.get("value", memoryview(b""))):
        if number == 8:  # AttrValue.tensor
            for n2, w2, v2 in fields(message(number, wire, value)):
                if n2 == 8:  # TensorProto.string_val
                    found.append(bytes(message(n2, w2, v2)).decode(errors="replace"))
    return found


def _scope_ops(nodes: list[tuple[str, str, list[str], dict[str, memoryview]]]) -> list[str]:
    """Risky ops of one graph or function body: file/network ops, and checkpoint ops whose file
    name is a constant outside variables/ (the loader feeds the real ones the variables/ prefix)."""
    by_name = {name: (op, inputs, attrs) for name, op, inputs, attrs in nodes}
    found = []
    for _, op, inputs, _ in nodes:
        if is_file_op(op):
            found.append(op)
        elif op in _CHECKPOINT_OPS and inputs:
            source = inputs[0].lstrip("^").split(":")[0]
            seen = set()
            while source in by_name and by_name[source][0] == "Identity" and source not in seen:
                seen.add(source)
                source = by_name[source][1][0].lstrip("^").split(":")[0] if by_name[source][1] else ""
            if source in by_name and by_name[source][0] == "Const":
                paths = _const_strings(by_name[source][2])
                if any(not p.replace("\\", "/").lstrip("./").startswith("variables/") for p in paths):
                    found.append(f"{op} (on {', '.join(repr(p) for p in paths[:2])})")
    return found


def file_ops(model_dir: Path) -> list[str]:
    """Ops of the SavedModel's graphs and function library that touch files or the network, read
    from saved_model.pb without loading it: ['WriteFile', 'ReadFile (2)', ...]. Reading it never
    runs anything; CorruptModel when the protobuf is damaged."""
    pb = model_dir / "saved_model.pb"
    counts: Counter[str] = Counter()
    if not pb.is_file() and (model_dir / "saved_model.pbtxt").is_file():
        raw = read_small_file(model_dir / "saved_model.pbtxt", model_dir, limits.MODEL_FILE_BYTES)
        counts.update(op for op in re.findall(r'\bop:\s*"([A-Za-z0-9_>]+)"', raw.decode(errors="replace"))
                      if is_file_op(op))
        return _counted(counts)
    try:
        for _scope, nodes in graph_scopes(_map_pb(pb)):
            counts.update(_scope_ops(nodes))
    except WireError as exc:
        raise _damaged(pb, exc) from None
    return _counted(counts)


#: a graph node as `_node` reads it: (name, op, inputs, attrs)
NodeFields = tuple[str, str, list[str], dict[str, memoryview]]


def graph_scopes(data: memoryview, *, first_meta_graph_only: bool = False) -> Iterator[tuple[str, list[NodeFields]]]:
    """The node scopes of saved_model.pb's graphs: for each MetaGraphDef, ("", its GraphDef's nodes), then
    (function name, body nodes) for each function of its library ("function" when it has no name).
    Raises WireError on damage."""
    for number, wire, value in fields(data):
        if number != 2:  # SavedModel.meta_graphs
            continue
        for n2, w2, v2 in fields(message(number, wire, value)):
            if n2 != 2:  # MetaGraphDef.graph_def
                continue
            graph_nodes: list[NodeFields] = []
            functions: list[tuple[str, list[NodeFields]]] = []
            for n3, w3, v3 in fields(message(n2, w2, v2)):
                if n3 == 1:  # GraphDef.node
                    graph_nodes.append(_node(message(n3, w3, v3)))
                elif n3 == 2:  # GraphDef.library
                    for n4, w4, v4 in fields(message(n3, w3, v3)):
                        if n4 != 1:  # FunctionDefLibrary.function
                            continue
                        name, body = "", []
                        for n5, w5, v5 in fields(message(n4, w4, v4)):
                            if n5 == 1:  # FunctionDef.signature (OpDef) -> name
                                for n6, w6, v6 in fields(message(n5, w5, v5)):
                                    if n6 == 1:
                                        name = text(n6, w6, v6)
                            elif n5 == 3:  # FunctionDef.node_def
                                body.append(_node(message(n5, w5, v5)))
                        functions.append((name or "function", body))
            yield "", graph_nodes
            yield from functions
        if first_meta_graph_only:
            return


def _counted(counts: Counter[str]) -> list[str]:
    return [op if n == 1 else f"{op} ({n})" for op, n in sorted(counts.items())]


def untrusted_message(path: Path, ops: list[str] | None = None) -> str:
    """Why loading this SavedModel needs trust, naming the ops that touch files or the network."""
    from workbench.core.formats.sklearn_pickle import TRUST_HINT

    if ops is None:
        ops = file_ops(resolve(path)[0])
    listed = (f"; its graph holds ops that touch files or the network: {', '.join(ops)}" if ops
              else "; no op that touches files or the network was found in its graph")
    return (f"{path.name} is a TensorFlow SavedModel: loading it runs code from the file (its graph's "
            f"resource initializers){listed}; {TRUST_HINT}")


def check_trusted(path: Path, trust: bool) -> None:
    """UntrustedPickle (kind 'untrusted') unless `trust`: loading a SavedModel runs its initializers."""
    if not trust:
        raise UntrustedPickle(untrusted_message(path))


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
    recorded = _workbench_metadata(model_dir, warnings)
    ops = file_ops(model_dir)
    if ops:
        warnings.append("its graph holds ops that touch files or the network: " + ", ".join(ops)
                        + "; loading it (with trust) runs them")
    order = [a for a in (entry.get("alias") or entry.get("name") for entry in recorded.get("inputs", []))
             if isinstance(a, str)]
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
        "file_ops": ops,
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


METADATA_JSON = "assets.extra/workbench_model.json"


def _workbench_metadata(model_dir: Path, warnings: list[str] | None = None) -> dict[str, Any]:
    """What the workbench's own exports record beside the model (task, classes, column order).

    Read only when it is a regular file inside the model folder, at most METADATA_FILE_BYTES; anything
    else (a FIFO, a link to /dev/zero or out of the folder, damaged JSON) is ignored with a warning."""
    path = model_dir / METADATA_JSON
    if not os.path.lexists(path):
        return {}
    try:
        data = json.loads(read_small_file(path, model_dir))
    except (ModelFileError, limits.LimitExceeded) as exc:
        if warnings is not None:
            warnings.append(f"{METADATA_JSON} ignored: {exc}")
        return {}
    except (ValueError, RecursionError) as exc:
        if warnings is not None:
            warnings.append(f"{METADATA_JSON} ignored: not readable JSON ({type(exc).__name__})")
        return {}
    if not isinstance(data, dict):
        return {}
    for key, kind in (("inputs", list), ("classes", list), ("task", str)):
        if key in data and not isinstance(data[key], kind):
            data.pop(key)
    data["inputs"] = [e for e in data.get("inputs", []) if isinstance(e, dict)]
    return data


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
    check_trusted(path, trust)  # tf.saved_model.load runs the graph's initializers: code from the file
    import tensorflow as tf

    return tf.saved_model.load(str(model_dir))


FORMAT = ModelFormat(name="savedmodel", title="TensorFlow SavedModel folder", extensions=(), match=match,
                     inspect=inspect, load=load, is_folder=True, priority=10, frameworks=("tensorflow",),
                     runs_code=True)
