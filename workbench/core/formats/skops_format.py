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
        warnings.append("not loaded: it contains types skops does not trust by default: " + ", ".join(untrusted))
        cls = f"{schema.get('__module__', '')}.{schema.get('__class__', '')}"
        metadata: dict[str, Any] = {"estimator": cls, "untrusted_types": untrusted,
                                    "skops_protocol": schema.get("protocol")}
        metadata.update(file_facts(path))
        return ModelInfo(path=str(path), format="skops", framework="scikit-learn", task="other",
                         metadata=metadata, warnings=warnings, loaded=False)
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
