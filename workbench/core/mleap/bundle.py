"""Read an MLeap Bundle.ML (a zip, a `jar:file:` path to one, or a folder) into an `MleapBundle`.

Layout (MLeap's bundle-ml): `bundle.json` (uid, name, format "json" | "protobuf", version, timestamp), then
`root/` with the root node's model file and node file. Model and node files are `model.json` / `node.json`
in the JSON serialization and `model.pb` / `node.pb` in the protobuf one (bundle.json itself is always
JSON). A pipeline's model lists its child nodes in the `nodes` attribute; each child lives in
`<pipeline folder>/<child>.node/`. Tree models keep their nodes in `tree.json` (one JSON object a line) or
`tree.pb` (int32 big-endian length + a `ml.bundle.dtree.Node` message, repeated), depth-first; forests
and boosted trees name their trees in the `trees` attribute, each a folder `<node>.node/<tree>/` with its
own model file and tree file.

Attribute values are MLeap's typed values (ml.bundle.Value: a Scalar, a List or a Tensor, field numbers
from MLeap's bundle.proto), decoded to Python / numpy:

- scalars: `boolean` -> bool; `byte`/`short`/`int`/`long` -> int; `float`/`double` -> float; `string` -> str;
  `byte_string` -> bytes; `basic_type` -> its name ("double"...); `data_shape` -> dict; `model` -> dict
  {"op", "attributes"}; a nested `tensor` -> numpy array. A scalar with no value set (MLeap omits default
  values: 0, 0.0, false, "") decodes to 0.
- lists: Python lists of those.
- tensors: numpy arrays of the base type (bool, int8, int16, int32, int64, float32, float64, object for
  strings / byte strings) reshaped to the declared dimensions (protobuf values are big-endian, strings are
  int32-length-prefixed, as MLeap's ArraySerializer writes them).
- a tree file becomes the attribute `tree`: a dict of flat arrays in depth-first order (node 0 is the
  root), like scikit-learn's `tree_`: `left`, `right` (child indices, -1 at leaves), `feature` (-1 at
  leaves), `threshold` (NaN at leaves and categorical splits), `split` ("continuous" | "categorical" |
  "leaf"), `categories` (the categorical split's category values, else None), `is_left` (a categorical
  split sends the listed categories left), `values` (a leaf's values: class counts / the prediction,
  else None) and `impurities`.
- the trees named by `trees` become the node's `children` (MleapNode, op from their model file, no ports).
- an `xgboost.*` node's booster file `xgboost.model` (in its folder) becomes the bytes of its attribute
  `xgboost.model`.

Everything is hostile: every file is read bounded (limits.METADATA_FILE_BYTES for bundle.json and node
files, limits.MODEL_FILE_BYTES for model, tree and booster files), zip members are checked for size and
compression ratio before anything is read, member and node names that would leave the bundle (`..`,
absolute names, symlinks out of a folder bundle) are refused, and every problem is one line:
`<name>: damaged MLeap bundle: <what>` (CorruptModel).
"""

from __future__ import annotations

import base64
import binascii
import json
import lzma
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from workbench.core import limits
from workbench.core.errors import CorruptModel, ModelFileError, WorkbenchError
from workbench.core.formats import protowire as pw
from workbench.core.mleap.model import MleapBundle, MleapNode, Port

JAR_PREFIX = "jar:file:"
#: a zip member is checked for its compression ratio when it inflates beyond this
RATIO_FLOOR = 1 << 20
#: most nodes (pipeline stages and trees) one bundle may hold
MAX_NODES = 100_000
#: the file MLeap's xgboost ops write the Booster to, inside the node's folder (and the attribute it is read into)
BOOSTER_FILE = "xgboost.model"
SERIALIZATIONS = {"json": ("model.json", "node.json", "tree.json"), "protobuf": ("model.pb", "node.pb", "tree.pb")}
#: ml.bundle.BasicType (bundle.proto: UNDEFINED = 0, BOOLEAN = 1 ... DOUBLE = 7, STRING = 100, BYTE_STRING = 101)
BASIC_TYPES = {0: "undefined", 1: "boolean", 2: "byte", 3: "short", 4: "int", 5: "long", 6: "float", 7: "double",
               100: "string", 101: "byte_string"}
#: big-endian numpy dtypes of fixed-width tensor bases (Java's ByteBuffer order)
_WIRE_DTYPES = {"boolean": ">u1", "byte": ">i1", "short": ">i2", "int": ">i4", "long": ">i8", "float": ">f4",
                "double": ">f8"}
_NATIVE_DTYPES = {"boolean": np.bool_, "byte": np.int8, "short": np.int16, "int": np.int32, "long": np.int64,
                  "float": np.float32, "double": np.float64}
_JSON_KEYS = ("boolean", "byte", "short", "int", "long", "float", "double", "string", "byte_string", "tensor",
              "basic_type", "data_shape", "model")
_DATA_SHAPES = {0: "scalar", 1: "list", 2: "tensor"}
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, EOFError, OSError,
               RuntimeError, NotImplementedError, ValueError, KeyError)


class BundleError(CorruptModel):
    """A damaged or hostile bundle: `<name>: damaged MLeap bundle: <what>`."""


def bundle_path(path: str | os.PathLike[str]) -> Path:
    """The file or folder a user's path names: `jar:file:/x/model.zip` (also with `jar:file://`, a trailing
    `!/`) is `/x/model.zip`."""
    text = os.fspath(path)
    if text.startswith(JAR_PREFIX):
        text = text[len(JAR_PREFIX):]
        if text.startswith("//"):
            text = "/" + text.lstrip("/")
        text = text.split("!", 1)[0] if "!" in text else text
    return Path(text)


def _damaged(path: Path, what: str) -> BundleError:
    return BundleError(str(path), f"{path.name or path}: damaged MLeap bundle: {what}")


# ---- sources: a zip or a folder, read bounded ------------------------------------------------------------

def _safe_parts(name: str) -> tuple[str, ...] | None:
    """The parts of a relative bundle path, or None when it is absolute or climbs out (`..`)."""
    if not name or name.startswith(("/", "\\")) or "\\" in name or "\x00" in name or (len(name) > 1 and name[1] == ":"):
        return None
    parts = tuple(p for p in PurePosixPath(name).parts if p not in ("", "."))
    if any(p == ".." for p in parts):
        return None
    return parts


class _ZipSource:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.zf = zipfile.ZipFile(path)
            infos = self.zf.infolist()
        except _ZIP_ERRORS as exc:
            raise _damaged(path, f"the zip cannot be read ({type(exc).__name__}: {exc})") from None
        total = 0
        self.members: dict[str, zipfile.ZipInfo] = {}
        self.dirs: set[str] = set()
        for info in infos:
            parts = _safe_parts(info.filename.rstrip("/") if info.is_dir() else info.filename)
            if parts is None:
                raise _damaged(path, f"member {info.filename[:120]!r} escapes the bundle (absolute or '..')")
            if info.external_attr >> 16 and stat.S_ISLNK(info.external_attr >> 16):
                raise _damaged(path, f"member {info.filename[:120]!r} is a symbolic link")
            where = f"{path.name}: {info.filename[:120]}"
            limits.DECOMPRESSED_BYTES.check(info.file_size, source=where)
            total = limits.DECOMPRESSED_BYTES.check(total + info.file_size, source=f"{path.name}: all members")
            if info.file_size > RATIO_FLOOR:
                limits.COMPRESSION_RATIO.check(info.file_size // max(info.compress_size, 1), source=where)
            key = "/".join(parts)
            for i in range(1, len(parts)):
                self.dirs.add("/".join(parts[:i]))
            if info.is_dir():
                self.dirs.add(key)
            else:
                self.members[key] = info
        # a zip of the bundle's folder: everything under one top folder
        self.prefix = ""
        if "bundle.json" not in self.members:
            tops = [n[: -len("/bundle.json")] for n in self.members if n.endswith("/bundle.json") and n.count("/") == 1]
            if len(tops) == 1:
                self.prefix = tops[0] + "/"

    def close(self) -> None:
        self.zf.close()

    def is_file(self, rel: str) -> bool:
        return self.prefix + rel in self.members

    def is_dir(self, rel: str) -> bool:
        return self.prefix + rel in self.dirs

    def read(self, rel: str, limit: limits.Limit) -> bytes:
        info = self.members.get(self.prefix + rel)
        if info is None:
            raise _damaged(self.path, f"{rel} is missing")
        limit.check(info.file_size, source=f"{self.path.name}: {rel}")
        try:
            with self.zf.open(info) as fh:
                data = fh.read(limit.value + 1)
        except _ZIP_ERRORS as exc:
            raise _damaged(self.path, f"{rel} cannot be read ({type(exc).__name__}: {exc})") from None
        limit.check(len(data), source=f"{self.path.name}: {rel}")
        return data


class _DirSource:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.root = path.resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            raise ModelFileError(str(path), f"{path}: cannot be read ({exc})") from None
        self.prefix = ""

    def close(self) -> None:
        pass

    def _resolve(self, rel: str) -> Path | None:
        """The real path of `rel` inside the bundle; an error when it (or a link on the way) leaves it."""
        parts = _safe_parts(rel)
        if parts is None:
            raise _damaged(self.path, f"{rel[:120]!r} escapes the bundle")
        target = self.root.joinpath(*parts)
        try:
            real = target.resolve(strict=True)
        except FileNotFoundError:
            return None
        except (OSError, RuntimeError) as exc:  # a link loop
            raise _damaged(self.path, f"{rel} cannot be resolved ({type(exc).__name__})") from None
        if not real.is_relative_to(self.root):
            raise _damaged(self.path, f"{rel} is a symbolic link out of the bundle")
        return real

    def is_file(self, rel: str) -> bool:
        real = self._resolve(rel)
        return real is not None and real.is_file()

    def is_dir(self, rel: str) -> bool:
        real = self._resolve(rel)
        return real is not None and real.is_dir()

    def read(self, rel: str, limit: limits.Limit) -> bytes:
        real = self._resolve(rel)
        if real is None:
            raise _damaged(self.path, f"{rel} is missing")
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(real, flags)
        except OSError as exc:
            raise _damaged(self.path, f"{rel} cannot be read ({exc.strerror or exc})") from None
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise _damaged(self.path, f"{rel} is not a regular file")
            limit.check(st.st_size, source=f"{self.path.name}: {rel}")
            data = fh.read(limit.value + 1)
        limit.check(len(data), source=f"{self.path.name}: {rel}")
        return data


def _open_source(path: Path) -> _ZipSource | _DirSource:
    if path.is_dir():
        return _DirSource(path)
    if not path.exists():
        raise ModelFileError(str(path), f"{path}: no such file or folder")
    if not path.is_file():
        raise ModelFileError(str(path), f"{path}: not a regular file (a FIFO, socket or device), not a model")
    return _ZipSource(path)


# ---- reading ---------------------------------------------------------------------------------------------

def read_bundle(path: str | os.PathLike[str]) -> MleapBundle:
    """The bundle at `path` (a zip, `jar:file:/x/model.zip`, or a folder), its pipeline flattened into
    execution order and every attribute decoded. Raises CorruptModel for a damaged or hostile bundle,
    LimitExceeded for one over a limit, ModelFileError for a missing path."""
    target = bundle_path(path)
    source = _open_source(target)
    try:
        return _Reader(target, source).read()
    finally:
        source.close()


class _Reader:
    def __init__(self, path: Path, source: _ZipSource | _DirSource) -> None:
        self.path = path
        self.src = source
        self.count = 0
        self.files: tuple[str, str, str] = SERIALIZATIONS["json"]
        self.serialization = "json"

    def fail(self, what: str) -> BundleError:
        return _damaged(self.path, what)

    def read(self) -> MleapBundle:
        if not self.src.is_file("bundle.json"):
            raise self.fail("bundle.json is missing (an MLeap bundle has bundle.json and root/)")
        header = self.json("bundle.json", limits.METADATA_FILE_BYTES)
        if not isinstance(header, dict):
            raise self.fail(f"bundle.json holds a {type(header).__name__}, not an object")
        fmt = header.get("format", "json")
        if isinstance(fmt, str) and fmt.lower() in ("mixed",):
            fmt = "json"
        if fmt not in SERIALIZATIONS:
            raise self.fail(f"bundle.json names an unknown serialization {str(fmt)[:40]!r} "
                            "(MLeap writes 'json' or 'protobuf')")
        self.serialization = fmt
        self.files = SERIALIZATIONS[fmt]
        if not self.src.is_dir("root") and not self.src.is_file(f"root/{self.files[0]}"):
            raise self.fail("root/ is missing (the bundle's root node)")
        root = self.node("root", depth=1, name_hint=str(header.get("name") or "root"))
        nodes = tuple(self.flatten(root))
        version = header.get("version")
        return MleapBundle(path=self.path, name=str(header.get("name") or root.name),
                           serialization=fmt, mleap_version=str(version) if version is not None else "",
                           nodes=nodes, header=header)

    # -- files --
    def json(self, rel: str, limit: limits.Limit) -> Any:
        data = self.src.read(rel, limit)
        try:
            return json.loads(data)
        except RecursionError:
            raise self.fail(f"{rel} is nested too deeply") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise self.fail(f"{rel} is not valid JSON ({str(exc)[:120]})") from None

    def model_file(self, folder: str) -> tuple[str, dict[str, Any]]:
        rel = f"{folder}/{self.files[0]}"
        if not self.src.is_file(rel):
            other = [f for f in ("model.json", "model.pb") if f != self.files[0] and self.src.is_file(f"{folder}/{f}")]
            extra = f" (it holds {other[0]}: bundle.json says '{self.serialization}')" if other else ""
            raise self.fail(f"{rel} is missing{extra}")
        try:
            if self.serialization == "json":
                model = self.json(rel, limits.MODEL_FILE_BYTES)
                if not isinstance(model, dict):
                    raise ValueError(f"a {type(model).__name__}, not an object")
                op, attrs = _json_model(model, 1)
            else:
                op, attrs = _pb_model(self.src.read(rel, limits.MODEL_FILE_BYTES), 1)
        except WorkbenchError:
            raise
        except RecursionError:
            raise self.fail(f"{rel} is nested too deeply") from None
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError, struct.error, binascii.Error,
                UnicodeDecodeError) as exc:
            raise self.fail(f"{rel}: {str(exc)[:200]}") from None
        if not op:
            raise self.fail(f"{rel} names no op")
        return op, attrs

    def node_file(self, folder: str) -> tuple[str | None, tuple[Port, ...], tuple[Port, ...]]:
        rel = f"{folder}/{self.files[1]}"
        if not self.src.is_file(rel):
            raise self.fail(f"{rel} is missing")
        try:
            if self.serialization == "json":
                node = self.json(rel, limits.METADATA_FILE_BYTES)
                if not isinstance(node, dict):
                    raise ValueError(f"a {type(node).__name__}, not an object")
                name = node.get("name")
                shape = node.get("shape") or {}
                if not isinstance(shape, dict):
                    raise ValueError("its shape is not an object")
                ins = tuple(_json_port(p) for p in shape.get("inputs") or [])
                outs = tuple(_json_port(p) for p in shape.get("outputs") or [])
            else:
                name, ins, outs = _pb_node(self.src.read(rel, limits.METADATA_FILE_BYTES))
        except WorkbenchError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError) as exc:
            raise self.fail(f"{rel}: {str(exc)[:200]}") from None
        return (str(name) if name is not None else None), ins, outs

    # -- nodes --
    def counted(self) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(f"more than {MAX_NODES} nodes")

    def node(self, folder: str, *, depth: int, name_hint: str) -> MleapNode:
        limits.NESTING.check(depth, source=f"{self.path.name}: {folder}")
        self.counted()
        op, attrs = self.model_file(folder)
        name, ins, outs = self.node_file(folder)
        self.tree_into(folder, attrs)
        self.booster_into(folder, op, attrs)
        children: list[MleapNode] = []
        if op == "pipeline":
            names = attrs.get("nodes", [])
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise self.fail(f"{folder}/{self.files[0]}: the pipeline's 'nodes' is not a list of names")
            for child in names:
                child_folder = f"{folder}/{self.child_name(folder, child)}.node"
                if not self.src.is_dir(child_folder) and not self.src.is_file(f"{child_folder}/{self.files[0]}"):
                    raise self.fail(f"node {child[:80]!r} is listed in {folder}/{self.files[0]} but "
                                    f"{child_folder}/ is missing")
                children.append(self.node(child_folder, depth=depth + 1, name_hint=child))
        else:
            trees = attrs.get("trees")
            if isinstance(trees, list) and all(isinstance(t, str) for t in trees):
                for tree in trees:
                    tree_folder = f"{folder}/{self.child_name(folder, tree)}"
                    if not self.src.is_dir(tree_folder) and not self.src.is_file(f"{tree_folder}/{self.files[0]}"):
                        raise self.fail(f"tree {tree[:80]!r} is listed in {folder}/{self.files[0]} but "
                                        f"{tree_folder}/ is missing")
                    self.counted()
                    tree_op, tree_attrs = self.model_file(tree_folder)
                    self.tree_into(tree_folder, tree_attrs)
                    children.append(MleapNode(name=tree, op=tree_op, inputs=(), outputs=(), attributes=tree_attrs,
                                              folder=tree_folder))
        return MleapNode(name=name or name_hint, op=op, inputs=ins, outputs=outs, attributes=attrs,
                         children=tuple(children), folder=folder)

    def child_name(self, folder: str, name: str) -> str:
        if _safe_parts(name) is None or "/" in name or name in ("", ".", ".."):
            raise self.fail(f"{folder}/{self.files[0]} names a node {name[:80]!r} outside its folder")
        return name

    def tree_into(self, folder: str, attrs: dict[str, Any]) -> None:
        rel = f"{folder}/{self.files[2]}"
        if not self.src.is_file(rel):
            return
        data = self.src.read(rel, limits.MODEL_FILE_BYTES)
        try:
            records = _json_tree_records(data) if self.serialization == "json" else _pb_tree_records(data)
            attrs["tree"] = _flat_tree(records)
        except WorkbenchError:
            raise
        except RecursionError:
            raise self.fail(f"{rel} is nested too deeply") from None
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError, UnicodeDecodeError) as exc:
            raise self.fail(f"{rel}: {str(exc)[:200]}") from None

    def booster_into(self, folder: str, op: str, attrs: dict[str, Any]) -> None:
        """An XGBoost node's booster: MLeap's xgboost ops (mleap-xgboost-runtime XGBoostClassificationOp /
        XGBoostRegressionOp) write `Booster.saveModel` to the file `xgboost.model` in the node's folder, next
        to model.json/node.json. Its bytes (XGBoost's binary, UBJSON or JSON model) go under the attribute
        `xgboost.model`, read bounded by limits.MODEL_FILE_BYTES like every model file; a folder bundle's
        file must be a regular file inside the bundle, a zip's member passed the checks of _ZipSource."""
        if not op.startswith("xgboost."):
            return
        rel = f"{folder}/{BOOSTER_FILE}"
        if self.src.is_dir(rel):
            raise self.fail(f"{rel} is a folder, not the booster file")
        if not self.src.is_file(rel):
            if attrs.get(BOOSTER_FILE) is None and attrs.get("booster") is None:
                raise self.fail(f"{rel} is missing: the {op} node {folder!r} holds no booster "
                                f"(MLeap writes it as {BOOSTER_FILE} in the node's folder)")
            return
        data = self.src.read(rel, limits.MODEL_FILE_BYTES)
        if not data:
            raise self.fail(f"{rel} is empty: no booster")
        attrs[BOOSTER_FILE] = data

    def flatten(self, node: MleapNode) -> Iterator[MleapNode]:
        """Pipelines dissolve into their stages, in order; other nodes stay whole (trees stay children)."""
        stack = [node]
        while stack:
            current = stack.pop()
            if current.op == "pipeline":
                stack.extend(reversed(current.children))
            else:
                yield current


# ---- JSON values -----------------------------------------------------------------------------------------

def _json_port(port: Any) -> Port:
    if not isinstance(port, dict) or not isinstance(port.get("name"), str):
        raise ValueError(f"a socket that is not {{'name', 'port'}}: {str(port)[:80]}")
    return Port(port=str(port.get("port", "")), name=port["name"])


def _json_model(model: dict[str, Any], depth: int) -> tuple[str, dict[str, Any]]:
    limits.NESTING.check(depth, source="MLeap model")
    op = model.get("op")
    if op is not None and not isinstance(op, str):
        raise ValueError("its op is not a string")
    attributes = model.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise ValueError("its attributes are not an object")
    return op or "", {str(k): _json_value(v, depth + 1, str(k)) for k, v in attributes.items()}


def _json_value(value: Any, depth: int, name: str) -> Any:
    limits.NESTING.check(depth, source="MLeap attribute")
    if not isinstance(value, dict):
        raise ValueError(f"attribute {name!r} is not an MLeap value object")
    kind = value.get("type")
    if kind == "tensor":
        return _json_tensor(value, name)
    if kind == "list":
        key = next((k for k in _JSON_KEYS if k in value), None)
        if key is None:
            return []
        items = value[key]
        if not isinstance(items, list):
            raise ValueError(f"attribute {name!r}: its list is not an array")
        limits.ARRAY_ELEMENTS.check(len(items), source=f"attribute {name}")
        return [_json_scalar(key, item, depth + 1, name) for item in items]
    if kind is not None:
        raise ValueError(f"attribute {name!r} has an unknown type {str(kind)[:30]!r}")
    key = next((k for k in _JSON_KEYS if k in value), None)
    if key is None:
        return 0  # MLeap writes no key for a default value (0, 0.0, false, "")
    return _json_scalar(key, value[key], depth + 1, name)


def _json_scalar(key: str, item: Any, depth: int, name: str) -> Any:
    if key == "boolean":
        if not isinstance(item, bool):
            raise ValueError(f"attribute {name!r}: {str(item)[:30]} is not a boolean")
        return item
    if key in ("byte", "short", "int", "long"):
        if isinstance(item, bool) or not isinstance(item, int | float) or (isinstance(item, float) and not item.is_integer()):
            raise ValueError(f"attribute {name!r}: {str(item)[:30]} is not an integer")
        return int(item)
    if key in ("float", "double"):
        if item in ("NaN", "Infinity", "-Infinity"):
            return float(item.replace("Infinity", "inf"))
        if isinstance(item, bool) or not isinstance(item, int | float):
            raise ValueError(f"attribute {name!r}: {str(item)[:30]} is not a number")
        return float(item)
    if key == "string":
        if not isinstance(item, str):
            raise ValueError(f"attribute {name!r}: {str(item)[:30]} is not a string")
        return item
    if key == "byte_string":
        if not isinstance(item, str):
            raise ValueError(f"attribute {name!r}: a byte string that is not base64 text")
        return base64.b64decode(item, validate=True)
    if key == "basic_type":
        if item not in BASIC_TYPES.values():
            raise ValueError(f"attribute {name!r}: unknown basic type {str(item)[:30]!r}")
        return item
    if key == "tensor":
        if not isinstance(item, dict):
            raise ValueError(f"attribute {name!r}: a tensor that is not an object")
        return _json_tensor(item, name)
    if key == "data_shape":
        return _json_data_shape(item, name)
    if key == "model":
        if not isinstance(item, dict):
            raise ValueError(f"attribute {name!r}: a model that is not an object")
        op, attrs = _json_model(item, depth + 1)
        return {"op": op, "attributes": attrs}
    raise ValueError(f"attribute {name!r}: unknown value kind {key!r}")


def _dims_of(shape: Any, name: str) -> list[int]:
    if shape is None:
        return []
    if not isinstance(shape, dict) or not isinstance(shape.get("dimensions", []), list):
        raise ValueError(f"attribute {name!r}: a tensor shape that is not {{'dimensions': [...]}}")
    dims = []
    for dim in shape.get("dimensions", []):
        size = dim.get("size", 0) if isinstance(dim, dict) else dim
        if isinstance(size, bool) or not isinstance(size, int):
            raise ValueError(f"attribute {name!r}: a tensor dimension that is not an integer")
        dims.append(size)
    return dims


def _json_tensor(value: dict[str, Any], name: str) -> np.ndarray:
    base = next((k for k in ("boolean", "byte", "short", "int", "long", "float", "double", "string", "byte_string")
                 if k in value), None)
    if base is None:
        raise ValueError(f"attribute {name!r}: a tensor without values")
    items = value[base]
    if not isinstance(items, list):
        raise ValueError(f"attribute {name!r}: the tensor's values are not an array")
    limits.ARRAY_ELEMENTS.check(len(items), source=f"attribute {name}")
    values = [_json_scalar(base, v, 0, name) for v in items]
    if base in ("string", "byte_string"):
        array = np.empty(len(values), dtype=object)
        array[:] = values
    else:
        array = np.asarray(values, dtype=_NATIVE_DTYPES[base]) if values else np.zeros(0, _NATIVE_DTYPES[base])
    return _shaped(array, _dims_of(value.get("shape"), name), name)


def _shaped(array: np.ndarray, dims: list[int], name: str) -> np.ndarray:
    if not dims:
        return array
    if any(d < 0 for d in dims):
        known = int(np.prod([d for d in dims if d >= 0])) if any(d >= 0 for d in dims) else 1
        if dims.count(-1) == 1 and all(d >= -1 for d in dims) and known and array.size % known == 0:
            return array.reshape(dims)
        raise ValueError(f"attribute {name!r}: tensor dimensions {dims} do not fit {array.size} values")
    count = 1
    for d in dims:
        count *= d
        limits.ARRAY_ELEMENTS.check(count, source=f"attribute {name}")
    if count != array.size:
        raise ValueError(f"attribute {name!r}: tensor dimensions {dims} do not fit {array.size} values")
    return array.reshape(dims)


def _json_data_shape(item: Any, name: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ValueError(f"attribute {name!r}: a data shape that is not an object")
    base = item.get("base", "scalar")
    if base not in _DATA_SHAPES.values():
        raise ValueError(f"attribute {name!r}: unknown data shape {str(base)[:30]!r}")
    tensor_shape = item.get("tensorShape", item.get("tensor_shape"))
    dims = _dims_of(tensor_shape, name) if tensor_shape is not None else None
    return {"base": base, "is_nullable": bool(item.get("isNullable", item.get("is_nullable", False))),
            "tensor_shape": dims}


# ---- protobuf values (ml.bundle, bundle.proto) -----------------------------------------------------------

def _pb_node(data: bytes) -> tuple[str | None, tuple[Port, ...], tuple[Port, ...]]:
    name: str | None = None
    ins: list[Port] = []
    outs: list[Port] = []
    for number, wire, value in pw.fields(data):
        if number == 1:
            name = pw.text(number, wire, value)
        elif number == 2:
            for n2, w2, v2 in pw.fields(pw.message(number, wire, value)):
                if n2 in (1, 2):
                    port, field_name = "", ""
                    for n3, w3, v3 in pw.fields(pw.message(n2, w2, v2)):
                        if n3 == 1:
                            port = pw.text(n3, w3, v3)
                        elif n3 == 2:
                            field_name = pw.text(n3, w3, v3)
                    (ins if n2 == 1 else outs).append(Port(port=port, name=field_name))
    return name, tuple(ins), tuple(outs)


def _pb_model(data: bytes | memoryview, depth: int) -> tuple[str, dict[str, Any]]:
    limits.NESTING.check(depth, source="MLeap model")
    op = ""
    attrs: dict[str, Any] = {}
    for number, wire, value in pw.fields(data):
        if number == 1:
            op = pw.text(number, wire, value)
        elif number == 2:  # Attributes { map<string, Value> list = 1; }
            for n2, w2, v2 in pw.fields(pw.message(number, wire, value)):
                if n2 != 1:
                    continue
                key, raw = "", None
                for n3, w3, v3 in pw.fields(pw.message(n2, w2, v2)):
                    if n3 == 1:
                        key = pw.text(n3, w3, v3)
                    elif n3 == 2:
                        raw = pw.message(n3, w3, v3)
                attrs[key] = _pb_value(raw, depth + 1, key) if raw is not None else 0
    return op, attrs


def _pb_value(data: memoryview, depth: int, name: str) -> Any:
    limits.NESTING.check(depth, source="MLeap attribute")
    result: Any = 0
    for number, wire, value in pw.fields(data):
        if number == 1:
            result = _pb_scalar(pw.message(number, wire, value), depth + 1, name)
        elif number == 2:
            result = _pb_list(pw.message(number, wire, value), depth + 1, name)
        elif number == 3:
            result = _pb_tensor(pw.message(number, wire, value), name)
    return result


def _int32(value: int) -> int:
    value = pw.signed64(value)
    return (value + (1 << 31)) % (1 << 32) - (1 << 31)


def _pb_scalar(data: memoryview, depth: int, name: str) -> Any:
    result: Any = 0
    for number, wire, value in pw.fields(data):
        if number == 1:
            result = bool(pw.varint(number, wire, value))
        elif number == 2:
            result = pw.text(number, wire, value)
        elif number == 3:
            result = _int32(pw.varint(number, wire, value))
        elif number == 4:
            result = pw.signed64(pw.varint(number, wire, value))
        elif number == 5:
            result = float(_fixed(number, wire, value, 5, "<f"))
        elif number == 6:
            result = float(_fixed(number, wire, value, 1, "<d"))
        elif number == 7:
            result = bytes(pw.message(number, wire, value))
        elif number == 8:
            result = _pb_tensor(pw.message(number, wire, value), name)
        elif number == 9:
            result = _basic_type(pw.varint(number, wire, value))
        elif number == 10:
            result = _pb_data_shape(pw.message(number, wire, value))
        elif number == 11:
            op, attrs = _pb_model(pw.message(number, wire, value), depth + 1)
            result = {"op": op, "attributes": attrs}
    return result


def _fixed(number: int, wire: int, value: int | memoryview, expected: int, fmt: str) -> float:
    if wire != expected or not isinstance(value, int):
        raise pw.WireError(f"field {number} has wire type {wire} where a fixed-width number belongs")
    return struct.unpack(fmt, value.to_bytes(4 if expected == 5 else 8, "little"))[0]


def _packed(number: int, wire: int, value: int | memoryview, kind: str) -> list[Any]:
    """A repeated scalar field's values, packed (one length-delimited run) or not (one value)."""
    if wire == 2 and kind in ("varint", "f32", "f64"):
        raw = pw.message(number, wire, value)
        if kind == "f32":
            if len(raw) % 4:
                raise pw.WireError(f"packed floats of field {number} are {len(raw)} bytes")
            return np.frombuffer(raw, dtype="<f4").astype(float).tolist()
        if kind == "f64":
            if len(raw) % 8:
                raise pw.WireError(f"packed doubles of field {number} are {len(raw)} bytes")
            return np.frombuffer(raw, dtype="<f8").tolist()
        out, pos = [], 0
        while pos < len(raw):
            item, pos = pw.read_varint(raw, pos)
            out.append(item)
        return out
    if kind == "varint":
        return [pw.varint(number, wire, value)]
    return [_fixed(number, wire, value, 5 if kind == "f32" else 1, "<f" if kind == "f32" else "<d")]


def _pb_list(data: memoryview, depth: int, name: str) -> list[Any]:
    items: list[Any] = []
    for number, wire, value in pw.fields(data):
        if number == 1:
            items.extend(bool(v) for v in _packed(number, wire, value, "varint"))
        elif number == 2:
            items.append(pw.text(number, wire, value))
        elif number == 3:
            items.extend(_int32(v) for v in _packed(number, wire, value, "varint"))
        elif number == 4:
            items.extend(pw.signed64(v) for v in _packed(number, wire, value, "varint"))
        elif number == 5:
            items.extend(_packed(number, wire, value, "f32"))
        elif number == 6:
            items.extend(_packed(number, wire, value, "f64"))
        elif number == 7:
            items.append(bytes(pw.message(number, wire, value)))
        elif number == 8:
            items.append(_pb_tensor(pw.message(number, wire, value), name))
        elif number == 9:
            items.extend(_basic_type(v) for v in _packed(number, wire, value, "varint"))
        elif number == 10:
            items.append(_pb_data_shape(pw.message(number, wire, value)))
        elif number == 11:
            op, attrs = _pb_model(pw.message(number, wire, value), depth + 1)
            items.append({"op": op, "attributes": attrs})
        limits.ARRAY_ELEMENTS.check(len(items), source=f"attribute {name}")
    return items


def _basic_type(code: int) -> str:
    if code not in BASIC_TYPES:
        raise pw.WireError(f"unknown basic type {code}")
    return BASIC_TYPES[code]


def _pb_dims(data: memoryview) -> list[int]:
    dims = []
    for number, wire, value in pw.fields(data):
        if number == 1:
            size = 0
            for n2, w2, v2 in pw.fields(pw.message(number, wire, value)):
                if n2 == 1:
                    size = _int32(pw.varint(n2, w2, v2))
            dims.append(size)
    return dims


def _pb_data_shape(data: memoryview) -> dict[str, Any]:
    base, nullable, dims = "scalar", False, None
    for number, wire, value in pw.fields(data):
        if number == 1:
            code = pw.varint(number, wire, value)
            if code not in _DATA_SHAPES:
                raise pw.WireError(f"unknown data shape {code}")
            base = _DATA_SHAPES[code]
        elif number == 2:
            nullable = bool(pw.varint(number, wire, value))
        elif number == 3:
            dims = _pb_dims(pw.message(number, wire, value))
    return {"base": base, "is_nullable": nullable, "tensor_shape": dims}


def _pb_tensor(data: memoryview, name: str) -> np.ndarray:
    base, dims, raw = "undefined", [], memoryview(b"")
    for number, wire, value in pw.fields(data):
        if number == 1:
            base = _basic_type(pw.varint(number, wire, value))
        elif number == 2:
            dims = _pb_dims(pw.message(number, wire, value))
        elif number == 3:
            raw = pw.message(number, wire, value)
    return _shaped(tensor_from_bytes(base, bytes(raw), name), dims, name)


def tensor_from_bytes(base: str, raw: bytes, name: str = "tensor") -> np.ndarray:
    """A tensor's values from MLeap's byte layout (big-endian numbers, int32-length-prefixed strings)."""
    if base in _WIRE_DTYPES:
        wire = np.dtype(_WIRE_DTYPES[base])
        if len(raw) % wire.itemsize:
            raise ValueError(f"attribute {name!r}: {len(raw)} bytes are not a whole number of {base} values")
        values = np.frombuffer(raw, dtype=wire)
        return values.astype(bool) if base == "boolean" else values.astype(_NATIVE_DTYPES[base])
    if base in ("string", "byte_string"):
        items: list[Any] = []
        pos = 0
        while pos < len(raw):
            if pos + 4 > len(raw):
                raise ValueError(f"attribute {name!r}: a truncated string length")
            size = int.from_bytes(raw[pos:pos + 4], "big", signed=True)
            pos += 4
            if size < 0 or size > len(raw) - pos:
                raise ValueError(f"attribute {name!r}: a string declares {size} bytes, {len(raw) - pos} are left")
            chunk = raw[pos:pos + size]
            items.append(chunk.decode("utf-8") if base == "string" else chunk)
            pos += size
        array = np.empty(len(items), dtype=object)
        array[:] = items
        return array
    raise ValueError(f"attribute {name!r}: a tensor of basic type {base!r}")


# ---- trees (ml.bundle.dtree) -----------------------------------------------------------------------------

def _json_tree_records(data: bytes) -> list[dict[str, Any]]:
    records = []
    for line in data.decode("utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if not isinstance(record, dict):
            raise ValueError("a tree node that is not an object")
        kind = record.get("type")
        if kind == "leaf":
            records.append({"kind": "leaf", "values": _floats(record.get("values", [])),
                            "impurities": _floats(record.get("impurities", []))})
        elif kind == "internal":
            split = record.get("split")
            if not isinstance(split, dict):
                raise ValueError("an internal tree node without a split")
            feature = split.get("featureIndex", split.get("feature_index", 0))
            if isinstance(feature, bool) or not isinstance(feature, int) or feature < 0:
                raise ValueError(f"a split on feature {str(feature)[:20]}")
            if split.get("type") == "continuous":
                threshold = split.get("threshold", 0.0)
                if isinstance(threshold, bool) or not isinstance(threshold, int | float):
                    raise ValueError("a split threshold that is not a number")
                records.append({"kind": "continuous", "feature": feature, "threshold": float(threshold)})
            elif split.get("type") == "categorical":
                records.append({"kind": "categorical", "feature": feature,
                                "is_left": bool(split.get("isLeft", split.get("is_left", False))),
                                "categories": _floats(split.get("categories", []))})
            else:
                raise ValueError(f"a split of unknown type {str(split.get('type'))[:30]!r}")
        else:
            raise ValueError(f"a tree node of unknown type {str(kind)[:30]!r}")
        limits.ARRAY_ELEMENTS.check(len(records), source="tree nodes")
    return records


def _floats(items: Any) -> list[float]:
    if not isinstance(items, list) or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
        raise ValueError("tree values that are not a list of numbers")
    return [float(v) for v in items]


def _pb_tree_records(data: bytes) -> list[dict[str, Any]]:
    records = []
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise ValueError("a truncated tree node length")
        size = int.from_bytes(data[pos:pos + 4], "big", signed=True)
        pos += 4
        if size < 0 or size > len(data) - pos:
            raise ValueError(f"a tree node declares {size} bytes, {len(data) - pos} are left")
        records.append(_pb_tree_node(memoryview(data)[pos:pos + size]))
        pos += size
        limits.ARRAY_ELEMENTS.check(len(records), source="tree nodes")
    return records


def _pb_tree_node(data: memoryview) -> dict[str, Any]:
    record: dict[str, Any] | None = None
    for number, wire, value in pw.fields(data):
        if number == 1:  # InternalNode { Split split = 1; }
            for n2, w2, v2 in pw.fields(pw.message(number, wire, value)):
                if n2 == 1:
                    record = _pb_split(pw.message(n2, w2, v2))
        elif number == 2:  # LeafNode { repeated double values = 1; repeated double impurities = 2; }
            values: list[float] = []
            impurities: list[float] = []
            for n2, w2, v2 in pw.fields(pw.message(number, wire, value)):
                if n2 == 1:
                    values.extend(_packed(n2, w2, v2, "f64"))
                elif n2 == 2:
                    impurities.extend(_packed(n2, w2, v2, "f64"))
            record = {"kind": "leaf", "values": values, "impurities": impurities}
    if record is None:
        raise ValueError("a tree node that is neither internal nor a leaf")
    return record


def _pb_split(data: memoryview) -> dict[str, Any]:
    for number, wire, value in pw.fields(data):
        if number == 1:  # CategoricalSplit
            out: dict[str, Any] = {"kind": "categorical", "feature": 0, "is_left": False, "categories": []}
            for n2, w2, v2 in pw.fields(pw.message(number, wire, value)):
                if n2 == 1:
                    out["feature"] = pw.varint(n2, w2, v2)
                elif n2 == 2:
                    out["is_left"] = bool(pw.varint(n2, w2, v2))
                elif n2 == 4:
                    out["categories"].extend(_packed(n2, w2, v2, "f64"))
            return out
        if number == 2:  # ContinuousSplit
            out = {"kind": "continuous", "feature": 0, "threshold": 0.0}
            for n2, w2, v2 in pw.fields(pw.message(number, wire, value)):
                if n2 == 1:
                    out["feature"] = pw.varint(n2, w2, v2)
                elif n2 == 2:
                    out["threshold"] = float(_fixed(n2, w2, v2, 1, "<d"))
            return out
    raise ValueError("a split that is neither categorical nor continuous")


def _flat_tree(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Depth-first records (an internal node, then its left subtree, then its right one) as flat arrays;
    built with an explicit stack, so a degenerate deep tree needs no recursion."""
    n = len(records)
    if n == 0:
        raise ValueError("an empty tree")
    left = np.full(n, -1, dtype=np.int64)
    right = np.full(n, -1, dtype=np.int64)
    feature = np.full(n, -1, dtype=np.int64)
    threshold = np.full(n, np.nan)
    split: list[str] = []
    categories: list[list[float] | None] = []
    is_left = np.zeros(n, dtype=bool)
    values: list[list[float] | None] = []
    impurities: list[list[float] | None] = []
    pending: list[tuple[int, int]] = []  # (parent, 0 left / 1 right) still waiting for a child
    for index, record in enumerate(records):
        if index:
            if not pending:
                raise ValueError(f"{n - index} tree nodes after the tree is complete")
            parent, side = pending.pop()
            (left if side == 0 else right)[parent] = index
        kind = record["kind"]
        split.append(kind)
        if kind == "leaf":
            categories.append(None)
            values.append(record["values"])
            impurities.append(record.get("impurities") or None)
            continue
        feature[index] = int(record["feature"])
        if kind == "continuous":
            threshold[index] = record["threshold"]
            categories.append(None)
        else:
            categories.append(record["categories"])
            is_left[index] = record["is_left"]
        values.append(None)
        impurities.append(None)
        pending.append((index, 1))
        pending.append((index, 0))
    if pending:
        raise ValueError(f"the tree ends with {len(pending)} children missing")
    return {"left": left, "right": right, "feature": feature, "threshold": threshold, "split": split,
            "categories": categories, "is_left": is_left, "values": values, "impurities": impurities}
