"""Tensor conversions without TensorFlow: numpy <-> TensorProto, JSON values <-> tf.Example, b64 values.

Used by the gRPC client and by the test server (workbench.testing) alike.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import numpy as np

from workbench.core.serving.protos import tfserving_pb2 as pb

_NP_TO_DT = {
    np.dtype("float32"): pb.DT_FLOAT, np.dtype("float64"): pb.DT_DOUBLE, np.dtype("int32"): pb.DT_INT32,
    np.dtype("uint8"): pb.DT_UINT8, np.dtype("int16"): pb.DT_INT16, np.dtype("int8"): pb.DT_INT8,
    np.dtype("int64"): pb.DT_INT64, np.dtype("bool"): pb.DT_BOOL, np.dtype("uint16"): pb.DT_UINT16,
    np.dtype("float16"): pb.DT_HALF, np.dtype("uint32"): pb.DT_UINT32, np.dtype("uint64"): pb.DT_UINT64,
}
_DT_TO_NP = {v: k for k, v in _NP_TO_DT.items()}
_DT_NAME_TO_NP = {
    "DT_FLOAT": "float32", "DT_DOUBLE": "float64", "DT_INT32": "int32", "DT_UINT8": "uint8",
    "DT_INT16": "int16", "DT_INT8": "int8", "DT_INT64": "int64", "DT_BOOL": "bool", "DT_UINT16": "uint16",
    "DT_HALF": "float16", "DT_UINT32": "uint32", "DT_UINT64": "uint64", "DT_STRING": "object",
}


def numpy_dtype_for(tf_dtype: str) -> np.dtype:
    """numpy dtype for a TF dtype name such as DT_FLOAT (object for DT_STRING)."""
    return np.dtype(_DT_NAME_TO_NP.get(tf_dtype, "float32"))


def to_tensor_proto(value: Any, dtype: str | None = None) -> pb.TensorProto:
    """Build a TensorProto from an array-like; `dtype` is a TF name (DT_FLOAT...) to force a type."""
    if dtype == "DT_STRING" or (dtype is None and _is_text(value)):
        arr = np.asarray(value, dtype=object)
        proto = pb.TensorProto(dtype=pb.DT_STRING)
        proto.string_val.extend(_as_bytes(v) for v in arr.reshape(-1))
    else:
        arr = np.asarray(value, dtype=numpy_dtype_for(dtype) if dtype else None)
        if arr.dtype.kind == "f" and arr.dtype not in _NP_TO_DT:
            arr = arr.astype(np.float32)
        if arr.dtype.kind in "iu" and arr.dtype not in _NP_TO_DT:
            arr = arr.astype(np.int64)
        dt = _NP_TO_DT.get(arr.dtype)
        if dt is None:
            raise ValueError(f"cannot send a {arr.dtype} array as a TensorProto")
        proto = pb.TensorProto(dtype=dt)
        flat = arr.reshape(-1)
        if dt == pb.DT_FLOAT:
            proto.float_val.extend(flat.tolist())
        elif dt == pb.DT_DOUBLE:
            proto.double_val.extend(flat.tolist())
        elif dt in (pb.DT_INT32, pb.DT_INT16, pb.DT_INT8, pb.DT_UINT8, pb.DT_UINT16):
            proto.int_val.extend(int(x) for x in flat)
        elif dt == pb.DT_INT64:
            proto.int64_val.extend(int(x) for x in flat)
        elif dt == pb.DT_BOOL:
            proto.bool_val.extend(bool(x) for x in flat)
        elif dt == pb.DT_HALF:
            proto.half_val.extend(int(x) for x in flat.view(np.uint16))
        elif dt == pb.DT_UINT32:
            proto.uint32_val.extend(int(x) for x in flat)
        elif dt == pb.DT_UINT64:
            proto.uint64_val.extend(int(x) for x in flat)
    for size in arr.shape:
        proto.tensor_shape.dim.add().size = int(size)
    return proto


def from_tensor_proto(proto: pb.TensorProto) -> np.ndarray:
    """numpy array from a TensorProto (typed *_val fields or tensor_content; scalars broadcast)."""
    shape = tuple(int(d.size) for d in proto.tensor_shape.dim)
    count = int(np.prod(shape)) if shape else 1
    if proto.dtype == pb.DT_STRING:
        values = list(proto.string_val)
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
    else:
        np_dtype = _DT_TO_NP.get(proto.dtype)
        if np_dtype is None:
            raise ValueError(f"unsupported tensor dtype {pb.DataType.Name(proto.dtype)}")
        if proto.tensor_content:
            arr = np.frombuffer(proto.tensor_content, dtype=np_dtype.newbyteorder("<")).astype(np_dtype)
        elif proto.dtype == pb.DT_FLOAT:
            arr = np.asarray(proto.float_val, dtype=np.float32)
        elif proto.dtype == pb.DT_DOUBLE:
            arr = np.asarray(proto.double_val, dtype=np.float64)
        elif proto.dtype == pb.DT_INT64:
            arr = np.asarray(proto.int64_val, dtype=np.int64)
        elif proto.dtype == pb.DT_BOOL:
            arr = np.asarray(proto.bool_val, dtype=bool)
        elif proto.dtype == pb.DT_HALF:
            arr = np.asarray(proto.half_val, dtype=np.uint16).view(np.float16)
        elif proto.dtype == pb.DT_UINT32:
            arr = np.asarray(proto.uint32_val, dtype=np.uint32)
        elif proto.dtype == pb.DT_UINT64:
            arr = np.asarray(proto.uint64_val, dtype=np.uint64)
        else:
            arr = np.asarray(proto.int_val, dtype=np_dtype)
    if arr.size == 1 and count != 1:
        arr = np.full(count, arr.reshape(-1)[0], dtype=arr.dtype)
    return arr.reshape(shape)


def _is_text(value: Any) -> bool:
    arr = np.asarray(value, dtype=object)
    flat = arr.reshape(-1)
    return flat.size > 0 and isinstance(flat[0], str | bytes)


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    return str(value).encode("utf-8")


def b64_value(data: bytes) -> dict[str, str]:
    """The TF Serving JSON form of binary data: {"b64": <standard base64>} (never web-safe)."""
    return {"b64": base64.b64encode(data).decode("ascii")}


def feature_from_json(value: Any) -> pb.Feature:
    """A tf.Example Feature from a JSON value, with TF Serving's rules.

    string / {"b64"} -> bytes_list; a number with a decimal point (Python float) -> float_list;
    an integer -> int64_list; true/false -> int64_list 1/0. Lists become lists of the same kind.
    """
    values = value if isinstance(value, list) else [value]
    feature = pb.Feature()
    if not values:
        feature.float_list.SetInParent()
        return feature
    first = values[0]
    if isinstance(first, str | bytes | dict):
        feature.bytes_list.value.extend(_as_bytes(v) for v in values)
    elif any(isinstance(v, float) for v in values):
        feature.float_list.value.extend(float(v) for v in values)
    else:
        feature.int64_list.value.extend(int(v) for v in values)
    return feature


def example_from_json(features: Mapping[str, Any]) -> pb.Example:
    """A tf.Example from one JSON object of `examples` ({feature: value | list})."""
    ex = pb.Example()
    for key, value in features.items():
        ex.features.feature[key].CopyFrom(feature_from_json(_plain(value)))
    return ex


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def example_to_json(example: pb.Example) -> dict[str, Any]:
    """Inverse of example_from_json (for display / tests)."""
    out: dict[str, Any] = {}
    for key, feat in example.features.feature.items():
        kind = feat.WhichOneof("kind")
        vals = list(getattr(feat, kind).value) if kind else []
        out[key] = vals
    return out
