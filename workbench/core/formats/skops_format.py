"""Format `skops`: a skops.io zip (schema.json + arrays). Loads through skops' trusted-types
mechanism: types skops trusts by default load without the user's trust; others are listed."""

from __future__ import annotations

import io
import json
import lzma
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core import limits
from workbench.core.errors import CorruptModel, UntrustedPickle, WorkbenchError
from workbench.core.formats import sklearn_introspect as ski
from workbench.core.formats.base import ModelFormat, Probe, one_load_at_a_time
from workbench.core.formats.common import damaged, file_facts
from workbench.core.types import ModelInfo

#: what reading a damaged zip raises besides BadZipFile (bad deflate data, an unknown compression
#: method, an encrypted member, a short member)
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, EOFError, OSError,
               RuntimeError, NotImplementedError, ValueError, KeyError)
#: the compression ratio is checked for members that inflate beyond this (a small member of zeros may
#: legitimately compress a thousandfold)
RATIO_FLOOR = 1 << 20


def match(probe: Probe) -> bool:
    return not probe.is_dir and "schema.json" in probe.names and not any(
        n in probe.names for n in ("config.json", "metadata.json"))


def check_archive(path: Path) -> None:
    """Refuse a skops zip whose members would inflate beyond the limits (DECOMPRESSED_BYTES in all,
    COMPRESSION_RATIO each), or whose .npy members declare more array data than they hold, before skops
    reads anything: skops reads every member whole (zipfile stops a member at its declared size)."""
    try:
        with zipfile.ZipFile(path) as zf:
            _check_members(zf, path, "", nested=False)
    except WorkbenchError:
        raise
    except _ZIP_ERRORS as exc:
        raise damaged(path, "skops", f"the zip cannot be read ({type(exc).__name__}: {exc})") from None


def _check_members(zf: zipfile.ZipFile, path: Path, prefix: str, *, nested: bool) -> None:
    total = 0
    for info in zf.infolist():
        where = f"{path.name}: {prefix}{info.filename}"
        limits.DECOMPRESSED_BYTES.check(info.file_size, source=where)
        total = limits.DECOMPRESSED_BYTES.check(total + info.file_size, source=f"{path.name}: all members")
        if info.file_size > RATIO_FLOOR:
            ratio = info.file_size // max(info.compress_size, 1)
            limits.COMPRESSION_RATIO.check(ratio, source=where)
        if info.filename.endswith(".npy"):
            with zf.open(info) as fh:
                _check_npy(fh, info.file_size, path, prefix + info.filename)
        elif info.filename.endswith(".npz") and not nested:  # a scipy sparse matrix: a zip in the zip
            with zipfile.ZipFile(io.BytesIO(zf.read(info))) as inner:
                _check_members(inner, path, f"{info.filename}/", nested=True)


def _check_npy(fh: Any, size: int, path: Path, name: str) -> None:
    """An .npy member must hold the bytes its header declares (numpy allocates the declared shape
    before it reads)."""
    from numpy.lib import format as npy

    try:
        version = npy.read_magic(fh)
        shape, _, dtype = (npy.read_array_header_1_0(fh) if version == (1, 0) else npy.read_array_header_2_0(fh))
        header_end = fh.tell()
    except (ValueError, TypeError, SyntaxError, OverflowError, tokenize.TokenError, EOFError, KeyError,
            RecursionError, MemoryError) as exc:  # numpy reads the header dict with tokenize + literal_eval
        raise damaged(path, "skops", f"array {name} has a bad .npy header ({type(exc).__name__}: {exc})") from None
    if dtype.hasobject:
        raise damaged(path, "skops", f"array {name} holds Python objects (skops never writes those)")
    count = 1
    for dim in shape:
        count *= int(dim)
    limits.ARRAY_ELEMENTS.check(count, source=f"{path.name}: {name}")
    if count * dtype.itemsize != size - header_end:
        raise damaged(path, "skops", f"array {name} declares {count} x {dtype.itemsize} bytes but holds "
                      f"{size - header_end}")


@one_load_at_a_time
def untrusted_types(path: Path) -> list[str]:
    import skops.io as sio

    check_archive(path)
    try:
        return list(sio.get_untrusted_types(file=path))
    except WorkbenchError:
        raise
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, ValueError) as exc:
        raise CorruptModel(str(path), f"{path.name}: a skops file that cannot be read ({exc})") from None
    except (MemoryError, RecursionError) as exc:
        raise damaged(path, "skops", f"skops cannot read its schema ({type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - skops' own reading of a schema it did not write
        raise damaged(path, "skops", f"skops cannot read its schema ({type(exc).__name__}: {exc})") from None


@one_load_at_a_time
def load(path: Path, trust: bool) -> Any:
    import skops.io as sio

    untrusted = untrusted_types(path)
    if untrusted and not trust:
        raise UntrustedPickle(f"{path.name} contains types skops does not trust by default: "
                              f"{', '.join(untrusted)}; pass --trust to load it if you trust the file")
    try:
        return sio.load(path, trusted=untrusted or None)
    except WorkbenchError:
        raise
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, ValueError) as exc:
        raise CorruptModel(str(path), f"{path.name}: skops cannot load it ({exc})") from None
    except RecursionError:
        raise damaged(path, "skops", "skops cannot load it (RecursionError: nested too deeply)") from None
    except Exception as exc:  # noqa: BLE001 - skops rebuilding objects from a schema it did not write
        raise damaged(path, "skops", f"skops cannot load it ({type(exc).__name__}: {exc})") from None


def _schema_root(path: Path) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(path) as zf:
            schema = json.loads(zf.read("schema.json"))
    except _ZIP_ERRORS + (RecursionError,) as exc:
        raise damaged(path, "skops", f"schema.json cannot be read ({type(exc).__name__}: {exc})") from None
    if not isinstance(schema, dict):
        raise damaged(path, "skops", f"schema.json holds a {type(schema).__name__}, not an object")
    return schema


def inspect(path: Path, trust: bool) -> ModelInfo:
    untrusted = untrusted_types(path)
    warnings: list[str] = []
    schema = _schema_root(path)
    if untrusted and not trust:
        warnings.append("not loaded: it contains types skops does not trust by default: " + ", ".join(untrusted)
                        + "; inspected from its schema only (pass --trust to load it if you trust the file)")
        cls = f"{schema.get('__module__', '')}.{schema.get('__class__', '')}"
        metadata: dict[str, Any] = {"estimator": cls, "untrusted_types": untrusted,
                                    "skops_protocol": schema.get("protocol")}
        try:
            root = schema_tree(path, schema)
            inputs, input_warnings = ski.input_specs(root)
            task, outputs, classes = ski.task_of(root), ski.output_specs(root), ski.classes_of(root)
            framework = ski.framework_of(root)
            metadata.update({"estimator": ski.qualified_name(ski.final_estimator(root)),
                             "model_class": cls, "steps": ski.describe_steps(root), "feature_count": len(inputs),
                             "sklearn_version": ski.sklearn_version(root)})
        except WorkbenchError:
            raise
        except RecursionError:
            raise damaged(path, "skops", "schema.json is nested too deeply") from None
        except Exception as exc:  # noqa: BLE001 -- a schema skops did not write: the file is damaged
            raise damaged(path, "skops", f"its schema cannot be described ({type(exc).__name__}: {exc})") from None
        metadata.update(file_facts(path))
        return ModelInfo(path=str(path), format="skops", framework=framework,
                         framework_version=_sklearn_version_in_schema(schema), task=task, inputs=inputs,
                         outputs=outputs, classes=classes, metadata=metadata,
                         warnings=warnings + input_warnings, loaded=False)
    model = load(path, trust)
    inputs, input_warnings = ski.input_specs(model)
    metadata = {"estimator": ski.qualified_name(ski.final_estimator(model)), "steps": ski.describe_steps(model),
                "feature_count": len(inputs), "untrusted_types": untrusted, "skops_protocol": schema.get("protocol"),
                "sklearn_version": ski.sklearn_version(model)}
    metadata.update(file_facts(path))
    return ModelInfo(path=str(path), format="skops", framework=ski.framework_of(model),
                     framework_version=_sklearn_version_in_schema(schema),
                     task=ski.task_of(model), inputs=inputs, outputs=ski.output_specs(model),
                     classes=ski.classes_of(model), metadata=metadata, warnings=warnings + input_warnings,
                     loaded=True)


#: most nodes of a schema read without loading (a fitted pipeline has a few thousand)
MAX_SCHEMA_NODES = 2_000_000


def schema_tree(path: Path, schema: dict[str, Any]) -> Any:
    """The object tree schema.json describes, rebuilt inertly, as the pickle scanner does for pickles:
    objects become `Stub`s (class and module names, their attributes as state), JSON values their
    values, arrays numpy arrays (.npy members read with allow_pickle=False, within the bounds
    `check_archive` has checked). Nothing the schema names is imported or called."""
    from numpy.lib import format as npy

    from workbench.core.formats.pickle_scan import _make_stub_class

    memo: dict[Any, Any] = {}
    count = [0]
    classes: dict[tuple[str, str], type] = {}

    with zipfile.ZipFile(path) as zf:
        members = set(zf.namelist())

        def array_member(name: Any) -> Any:
            if not isinstance(name, str) or name not in members or not name.endswith(".npy"):
                raise ValueError(f"an array member {str(name)[:60]!r} that is not in the file")
            with zf.open(name) as fh:
                return npy.read_array(fh, allow_pickle=False)

        def build(node: Any, depth: int) -> Any:
            limits.NESTING.check(depth, source=f"{path.name}: schema.json")
            count[0] += 1
            if count[0] > MAX_SCHEMA_NODES:
                raise ValueError(f"schema.json has more than {MAX_SCHEMA_NODES} nodes")
            if not isinstance(node, dict):
                return node
            loader = node.get("__loader__")
            key = node.get("__id__")
            if loader == "CachedNode":
                return memo.get(key)
            content = node.get("content")
            if loader == "JsonNode":
                value = json.loads(content) if isinstance(content, str) else content
            elif loader == "DictNode":
                value = {str(k): build(v, depth + 1) for k, v in (content or {}).items()} \
                    if isinstance(content, dict) else {}
            elif loader == "ListNode":
                value = [build(v, depth + 1) for v in content] if isinstance(content, list) else []
            elif loader == "TupleNode":
                value = tuple(build(v, depth + 1) for v in content) if isinstance(content, list) else ()
            elif loader == "NdArrayNode":
                if node.get("type") == "numpy":
                    value = array_member(node.get("file"))
                else:
                    items = [build(v, depth + 1) for v in content] if isinstance(content, list) else []
                    limits.ARRAY_ELEMENTS.check(len(items), source=f"{path.name}: schema.json")
                    value = np.empty(len(items), dtype=object)
                    value[:] = items
            elif loader == "SliceNode" and isinstance(content, dict):
                parts = [build(content.get(k), depth + 1) for k in ("start", "stop", "step")]
                value = slice(*[p if isinstance(p, int) or p is None else None for p in parts])
            elif loader == "TypeNode":
                value = f"{node.get('__module__', '')}.{node.get('__class__', '')}"
            else:  # ObjectNode and every other object (functions, losses, generators): an inert stub
                module, name = str(node.get("__module__", "")), str(node.get("__class__", ""))
                cls = classes.setdefault((module, name), _make_stub_class(module, name))
                value = cls()
                if loader == "ObjectNode" and isinstance(content, dict):
                    state = build(content, depth + 1)
                    value.__setstate__(state if isinstance(state, dict) else None)
            if key is not None:
                memo[key] = value
            return value

        return build(schema, 1)


def _sklearn_version_in_schema(schema: dict[str, Any]) -> str | None:
    """skops keeps the estimator's pickled state as JSON; `_sklearn_version` sits in its content."""
    content = schema.get("content", {})
    state = content.get("content", {}) if isinstance(content, dict) else {}
    version = state.get("_sklearn_version") if isinstance(state, dict) else None
    if isinstance(version, dict):
        version = version.get("content")
    if isinstance(version, str) and version.startswith('"'):
        try:
            version = json.loads(version)  # skops stores JSON-encoded strings
        except ValueError:
            return None
    return version if isinstance(version, str) else None


FORMAT = ModelFormat(name="skops", title="skops model", extensions=(".skops",), match=match, inspect=inspect,
                     load=load, priority=30, frameworks=("scikit-learn",))
