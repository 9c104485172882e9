"""Warmup requests of a TF Serving version: TFRecord framing, PredictionLog records, and the
PredictRequests built from sample rows for the serving_default signature.

Nothing here needs TensorFlow: signatures are read with the small protobuf reader of the savedmodel
format, PredictRequests are built with the workbench's own TF Serving protos, and the TFRecord framing
(length, masked crc32c, data, masked crc32c) is written by hand.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.errors import CorruptModel
from workbench.core.formats.protowire import WireError, fields
from workbench.core.tfserving.layout import MAX_WARMUP_RECORDS, WARMUP_FILE, BundleError, _write_atomic

# ---------------------------------------------------------------- TFRecord framing


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as TFRecord uses."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord_frame(record: bytes) -> bytes:
    """One TFRecord: uint64 length, masked crc of the length, data, masked crc of the data."""
    length = struct.pack("<Q", len(record))
    return length + struct.pack("<I", masked_crc(length)) + record + struct.pack("<I", masked_crc(record))


def read_tfrecords(path: Path) -> list[bytes]:
    """Records of a TFRecord file, checking both CRCs; raises CorruptModel when damaged."""
    data = Path(path).read_bytes()
    out, pos = [], 0
    while pos < len(data):
        if pos + 12 > len(data):
            raise CorruptModel(str(path), f"{path}: truncated TFRecord header at byte {pos}")
        length_bytes = data[pos : pos + 8]
        (length,) = struct.unpack("<Q", length_bytes)
        (crc,) = struct.unpack("<I", data[pos + 8 : pos + 12])
        if crc != masked_crc(length_bytes):
            raise CorruptModel(str(path), f"{path}: bad length CRC in TFRecord at byte {pos}")
        start, end = pos + 12, pos + 12 + length
        if end + 4 > len(data):
            raise CorruptModel(str(path), f"{path}: truncated TFRecord at byte {pos}")
        record = data[start:end]
        (crc,) = struct.unpack("<I", data[end : end + 4])
        if crc != masked_crc(record):
            raise CorruptModel(str(path), f"{path}: bad data CRC in TFRecord at byte {pos}")
        out.append(record)
        pos = end + 4
    return out


# ---------------------------------------------------------------- protobuf helpers


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


def prediction_log(predict_request: bytes) -> bytes:
    """PredictionLog{predict_log (6): PredictLog{request (1): PredictRequest}} as bytes."""
    return _len_field(6, _len_field(1, predict_request))


def unwrap_prediction_log(record: bytes) -> bytes:
    """The PredictRequest bytes inside a PredictionLog record (raises WireError if it is not one)."""
    for number, _, value in fields(record):
        if number == 6:
            for n2, _, v2 in fields(value):  # type: ignore[arg-type]
                if n2 == 1:
                    return bytes(v2)  # type: ignore[arg-type]
    raise WireError("not a PredictionLog with a predict_log request")


# ---------------------------------------------------------------- signatures


@dataclass(frozen=True)
class SignatureInput:
    alias: str
    dtype: int  # tensorflow.DataType enum value
    shape: tuple[int | None, ...] | None


def serving_inputs(savedmodel_dir: Path, signature: str = "serving_default") -> list[SignatureInput]:
    """The inputs of a signature, read from saved_model.pb (without TensorFlow)."""
    from workbench.core.formats.savedmodel import read_saved_model_pb

    pb = Path(savedmodel_dir) / "saved_model.pb"
    graphs = read_saved_model_pb(pb)
    serve = next((g for g in graphs if "serve" in g["tags"]), graphs[0])
    sig = serve["signatures"].get(signature)
    if sig is None:
        raise BundleError(
            f"{pb}: no {signature!r} signature (found: {', '.join(serve['signatures']) or 'none'})"
        )
    return [
        SignatureInput(alias, info["dtype"], info["shape"]) for alias, info in sorted(sig["inputs"].items())
    ]


def _column_for(alias: str, frame: Any, meta: dict[str, Any] | None) -> str | None:
    if meta:
        for item in meta.get("inputs", []):
            if item.get("alias") == alias and item.get("name") in frame.columns:
                return item["name"]
    if alias in frame.columns:
        return alias
    return None


def _tensor_proto(values: list[Any], dtype: int, shape: list[int]) -> Any:
    from workbench.core.serving.protos import tfserving_pb2 as pb

    tensor = pb.TensorProto(dtype=dtype)
    for size in shape:
        tensor.tensor_shape.dim.add().size = size
    if dtype == 1:
        tensor.float_val.extend(_float(v) for v in values)
    elif dtype == 2:
        tensor.double_val.extend(_float(v) for v in values)
    elif dtype in (3, 4, 5, 6):
        tensor.int_val.extend(int(_float(v)) for v in values)
    elif dtype == 9:
        tensor.int64_val.extend(int(_float(v)) for v in values)
    elif dtype == 10:
        tensor.bool_val.extend(bool(v) for v in values)
    elif dtype == 7:
        tensor.string_val.extend(("" if _missing(v) else str(v)).encode("utf-8") for v in values)
    else:
        raise BundleError(f"cannot build warmup requests for input dtype enum {dtype}")
    return tensor


def _float(value: Any) -> float:
    if _missing(value) or (isinstance(value, str) and not value.strip()):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise BundleError(f"warmup rows: {value!r} is not a number") from None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def request_inputs(savedmodel_dir: Path, frame: Any) -> dict[str, tuple[list[Any], int, list[int]]]:
    """Map sample rows onto the serving_default inputs: alias -> (flat values, dtype, shape).

    One input per column (matched by name, or via the workbench metadata), or a single 2-D input fed
    with all columns in order (e.g. a Keras `features` [None, k] input).
    """
    from workbench.core.converters.to_savedmodel.compile import read_metadata

    inputs = serving_inputs(savedmodel_dir)
    meta = read_metadata(savedmodel_dir)
    n = len(frame)
    out: dict[str, tuple[list[Any], int, list[int]]] = {}
    matched = {i.alias: _column_for(i.alias, frame, meta) for i in inputs}
    if all(matched.values()):
        for item in inputs:
            column = frame[matched[item.alias]].tolist()
            rank2 = item.shape is not None and len(item.shape) == 2 and item.shape[1] == 1
            out[item.alias] = (column, item.dtype, [n, 1] if rank2 else [n])
        return out
    if len(inputs) == 1 and inputs[0].shape is not None and len(inputs[0].shape) == 2:
        width = inputs[0].shape[1]
        if width is None or width == frame.shape[1]:
            flat = [v for row in frame.itertuples(index=False) for v in row]
            return {inputs[0].alias: (flat, inputs[0].dtype, [n, frame.shape[1]])}
    missing = [a for a, c in matched.items() if c is None]
    raise BundleError(
        f"sample rows have no column for signature input(s) {', '.join(missing)} "
        f"(row columns: {', '.join(map(str, frame.columns))})"
    )


def warmup_records(savedmodel_dir: Path, frame: Any, name: str, max_rows: int = 8) -> list[bytes]:
    """PredictionLog records: one request per row (up to `max_rows`) and one batch of all of them."""
    from workbench.core.serving.protos import tfserving_pb2 as pb

    frame = frame.head(max_rows)
    batches = [frame.iloc[[i]] for i in range(len(frame))]
    if len(frame) > 1:
        batches.append(frame)
    records = []
    for batch in batches:
        request = pb.PredictRequest()
        request.model_spec.name = name
        request.model_spec.signature_name = "serving_default"
        for alias, (values, dtype, shape) in request_inputs(savedmodel_dir, batch).items():
            request.inputs[alias].CopyFrom(_tensor_proto(values, dtype, shape))
        records.append(prediction_log(request.SerializeToString()))
    return records[:MAX_WARMUP_RECORDS]


def write_warmup(version_dir: Path, frame: Any, name: str) -> Path:
    path = Path(version_dir) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(tfrecord_frame(r) for r in warmup_records(version_dir, frame, name))
    _write_atomic(path, data)
    return path
