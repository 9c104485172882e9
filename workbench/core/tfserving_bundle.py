"""TF Serving bundles: install a SavedModel as BASE/NAME/VERSION with models.config, warmup requests
and SERVING.md; lint an existing base folder for the mistakes TF Serving users hit.

Nothing here needs TensorFlow: signatures are read with the small protobuf reader of the savedmodel
format, PredictRequests are built with the workbench's own TF Serving protos, and the TFRecord framing
(length, masked crc32c, data, masked crc32c) is written by hand.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import struct
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench.core.errors import CorruptModel, WorkbenchError
from workbench.core.formats.protowire import WireError, fields
from workbench.core.files import atomic_write_bytes

CONFIG_FILE = "models.config"
WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"
SERVING_DOC = "SERVING.md"
#: where the docker command mounts BASE (so models.config names /models/NAME)
CONTAINER_ROOT = "/models"
#: TF Serving reads at most this many warmup records
MAX_WARMUP_RECORDS = 1000
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_METHODS = ("tensorflow/serving/predict", "tensorflow/serving/classify", "tensorflow/serving/regress")


class BundleError(WorkbenchError):
    """A bundle cannot be installed (bad name, version taken, not a SavedModel)."""

    kind = "bundle"


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


# ---------------------------------------------------------------- models.config


@dataclass
class ConfigEntry:
    name: str
    base_path: str
    platform: str
    text: str  # the block as written (kept verbatim when merging)


def _blocks(text: str, keyword: str) -> list[tuple[int, int, str]]:
    """(start, end, body) of each `keyword { ... }` / `keyword: { ... }` block at any depth."""
    out = []
    for match in re.finditer(rf"\b{keyword}\s*:?\s*{{", text):
        depth, i = 1, match.end()
        while i < len(text) and depth:
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
            elif text[i] in "\"'":
                quote = text[i]
                i += 1
                while i < len(text) and text[i] != quote:
                    i += 2 if text[i] == "\\" else 1
            i += 1
        if depth:
            raise BundleError(f"{CONFIG_FILE}: unbalanced braces in the {keyword!r} block")
        out.append((match.start(), i, text[match.end() : i - 1]))
    return out


def _field(body: str, name: str) -> str | None:
    m = re.search(
        rf"(?<![A-Za-z_]){name}\s*:\s*(\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)'|([A-Za-z0-9_./-]+))", body
    )
    if not m:
        return None
    return next(g for g in (m.group(2), m.group(3), m.group(4)) if g is not None)


def parse_model_config(text: str) -> list[ConfigEntry]:
    """The `config` entries of a text-format ModelServerConfig (model_config_list)."""
    stripped = "\n".join(
        line.split("#", 1)[0] if "#" in line and '"' not in line else line for line in text.splitlines()
    )
    lists = _blocks(stripped, "model_config_list")
    if not lists and stripped.strip():
        raise BundleError(
            f"{CONFIG_FILE}: no model_config_list block (TF Serving would fail with "
            "'Error parsing text-format tensorflow.serving.ModelServerConfig')"
        )
    entries = []
    for _, _, body in lists:
        for start, end, inner in _blocks(body, "config"):
            entries.append(
                ConfigEntry(
                    _field(inner, "name") or "",
                    _field(inner, "base_path") or "",
                    _field(inner, "model_platform") or "",
                    body[start:end],
                )
            )
    return entries


def _config_block(name: str, base_path: str) -> str:
    return (
        f"  config {{\n    name: {json.dumps(name)}\n    base_path: {json.dumps(base_path)}\n"
        '    model_platform: "tensorflow"\n  }'
    )


def merge_model_config(existing: str | None, name: str, base_path: str) -> str:
    """models.config text with `name` added; other models (and an existing `name` entry) kept as is."""
    entries = parse_model_config(existing) if existing and existing.strip() else []
    blocks = [e.text.strip() for e in entries]
    if not any(e.name == name for e in entries):
        blocks.append(_config_block(name, base_path).strip())
    body = "\n".join("  " + b if not b.startswith("  ") else b for b in blocks)
    return f"model_config_list {{\n{body}\n}}\n"


def update_model_config(base: Path, name: str) -> Path:
    path = Path(base) / CONFIG_FILE
    existing = path.read_text() if path.is_file() else None
    _write_atomic(path, merge_model_config(existing, name, f"{CONTAINER_ROOT}/{name}").encode())
    return path


# ---------------------------------------------------------------- install


def version_numbers(model_base: Path) -> list[int]:
    """Numeric version folders of a model base path (what TF Serving sees), sorted."""
    if not Path(model_base).is_dir():
        return []
    return sorted(int(p.name) for p in Path(model_base).iterdir() if p.is_dir() and p.name.isdigit())


def next_version(model_base: Path) -> int:
    versions = version_numbers(model_base)
    return (versions[-1] + 1) if versions else 1


def _write_atomic(path: Path, data: bytes) -> None:
    atomic_write_bytes(path, data)


def install_bundle(
    savedmodel_dir: Path | str, base: Path | str, name: str, version: int | None = None, rows: Any = None
) -> Path:
    """Install a SavedModel as BASE/NAME/VERSION (next free version unless given) and return that path.

    Also writes BASE/models.config (merged with other models), VERSION/assets.extra/
    tf_serving_warmup_requests from `rows` (a DataFrame of original columns) and BASE/NAME/SERVING.md.
    The version folder is copied into a hidden temp folder beside it and renamed into place.
    """
    source, base = Path(savedmodel_dir), Path(base)
    if not (source / "saved_model.pb").is_file():
        raise BundleError(f"{source}: not a SavedModel folder (no saved_model.pb)")
    if not _NAME_RE.match(name or ""):
        raise BundleError(
            f"model name {name!r}: use letters, digits, '_', '.', '-' (it becomes a folder and "
            "the URL /v1/models/NAME)"
        )
    model_base = base / name
    model_base.mkdir(parents=True, exist_ok=True)
    if version is None:
        version = next_version(model_base)
    version = int(version)
    if version < 0:
        raise BundleError(f"version {version}: TF Serving versions are non-negative integers")
    target = model_base / str(version)
    if target.exists():
        raise BundleError(f"{target} exists: choose another --version or leave it out for the next free one")
    tmp = model_base / f".{version}.installing-{uuid.uuid4().hex[:8]}"
    warmup_problem = None
    try:
        shutil.copytree(source, tmp)
        if rows is not None and len(rows):
            try:
                write_warmup(tmp, rows, name)
            except BundleError as exc:  # warmup is optional: install, and say why there is none
                warmup_problem = str(exc)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    update_model_config(base, name)
    first_row = rows.head(1) if rows is not None and len(rows) else None
    doc = serving_doc(base, name, target, first_row, warmup_problem)
    _write_atomic(model_base / SERVING_DOC, doc.encode())
    return target


# ---------------------------------------------------------------- SERVING.md


def _json_row(savedmodel_dir: Path, frame: Any) -> dict[str, Any] | list[Any] | None:
    from workbench.core.converters.to_savedmodel.compile import read_metadata

    try:
        inputs = request_inputs(savedmodel_dir, frame)
    except (WorkbenchError, WireError):
        return None
    if len(inputs) == 1:
        ((alias, (values, dtype, shape)),) = inputs.items()
        if len(shape) == 2 and shape[1] != 1:
            return [_json_value(v, dtype) for v in values]
    meta = read_metadata(savedmodel_dir) or {}
    order = [item.get("alias") for item in meta.get("inputs", [])]
    aliases = sorted(inputs, key=lambda a: order.index(a) if a in order else len(order))
    return {alias: _json_value(inputs[alias][0][0], inputs[alias][1]) for alias in aliases}


def _json_value(value: Any, dtype: int) -> Any:
    """A row value as JSON of the input's dtype (CSV text '55' -> 55.0 for a float input)."""
    if hasattr(value, "item"):
        value = value.item()
    if _missing(value):
        return "" if dtype == 7 else None
    try:
        if dtype in (1, 2):
            number = float(value)
            return None if math.isnan(number) else number
        if dtype in (3, 4, 5, 6, 9):
            return int(float(value))
        if dtype == 10:
            return bool(value)
    except (TypeError, ValueError):
        return value
    return str(value)


def serving_doc(
    base: Path, name: str, version_dir: Path, row: Any = None, warmup_problem: str | None = None
) -> str:
    """SERVING.md: how to serve BASE with the tensorflow/serving image and query it with curl."""
    base_abs = Path(base).resolve()
    model_abs = (Path(base) / name).resolve()
    versions = version_numbers(Path(base) / name)
    body = None
    if row is not None:
        instance = _json_row(version_dir, row)
        if instance is not None:
            body = json.dumps({"instances": [instance]})
    lines = [
        f"# Serving `{name}` with TensorFlow Serving",
        "",
        f"Versions in this folder: {', '.join(map(str, versions))} "
        "(TF Serving serves the highest by default; "
        f"version {version_dir.name} was just added).",
        "",
        "## One model: bind-mount this folder",
        "",
        "```sh",
        "docker run --rm -p 8500:8500 -p 8501:8501 \\",
        f'  --mount type=bind,source="{model_abs}",target={CONTAINER_ROOT}/{name} \\',
        f"  -e MODEL_NAME={name} -t tensorflow/serving",
        "```",
        "",
        f"## Every model of `{base_abs}` with `{CONFIG_FILE}`",
        "",
        "```sh",
        "docker run --rm -p 8500:8500 -p 8501:8501 \\",
        f'  --mount type=bind,source="{base_abs}",target={CONTAINER_ROOT} \\',
        f"  -t tensorflow/serving --model_config_file={CONTAINER_ROOT}/{CONFIG_FILE}",
        "```",
        "",
        f"`{CONFIG_FILE}` names base paths inside the container ({CONTAINER_ROOT}/NAME): "
        "keep the mount target "
        f"`{CONTAINER_ROOT}`, and point `base_path` at the model folder, never at a version folder.",
        "Port 8500 is gRPC, 8501 REST.",
        "",
        "## Query it",
        "",
        "```sh",
        f"curl -s http://localhost:8501/v1/models/{name}",
        f"curl -s http://localhost:8501/v1/models/{name}/metadata",
    ]
    if body is not None:
        quoted = body.replace("'", "'\\''")
        lines += [
            f"curl -s -X POST http://localhost:8501/v1/models/{name}:predict -d '{quoted}'",
            f"curl -s -X POST http://localhost:8501/v1/models/{name}/versions/{version_dir.name}:predict "
            f"-d '{quoted}'",
        ]
    else:
        lines.append(
            f"curl -s -X POST http://localhost:8501/v1/models/{name}:predict "
            "-d '{\"instances\": [{...one row: input name -> value...}]}'"
        )
    lines += [
        "```",
        "",
        "Each instance is one row as an object keyed by the signature's input names "
        "(`workbench inspect` lists them).",
        "",
        f"Check the folder before serving: `workbench lint {base_abs}`.",
        "",
    ]
    if (version_dir / WARMUP_FILE).is_file():
        lines.insert(
            4, f"Warmup requests (`{WARMUP_FILE}`) are replayed by TF Serving when the version loads.\n"
        )
    elif warmup_problem:
        lines.insert(4, f"No warmup requests were written: {warmup_problem}.\n")
    return "\n".join(lines)


# ---------------------------------------------------------------- lint


@dataclass(frozen=True)
class LintFinding:
    """One problem (or note) about a TF Serving folder."""

    level: str  # "error" | "warning" | "info"
    message: str
    hint: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def _has_variable_ops(pb: Path) -> bool:
    data = pb.read_bytes()
    return any(op in data for op in (b"VarHandleOp", b"VariableV2", b"RestoreV2"))


def _lint_version(model: str, vdir: Path) -> list[LintFinding]:
    from workbench.core.formats.savedmodel import read_saved_model_pb

    out: list[LintFinding] = []
    pb, pbtxt = vdir / "saved_model.pb", vdir / "saved_model.pbtxt"
    if not pb.is_file() and not pbtxt.is_file() and (vdir / "model.tflite").is_file():
        out.append(
            LintFinding(
                "warning",
                f"{model} version {vdir.name}: holds model.tflite, no saved_model.pb",
                "TF Serving serves it only with --prefer_tflite_model=true",
            )
        )
        return out
    if not pb.is_file() and not pbtxt.is_file():
        contents = sorted(p.name for p in vdir.iterdir()) if vdir.is_dir() else []
        out.append(
            LintFinding(
                "error",
                f"{model} version {vdir.name}: no saved_model.pb in {vdir}",
                "a version folder must hold the SavedModel itself (saved_model.pb, variables/); "
                f"found: {', '.join(contents) or 'nothing'}",
            )
        )
        return out
    if not pb.is_file():
        out.append(
            LintFinding(
                "info", f"{model} version {vdir.name}: text-format saved_model.pbtxt (signatures not checked)"
            )
        )
        return out
    try:
        graphs = read_saved_model_pb(pb)
    except CorruptModel as exc:
        out.append(
            LintFinding(
                "error",
                f"{model} version {vdir.name}: {exc.message}",
                "re-export the model; the file is truncated or damaged",
            )
        )
        return out
    serve = [g for g in graphs if "serve" in g["tags"]]
    if not serve:
        out.append(
            LintFinding(
                "error",
                f"{model} version {vdir.name}: no MetaGraph tagged 'serve' "
                f"(tags: {[g['tags'] for g in graphs]})",
                "TF Serving loads the 'serve' tag: export with tf.saved_model.save or "
                "tags=[tf.saved_model.SERVING]",
            )
        )
        return out
    sigs = {k: v for k, v in serve[0]["signatures"].items() if not k.startswith("__")}
    if "serving_default" not in sigs:
        out.append(
            LintFinding(
                "error",
                f"{model} version {vdir.name}: no 'serving_default' signature "
                f"(has: {', '.join(sigs) or 'none'})",
                "requests without signature_name fail with 'Serving signature name: "
                '"serving_default" not found '
                "in signature def'; name one of the existing signatures or re-export with a serving_default",
            )
        )
    for key, sig in sigs.items():
        if sig["method"] and sig["method"] not in _METHODS:
            out.append(
                LintFinding(
                    "warning",
                    f"{model} version {vdir.name}: signature {key!r} has method {sig['method']!r}",
                    f"TF Serving expects one of {', '.join(_METHODS)}",
                )
            )
    default = sigs.get("serving_default")
    if default:
        if not default["inputs"]:
            out.append(
                LintFinding("warning", f"{model} version {vdir.name}: serving_default takes no inputs")
            )
        strings = [a for a, i in default["inputs"].items() if i["dtype"] == 7 and i["shape"] is None]
        if strings and default["method"].endswith(("classify", "regress")):
            out.append(
                LintFinding(
                    "info",
                    f"{model} version {vdir.name}: serving_default takes serialized "
                    f"tf.Example ({', '.join(strings)})",
                    "use :classify/:regress with 'examples', not :predict with numbers",
                )
            )
    variables = vdir / "variables"
    has_index = (variables / "variables.index").is_file()
    data_files = list(variables.glob("variables.data-*")) if variables.is_dir() else []
    if _has_variable_ops(pb) and not has_index:
        out.append(
            LintFinding(
                "error",
                f"{model} version {vdir.name}: the graph has variables but "
                f"{'variables/ is missing' if not variables.is_dir() else 'variables/ is empty'}",
                "copy the whole SavedModel folder, including variables/variables.index and variables.data-*",
            )
        )
    elif has_index and not data_files:
        out.append(
            LintFinding(
                "error",
                f"{model} version {vdir.name}: variables/variables.index without variables.data-* shards",
                "the copy is incomplete: copy variables/ again",
            )
        )
    warmup = vdir / WARMUP_FILE
    if warmup.is_file():
        try:
            records = read_tfrecords(warmup)
            for record in records:
                unwrap_prediction_log(record)
            level, msg = "info", f"{model} version {vdir.name}: {len(records)} warmup request(s)"
            if len(records) > MAX_WARMUP_RECORDS:
                level, msg = "warning", f"{msg}; TF Serving replays at most {MAX_WARMUP_RECORDS}"
            out.append(LintFinding(level, msg))
        except (CorruptModel, WireError) as exc:
            out.append(
                LintFinding(
                    "error",
                    f"{model} version {vdir.name}: unreadable warmup file {warmup.name} ({exc})",
                    "TF Serving fails to load a version whose warmup file is damaged; remove or rewrite it",
                )
            )
    return out


def lint_model_base(path: Path, model: str | None = None) -> list[LintFinding]:
    """Lint one model base path (the folder holding numeric version folders)."""
    path = Path(path)
    model = model or (path.parent.name if path.name.isdigit() else path.name)
    out: list[LintFinding] = []
    if not path.is_dir():
        return [
            LintFinding(
                "error",
                f"{model}: base path {path} does not exist",
                "create it, or fix base_path / the bind mount",
            )
        ]
    if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
        if path.name.isdigit():
            hint = f"use the base path {path.parent} (tensorflow/serving#1419)"
        else:
            hint = (f"move the SavedModel into a numeric version folder such as {path}/1/ "
                    "(tensorflow/serving#1419)")
        return [
            LintFinding(
                "error",
                f"{path} is a SavedModel (version) folder, not a base path: TF Serving logs "
                f"'No versions of servable {model} found under base path {path}'",
                hint,
            )
        ]
    dirs = [p for p in sorted(path.iterdir()) if p.is_dir()]
    numeric = [p for p in dirs if p.name.isdigit()]
    hidden = [p for p in dirs if p.name.startswith(".")]
    ignored = [p for p in dirs if not p.name.isdigit() and not p.name.startswith(".")]
    if ignored:
        out.append(
            LintFinding(
                "warning" if not numeric else "info",
                f"{model}: folder(s) {', '.join(p.name for p in ignored)} are not numeric and are "
                "ignored by TF Serving",
                "only folders named by an integer (1, 2, 00000123) are versions",
            )
        )
    if hidden:
        out.append(
            LintFinding(
                "info",
                f"{model}: hidden folder(s) {', '.join(p.name for p in hidden)} ignored "
                "(left over from an interrupted install?)",
            )
        )
    if not numeric:
        out.append(
            LintFinding(
                "error",
                f"No versions of servable {model} found under base path {path}",
                "put the SavedModel in a numeric subfolder, e.g. "
                f"{path}/1/saved_model.pb (tensorflow/serving#1419)",
            )
        )
        return out
    by_value: dict[int, list[str]] = {}
    for p in numeric:
        by_value.setdefault(int(p.name), []).append(p.name)
    for value, names in by_value.items():
        if len(names) > 1:
            out.append(
                LintFinding(
                    "error",
                    f"{model}: folders {', '.join(names)} are the same version {value}",
                    "keep one of them",
                )
            )
    for p in numeric:
        out.extend(_lint_version(model, p))
    latest = max(by_value)
    out.append(
        LintFinding(
            "info",
            f"{model}: versions {', '.join(str(v) for v in sorted(by_value))}; "
            f"TF Serving serves {latest} by default (model_version_policy latest)",
        )
    )
    return out


def _host_path(base: Path, base_path: str) -> Path:
    if base_path == CONTAINER_ROOT or base_path.startswith(CONTAINER_ROOT + "/"):
        return base / base_path[len(CONTAINER_ROOT) :].lstrip("/")
    return Path(base_path)


def lint_base_folder(path: Path | str) -> list[LintFinding]:
    """Lint a TF Serving folder: a models root with models.config, a folder of model base paths, or
    one model base path. Returns findings (errors first)."""
    path = Path(path)
    if not path.exists():
        return [LintFinding("error", f"{path} does not exist")]
    if not path.is_dir():
        return [
            LintFinding(
                "error",
                f"{path} is a file; TF Serving needs a folder",
                "point at the model base path (the folder holding numeric version folders)",
            )
        ]
    out: list[LintFinding] = []
    config = path / CONFIG_FILE
    if config.is_file():
        try:
            entries = parse_model_config(config.read_text())
        except BundleError as exc:
            return [LintFinding("error", str(exc), "fix the text-format ModelServerConfig")]
        if not entries:
            out.append(LintFinding("error", f"{config}: no model config entries"))
        seen: set[str] = set()
        for entry in entries:
            label = entry.name or "(unnamed)"
            if not entry.name:
                out.append(LintFinding("error", f"{config}: a config entry has no name"))
            elif entry.name in seen:
                out.append(LintFinding("error", f"{config}: model {entry.name!r} is configured twice"))
            seen.add(entry.name)
            if entry.platform != "tensorflow":
                out.append(
                    LintFinding(
                        "error" if entry.platform else "warning",
                        f"{config}: model {label} has model_platform {entry.platform or 'unset'!r}",
                        'set model_platform: "tensorflow"',
                    )
                )
            if not entry.base_path:
                out.append(LintFinding("error", f"{config}: model {label} has no base_path"))
                continue
            last = entry.base_path.rstrip("/").rsplit("/", 1)[-1]
            if last.isdigit():
                out.append(
                    LintFinding(
                        "error",
                        f"{config}: model {label} base_path {entry.base_path} ends in a version folder",
                        "base_path excludes the version: use "
                        f"{entry.base_path.rstrip('/').rsplit('/', 1)[0]} "
                        "(tensorflow/serving#1419)",
                    )
                )
                continue
            host = _host_path(path, entry.base_path)
            if not host.exists():
                out.append(
                    LintFinding(
                        "warning",
                        f"{config}: model {label} base_path {entry.base_path} is not here ({host})",
                        "fine if it exists on the serving host; otherwise fix it",
                    )
                )
                continue
            out.extend(lint_model_base(host, entry.name or host.name))
        configured = {_host_path(path, e.base_path).resolve() for e in entries if e.base_path}
        for sub in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if sub.resolve() not in configured and any(
                c.is_dir() and c.name.isdigit() for c in sub.iterdir()
            ):
                out.append(
                    LintFinding(
                        "warning",
                        f"{sub.name} has versions but is not in {CONFIG_FILE}",
                        "TF Serving with --model_config_file serves only the configured models",
                    )
                )
    else:
        dirs = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
        is_model_base = any(p.name.isdigit() for p in dirs) or (path / "saved_model.pb").is_file()
        children = sorted(p for p in dirs if any(c.is_dir() and c.name.isdigit() for c in p.iterdir()))
        if is_model_base or not children:
            out.extend(lint_model_base(path))
        else:
            out.append(
                LintFinding(
                    "info",
                    f"{path}: no {CONFIG_FILE}; model base paths found: "
                    f"{', '.join(p.name for p in children)}",
                    "serve one with MODEL_NAME, or all with a models.config",
                )
            )
            for child in children:
                out.extend(lint_model_base(child))
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(out, key=lambda f: order.get(f.level, 3))
