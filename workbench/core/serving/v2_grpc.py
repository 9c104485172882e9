"""Open Inference Protocol (v2) gRPC client: health, metadata, ModelInfer; no tritonclient needed.

Messages come from the project's own protos/oip.proto (package `workbench.oip`, same field numbers as
KServe's / MLServer's `inference` package); the methods are called by their real paths
`/inference.GRPCInferenceService/<Method>`, as grpc_client.py does for TF Serving.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from workbench.core.serving.diagnosis import ServingError, diagnose_grpc
from workbench.core.serving.protos import oip_pb2 as pb
from workbench.core.serving.signatures import ModelMetadata, metadata_from_v2

SERVICE = "/inference.GRPCInferenceService/"
METHODS: dict[str, tuple[type, type]] = {
    "ServerLive": (pb.ServerLiveRequest, pb.ServerLiveResponse),
    "ServerReady": (pb.ServerReadyRequest, pb.ServerReadyResponse),
    "ModelReady": (pb.ModelReadyRequest, pb.ModelReadyResponse),
    "ServerMetadata": (pb.ServerMetadataRequest, pb.ServerMetadataResponse),
    "ModelMetadata": (pb.ModelMetadataRequest, pb.ModelMetadataResponse),
    "ModelInfer": (pb.ModelInferRequest, pb.ModelInferResponse),
}
#: v2 datatype -> (InferTensorContents field, numpy dtype)
CONTENTS = {
    "BOOL": ("bool_contents", np.bool_), "INT8": ("int_contents", np.int8),
    "INT16": ("int_contents", np.int16),
    "INT32": ("int_contents", np.int32), "INT64": ("int64_contents", np.int64),
    "UINT8": ("uint_contents", np.uint8), "UINT16": ("uint_contents", np.uint16),
    "UINT32": ("uint_contents", np.uint32), "UINT64": ("uint64_contents", np.uint64),
    "FP32": ("fp32_contents", np.float32), "FP64": ("fp64_contents", np.float64),
    "BYTES": ("bytes_contents", object),
}


class V2GrpcClient:
    """Client for one v2 gRPC endpoint (Triton 8001, MLServer/KServe 8081): deadlines, metadata, TLS."""

    def __init__(self, target: str, *, timeout: float = 10.0, headers: Mapping[str, str] | None = None,
                 tls: bool | str = False) -> None:
        import grpc

        self.target = target
        self.timeout = timeout
        self.call_metadata = [(k.lower(), v) for k, v in (headers or {}).items()]
        from workbench.core.limits import RESPONSE_BYTES

        options = [("grpc.enable_http_proxy", 0), ("grpc.max_receive_message_length", RESPONSE_BYTES.value)]
        if tls:
            roots = open(tls, "rb").read() if isinstance(tls, str) else None  # noqa: SIM115
            self.channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(roots), options=options)
        else:
            self.channel = grpc.insecure_channel(target, options=options)
        self._calls = {
            name: self.channel.unary_unary(SERVICE + name, request_serializer=req.SerializeToString,
                                           response_deserializer=resp.FromString)
            for name, (req, resp) in METHODS.items()
        }

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> V2GrpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, request: Any) -> Any:
        try:
            return self._calls[method](request, timeout=self.timeout, metadata=self.call_metadata or None)
        except Exception as exc:  # grpc.RpcError and transport failures
            raise ServingError(diagnose_grpc(exc, self.target, self.timeout)) from exc

    def live(self) -> bool:
        return bool(self.call("ServerLive", pb.ServerLiveRequest()).live)

    def ready(self) -> bool:
        return bool(self.call("ServerReady", pb.ServerReadyRequest()).ready)

    def model_ready(self, name: str, version: str = "") -> bool:
        return bool(self.call("ModelReady", pb.ModelReadyRequest(name=name, version=version)).ready)

    def server_metadata(self) -> dict[str, Any]:
        resp = self.call("ServerMetadata", pb.ServerMetadataRequest())
        return {"name": resp.name, "version": resp.version, "extensions": list(resp.extensions)}

    def model_metadata(self, name: str, version: str = "") -> ModelMetadata:
        resp = self.call("ModelMetadata", pb.ModelMetadataRequest(name=name, version=version))
        return metadata_from_v2({
            "name": resp.name, "versions": list(resp.versions), "platform": resp.platform,
            "inputs": [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in resp.inputs],
            "outputs": [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)}
                        for t in resp.outputs]})

    def infer(self, name: str, inputs: Sequence[Mapping[str, Any]], *, outputs: Sequence[str] = (),
              version: str = "", request_id: str = "") -> dict[str, np.ndarray]:
        """ModelInfer; `inputs` are v2 REST-style dicts {"name","datatype","shape","data"}."""
        req = pb.ModelInferRequest(model_name=name, model_version=version or "", id=request_id)
        for item in inputs:
            datatype = str(item["datatype"])
            field, _ = CONTENTS[datatype]
            tensor = req.inputs.add(name=str(item["name"]), datatype=datatype,
                                    shape=[int(s) for s in item["shape"]])
            data = np.asarray(item["data"], dtype=object if datatype == "BYTES" else None).reshape(-1)
            values = [v if isinstance(v, bytes) else str(v).encode() for v in data] if datatype == "BYTES" \
                else data.tolist()
            getattr(tensor.contents, field).extend(values)
        for out in outputs:
            req.outputs.add(name=out)
        resp = self.call("ModelInfer", req)
        return outputs_of(resp)


def outputs_of(resp: pb.ModelInferResponse) -> dict[str, np.ndarray]:
    """Output arrays from typed contents or from raw_output_contents (little-endian, one blob per output)."""
    result = {}
    for i, out in enumerate(resp.outputs):
        field, np_dtype = CONTENTS.get(out.datatype, ("fp32_contents", np.float32))
        shape = [int(s) for s in out.shape]
        if i < len(resp.raw_output_contents) and resp.raw_output_contents[i]:
            raw = resp.raw_output_contents[i]
            if out.datatype == "BYTES":  # 4-byte little-endian length prefix per element
                items, pos = [], 0
                while pos < len(raw):
                    size = int.from_bytes(raw[pos:pos + 4], "little")
                    items.append(raw[pos + 4:pos + 4 + size])
                    pos += 4 + size
                arr = np.empty(len(items), dtype=object)
                arr[:] = items
            else:
                arr = np.frombuffer(raw, dtype=np.dtype(np_dtype).newbyteorder("<")).astype(np_dtype)
        else:
            values = list(getattr(out.contents, field))
            if np_dtype is object:
                arr = np.empty(len(values), dtype=object)
                arr[:] = values
            else:
                arr = np.asarray(values, dtype=np_dtype)
        result[out.name] = arr.reshape(shape) if shape and arr.size == int(np.prod(shape)) else arr
    return result
