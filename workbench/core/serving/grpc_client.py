"""TensorFlow Serving gRPC client (port 8500) that needs neither TensorFlow nor tensorflow-serving-api.

Design decision: `tensorflow-serving-api` depends on the full `tensorflow` wheel and imports it, so the
workbench ships its own minimal .proto subset (protos/tfserving.proto, written from the field table of
TF Serving's API: same message layouts and field numbers, hence the same bytes on the wire) under the
project's own package name `workbench.tfs`. Our own package avoids clashing in the protobuf descriptor
pool with TensorFlow's `tensorflow.*` protos when TF is loaded in the same process. gRPC routes calls by
method path only, so the methods are called by their real full paths (METHODS below) through
`channel.unary_unary`; no generated *_pb2_grpc stubs are needed. The `Any` in GetModelMetadataResponse
carries type_url `type.googleapis.com/tensorflow.serving.SignatureDefMap`, checked by suffix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from workbench.core.serving.diagnosis import ServingError, diagnose_grpc
from workbench.core.serving.protos import tfserving_pb2 as pb
from workbench.core.serving.signatures import ModelMetadata, Signature, TensorMeta, VersionStatus
from workbench.core.serving.tensors import example_from_json, from_tensor_proto, to_tensor_proto

#: real TF Serving method paths -> (request class, response class)
METHODS: dict[str, tuple[type, type]] = {
    "/tensorflow.serving.PredictionService/Predict": (pb.PredictRequest, pb.PredictResponse),
    "/tensorflow.serving.PredictionService/Classify": (pb.ClassificationRequest, pb.ClassificationResponse),
    "/tensorflow.serving.PredictionService/Regress": (pb.RegressionRequest, pb.RegressionResponse),
    "/tensorflow.serving.PredictionService/GetModelMetadata": (pb.GetModelMetadataRequest,
                                                               pb.GetModelMetadataResponse),
    "/tensorflow.serving.ModelService/GetModelStatus": (pb.GetModelStatusRequest, pb.GetModelStatusResponse),
}
SIGNATURE_DEF_MAP_URL = "type.googleapis.com/tensorflow.serving.SignatureDefMap"


def model_spec(name: str, version: int | None = None, label: str | None = None,
               signature: str | None = None) -> pb.ModelSpec:
    """A ModelSpec; no version and no label means the latest available version."""
    if version is not None and label is not None:
        raise ValueError("give a version or a label, not both")
    spec = pb.ModelSpec(name=name)
    if version is not None:
        spec.version.value = int(version)
    elif label is not None:
        spec.version_label = label
    if signature:
        spec.signature_name = signature
    return spec


def signature_from_proto(name: str, sig: pb.SignatureDef) -> Signature:
    """A Signature from a SignatureDef proto."""
    def meta(alias: str, info: pb.TensorInfo) -> TensorMeta:
        shape = None if info.tensor_shape.unknown_rank or not info.HasField("tensor_shape") \
            else tuple(int(d.size) for d in info.tensor_shape.dim)
        return TensorMeta(alias=alias, dtype=pb.DataType.Name(info.dtype), shape=shape, tensor_name=info.name)

    return Signature(name=name, method=sig.method_name,
                     inputs={k: meta(k, v) for k, v in sorted(sig.inputs.items())},
                     outputs={k: meta(k, v) for k, v in sorted(sig.outputs.items())})


class TFServingGrpcClient:
    """Client for one TF Serving gRPC endpoint: deadlines, metadata headers, TLS.

    `tls`: False (plaintext), True (system roots) or a CA certificate path. `headers` are sent as gRPC
    metadata (keys are lower-cased as gRPC requires).
    """

    def __init__(self, target: str, *, timeout: float = 10.0, headers: Mapping[str, str] | None = None,
                 tls: bool | str = False, server_name: str | None = None) -> None:
        import grpc

        self.target = target
        self.timeout = timeout
        self.call_metadata = [(k.lower(), v) for k, v in (headers or {}).items()]
        from workbench.core.limits import RESPONSE_BYTES

        # the answer is capped (limits.RESPONSE_BYTES); the deadline of each call is `timeout`, in total
        options = [("grpc.max_receive_message_length", RESPONSE_BYTES.value),
                   ("grpc.enable_http_proxy", 0)]
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
        if tls:
            roots = None
            if isinstance(tls, str):
                with open(tls, "rb") as fh:
                    roots = fh.read()
            self.channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(roots), options=options)
        else:
            self.channel = grpc.insecure_channel(target, options=options)
        self._meta_cache: dict[tuple[str, int | None, str | None], ModelMetadata] = {}
        self._calls = {
            path: self.channel.unary_unary(path, request_serializer=req.SerializeToString,
                                           response_deserializer=resp.FromString)
            for path, (req, resp) in METHODS.items()
        }

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> TFServingGrpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, request: Any, timeout: float | None = None) -> Any:
        """Call a method by its short name (Predict, GetModelStatus, ...) or full path."""
        path = method if method.startswith("/") else next(p for p in METHODS if p.endswith("/" + method))
        t = self.timeout if timeout is None else timeout
        try:
            return self._calls[path](request, timeout=t, metadata=self.call_metadata or None)
        except Exception as exc:  # grpc.RpcError and transport failures
            raise ServingError(diagnose_grpc(exc, self.target, t)) from exc

    # -- the TF Serving calls ------------------------------------------------------------------------

    def model_status(self, name: str, version: int | None = None,
                     label: str | None = None) -> list[VersionStatus]:
        """ModelService/GetModelStatus."""
        req = pb.GetModelStatusRequest(model_spec=model_spec(name, version, label))
        resp = self.call("GetModelStatus", req)
        return [VersionStatus(version=int(s.version), state=pb.ModelVersionStatus.State.Name(s.state),
                              error_code=pb.ErrorCode.Code.Name(s.status.error_code),
                              error_message=s.status.error_message) for s in resp.model_version_status]

    def metadata(self, name: str, version: int | None = None, label: str | None = None) -> ModelMetadata:
        """PredictionService/GetModelMetadata with metadata_field "signature_def"."""
        req = pb.GetModelMetadataRequest(model_spec=model_spec(name, version, label),
                                         metadata_field=["signature_def"])
        resp = self.call("GetModelMetadata", req)
        sigs: dict[str, Signature] = {}
        anymsg = resp.metadata.get("signature_def")
        if anymsg is not None and anymsg.type_url.endswith("SignatureDefMap"):
            sig_map = pb.SignatureDefMap.FromString(anymsg.value)
            sigs = {k: signature_from_proto(k, v) for k, v in sorted(sig_map.signature_def.items())}
        ver = resp.model_spec.version.value if resp.model_spec.HasField("version") else None
        return ModelMetadata(name=resp.model_spec.name, version=ver, signatures=sigs)

    def predict(self, name: str, inputs: Mapping[str, Any], *, signature: str | None = None,
                version: int | None = None, label: str | None = None,
                dtypes: Mapping[str, str] | None = None,
                output_filter: Sequence[str] = ()) -> tuple[dict[str, np.ndarray], pb.ModelSpec]:
        """Predict; `inputs` maps alias -> array-like, `dtypes` alias -> DT_* to force a type.

        Without `dtypes` the input dtypes are taken from the signature (one metadata call, cached), so
        Python floats are sent as DT_FLOAT when the signature says so.
        Returns (outputs as numpy arrays, the effective ModelSpec the server echoes).
        """
        if dtypes is None:
            dtypes = self._signature_dtypes(name, version, label, signature or "serving_default")
        req = pb.PredictRequest(model_spec=model_spec(name, version, label, signature),
                                output_filter=list(output_filter))
        for alias, value in inputs.items():
            req.inputs[alias].CopyFrom(to_tensor_proto(value, (dtypes or {}).get(alias)))
        resp = self.call("Predict", req)
        return {k: from_tensor_proto(v) for k, v in resp.outputs.items()}, resp.model_spec

    def _signature_dtypes(self, name: str, version: int | None, label: str | None,
                          signature: str) -> dict[str, str]:
        key = (name, version, label)
        if key not in self._meta_cache:
            try:
                self._meta_cache[key] = self.metadata(name, version, label)
            except ServingError:
                return {}  # let Predict itself report the problem
        sig = self._meta_cache[key].signatures.get(signature)
        return {alias: t.dtype for alias, t in sig.inputs.items()} if sig else {}

    def classify(self, name: str, examples: Sequence[Mapping[str, Any]], *, signature: str | None = None,
                 context: Mapping[str, Any] | None = None, version: int | None = None,
                 label: str | None = None) -> list[list[tuple[str, float]]]:
        """Classify tf.Examples built from JSON-like dicts; returns [[(label, score), ...], ...]."""
        req = pb.ClassificationRequest(model_spec=model_spec(name, version, label, signature))
        _fill_input(req.input, examples, context)
        resp = self.call("Classify", req)
        return [[(c.label, float(c.score)) for c in cl.classes] for cl in resp.result.classifications]

    def regress(self, name: str, examples: Sequence[Mapping[str, Any]], *, signature: str | None = None,
                context: Mapping[str, Any] | None = None, version: int | None = None,
                label: str | None = None) -> list[float]:
        """Regress tf.Examples; returns one value per example."""
        req = pb.RegressionRequest(model_spec=model_spec(name, version, label, signature))
        _fill_input(req.input, examples, context)
        resp = self.call("Regress", req)
        return [float(r.value) for r in resp.result.regressions]


def _fill_input(inp: pb.Input, examples: Sequence[Mapping[str, Any]],
                context: Mapping[str, Any] | None) -> None:
    if context:
        inp.example_list_with_context.examples.extend(example_from_json(e) for e in examples)
        inp.example_list_with_context.context.CopyFrom(example_from_json(context))
    else:
        inp.example_list.examples.extend(example_from_json(e) for e in examples)
