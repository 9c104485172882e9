"""Build load-test targets from feature rows, with the Serving probe's protocol pieces.

Each request carries `batch_size` rows (cycled). The served signature (TF Serving metadata, or v2 model
metadata) decides the input aliases, dtypes and shapes when the server tells; otherwise column names are
used as input aliases. Bodies are encoded once here, so the load loop only sends bytes.

REST (TF Serving :predict, row form):  {"instances": [v, ...]} for one input, [{"col": v, ...}, ...] for
several, [[v1, v2, ...], ...] for one tensor input fed by several columns.
REST (v2 /v2/models/NAME/infer):       {"inputs": [{"name", "shape", "datatype", "data"}]}.
gRPC (TF Serving Predict):             PredictRequest with one TensorProto per input alias.

When the server tells the signature, the rows are checked against it first, with the Serving request
builder (workbench.core.serving.request_builder): every cell that does not fit an input's dtype, and every
input without a column, is reported at once as `InputRowsError` ("row N, column 'c': ...", rows counted
from 1) before anything is sent.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np

from workbench.core.bench.load import TFS_PREDICT_METHOD, GrpcTarget, HttpTarget, http_target
from workbench.core.errors import InputRowsError, WorkbenchError

_MAX_DISTINCT = 256   # distinct pre-encoded requests cycled through


def typed_columns(frame: Any) -> Any:
    """Columns whose every value reads as a number become numbers (CSV rows arrive as text)."""
    import pandas as pd

    out = frame.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]) and not pd.api.types.is_bool_dtype(out[col]):
            try:
                out[col] = pd.to_numeric(out[col])
            except (ValueError, TypeError):
                pass
    return out


def _batch_indices(n: int, batch_size: int) -> list[np.ndarray]:
    """Row positions of each distinct request: `batch_size` rows, cycled (repeated when too few)."""
    if n == 0:
        raise WorkbenchError("no rows to send", hint="give a CSV with at least one row")
    count = max(1, min(_MAX_DISTINCT, -(-n // batch_size)))
    return [(np.arange(batch_size) + i * batch_size) % n for i in range(count)]


def _row_batches(frame: Any, batch_size: int) -> list[Any]:
    frame = typed_columns(frame)
    return [frame.iloc[idx] for idx in _batch_indices(len(frame), batch_size)]


#: a request-builder cell problem: "row N, column 'c': ..." (rows counted from 1)
_BUILDER_CELL = re.compile(r"^row (?P<row>\d+), column (?P<column>.+?): ", re.DOTALL)
_MESSAGE_PROBLEMS = 8


def _rows_error(exc: InputRowsError, frame: Any, where: str) -> InputRowsError:
    """The request builder's problems as one line: cells in row order first, then whole-input problems."""
    positions = {repr(str(c)): j for j, c in enumerate(frame.columns)}
    general: list[str] = []
    cells: list[tuple[int, int, str]] = []
    for problem in exc.problems or [exc.message]:
        match = _BUILDER_CELL.match(problem)
        if match is None:
            general.append(problem)
        else:
            cells.append((int(match["row"]), positions.get(match["column"], len(positions)), problem))
    problems = [text for _, _, text in sorted(cells)] + general
    shown = "; ".join(problems[:_MESSAGE_PROBLEMS])
    more = f"; and {len(problems) - _MESSAGE_PROBLEMS} more" if len(problems) > _MESSAGE_PROBLEMS else ""
    hint = "nothing was sent" + ("; rows are counted from 1, header excluded" if cells else "")
    return InputRowsError(f"the rows do not fit {where}: {shown}{more}", problems, hint=hint)


def _checked(build: Any, signature: Any, frame: Any, url: str, where: str) -> Any:
    """`build(signature, frame, url)` from the request builder, its InputRowsError made one clear line."""
    try:
        return build(signature, frame, url)
    except InputRowsError as exc:
        raise _rows_error(exc, frame, where) from None


def _checks_rows(signature: Any) -> bool:
    """True when the served signature tells typed inputs the rows can be checked against."""
    return signature is not None and bool(signature.inputs) and not signature.takes_examples


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


#: the longest wait for a signature look-up before a load test (the user's --timeout when shorter)
_LOOKUP_TIMEOUT_S = 5.0


_TFS_URL = re.compile(r"^/v1/models/(?P<model>[^/:]+)(?P<ver>/versions/(?P<version>\d+)|/labels/[^/:]+)?"
                      r"(?P<verb>:\w+)?/?$")
_V2_URL = re.compile(r"^/v2/models/(?P<model>[^/]+)(?P<ver>/versions/(?P<version>[^/]+))?(?P<verb>/infer)?/?$")
_URL_MODEL = re.compile(r"^/v[12]/models/(?P<model>[^/:]+)")


def rest_predict_url(url: str, model: str, version: int | None = None, verb: str = "predict") -> str:
    """The full :predict URL: /v1/models/{model}:predict when `url` has no path; a model URL
    (/v1/models/M[/versions/N], /v2/models/M[/versions/V]) gets its verb (:predict, /infer) and, when
    it names no version, `version`; any other path is used as given."""
    from workbench.core.serving.rest import model_path

    parts = urlsplit(url if "://" in url else "http://" + url)
    query = f"?{parts.query}" if parts.query else ""
    path = parts.path
    if path in ("", "/"):
        return f"{parts.scheme}://{parts.netloc}{model_path(model, version)}:{verb}"
    for pattern, default_verb in ((_TFS_URL, f":{verb}"), (_V2_URL, "/infer")):
        found = pattern.match(path)
        if found:
            ver = found.group("ver") or (f"/versions/{version}" if version is not None else "")
            path = f"{path[:found.end('model')]}{ver}{found.group('verb') or default_verb}"
            break
    return f"{parts.scheme}://{parts.netloc}{path}{query}"


def url_model(url: str) -> str | None:
    """The model a TF Serving or v2 URL names (/v1/models/M..., /v2/models/M...), else None."""
    path = urlsplit(url if "://" in url else "http://" + url).path
    found = _URL_MODEL.match(path)
    return unquote(found.group("model")) if found else None


def url_version(url: str) -> str | None:
    """The version a TF Serving or v2 URL names (.../versions/N...), else None."""
    path = urlsplit(url if "://" in url else "http://" + url).path
    found = _TFS_URL.match(path) or _V2_URL.match(path)
    return found.group("version") if found else None


def _tfs_signature(base: str, model: str, signature: str, headers: dict[str, str] | None = None,
                   timeout: float = 5.0) -> Any:
    """The served signature over REST metadata, or None when the server does not tell."""
    from workbench.core.serving.diagnosis import ServingError
    from workbench.core.serving.rest import TFServingRestClient

    try:
        with TFServingRestClient(base, timeout=timeout, headers=headers) as client:
            return client.metadata(model).signatures.get(signature)
    except (ServingError, ValueError, KeyError, TypeError):
        return None


def _instances(batch: Any, aliases: list[str] | None) -> list[Any]:
    columns = [str(c) for c in batch.columns]
    records = batch.to_dict("records")
    if aliases and len(aliases) == 1 and aliases[0] not in columns and len(columns) > 1:
        return [[_plain(r[c]) for c in batch.columns] for r in records]   # one tensor input fed by all columns
    if len(columns) == 1:
        return [_plain(r[batch.columns[0]]) for r in records]
    return [{str(k): _plain(v) for k, v in r.items()} for r in records]


_V2_TYPES = {"f": "FP64", "i": "INT64", "u": "UINT64", "b": "BOOL"}


def _v2_body(batch: Any, meta_inputs: dict[str, Any] | None) -> dict[str, Any]:
    columns = [str(c) for c in batch.columns]
    if meta_inputs and len(meta_inputs) == 1 and next(iter(meta_inputs)) not in columns:
        name, spec = next(iter(meta_inputs.items()))
        data = np.asarray(batch.to_numpy())
        return {"inputs": [{"name": name, "shape": [len(batch), len(columns)],
                            "datatype": spec.dtype or _V2_TYPES.get(data.dtype.kind, "BYTES"),
                            "data": [_plain(v) for v in data.reshape(-1)]}]}
    inputs = []
    for col in batch.columns:
        values = np.asarray(batch[col].to_numpy())
        spec = (meta_inputs or {}).get(str(col))
        dtype = spec.dtype if spec is not None and spec.dtype else _V2_TYPES.get(values.dtype.kind, "BYTES")
        shape = [len(batch), 1] if spec is None or spec.shape is None or len(spec.shape) != 1 else [len(batch)]
        inputs.append({"name": str(col), "shape": shape, "datatype": dtype,
                       "data": [_plain(v) if not isinstance(v, bytes) else v.decode() for v in values]})
    return {"inputs": inputs}


def build_rest_target(url: str, model: str, frame: Any, *, batch_size: int = 1, version: int | None = None,
                      signature: str = "serving_default", use_metadata: bool = True,
                      headers: dict[str, str] | None = None, timeout: float = 10.0) -> HttpTarget:
    """An HttpTarget whose bodies carry the rows of `frame`, `batch_size` rows per request.

    `headers` go with every request (and with the metadata look-up), e.g. an authorization token;
    the metadata look-up waits at most `timeout` seconds (and never more than 5)."""
    lookup_s = min(timeout, _LOOKUP_TIMEOUT_S)
    full = rest_predict_url(url, model, version)
    path = urlsplit(full).path
    base = "{0.scheme}://{0.netloc}".format(urlsplit(full))
    bodies: list[bytes] = []
    if "/v2/" in path:
        from workbench.core.serving.request_builder import build_v2_infer

        v2sig = _v2_signature(base, model, headers, lookup_s) if use_metadata else None
        if _checks_rows(v2sig):
            where = f"the inputs of model {model!r}"
            _checked(build_v2_infer, v2sig, frame, base, where)        # every row, numbered from 1
            for idx in _batch_indices(len(frame), batch_size):
                bodies.append(json.dumps(_checked(build_v2_infer, v2sig, frame.iloc[idx], base, where).body)
                              .encode())
        else:
            for batch in _row_batches(frame, batch_size):
                bodies.append(json.dumps(_v2_body(batch, None)).encode())
    else:
        from workbench.core.serving.request_builder import build_tfs_predict

        sig = _tfs_signature(base, model, signature, headers, lookup_s) if use_metadata else None
        if _checks_rows(sig):
            built = _checked(build_tfs_predict, sig, frame, base,
                             f"the served signature {signature!r} of model {model!r}")
            instances = built.body["instances"]      # one entry per row
            for idx in _batch_indices(len(frame), batch_size):
                body: dict[str, Any] = {}
                if signature != "serving_default":
                    body["signature_name"] = signature
                body["instances"] = [instances[i] for i in idx]
                bodies.append(json.dumps(body).encode())
        else:
            aliases = list(sig.inputs) if sig is not None else None
            for batch in _row_batches(frame, batch_size):
                body = {}
                if signature != "serving_default":
                    body["signature_name"] = signature
                body["instances"] = _instances(batch, aliases)
                bodies.append(json.dumps(body).encode())
    return http_target(full, bodies, headers=headers)


def _v2_signature(base: str, model: str, headers: dict[str, str] | None = None, timeout: float = 5.0) -> Any:
    """The v2 model metadata as a pseudo-signature `infer`, or None when the server does not tell."""
    from workbench.core.serving.diagnosis import ServingError
    from workbench.core.serving.http import HttpSession
    from workbench.core.serving.signatures import metadata_from_v2

    try:
        with HttpSession(base, timeout=timeout, headers=headers) as http:
            answer = http.get(f"/v2/models/{model}")
            if not answer.ok:
                return None
            return metadata_from_v2(answer.json()).signatures["infer"]
    except (ServingError, ValueError, KeyError, TypeError, AttributeError):
        return None


def build_grpc_target(address: str, model: str, frame: Any, *, batch_size: int = 1, version: int | None = None,
                      signature: str = "serving_default", timeout: float = 10.0,
                      headers: dict[str, str] | None = None) -> GrpcTarget:
    """A GrpcTarget of serialized TF Serving PredictRequests (dtypes and ranks from the served signature)."""
    from workbench.core.serving.diagnosis import ServingError
    from workbench.core.serving.grpc_client import TFServingGrpcClient, model_spec
    from workbench.core.serving.protos import tfserving_pb2 as pb
    from workbench.core.serving.tensors import to_tensor_proto

    sig = None
    try:
        with TFServingGrpcClient(address, timeout=min(timeout, _LOOKUP_TIMEOUT_S), headers=headers) as client:
            sig = client.metadata(model, version).signatures.get(signature)
    except ServingError:
        sig = None  # the load test itself will count what goes wrong
    spec = model_spec(model, version, None, signature if signature != "serving_default" else None)
    payloads: list[bytes] = []
    if _checks_rows(sig):
        from workbench.core.serving.request_builder import build_tfs_predict

        built = _checked(build_tfs_predict, sig, frame, f"grpc://{address}",
                         f"the served signature {signature!r} of model {model!r}")
        for idx in _batch_indices(len(frame), batch_size):
            req = pb.PredictRequest(model_spec=spec)
            for alias, values in built.arrays.items():
                req.inputs[alias].CopyFrom(to_tensor_proto(values[idx], built.dtypes[alias]))
            payloads.append(req.SerializeToString())
        metadata = tuple((k.lower(), v) for k, v in (headers or {}).items())
        return GrpcTarget(address=address, method=TFS_PREDICT_METHOD, payloads=tuple(payloads), metadata=metadata)
    columns = [str(c) for c in frame.columns]
    for batch in _row_batches(frame, batch_size):
        req = pb.PredictRequest(model_spec=spec)
        if sig is not None and len(sig.inputs) == 1 and next(iter(sig.inputs)) not in columns:
            alias, meta = next(iter(sig.inputs.items()))
            arrays = {alias: (np.asarray(batch.to_numpy()), meta)}
        else:
            arrays = {}
            for col in batch.columns:
                meta = sig.inputs.get(str(col)) if sig is not None else None
                arrays[str(col)] = (np.asarray(batch[col].to_numpy()), meta)
        for alias, (values, meta) in arrays.items():
            if meta is not None and meta.shape is not None and len(meta.shape) == 2 and values.ndim == 1:
                values = values.reshape(-1, 1)
            req.inputs[alias].CopyFrom(to_tensor_proto(values, meta.dtype if meta is not None else None))
        payloads.append(req.SerializeToString())
    metadata = tuple((k.lower(), v) for k, v in (headers or {}).items())
    return GrpcTarget(address=address, method=TFS_PREDICT_METHOD, payloads=tuple(payloads), metadata=metadata)


def preflight(target: HttpTarget | GrpcTarget, timeout: float = 10.0) -> None:
    """Send the first request once, with the Serving probe's client and diagnosis, before any load.

    Raises `ServingError` (with the probe's kind, the server's own message and a hint) when the endpoint
    cannot be reached or answers the request with an error: a load test of a 404 measures nothing.
    """
    from workbench.core.serving.diagnosis import ServingError, diagnose_grpc

    if isinstance(target, HttpTarget):
        from workbench.core.serving.http import HttpSession

        first = target.requests[0]
        extra = {k: v for k, v in first.headers if k.lower() != "content-type"}
        with HttpSession(target.url, timeout=timeout, headers=extra) as http:
            answer = http.request(first.method, first.path, data=first.body or None)
        if not answer.ok:
            raise ServingError(answer.diagnosis())
        return
    import grpc

    channel = grpc.insecure_channel(target.address)
    try:
        call = channel.unary_unary(target.method, request_serializer=None, response_deserializer=None)
        call(target.payloads[0], timeout=timeout, metadata=target.metadata or None)
    except grpc.RpcError as exc:
        raise ServingError(diagnose_grpc(exc, target.address, timeout)) from None
    finally:
        channel.close()
