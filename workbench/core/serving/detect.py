"""Protocol detection and endpoint URL parsing: TF Serving REST vs KServe v1 vs Open Inference Protocol v2.

Sniff rules (from TF Serving's REST API, KServe's v1 protocol and the Open Inference Protocol v2):
* GET /v1/models[/{name}]: a `model_version_status` body, or a TF Serving error string ("Missing model name
  in request.", "Could not find any versions of model", "Servable not found") means TF Serving; a
  `{"models": [...]}` or `{"name", "ready"}` body means KServe v1.
* otherwise GET /v2/health/live answering 200 (or GET /v2 with server metadata) means v2.
TF Serving answers paths outside /v1/ with a bodiless 404, which is what tells it from a v2 server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from workbench.core.serving.diagnosis import TFS_URL_FORMS, Diagnosis, ServingError
from workbench.core.serving.http import HttpSession

TFSERVING = "tfserving"
KSERVE_V1 = "kserve-v1"
V2 = "v2"

_TFS_MARKERS = ("Missing model name in request", "Could not find any versions of model",
                "Servable not found for request", "Malformed request", "Could not find version",
                "Unrecognized servable version label")
_TFS_PATH = re.compile(r"(?i)/v1/models/([^/:]+)(?:/versions/(\d+)|/labels/([^/:]+))?"
                       r"(?:/metadata|:(?:predict|classify|regress))?/?")
_V2_PATH = re.compile(r"(?i)/v2(?:/models/([^/]+)(?:/versions/([^/]+))?(?:/(?:infer|ready))?)?"
                      r"(?:/health/(?:live|ready))?/?")


@dataclass
class Endpoint:
    """What a user's URL says: base URL, transport, and the model/version/label it names (if any)."""

    url: str
    base: str
    grpc: bool = False
    tls: bool = False
    protocol_hint: str | None = None
    model: str | None = None
    version: int | None = None
    label: str | None = None
    v2_version: str | None = None
    path: str = ""
    path_ok: bool = True
    notes: list[str] = field(default_factory=list)


def parse_endpoint(url: str) -> Endpoint:
    """Split a probe URL (http[s]://host:port[/v1/models/...|/v2/models/...] or grpc[s]://host:port)."""
    raw = url.strip()
    if "://" not in raw:
        raw = "http://" + raw
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "grpc", "grpcs"):
        raise ServingError(Diagnosis("bad-arguments", f"unsupported URL scheme {parts.scheme!r} in {url!r}",
                                     "use http://HOST:8501 (REST) or grpc://HOST:8500 (gRPC)"))
    if not parts.hostname:
        raise ServingError(Diagnosis("bad-arguments", f"no host in URL {url!r}",
                                     "use http://HOST:PORT, e.g. http://localhost:8501"))
    try:
        _ = parts.port  # raises ValueError for a non-numeric or out-of-range port
    except ValueError:
        raise ServingError(Diagnosis("bad-arguments", f"bad port in URL {url!r}",
                                     "the port must be a number, e.g. http://localhost:8501")) from None
    ep = Endpoint(url=url, base=f"{'https' if scheme in ('https', 'grpcs') else 'http'}://{parts.netloc}",
                  grpc=scheme.startswith("grpc"), tls=scheme in ("https", "grpcs"), path=parts.path)
    if ep.grpc:
        ep.protocol_hint = TFSERVING
        return ep
    path = parts.path
    if path in ("", "/"):
        return ep
    m = _TFS_PATH.fullmatch(path)
    if m:
        ep.model = unquote(m.group(1))
        ep.version = int(m.group(2)) if m.group(2) else None
        ep.label = unquote(m.group(3)) if m.group(3) else None
        return ep
    m = _V2_PATH.fullmatch(path)
    if m:
        ep.protocol_hint = V2
        ep.model = unquote(m.group(1)) if m.group(1) else None
        ep.v2_version = unquote(m.group(2)) if m.group(2) else None
        return ep
    if re.fullmatch(r"(?i)/v1/models/?", path):
        return ep
    ep.path_ok = False
    return ep


def malformed_url_diagnosis(ep: Endpoint, message: str, status: int | None) -> Diagnosis:
    """The malformed-url diagnosis with the right URL forms (and a guess at the intended one)."""
    guess = ""
    m = re.match(r"(?i)/v1/models/([^/:]+)/(predict|classify|regress)\b", ep.path)
    if m:
        guess = f"did you mean {ep.base}/v1/models/{m.group(1)}:{m.group(2).lower()} (a colon, not a slash)? "
    elif re.match(r"(?i)/v1/models/[^/:]+/version/", ep.path):
        guess = "the segment is /versions/ (plural). "
    elif re.match(r"(?i)/v1/models/[^/:]+/label/", ep.path):
        guess = "the segment is /labels/ (plural). "
    hint = guess + "the probe takes the server's base URL (http://HOST:8501) or a model URL; TF Serving " \
        "understands: " + "; ".join(" ".join(f.split()) for f in TFS_URL_FORMS)
    return Diagnosis("malformed-url", message, hint, status=status, details={"path": ep.path})


def detect_protocol(http: HttpSession, model: str | None = None) -> tuple[str | None, dict[str, Any]]:
    """Return ("tfserving" | "kserve-v1" | "v2" | None, evidence). Raises ServingError if unreachable."""
    evidence: dict[str, Any] = {}
    path = f"/v1/models/{model}" if model else "/v1/models"
    answer = http.get(path)
    body = answer.json_or_none()
    evidence[f"GET {path}"] = answer.status
    if isinstance(body, dict):
        if "model_version_status" in body:
            return TFSERVING, evidence
        err = body.get("error")
        if isinstance(err, str) and any(marker in err for marker in _TFS_MARKERS):
            return TFSERVING, evidence
        if "models" in body and isinstance(body["models"], list) or ("ready" in body and "name" in body):
            return KSERVE_V1, evidence
        if isinstance(err, str) and "does not exist" in err and model:
            return KSERVE_V1, evidence  # KServe: "Model with name x does not exist."
    live = http.get("/v2/health/live")
    evidence["GET /v2/health/live"] = live.status
    if live.ok:
        return V2, evidence
    meta = http.get("/v2")
    evidence["GET /v2"] = meta.status
    data = meta.json_or_none()
    if meta.ok and isinstance(data, dict) and "name" in data and "version" in data:
        return V2, evidence
    return None, evidence
