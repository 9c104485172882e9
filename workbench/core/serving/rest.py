"""TensorFlow Serving REST client (port 8501): status, metadata, predict, classify, regress.

URL grammar (TF Serving `http_rest_api_util.cc`):
  GET  /v1/models/{name}[/versions/{N} | /labels/{L}][/metadata]
  POST /v1/models/{name}[/versions/{N} | /labels/{L}]:(predict|classify|regress)
Errors come back as `{"error": "..."}`; they are raised as ServingError with a diagnosis, enriched with
what the server does serve (its versions) where the API allows it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from workbench.core.serving.diagnosis import ServingError
from workbench.core.serving.http import DEFAULT_TIMEOUT, HttpAnswer, HttpSession
from workbench.core.serving.signatures import (ModelMetadata, VersionStatus, metadata_from_rest,
                                               statuses_from_rest)


def model_path(name: str, version: int | None = None, label: str | None = None) -> str:
    """`/v1/models/{name}[/versions/{N}|/labels/{L}]` (a version and a label together are not expressible)."""
    if version is not None and label is not None:
        raise ValueError("give a version or a label, not both (TF Serving URLs cannot hold both)")
    path = f"/v1/models/{quote(name, safe='')}"
    if version is not None:
        path += f"/versions/{int(version)}"
    elif label is not None:
        path += f"/labels/{quote(label, safe='')}"
    return path


class TFServingRestClient:
    """Client for one TF Serving REST endpoint (keep-alive session, timeout, headers, TLS)."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT, headers: dict[str, str] | None = None,
                 verify: bool | str = True, http: HttpSession | None = None) -> None:
        self.http = http or HttpSession(url, timeout=timeout, headers=headers, verify=verify)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TFServingRestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calls ---------------------------------------------------------------------------------------

    def status_answer(self, name: str, version: int | None = None, label: str | None = None) -> HttpAnswer:
        return self.http.get(model_path(name, version, label))

    def model_status(self, name: str, version: int | None = None,
                     label: str | None = None) -> list[VersionStatus]:
        """Status of all versions (or of one version / label): GET /v1/models/{name}."""
        answer = self.status_answer(name, version, label)
        if not answer.ok:
            raise self._enriched(answer, name)
        return statuses_from_rest(answer.json())

    def metadata(self, name: str, version: int | None = None, label: str | None = None) -> ModelMetadata:
        """Signatures of a version (latest when none given): GET .../metadata."""
        answer = self.http.get(model_path(name, version, label) + "/metadata")
        if not answer.ok:
            raise self._enriched(answer, name)
        return metadata_from_rest(answer.json())

    def post_verb(self, name: str, verb: str, body: dict[str, Any], version: int | None = None,
                  label: str | None = None) -> HttpAnswer:
        return self.http.post(f"{model_path(name, version, label)}:{verb}", body)

    def predict(self, name: str, *, instances: Any = None, inputs: Any = None, signature: str | None = None,
                version: int | None = None, label: str | None = None) -> dict[str, Any]:
        """POST :predict in row (`instances`) or columnar (`inputs`) form; returns the parsed answer."""
        if (instances is None) == (inputs is None):
            raise ValueError("give exactly one of instances (rows) or inputs (columns)")
        body: dict[str, Any] = {}
        if signature:
            body["signature_name"] = signature
        if instances is not None:
            body["instances"] = instances
        else:
            body["inputs"] = inputs
        return self.send(name, "predict", body, version=version, label=label)

    def classify(self, name: str, examples: list[dict[str, Any]], *, context: dict[str, Any] | None = None,
                 signature: str | None = None, version: int | None = None,
                 label: str | None = None) -> dict[str, Any]:
        """POST :classify with tf.Example-like JSON objects; the answer is {"results": [[[label, score]]]}."""
        return self.send(name, "classify", _examples_body(examples, context, signature), version=version,
                         label=label)

    def regress(self, name: str, examples: list[dict[str, Any]], *, context: dict[str, Any] | None = None,
                signature: str | None = None, version: int | None = None,
                label: str | None = None) -> dict[str, Any]:
        """POST :regress; the answer is {"results": [value, ...]}."""
        return self.send(name, "regress", _examples_body(examples, context, signature), version=version,
                         label=label)

    def send(self, name: str, verb: str, body: dict[str, Any], *, version: int | None = None,
             label: str | None = None) -> dict[str, Any]:
        answer = self.post_verb(name, verb, body, version, label)
        if not answer.ok:
            raise self._enriched(answer, name, signature=body.get("signature_name"))
        return answer.json()

    # -- diagnosis enrichment ------------------------------------------------------------------------

    def _enriched(self, answer: HttpAnswer, name: str, signature: str | None = None) -> ServingError:
        """The diagnosis of an error answer plus what is served (versions, signatures) when obtainable."""
        diag = answer.diagnosis()
        try:
            if diag.kind in ("version-not-found", "label-not-found"):
                versions = self._versions(name)
                if versions is not None:
                    diag.details["served_versions"] = versions
                    listed = ", ".join(f"{v['version']} ({v['state']})" for v in versions) or "none"
                    diag.hint += f"; served versions: {listed}"
            elif diag.kind == "model-not-found":
                diag.details.setdefault("model", name)
                diag.hint += "; TF Serving cannot list its models over REST: see its --model_name or " \
                             "--model_config_file"
            elif diag.kind == "unknown-signature":
                meta = self.http.get(model_path(name) + "/metadata")
                if meta.ok:
                    sigs = sorted(metadata_from_rest(meta.json()).signatures)
                    diag.details["signatures"] = sigs
                    diag.hint += "; signatures served: " + ", ".join(sigs)
        except ServingError:
            pass
        except (ValueError, KeyError, TypeError):
            pass
        return ServingError(diag)

    def _versions(self, name: str) -> list[dict[str, Any]] | None:
        answer = self.http.get(model_path(name))
        if not answer.ok:
            return None
        return [s.to_json() for s in statuses_from_rest(answer.json())]


def _examples_body(examples: list[dict[str, Any]], context: dict[str, Any] | None,
                   signature: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if signature:
        body["signature_name"] = signature
    if context:
        body["context"] = context
    body["examples"] = examples
    return body
