"""Open Inference Protocol (v2: KServe v2, Triton, MLServer) REST client, and KServe v1 status.

  GET  /v2/health/live | /v2/health/ready        (200 = true; the body may be empty)
  GET  /v2                                       server metadata {"name","version","extensions"}
  GET  /v2/models/{name}[/versions/{v}]          model metadata {"name","versions","platform","inputs",...}
  GET  /v2/models/{name}[/versions/{v}]/ready
  POST /v2/models/{name}[/versions/{v}]/infer    {"inputs": [{"name","shape","datatype","data"}], "outputs"?}
Errors are `{"error": "..."}`, schema errors of FastAPI servers `{"detail": [...]}` (422).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import numpy as np

from workbench.core.serving.diagnosis import Diagnosis, ServingError
from workbench.core.serving.http import DEFAULT_TIMEOUT, HttpSession
from workbench.core.serving.signatures import V2_DTYPES, ModelMetadata, metadata_from_v2


def v2_model_path(name: str, version: str | int | None = None) -> str:
    path = f"/v2/models/{quote(name, safe='')}"
    if version not in (None, ""):
        path += f"/versions/{quote(str(version), safe='')}"
    return path


class V2RestClient:
    """Client for one v2 REST endpoint."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT, headers: dict[str, str] | None = None,
                 verify: bool | str = True, http: HttpSession | None = None) -> None:
        self.http = http or HttpSession(url, timeout=timeout, headers=headers, verify=verify)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> V2RestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def live(self) -> bool:
        return self.http.get("/v2/health/live").ok

    def ready(self) -> bool:
        return self.http.get("/v2/health/ready").ok

    def server_metadata(self) -> dict[str, Any]:
        return self.http.get("/v2").raise_for_error().json()

    def list_models(self) -> list[dict[str, Any]] | None:
        """Models in the repository (POST /v2/repository/index: Triton, MLServer); None if unsupported."""
        answer = self.http.post("/v2/repository/index", {})
        if not answer.ok:
            return None
        data = answer.json_or_none()
        return data if isinstance(data, list) else None

    def model_versions(self, name: str) -> list[dict[str, Any]]:
        """The repository index entries of one model ({"name","version","state","reason"}); [] if unknown."""
        try:
            models = self.list_models() or []
        except ServingError:
            return []
        return [m for m in models if isinstance(m, dict) and str(m.get("name")) == name]

    def model_ready(self, name: str, version: str | int | None = None) -> bool:
        answer = self.http.get(v2_model_path(name, version) + "/ready")
        if answer.status == 404:
            raise self._enriched(answer, name)
        return answer.ok

    def model_metadata(self, name: str, version: str | int | None = None) -> ModelMetadata:
        answer = self.http.get(v2_model_path(name, version))
        if not answer.ok:
            raise self._enriched(answer, name)
        return metadata_from_v2(answer.json())

    def infer(self, name: str, inputs: list[dict[str, Any]], *, outputs: list[str] | None = None,
              version: str | int | None = None, request_id: str | None = None) -> dict[str, Any]:
        """POST .../infer; returns the parsed answer ({"model_name","outputs": [...]})."""
        body: dict[str, Any] = {}
        if request_id:
            body["id"] = request_id
        body["inputs"] = inputs
        if outputs:
            body["outputs"] = [{"name": o} for o in outputs]
        answer = self.http.post(v2_model_path(name, version) + "/infer", body)
        if not answer.ok:
            if answer.status == 500 or (answer.status > 500 and answer.json_or_none() is not None):
                raise ServingError(inference_error(answer, name))
            raise self._enriched(answer, name)
        return answer.json()

    def _enriched(self, answer: Any, name: str) -> ServingError:
        diag = answer.diagnosis()
        if diag.kind == "version-not-found":
            try:
                models = self.list_models()
            except ServingError:
                models = None
            if models is not None:
                versions = sorted({str(m.get("version")) for m in models
                                   if isinstance(m, dict) and m.get("name") == name and m.get("version")})
                diag.details["served_versions"] = versions
                diag.hint += f"; served versions: {', '.join(versions) or 'none listed'}"
            return ServingError(diag)
        if diag.kind in ("model-not-found", "http-404"):
            diag.kind = "model-not-found" if answer.json_or_none() is not None else diag.kind
            try:
                models = self.list_models()
            except ServingError:
                models = None
            if models is not None:
                names = sorted({str(m.get("name")) for m in models if isinstance(m, dict)})
                diag.details["served_models"] = names
                diag.hint = f"no model {name!r} here; served models: {', '.join(names) or 'none'}"
        return ServingError(diag)


def inference_error(answer: Any, name: str) -> Diagnosis:
    """A 5xx from a v2 /infer call: the model server failed while running the model (not a proxy).

    The message is the server's own text, verbatim (MLServer answers a plain "Internal Server Error"
    and logs the cause)."""
    diag = answer.diagnosis()
    message = diag.message
    if diag.kind == "non-json-response":  # "HTTP 500: Internal Server Error": the body is the message
        message = " ".join(answer.text.split()) or f"HTTP {answer.status} without a body"
    return Diagnosis("inference-error", message,
                     f"the model server answered HTTP {answer.status} while running model {name!r}: an "
                     "inference error in the model server, not a network problem; its log has the cause. "
                     "Check that the rows match what the model takes (column count and order, numbers "
                     "where it expects numbers)", status=answer.status, details=diag.details)


def v2_output_arrays(answer: dict[str, Any]) -> dict[str, np.ndarray]:
    """The outputs of an infer answer as numpy arrays shaped by their `shape`."""
    out = {}
    for item in answer.get("outputs") or []:
        data = item.get("data", [])
        dtype = V2_DTYPES.get(str(item.get("datatype", "")), None)
        arr = np.asarray(data, dtype=object if dtype == "string" else dtype)
        shape = item.get("shape")
        if shape is not None and arr.size == int(np.prod(shape)):
            arr = arr.reshape([int(s) for s in shape])
        out[str(item.get("name"))] = arr
    return out
