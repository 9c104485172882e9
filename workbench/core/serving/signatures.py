"""Signatures and version status as served: parsed from TF Serving REST JSON, gRPC protos or v2 metadata.

TF Serving quirks handled here: the metadata key is doubled (`metadata.signature_def.signature_def`),
int64 values (versions, dim sizes) arrive as strings, an unknown rank is `"dim": [], "unknown_rank": true`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: TF DataType enum names -> numpy-style dtype names used across the workbench
TF_DTYPES: dict[str, str] = {
    "DT_FLOAT": "float32", "DT_DOUBLE": "float64", "DT_INT32": "int32", "DT_UINT8": "uint8",
    "DT_INT16": "int16", "DT_INT8": "int8", "DT_STRING": "string", "DT_INT64": "int64", "DT_BOOL": "bool",
    "DT_HALF": "float16", "DT_BFLOAT16": "bfloat16", "DT_UINT16": "uint16", "DT_UINT32": "uint32",
    "DT_UINT64": "uint64", "DT_COMPLEX64": "complex64",
}
#: v2 (Open Inference Protocol) datatypes -> numpy-style names
V2_DTYPES: dict[str, str] = {
    "BOOL": "bool", "UINT8": "uint8", "UINT16": "uint16", "UINT32": "uint32", "UINT64": "uint64",
    "INT8": "int8", "INT16": "int16", "INT32": "int32", "INT64": "int64", "FP16": "float16",
    "FP32": "float32", "FP64": "float64", "BYTES": "string",
}
NUMPY_TO_V2 = {v: k for k, v in V2_DTYPES.items()}
NUMPY_TO_TF = {v: k for k, v in TF_DTYPES.items()}

PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"


@dataclass(frozen=True)
class TensorMeta:
    """One signature input or output: alias, TF dtype name, shape (None = unknown rank, -1 = any size)."""

    alias: str
    dtype: str                      # "DT_FLOAT" (TF) or "FP32" (v2), as the server spells it
    shape: tuple[int, ...] | None   # None when the rank is unknown
    tensor_name: str = ""

    @property
    def numpy_dtype(self) -> str:
        return TF_DTYPES.get(self.dtype) or V2_DTYPES.get(self.dtype) or self.dtype.lower()

    def to_json(self) -> dict[str, Any]:
        return {"dtype": self.dtype, "shape": list(self.shape) if self.shape is not None else None}


@dataclass
class Signature:
    """A served signature: method, inputs and outputs keyed by alias."""

    name: str
    method: str
    inputs: dict[str, TensorMeta] = field(default_factory=dict)
    outputs: dict[str, TensorMeta] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method,
                "inputs": {k: v.to_json() for k, v in self.inputs.items()},
                "outputs": {k: v.to_json() for k, v in self.outputs.items()}}

    @property
    def takes_examples(self) -> bool:
        """True when the single input is a DT_STRING that carries serialized tf.Example protos."""
        if len(self.inputs) != 1:
            return False
        meta = next(iter(self.inputs.values()))
        return meta.dtype == "DT_STRING" and (self.method in (CLASSIFY_METHOD, REGRESS_METHOD)
                                              or "example" in meta.tensor_name.lower()
                                              or meta.alias == "inputs" and meta.shape in (None, (-1,)))


@dataclass
class VersionStatus:
    """One entry of a model's status: version, state (AVAILABLE, END, ...) and the load error if any.

    TF Serving versions are integers; v2 (KServe, MLServer, Triton) versions are strings such as "v1".
    """

    version: int | str | None
    state: str
    error_code: str = "OK"
    error_message: str = ""

    @property
    def error(self) -> str | None:
        if self.error_code in ("OK", 0, "0") and not self.error_message:
            return None
        return f"{self.error_code}: {self.error_message}" if self.error_message else str(self.error_code)

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "state": self.state, "error": self.error}


@dataclass
class ModelMetadata:
    """What a metadata call told about a model: effective name/version and its signatures."""

    name: str
    version: int | None
    signatures: dict[str, Signature]
    platform: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    def default_signature(self) -> Signature | None:
        """`serving_default`, else the only predict signature, else the only signature."""
        if "serving_default" in self.signatures:
            return self.signatures["serving_default"]
        sigs = [s for s in self.signatures.values() if not s.name.startswith("__")]
        predict = [s for s in sigs if s.method == PREDICT_METHOD]
        if len(predict) == 1:
            return predict[0]
        return sigs[0] if len(sigs) == 1 else None


def _shape_from_json(shape: dict[str, Any] | None) -> tuple[int, ...] | None:
    if not shape or shape.get("unknown_rank"):
        return None
    return tuple(int(d.get("size", -1)) for d in shape.get("dim", []))


def _tensor_from_json(alias: str, info: dict[str, Any]) -> TensorMeta:
    shape = _shape_from_json(info.get("tensor_shape")) if "tensor_shape" in info else None
    return TensorMeta(alias=alias, dtype=str(info.get("dtype", "DT_INVALID")), shape=shape,
                      tensor_name=str(info.get("name", "")))


def signature_from_json(name: str, sig: dict[str, Any]) -> Signature:
    """One entry of `metadata.signature_def.signature_def` (REST JSON)."""
    return Signature(
        name=name, method=str(sig.get("method_name", "")),
        inputs={k: _tensor_from_json(k, v) for k, v in (sig.get("inputs") or {}).items()},
        outputs={k: _tensor_from_json(k, v) for k, v in (sig.get("outputs") or {}).items()},
    )


def metadata_from_rest(body: dict[str, Any]) -> ModelMetadata:
    """Parse a TF Serving REST metadata body (doubled `signature_def` key, int64 as strings)."""
    spec = body.get("model_spec") or {}
    sig_map = ((body.get("metadata") or {}).get("signature_def") or {})
    if "signature_def" in sig_map and isinstance(sig_map["signature_def"], dict):
        sig_map = sig_map["signature_def"]  # the doubled key of SignatureDefMap
    sigs = {k: signature_from_json(k, v) for k, v in sig_map.items()}
    version = spec.get("version")
    return ModelMetadata(name=str(spec.get("name", "")), version=int(version) if version not in (None, "")
                         else None, signatures=sigs, raw=body)


def statuses_from_rest(body: dict[str, Any]) -> list[VersionStatus]:
    """Parse `{"model_version_status": [...]}` (version as a string, state by name)."""
    out = []
    for item in body.get("model_version_status") or []:
        status = item.get("status") or {}
        version = item.get("version")
        out.append(VersionStatus(version=int(version) if version not in (None, "") else None,
                                 state=str(item.get("state", "UNKNOWN")),
                                 error_code=str(status.get("error_code", "OK")),
                                 error_message=str(status.get("error_message", ""))))
    return out


def pick_version(statuses: list[VersionStatus]) -> VersionStatus | None:
    """The version TF Serving serves as 'latest': the highest AVAILABLE one (not list position 0)."""
    available = [s for s in statuses if s.state == "AVAILABLE" and isinstance(s.version, int)]
    return max(available, key=lambda s: s.version or 0) if available else None


def metadata_from_v2(body: dict[str, Any]) -> ModelMetadata:
    """Parse a v2 model metadata body into one pseudo-signature named `infer`."""
    def tensors(items: list[dict[str, Any]] | None) -> dict[str, TensorMeta]:
        out = {}
        for t in items or []:
            shape = t.get("shape")
            out[str(t.get("name"))] = TensorMeta(alias=str(t.get("name")), dtype=str(t.get("datatype", "")),
                                                 shape=tuple(int(x) for x in shape) if shape is not None
                                                 else None)
        return out

    versions = body.get("versions") or []
    version = None
    for v in versions:
        try:
            version = max(version or 0, int(v))
        except (TypeError, ValueError):
            pass
    sig = Signature(name="infer", method="v2/infer", inputs=tensors(body.get("inputs")),
                    outputs=tensors(body.get("outputs")))
    return ModelMetadata(name=str(body.get("name", "")), version=version, signatures={"infer": sig},
                         platform=str(body.get("platform", "")), raw=body)
