"""A TensorFlow-Serving-compatible server for tests: real SavedModels, REST and gRPC, on 127.0.0.1.

No TF Serving binary can be installed here, so this reproduces TF Serving's documented REST/gRPC API as
its source implements it: the URL grammar and its regexes, the status -> HTTP code table,
pretty-printed status/metadata bodies (doubled `signature_def` key, int64 as strings), the JSON tensor
rules of `json_tensor.cc` (row and columnar forms, b64, NaN/Infinity, TF Serving's error strings), and the
gRPC PredictionService / ModelService methods under their real paths. Models are TF Serving base folders
(numeric version subfolders) run like the C++ server does: a graph-mode session per version
(tf.compat.v1 loader, works for TF1 and TF2 SavedModels) fed by tensor name, without the Python
client-side feed-shape check (the C++ server does not check shapes either).

Python:
    with TFServingTestServer({"half": "/path/to/base"}, labels={"half": {"stable": 123}}) as srv:
        srv.rest_url, srv.grpc_target
Command line:
    python -m workbench.testing.tfserving_server --model half=/path/base --label half:stable=123 \
        --rest-port 0 --grpc-port 0
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import math
import re
import signal
import sys
import threading
from collections.abc import Mapping
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np

from workbench.core.serving.protos import tfserving_pb2 as pb
from workbench.core.serving.tensors import from_tensor_proto, to_tensor_proto

# ---- status codes -----------------------------------------------------------------------------------

HTTP_BY_CODE = {
    "OK": 200, "CANCELLED": 499, "UNKNOWN": 500, "INTERNAL": 500, "DATA_LOSS": 500,
    "INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400, "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404, "ALREADY_EXISTS": 409, "ABORTED": 409, "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429, "UNIMPLEMENTED": 501, "UNAVAILABLE": 503, "UNAUTHENTICATED": 401,
}

PREDICT_RE = re.compile(
    r"(?i)/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)")
STATUS_RE = re.compile(
    r"(?i)/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:\/(metadata))?")

TF_TYPE_NAMES = {
    "DT_FLOAT": "float", "DT_DOUBLE": "double", "DT_INT32": "int32", "DT_UINT8": "uint8",
    "DT_INT16": "int16", "DT_INT8": "int8", "DT_STRING": "string", "DT_INT64": "int64", "DT_BOOL": "bool",
    "DT_HALF": "half", "DT_UINT16": "uint16", "DT_UINT32": "uint32", "DT_UINT64": "uint64",
}
_NP_BY_DT = {
    "DT_FLOAT": np.float32, "DT_DOUBLE": np.float64, "DT_INT32": np.int32, "DT_UINT8": np.uint8,
    "DT_INT16": np.int16, "DT_INT8": np.int8, "DT_STRING": object, "DT_INT64": np.int64, "DT_BOOL": np.bool_,
    "DT_HALF": np.float16, "DT_UINT16": np.uint16, "DT_UINT32": np.uint32, "DT_UINT64": np.uint64,
}


class TfsError(Exception):
    """An error with an absl status code name, as TF Serving reports it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return HTTP_BY_CODE.get(self.code, 500)


def _invalid(message: str) -> TfsError:
    return TfsError("INVALID_ARGUMENT", message)


# ---- models -----------------------------------------------------------------------------------------

class LoadedVersion:
    """One version folder loaded into its own graph-mode TF session."""

    def __init__(self, path: Path) -> None:
        import tensorflow as tf

        self.path = path
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.session = tf.compat.v1.Session(graph=self.graph)
            meta_graph = tf.compat.v1.saved_model.loader.load(self.session, ["serve"], str(path))
        self.signatures: dict[str, pb.SignatureDef] = {
            k: pb.SignatureDef.FromString(v.SerializeToString()) for k, v in meta_graph.signature_def.items()
        }
        self._lock = threading.Lock()

    def run(self, feeds: Mapping[str, np.ndarray], fetches: list[str]) -> list[np.ndarray]:
        """Run by tensor names, as the C++ server does (no client-side feed shape check)."""
        import tensorflow as tf

        graph = self.graph
        feed = {graph.get_tensor_by_name(k): v for k, v in feeds.items()}
        outs = [graph.get_tensor_by_name(n) for n in fetches]
        try:
            try:
                raw = self.session._call_tf_sessionrun(  # noqa: SLF001 - mirrors the C++ Session::Run
                    None, {t._as_tf_output(): _feedable(v, t.dtype) for t, v in feed.items()},  # noqa: SLF001
                    [t._as_tf_output() for t in outs], [], None)  # noqa: SLF001
            except AttributeError:  # private API moved: fall back to the checked path
                raw = self.session.run(outs, feed)
        except tf.errors.OpError as exc:
            raise TfsError(pb.ErrorCode.Code.Name(exc.error_code), exc.message) from None
        return [np.asarray(r) for r in raw]

    def close(self) -> None:
        self.session.close()


def _feedable(value: np.ndarray, tf_dtype: Any) -> np.ndarray:
    if value.dtype == object:
        return value
    return value.astype(tf_dtype.as_numpy_dtype, copy=False)


@dataclass
class ServedModel:
    """A model name with its base path, loaded versions (or load errors) and version labels."""

    name: str
    base_path: Path
    labels: dict[str, int] = field(default_factory=dict)
    versions: dict[int, LoadedVersion] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)

    def load(self) -> None:
        found = sorted((int(p.name), p) for p in self.base_path.iterdir() if p.is_dir() and p.name.isdigit())
        if not found:
            raise FileNotFoundError(f"No versions of servable {self.name} found under base path "
                                    f"{self.base_path}")
        for version, path in found:
            try:
                self.versions[version] = LoadedVersion(path)
            except Exception as exc:  # a broken version ends in state END with its error
                self.failed[version] = f"{type(exc).__name__}: {exc}".splitlines()[0]

    def latest(self) -> int | None:
        return max(self.versions) if self.versions else None


class ModelRegistry:
    """Resolves (name, version | label) like TF Serving's ServerCore, with its error strings."""

    def __init__(self, models: dict[str, ServedModel]) -> None:
        self.models = models

    def resolve(self, name: str, version: int | None, label: str | None) -> tuple[ServedModel, int]:
        model = self.models.get(name)
        if label is not None:
            if model is None or label not in model.labels:
                raise _invalid(f"Unrecognized servable version label: {label}")
            version = model.labels[label]
        if model is None or not model.versions:
            raise TfsError("NOT_FOUND", _servable_request(name, version))
        if version is None:
            return model, model.latest()  # type: ignore[return-value]
        if version not in model.versions:
            raise TfsError("NOT_FOUND", _servable_request(name, version))
        return model, version

    def status(self, name: str, version: int | None, label: str | None) -> pb.GetModelStatusResponse:
        model = self.models.get(name)
        if label is not None:
            if model is None or label not in model.labels:
                raise _invalid(f"Unrecognized servable version label: {label}")
            version = model.labels[label]
        if model is None or not (model.versions or model.failed):
            raise TfsError("NOT_FOUND", f"Could not find any versions of model {name}")
        resp = pb.GetModelStatusResponse()
        wanted = sorted(set(model.versions) | set(model.failed))
        if version is not None:
            if version not in wanted:
                raise TfsError("NOT_FOUND", f"Could not find version {version} of model {name}")
            wanted = [version]
        for v in wanted:
            st = resp.model_version_status.add(version=v)
            if v in model.versions:
                st.state = pb.ModelVersionStatus.AVAILABLE
                st.status.error_code = pb.ErrorCode.OK
            else:
                st.state = pb.ModelVersionStatus.END
                st.status.error_code = pb.ErrorCode.UNKNOWN
                st.status.error_message = model.failed[v]
        return resp

    def metadata(self, name: str, version: int | None, label: str | None) -> pb.GetModelMetadataResponse:
        model, v = self.resolve(name, version, label)
        resp = pb.GetModelMetadataResponse()
        resp.model_spec.name = model.name
        resp.model_spec.version.value = v
        sig_map = pb.SignatureDefMap()
        for key, sig in model.versions[v].signatures.items():
            sig_map.signature_def[key].CopyFrom(sig)
        resp.metadata["signature_def"].type_url = "type.googleapis.com/tensorflow.serving.SignatureDefMap"
        # deterministic: map entries in key order on the wire, the same for every call (REST and gRPC)
        resp.metadata["signature_def"].value = sig_map.SerializeToString(deterministic=True)
        return resp


def _servable_request(name: str, version: int | None) -> str:
    what = f"Specific({name}, {version})" if version is not None else f"Latest({name})"
    return f"Servable not found for request: {what}"


# ---- running signatures (shared by REST and gRPC) ---------------------------------------------------

def run_predict(loaded: LoadedVersion, sig_name: str, inputs: Mapping[str, np.ndarray],
                output_filter: list[str] | None = None) -> dict[str, np.ndarray]:
    sig = loaded.signatures[sig_name]
    feeds = {sig.inputs[alias].name: value for alias, value in inputs.items()}
    aliases = list(output_filter) if output_filter else sorted(sig.outputs)
    for alias in aliases:
        if alias not in sig.outputs:
            raise _invalid(f"output tensor alias not found in signature: {alias} Outputs expected to be in "
                           f"the set {{{','.join(sorted(sig.outputs))}}}.")
    outs = loaded.run(feeds, [sig.outputs[a].name for a in aliases])
    return dict(zip(aliases, outs, strict=True))


def _method_check_input(sig: pb.SignatureDef) -> str:
    if len(sig.inputs) != 1:
        raise _invalid("Expected one input Tensor.")
    return next(iter(sig.inputs.values())).name


def run_classify(loaded: LoadedVersion, sig_name: str,
                 examples: list[bytes]) -> list[list[tuple[str, float]]]:
    sig = _find_sig(loaded, sig_name)
    input_name = _method_check_input(sig)
    if "classes" not in sig.outputs and "scores" not in sig.outputs:
        raise _invalid('Expected classification signature outputs to contain at least one of "classes" or '
                       f'"scores". Signature was: {sig_name}')
    if not examples:
        raise _invalid("Input is empty.")
    fetch = [a for a in ("classes", "scores") if a in sig.outputs]
    outs = dict(zip(fetch, loaded.run({input_name: _string_tensor(examples)},
                                      [sig.outputs[a].name for a in fetch]), strict=True))
    scores = outs.get("scores")
    classes = outs.get("classes")
    n = len(examples)
    result = []
    for i in range(n):
        row_scores = np.asarray(scores[i]).reshape(-1) if scores is not None else None
        row_classes = np.asarray(classes[i]).reshape(-1) if classes is not None else None
        count = len(row_scores) if row_scores is not None else len(row_classes)  # type: ignore[arg-type]
        row = []
        for j in range(count):
            label = row_classes[j] if row_classes is not None else b""
            label = label.decode("utf-8", "replace") if isinstance(label, bytes) else str(label)
            row.append((label, float(row_scores[j]) if row_scores is not None else 0.0))
        result.append(row)
    return result


def run_regress(loaded: LoadedVersion, sig_name: str, examples: list[bytes]) -> list[float]:
    sig = _find_sig(loaded, sig_name)
    input_name = _method_check_input(sig)
    if "outputs" not in sig.outputs:
        raise _invalid(f'No output Tensor "outputs" in regression signature: {sig_name}')
    if not examples:
        raise _invalid("Input is empty.")
    (out,) = loaded.run({input_name: _string_tensor(examples)}, [sig.outputs["outputs"].name])
    out = np.asarray(out)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.ndim != 1:
        raise _invalid(f"Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got "
                       f"{list(out.shape)}")
    return [float(v) for v in out]


def _find_sig(loaded: LoadedVersion, sig_name: str) -> pb.SignatureDef:
    if sig_name not in loaded.signatures:
        raise _invalid(f"No signature was found with the name: {sig_name}")
    return loaded.signatures[sig_name]


def _string_tensor(values: list[bytes]) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


# ---- JSON tensors (json_tensor.cc) ------------------------------------------------------------------

def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _json_type(value: Any) -> str:
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and "b64" in value


def _b64decode(value: dict[str, Any]) -> bytes:
    text = value["b64"]
    if not isinstance(text, str):
        raise _invalid(f"JSON Value: {_compact(value)} not formatted correctly for base64 data")
    try:
        padded = text + "=" * (-len(text) % 4)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("Unable to base64 decode") from None


def _scalar(value: Any, dtype: str) -> Any:
    """One JSON leaf converted to the signature dtype, with TF Serving's type errors."""
    want = TF_TYPE_NAMES.get(dtype, dtype)
    if dtype == "DT_STRING":
        if isinstance(value, str):
            return value.encode("utf-8")
        if _is_b64(value):
            return _b64decode(value)
    elif dtype == "DT_BOOL":
        if isinstance(value, bool):
            return value
    elif dtype in ("DT_FLOAT", "DT_DOUBLE", "DT_HALF"):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif dtype in TF_TYPE_NAMES:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    else:
        raise TfsError("UNIMPLEMENTED", f"Conversion of JSON Value: {_compact(value)} to type: {dtype}")
    raise _invalid(f"JSON Value: {_compact(value)} Type: {_json_type(value)} is not of expected type: {want}")


def _shape_of(value: Any) -> list[int]:
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _shape_text(shape: list[int] | None) -> str:
    return "[?]" if shape is None else "[" + ",".join(str(s) for s in shape) + "]"


def _flatten(value: Any, dtype: str, shape: list[int], depth: int, out: list[Any]) -> None:
    if depth == len(shape):
        if isinstance(value, list):
            raise _invalid(f"Expecting shape {_shape_text(shape)} but got: {_shape_text(_shape_of(value))}")
        out.append(_scalar(value, dtype))
        return
    if not isinstance(value, list):
        raise _invalid(f"Expecting shape {_shape_text(shape)} but got: {_shape_text(shape[:depth])}")
    if len(value) != shape[depth]:
        raise _invalid(f"Expecting tensor size: {shape[depth]} but got: {len(value)}")
    for v in value:
        _flatten(v, dtype, shape, depth + 1, out)


def json_to_array(value: Any, dtype: str) -> np.ndarray:
    """A (nested) JSON value -> numpy array of the signature dtype; shape from the nesting."""
    shape = _shape_of(value)
    flat: list[Any] = []
    _flatten(value, dtype, shape, 0, flat)
    if dtype == "DT_STRING":
        arr = np.empty(len(flat), dtype=object)
        arr[:] = flat
    else:
        arr = np.asarray(flat, dtype=_NP_BY_DT.get(dtype, np.float32))
    return arr.reshape(shape)


def _stack(parts: list[np.ndarray], dtype: str) -> np.ndarray:
    first = parts[0].shape
    for p in parts[1:]:
        if p.shape != first:
            raise _invalid(f"Expecting shape {_shape_text(list(first))} but got: "
                           f"{_shape_text(list(p.shape))}")
    if dtype == "DT_STRING":
        arr = np.empty((len(parts), *first), dtype=object)
        for i, p in enumerate(parts):
            if p.ndim == 0:
                arr[i] = p.item()
            else:
                arr[i, ...] = p
        return arr
    return np.stack(parts) if parts else np.empty((0,))


def instances_to_inputs(instances: Any, infos: Mapping[str, pb.TensorInfo]) -> dict[str, np.ndarray]:
    """Row format: `instances` -> {alias: batch tensor}, with TF Serving's checks and messages."""
    if not isinstance(instances, list):
        raise _invalid(f"JSON Value: {_compact(instances)} Expecting 'instances' to be an list/array")
    if not instances:
        raise _invalid(f"JSON Value: {_compact(instances)} No values in 'instances' array")
    dtypes = {k: pb.DataType.Name(v.dtype) for k, v in infos.items()}
    named = isinstance(instances[0], dict) and not _is_b64(instances[0])
    if not named:
        if len(infos) > 1:
            raise _invalid("instances is a plain list, but expecting list of objects as multiple input "
                           "tensors required as per tensorinfo_map")
        alias, dtype = next(iter(dtypes.items()))
        for i, item in enumerate(instances):
            if isinstance(item, dict) and not _is_b64(item):
                raise _invalid(f"Expecting value/list but got object at item {i} of input list")
            if _is_b64(item):
                try:
                    _scalar(item, dtype)
                except TfsError as exc:
                    raise _invalid(f"Failed to process element: {i} of 'instances' list. Error: "
                                   f"INVALID_ARGUMENT: {exc.message}") from None
        return {alias: json_to_array(instances, dtype)}
    columns: dict[str, list[np.ndarray]] = {k: [] for k in infos}
    expected = ",".join(sorted(infos))
    for i, item in enumerate(instances):
        if not isinstance(item, dict) or _is_b64(item):
            raise _invalid(f"Expecting object but got list at item {i} of input list")
        for key, value in item.items():
            if key not in infos:
                raise _invalid(f"Failed to process element: {i} key: {key} of 'instances' list. Error: "
                               f"INVALID_ARGUMENT: JSON object: does not have named input: {key}")
            try:
                columns[key].append(json_to_array(value, dtypes[key]))
            except TfsError as exc:
                raise _invalid(f"Failed to process element: {i} key: {key} of 'instances' list. Error: "
                               f"INVALID_ARGUMENT: {exc.message}") from None
        if set(item) != set(infos):
            raise _invalid(f"Failed to process element: {i} of 'instances' list. JSON object: "
                           f"{_compact(item)} keys must be equal to: {expected}")
    return {k: _stack(v, dtypes[k]) for k, v in columns.items()}


def columns_to_inputs(inputs: Any, infos: Mapping[str, pb.TensorInfo]) -> dict[str, np.ndarray]:
    """Columnar format: `inputs` -> {alias: tensor}."""
    dtypes = {k: pb.DataType.Name(v.dtype) for k, v in infos.items()}
    if isinstance(inputs, dict) and not _is_b64(inputs):
        for key in inputs:
            if key not in infos:
                raise _invalid(f"JSON object: does not have named input: {key}")
        for key in infos:
            if key not in inputs:
                raise _invalid(f"Missing named input: {key} in 'inputs' object.")
        return {k: json_to_array(inputs[k], dtypes[k]) for k in infos}
    if len(infos) > 1:
        raise _invalid("inputs is a plain value/list, but expecting an object as multiple input tensors "
                       "required as per tensorinfo_map")
    alias, dtype = next(iter(dtypes.items()))
    return {alias: json_to_array(inputs, dtype)}


def format_float(value: float, double: bool = False) -> str:
    """TF Serving's WriteDecimal: %g (6 digits) unless that does not round-trip; NaN/Infinity tokens."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = f"{value:.6g}"
    if double:
        if float(text) != value:
            text = f"{value:.17g}"
    elif np.float32(float(text)) != np.float32(value):
        text = f"{value:.9g}"
    if not any(c in text for c in ".en"):
        text += ".0"
    return text


class PrettyWriter:
    """The whitespace rules of rapidjson's PrettyWriter (4-space indent) with its kFormatSingleLineArray
    toggle, which TF Serving switches on and off while writing responses (util/json_tensor.cc)."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.levels: list[list[Any]] = []   # [in_array, value_count]
        self.single_line_arrays = False

    def _indent(self) -> None:
        self.out.append(" " * (4 * len(self.levels)))

    def _prefix(self) -> None:
        if not self.levels:
            return
        level = self.levels[-1]
        if level[0]:
            if level[1] > 0:
                self.out.append(", " if self.single_line_arrays else ",")
            if not self.single_line_arrays:
                self.out.append("\n")
                self._indent()
        else:
            if level[1] > 0:
                self.out.append(",\n" if level[1] % 2 == 0 else ": ")
            else:
                self.out.append("\n")
            if level[1] % 2 == 0:
                self._indent()
        level[1] += 1

    def start_object(self) -> None:
        self._prefix()
        self.out.append("{")
        self.levels.append([False, 0])

    def end_object(self) -> None:
        if self.levels.pop()[1]:
            self.out.append("\n")
            self._indent()
        self.out.append("}")

    def start_array(self) -> None:
        self._prefix()
        self.out.append("[")
        self.levels.append([True, 0])

    def end_array(self) -> None:
        if self.levels.pop()[1] and not self.single_line_arrays:
            self.out.append("\n")
            self._indent()
        self.out.append("]")

    def key(self, name: str) -> None:
        self.string(name)

    def string(self, text: str) -> None:
        self._prefix()
        self.out.append(json.dumps(text, ensure_ascii=False))

    def raw(self, token: str) -> None:
        self._prefix()
        self.out.append(token)

    def scalar(self, value: Any, as_b64: bool, double: bool) -> None:
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, bytes):
            if as_b64:
                self.start_object()
                self.key("b64")
                self.string(base64.b64encode(value).decode("ascii"))
                self.end_object()
            else:
                self.string(value.decode("utf-8", "replace"))
        elif isinstance(value, bool):
            self.raw("true" if value else "false")
        elif isinstance(value, int):
            self.raw(str(value))
        elif isinstance(value, float):
            self.raw(format_float(value, double=double))
        else:
            self.string(str(value))

    def tensor(self, value: np.ndarray, as_b64: bool) -> None:
        """AddTensorValues: nested arrays, scalars bare."""
        double = value.dtype == np.float64
        if value.ndim == 0:
            self.scalar(value[()], as_b64, double)
            return
        self.start_array()
        for item in value:
            if isinstance(item, np.ndarray) and item.ndim:
                self.tensor(item, as_b64)
            else:
                self.scalar(item, as_b64, double)
        self.end_array()

    def text(self) -> str:
        return "".join(self.out)


def outputs_to_json(outputs: dict[str, np.ndarray], row_format: bool) -> str:
    """{"predictions": ...} (row) or {"outputs": ...} (columnar) text, as TF Serving writes it."""
    if not outputs:
        raise _invalid("Cannot convert empty tensor map to JSON")
    outputs = {k: np.asarray(v) for k, v in sorted(outputs.items())}
    w = PrettyWriter()
    w.start_object()
    several = len(outputs) > 1
    if row_format:
        batch = -1
        for name, value in outputs.items():
            if value.ndim == 0:
                raise _invalid(f"Tensor name: {name} has no shape information ")
            if batch >= 0 and value.shape[0] != batch:
                raise _invalid(f"Tensor name: {name} has inconsistent batch size: {value.shape[0]} "
                               f"expecting: {batch}")
            batch = value.shape[0]
        w.key("predictions")
        w.start_array()
        for item in range(batch):
            if several:
                w.start_object()
            w.single_line_arrays = True
            for name, value in outputs.items():
                if several:
                    w.key(name)
                w.tensor(np.asarray(value[item], dtype=value.dtype), name.endswith("_bytes"))
            w.single_line_arrays = False
            if several:
                w.end_object()
        w.end_array()
    else:
        w.key("outputs")
        if several:
            w.start_object()
        for name, value in outputs.items():
            if several:
                w.key(name)
            w.tensor(value, name.endswith("_bytes"))
        if several:
            w.end_object()
    w.end_object()
    return w.text()


def classification_json(results: list[list[tuple[str, float]]]) -> str:
    """{"results": [[[label, score], ...], ...]} as MakeJsonFromClassificationResult writes it."""
    if not results:
        raise _invalid("Cannot convert empty ClassificationResults to JSON")
    w = PrettyWriter()
    w.start_object()
    w.key("results")
    w.start_array()
    for row in results:
        w.single_line_arrays = True
        w.start_array()
        for label, score in row:
            w.start_array()
            w.string(label)
            w.raw(format_float(score))
            w.end_array()
        w.end_array()
        w.single_line_arrays = False
    w.end_array()
    w.end_object()
    return w.text()


def regression_json(values: list[float]) -> str:
    """{"results": [value, ...]} as MakeJsonFromRegressionResult writes it."""
    if not values:
        raise _invalid("Cannot convert empty RegressionResults to JSON")
    w = PrettyWriter()
    w.start_object()
    w.key("results")
    w.single_line_arrays = True
    w.start_array()
    for value in values:
        w.raw(format_float(value))
    w.end_array()
    w.end_object()
    return w.text()


def error_json(message: str) -> str:
    """The pretty-printed {"error": ...} body of MakeJsonFromStatus."""
    w = PrettyWriter()
    w.start_object()
    w.key("error")
    w.string(message)
    w.end_object()
    return w.text()


def examples_from_json(body: dict[str, Any], method: str) -> list[bytes]:
    """`examples` (+ optional `context`) of a classify/regress body -> serialized tf.Example bytes."""
    if "examples" not in body:
        raise _invalid("When method is classify, key 'examples' is expected and was not found")
    examples = body["examples"]
    if not isinstance(examples, list):
        raise _invalid("Expecting 'examples' value to be an list/array")
    if not examples:
        raise _invalid("'examples' value is an empty array")
    context = body.get("context") or {}
    out = []
    for ex in examples:
        if not isinstance(ex, dict):
            raise _invalid(f"Example must be JSON object but got JSON {_json_type(ex)}")
        merged = {**context, **ex}
        out.append(_example(merged).SerializeToString())
    return out


def _example(features: dict[str, Any]) -> pb.Example:
    ex = pb.Example()
    for name, value in features.items():
        values = value if isinstance(value, list) else [value]
        feat = ex.features.feature[name]
        kind = None
        for v in values:
            if v is None or isinstance(v, list) or (isinstance(v, dict) and not _is_b64(v)):
                raise _invalid(f"Feature: {name} has element with unexpected JSON type: {_json_type(v)}")
            this = ("bytes" if isinstance(v, str | dict) else "float" if isinstance(v, float)
                    else "int64")
            if kind is None:
                kind = this
            elif kind != this:
                raise _invalid(f"Unexpected element type in feature: {name} expecting type: {kind}")
            if this == "bytes":
                feat.bytes_list.value.append(v.encode("utf-8") if isinstance(v, str) else _b64decode(v))
            elif this == "float":
                feat.float_list.value.append(v)
            else:
                if v > 2**63 - 1:
                    raise _invalid(f"Feature: {name} has uint64_t element. Only int64_t is supported.")
                feat.int64_list.value.append(int(v))
    return ex


def pretty(obj: Any, indent: int = 1) -> str:
    return json.dumps(obj, indent=indent, ensure_ascii=False)


# ---- the server -------------------------------------------------------------------------------------

class TFServingTestServer:
    """REST + gRPC TF-Serving-compatible server on 127.0.0.1 (ports 0 = free ports).

    `models`: name -> base path (numeric version subfolders). `labels`: name -> {label: version}.
    `tls`: (cert_path, key_path) to serve REST and gRPC over TLS. `require_headers`: header -> value that
    every call must carry (emulates an auth gateway in front of TF Serving: 401 / UNAUTHENTICATED).
    """

    def __init__(self, models: Mapping[str, str | Path], *,
                 labels: Mapping[str, Mapping[str, int]] | None = None,
                 rest_port: int | None = 0, grpc_port: int | None = 0, host: str = "127.0.0.1",
                 tls: tuple[str, str] | None = None,
                 require_headers: Mapping[str, str] | None = None) -> None:
        self.host = host
        self.tls = tls
        self.require_headers = {k.lower(): v for k, v in (require_headers or {}).items()}
        served = {}
        for name, path in models.items():
            served[name] = ServedModel(name=name, base_path=Path(path),
                                       labels=dict((labels or {}).get(name, {})))
        self.registry = ModelRegistry(served)
        self._want_rest = rest_port
        self._want_grpc = grpc_port
        self.rest_port: int | None = None
        self.grpc_port: int | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self._grpc_server: Any = None

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> TFServingTestServer:
        for model in self.registry.models.values():
            model.load()
        if self._want_rest is not None:
            self._start_rest(self._want_rest)
        if self._want_grpc is not None:
            self._start_grpc(self._want_grpc)
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._grpc_server is not None:
            self._grpc_server.stop(grace=None).wait()
            self._grpc_server = None
        for model in self.registry.models.values():
            for loaded in model.versions.values():
                loaded.close()

    def __enter__(self) -> TFServingTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def rest_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.rest_port}"

    @property
    def grpc_target(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    # -- REST ----------------------------------------------------------------------------------------

    def _start_rest(self, port: int) -> None:
        server = self

        class Handler(_RestHandler):
            owner = server

        httpd = ThreadingHTTPServer((self.host, port), Handler)
        httpd.daemon_threads = True
        if self.tls:
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        self.rest_port = httpd.server_address[1]
        self._http_thread = threading.Thread(target=httpd.serve_forever, name="tfs-rest", daemon=True)
        self._http_thread.start()

    def handle_rest(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
        """One REST call -> (HTTP status, body text). Paths outside /v1/ are answered by the caller."""
        try:
            self._check_headers(headers)
            if method == "POST":
                m = PREDICT_RE.fullmatch(path)
                if not m:
                    raise _invalid(f"Malformed request: {method} {path}")
                name, version, label, verb = (unquote(m.group(1)), m.group(2), m.group(3), m.group(4).lower())
                return 200, self._rest_verb(name, _version(version), unquote(label) if label else None, verb,
                                            body)
            if method == "GET":
                m = STATUS_RE.fullmatch(path)
                if not m:
                    raise _invalid(f"Malformed request: {method} {path}")
                name, version, label, meta = m.group(1), m.group(2), m.group(3), m.group(4)
                if name is None:
                    raise _invalid("Missing model name in request.")
                name = unquote(name)
                label = unquote(label) if label else None
                if meta:
                    resp = self.registry.metadata(name, _version(version), label)
                    return 200, pretty(_metadata_json(resp))
                status = self.registry.status(name, _version(version), label)
                return 200, pretty(_message_dict(status))
            raise _invalid(f"Malformed request: {method} {path}")
        except TfsError as exc:
            return exc.http_status, error_json(exc.message)

    def _check_headers(self, headers: Mapping[str, str]) -> None:
        lowered = {k.lower(): v for k, v in headers.items()}
        for key, value in self.require_headers.items():
            if lowered.get(key) != value:
                raise TfsError("UNAUTHENTICATED", f"missing or wrong '{key}' header")

    def _rest_verb(self, name: str, version: int | None, label: str | None, verb: str, body: bytes) -> str:
        text = body.decode("utf-8", "replace")
        if not text.strip():
            raise _invalid("JSON Parse error: The document is empty")
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _invalid(f"JSON Parse error: Invalid value. at offset: {exc.pos}") from None
        if not isinstance(doc, dict):
            raise _invalid(f"JSON Value: {_compact(doc)} Is not object")
        sig_name = doc.get("signature_name", "serving_default")
        if not isinstance(sig_name, str):
            raise _invalid(f"JSON Value: {_compact(doc)} not formatted correctly. 'signature_name' key "
                           "must be a string value.")
        model, v = self.registry.resolve(name, version, label)
        loaded = model.versions[v]
        if verb == "predict":
            if sig_name not in loaded.signatures:
                raise _invalid(f'Serving signature name: "{sig_name}" not found in signature def')
            sig = loaded.signatures[sig_name]
            if "instances" in doc and "inputs" in doc:
                raise _invalid(f"JSON Value: {_compact(doc)} Not formatted correctly expecting only one of "
                               "'inputs' or 'instances' keys to exist ")
            if "instances" in doc:
                inputs = instances_to_inputs(doc["instances"], sig.inputs)
                row = True
            elif "inputs" in doc:
                inputs = columns_to_inputs(doc["inputs"], sig.inputs)
                row = False
            else:
                raise _invalid("Missing 'inputs' or 'instances' key")
            return outputs_to_json(run_predict(loaded, sig_name, inputs), row)
        examples = examples_from_json(doc, verb)
        if verb == "classify":
            return classification_json(run_classify(loaded, sig_name, examples))
        return regression_json(run_regress(loaded, sig_name, examples))

    # -- gRPC ----------------------------------------------------------------------------------------

    def _start_grpc(self, port: int) -> None:
        import grpc

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="tfs-grpc"),
                             options=[("grpc.so_reuseport", 0)])

        def unary(fn: Any, req_cls: type, resp_cls: type) -> Any:
            def handler(request: Any, context: Any) -> Any:
                try:
                    self._check_headers(dict(context.invocation_metadata()))
                    return fn(request)
                except TfsError as exc:
                    message = exc.message
                    if len(message) > 1024:
                        message = message[:1024] + "...TRUNCATED"
                    context.abort(getattr(grpc.StatusCode, exc.code), message)
            return grpc.unary_unary_rpc_method_handler(handler, request_deserializer=req_cls.FromString,
                                                       response_serializer=resp_cls.SerializeToString)

        prediction = grpc.method_handlers_generic_handler("tensorflow.serving.PredictionService", {
            "Predict": unary(self._grpc_predict, pb.PredictRequest, pb.PredictResponse),
            "Classify": unary(self._grpc_classify, pb.ClassificationRequest, pb.ClassificationResponse),
            "Regress": unary(self._grpc_regress, pb.RegressionRequest, pb.RegressionResponse),
            "GetModelMetadata": unary(self._grpc_metadata, pb.GetModelMetadataRequest,
                                      pb.GetModelMetadataResponse),
        })
        model_service = grpc.method_handlers_generic_handler("tensorflow.serving.ModelService", {
            "GetModelStatus": unary(self._grpc_status, pb.GetModelStatusRequest, pb.GetModelStatusResponse),
        })
        server.add_generic_rpc_handlers((prediction, model_service))
        address = f"{self.host}:{port}"
        if self.tls:
            cert, key = (Path(p).read_bytes() for p in self.tls)
            self.grpc_port = server.add_secure_port(address, grpc.ssl_server_credentials([(key, cert)]))
        else:
            self.grpc_port = server.add_insecure_port(address)
        server.start()
        self._grpc_server = server

    def _spec(self, spec: pb.ModelSpec) -> tuple[ServedModel, int, str]:
        if not spec.name:
            raise _invalid("Missing ModelSpec")
        choice = spec.WhichOneof("version_choice")
        version = spec.version.value if choice == "version" else None
        label = spec.version_label if choice == "version_label" else None
        model, v = self.registry.resolve(spec.name, version, label)
        return model, v, spec.signature_name or "serving_default"

    def _grpc_predict(self, req: pb.PredictRequest) -> pb.PredictResponse:
        model, v, sig_name = self._spec(req.model_spec)
        loaded = model.versions[v]
        if sig_name not in loaded.signatures:
            raise TfsError("FAILED_PRECONDITION", f'Serving signature key "{sig_name}" not found.')
        sig = loaded.signatures[sig_name]
        sent, wanted = set(req.inputs), set(sig.inputs)
        if sent != wanted:
            extra, missing = sorted(sent - wanted), sorted(wanted - sent)
            raise _invalid(f"input size does not match signature: {len(sent)}!={len(wanted)} "
                           f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(wanted))}}}). "
                           f"Sent extra: {{{','.join(extra)}}}. "
                           f"Missing but required: {{{','.join(missing)}}}.")
        inputs = {}
        for alias, proto in req.inputs.items():
            want = sig.inputs[alias].dtype
            if proto.dtype != want:
                raise _invalid(f"Expects arg[0] to be {TF_TYPE_NAMES.get(pb.DataType.Name(want))} but "
                               f"{TF_TYPE_NAMES.get(pb.DataType.Name(proto.dtype))} is provided")
            inputs[alias] = from_tensor_proto(proto)
        outs = run_predict(loaded, sig_name, inputs, list(req.output_filter))
        resp = pb.PredictResponse()
        resp.model_spec.name = model.name
        resp.model_spec.version.value = v
        resp.model_spec.signature_name = sig_name
        for alias, value in outs.items():
            dtype = pb.DataType.Name(sig.outputs[alias].dtype)
            resp.outputs[alias].CopyFrom(to_tensor_proto(value, dtype))
        return resp

    def _examples(self, inp: pb.Input) -> list[bytes]:
        kind = inp.WhichOneof("kind")
        if kind == "example_list":
            return [e.SerializeToString() for e in inp.example_list.examples]
        if kind == "example_list_with_context":
            ctx = inp.example_list_with_context.context
            out = []
            for e in inp.example_list_with_context.examples:
                merged = pb.Example()
                merged.CopyFrom(ctx)
                merged.MergeFrom(e)
                out.append(merged.SerializeToString())
            return out
        raise _invalid("Input is empty.")

    def _grpc_classify(self, req: pb.ClassificationRequest) -> pb.ClassificationResponse:
        model, v, sig_name = self._spec(req.model_spec)
        results = run_classify(model.versions[v], sig_name, self._examples(req.input))
        resp = pb.ClassificationResponse()
        resp.model_spec.name, resp.model_spec.signature_name = model.name, sig_name
        resp.model_spec.version.value = v
        for row in results:
            cl = resp.result.classifications.add()
            for label, score in row:
                cl.classes.add(label=label, score=score)
        return resp

    def _grpc_regress(self, req: pb.RegressionRequest) -> pb.RegressionResponse:
        model, v, sig_name = self._spec(req.model_spec)
        results = run_regress(model.versions[v], sig_name, self._examples(req.input))
        resp = pb.RegressionResponse()
        resp.model_spec.name, resp.model_spec.signature_name = model.name, sig_name
        resp.model_spec.version.value = v
        for value in results:
            resp.result.regressions.add(value=value)
        return resp

    def _grpc_metadata(self, req: pb.GetModelMetadataRequest) -> pb.GetModelMetadataResponse:
        if not req.HasField("model_spec"):
            raise _invalid("Missing ModelSpec")
        if not req.metadata_field:
            raise _invalid("GetModelMetadataRequest must specify at least one metadata_field")
        for f in req.metadata_field:
            if f != "signature_def":
                raise _invalid(f"Metadata field {f} is not supported")
        choice = req.model_spec.WhichOneof("version_choice")
        return self.registry.metadata(req.model_spec.name,
                                      req.model_spec.version.value if choice == "version" else None,
                                      req.model_spec.version_label if choice == "version_label" else None)

    def _grpc_status(self, req: pb.GetModelStatusRequest) -> pb.GetModelStatusResponse:
        choice = req.model_spec.WhichOneof("version_choice")
        return self.registry.status(req.model_spec.name,
                                    req.model_spec.version.value if choice == "version" else None,
                                    req.model_spec.version_label if choice == "version_label" else None)


def _version(text: str | None) -> int | None:
    if text is None:
        return None
    value = int(text)
    if value > 2**63 - 1:
        raise _invalid(f"Failed to convert version: {text} to numeric.")
    return value


def _message_dict(message: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


def _metadata_json(resp: pb.GetModelMetadataResponse) -> dict[str, Any]:
    """The REST metadata body: {"model_spec", "metadata": {"signature_def": <SignatureDefMap json>}}."""
    sig_map = pb.SignatureDefMap.FromString(resp.metadata["signature_def"].value)
    return {"model_spec": _message_dict(resp.model_spec),
            "metadata": {"signature_def": _sorted_maps(_message_dict(sig_map))}}


def _sorted_maps(sig_map: dict[str, Any]) -> dict[str, Any]:
    """Signatures, and each signature's inputs and outputs, in key order (protobuf maps have no order of
    their own; Python's iterates in hash order, which would shuffle the inputs from call to call)."""
    inner = sig_map.get("signature_def") or {}
    out = {}
    for name in sorted(inner):
        sig = dict(inner[name])
        for key in ("inputs", "outputs"):
            if isinstance(sig.get(key), dict):
                sig[key] = {k: sig[key][k] for k in sorted(sig[key])}
        out[name] = sig
    return {**sig_map, "signature_def": out}


class _RestHandler(BaseHTTPRequestHandler):
    owner: TFServingTestServer
    protocol_version = "HTTP/1.1"
    # headers and body go out as separate writes: without TCP_NODELAY, Nagle plus the client's
    # delayed ACK add ~40 ms to every response (TF Serving's own server sets it too)
    disable_nagle_algorithm = True
    server_version = "TFServingTestServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def _answer(self, status: int, text: str | None) -> None:
        data = (text or "").encode("utf-8")
        self.send_response(status)
        if text is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        if not re.match(r"(?i)/v1/", path):
            self._answer(404, None)  # libevent's 404 without a JSON body
            return
        status, text = self.owner.handle_rest(method, path, body, dict(self.headers.items()))
        self._answer(status, text)

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")


# ---- command line -----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.testing.tfserving_server",
                                     description="TF-Serving-compatible test server on 127.0.0.1")
    parser.add_argument("--model", action="append", default=[], metavar="NAME=BASE_PATH", required=True)
    parser.add_argument("--label", action="append", default=[], metavar="NAME:LABEL=VERSION")
    parser.add_argument("--rest-port", type=int, default=0)
    parser.add_argument("--grpc-port", type=int, default=0)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args(argv)
    models = dict(item.split("=", 1) for item in args.model)
    labels: dict[str, dict[str, int]] = {}
    for item in args.label:
        left, version = item.split("=", 1)
        name, label = left.split(":", 1)
        labels.setdefault(name, {})[label] = int(version)
    tls = (args.tls_cert, args.tls_key) if args.tls_cert and args.tls_key else None
    server = TFServingTestServer(models, labels=labels, rest_port=args.rest_port, grpc_port=args.grpc_port,
                                 tls=tls).start()
    # one machine-readable line so a parent process can find the ports
    print(json.dumps({"rest_port": server.rest_port, "grpc_port": server.grpc_port,
                      "rest_url": server.rest_url, "grpc_target": server.grpc_target}), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
