"""Diagnoses: turn a failed call to a serving endpoint into (kind, the server's own message, a hint).

Every failure the probe can meet is classified here, from the transport error (requests / grpc) or from
the server's answer (HTTP status + body, gRPC status + details). The message is always the server's
own text (or the transport's), the hint says what to do. Kinds are stable strings (used in JSON).
"""

from __future__ import annotations

import re
import ssl
import socket
from dataclasses import dataclass, field
from typing import Any

from workbench.core.errors import WorkbenchError
from workbench.core.serving.untrusted import clean, clean_json

#: kinds that mean the endpoint could not be reached (CLI exit code 2); all others mean it answered (1),
#: among them the hostile or broken answers: not-http, malformed-answer, broken-answer, bad-json,
#: response-too-large, redirect, grpc-unavailable
UNREACHABLE_KINDS = frozenset({"connection-refused", "dns-failure", "tls-failure", "timeout", "unreachable",
                               "protocol-mismatch",
                               "bad-arguments", "bad-rows", "model-required"})

#: the URL forms a TF Serving REST endpoint understands (shown by the malformed-url hint)
TFS_URL_FORMS = (
    "GET  /v1/models/{name}[/versions/{N} | /labels/{L}]            (status)",
    "GET  /v1/models/{name}[/versions/{N} | /labels/{L}]/metadata   (signatures)",
    "POST /v1/models/{name}[/versions/{N} | /labels/{L}]:predict    (also :classify, :regress)",
)


@dataclass
class Diagnosis:
    """One classified failure: `kind`, the server's (or transport's) own `message`, and a `hint`."""

    kind: str
    message: str
    hint: str = ""
    status: int | str | None = None          # HTTP status code or gRPC status code name
    details: dict[str, Any] = field(default_factory=dict)

    def __setattr__(self, name: str, value: Any) -> None:
        # message and hint quote what a server said: they are always safe to print (see untrusted.clean)
        if name in ("message", "hint"):
            value = clean(value)
        object.__setattr__(self, name, value)

    @property
    def reachable(self) -> bool:
        """True when the endpoint answered (the failure is the server's verdict)."""
        return self.kind not in UNREACHABLE_KINDS

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "message": self.message, "hint": self.hint}
        if self.status is not None:
            out["status"] = self.status
        if self.details:
            out["details"] = clean_json(self.details)
        return out


class ServingError(WorkbenchError):
    """A call to a serving endpoint failed; `diagnosis` says why and what to do."""

    kind = "serving"

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__(diagnosis.message, hint=diagnosis.hint or None)
        self.diagnosis = diagnosis
        self.kind = diagnosis.kind


# ---- transport failures (requests) ---------------------------------------------------------------

def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        cur = todo.pop()
        if cur is None or any(cur is s for s in seen):
            continue
        seen.append(cur)
        todo.extend([cur.__cause__, cur.__context__])
        for arg in getattr(cur, "args", ()):
            if isinstance(arg, BaseException):
                todo.append(arg)
        reason = getattr(cur, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
    return seen


def diagnose_transport(exc: BaseException, url: str, timeout: float | None = None) -> Diagnosis:
    """Classify a requests/urllib3/socket exception raised before any HTTP answer arrived.

    The message is short and human ("connection refused by 127.0.0.1:1"); the library's own text
    (urllib3's pool and retry wording) is kept in `details["raw"]` for a bug report.
    """
    import requests

    chain = _chain(exc)
    text = str(exc)
    host = _host_of(url)
    raw = {"raw": f"{type(exc).__name__}: {text}"}
    ssl_errors = [e for e in chain if isinstance(e, ssl.SSLError)]
    if isinstance(exc, requests.exceptions.SSLError) or ssl_errors:
        return Diagnosis("tls-failure", f"TLS handshake with {host} failed: {_tls_reason(ssl_errors, text)}",
                         f"the TLS handshake with {host} failed: pass the server's CA certificate "
                         "(--ca-file) when it is self-signed or private, or turn verification off "
                         "(--insecure) only for a test endpoint; use http:// if the port does not speak TLS",
                         details=raw)
    if isinstance(exc, requests.exceptions.Timeout) or any(isinstance(e, socket.timeout | TimeoutError)
                                                           for e in chain):
        within = f" within {timeout:g} s" if timeout else " in time"
        return Diagnosis("timeout", f"no answer from {host}{within}",
                         f"no answer from {host} within {timeout:g} s: the server may be overloaded or a "
                         "firewall drops packets; raise --timeout or check the port" if timeout else
                         f"no answer from {host} in time: raise --timeout or check the port", details=raw)
    if any(isinstance(e, socket.gaierror) for e in chain) or "NameResolutionError" in text \
            or "Name or service not known" in text or "Temporary failure in name resolution" in text:
        name = _hostname_of(url)
        return Diagnosis("dns-failure", f"cannot resolve host {name}",
                         f"the host name {name!r} does not resolve: check its spelling, or use an IP "
                         "address; inside a cluster use the service's DNS name", details=raw)
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "Connection refused" in text \
            or "Errno 111" in text:
        return Diagnosis("connection-refused", f"connection refused by {host}",
                         f"nothing listens on {host}: is the server running? TF Serving's REST API is on "
                         "port 8501 by default (--rest_api_port), gRPC on 8500 (--port)", details=raw)
    if "BadStatusLine" in text and ("\\x00\\x00" in text or "\x00\x00" in text):
        return Diagnosis("protocol-mismatch", f"{host} answered with binary HTTP/2 frames, not HTTP/1.1",
                         f"{host} answered with binary HTTP/2 frames: it is a gRPC port, not REST; probe it "
                         "with --grpc HOST:PORT or a grpc:// URL (TF Serving: gRPC 8500, REST 8501)",
                         details=raw)
    bad_status = next((e for e in chain if type(e).__name__ == "BadStatusLine"), None)
    if bad_status is not None or "BadStatusLine" in text:
        line = bad_status.args[0] if bad_status is not None and bad_status.args else text
        return Diagnosis("not-http", f"{host} answered, but not with HTTP: {_first_bytes(line)}",
                         f"something answers at {host}, but it does not speak HTTP/1.1: check the port (TF "
                         "Serving REST 8501, gRPC 8500) and the scheme (https:// for a TLS port)",
                         details=raw)
    if any(type(e).__name__ in ("LineTooLong",) for e in chain) or "got more than" in text:
        from workbench.core.limits import RESPONSE_HEADER_BYTES

        return Diagnosis("response-too-large",
                         f"{host} sent more header data than the workbench reads "
                         f"({RESPONSE_HEADER_BYTES.name}: {_short_reason(chain)})",
                         f"no model server sends headers that large; if this is genuine, raise "
                         f"WORKBENCH_LIMIT_{RESPONSE_HEADER_BYTES.name.upper()}",
                         details={**raw, "limit": RESPONSE_HEADER_BYTES.name})
    if any(type(e).__name__ in ("IncompleteRead", "InvalidChunkLength") for e in chain) \
            or "IncompleteRead" in text or "InvalidChunkLength" in text or "Connection broken" in text:
        return Diagnosis("broken-answer", f"{host} broke off its answer: {_short_reason(chain)}",
                         f"{host} started an HTTP answer and did not finish it (its body is shorter than "
                         "it declared, or its chunks are malformed): the server crashed or a proxy cut it",
                         details=raw)
    if any(isinstance(e, ConnectionResetError) for e in chain) or "Connection reset" in text \
            or "RemoteDisconnected" in text:
        return Diagnosis("protocol-mismatch", f"{host} closed the connection without an HTTP answer",
                         f"{host} closed the connection without an HTTP answer: if the port speaks TLS use "
                         "https://; otherwise the server crashed or a firewall resets connections",
                         details=raw)
    return Diagnosis("unreachable", f"cannot reach {host}: {_short_reason(chain)}",
                     f"could not reach {host}: check the URL and the network", details=raw)


def _first_bytes(line: Any, limit: int = 60) -> str:
    """The first bytes a non-HTTP peer sent, printable (repr of the bytes, control bytes escaped)."""
    text = line.decode("latin-1") if isinstance(line, bytes) else str(line)
    if text.startswith(("'", '"')) and text.endswith(("'", '"')) and len(text) >= 2:
        text = text[1:-1]  # http.client gives the line's repr
    text = clean(text)
    return f"'{text[:limit]}" + ("...'" if len(text) > limit else "'") if text else "an empty line"


def malformed_answer(host: str, problem: str, status: int | None = None) -> Diagnosis:
    """An HTTP answer whose framing is broken (a negative or non-numeric Content-Length, ...)."""
    return Diagnosis("malformed-answer", f"{host} sent a malformed HTTP answer: {problem}",
                     f"{host} answered HTTP, but its answer breaks the HTTP/1.1 framing rules, so its end "
                     "cannot be found: a broken server or proxy", status=status)


def _tls_reason(errors: list[BaseException], text: str) -> str:
    """'certificate verify failed: self-signed certificate' from an ssl error (no OpenSSL brackets)."""
    for err in errors:
        reason = getattr(err, "reason", None)
        verify = getattr(err, "verify_message", None)
        if reason:
            what = str(reason).lower().replace("_", " ")
            return f"{what}: {verify}" if verify else what
    m = re.search(r"\[SSL: [A-Z_]+\] ([^(\]\")']+)", text)
    if m:
        return m.group(1).strip().rstrip(".")
    for err in errors:
        if str(err):
            return _strip_library_noise(str(err))
    return "the handshake did not complete"


def _strip_library_noise(text: str) -> str:
    text = re.sub(r"<[\w.]+ object at 0x[0-9a-f]+>:?\s*", "", text)
    text = re.sub(r"\[Errno -?\d+\]\s*", "", text)
    return " ".join(text.split())


def _short_reason(chain: list[BaseException]) -> str:
    """The innermost exception's own words, without urllib3's pool and retry wrapping."""
    for err in reversed(chain):
        strerror = getattr(err, "strerror", None)
        if isinstance(strerror, str) and strerror:
            return strerror[0].lower() + strerror[1:]
    for err in reversed(chain):
        text = _strip_library_noise(str(err))
        if text and "Max retries exceeded" not in text and "Connection(host=" not in text:
            return text
    return type(chain[0]).__name__ if chain else "unknown error"


def _host_of(url: str) -> str:
    """host:port of a URL (the scheme's default port when none is written)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url if "://" in url else "http://" + url)
    if not parts.hostname:
        return parts.netloc or url
    try:
        port = parts.port
    except ValueError:
        return parts.netloc
    if port is None:
        port = {"https": 443, "grpcs": 443, "http": 80}.get(parts.scheme)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{port}" if port else host


def _hostname_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url if "://" in url else "http://" + url)
    return parts.hostname or url


# ---- HTTP answers -----------------------------------------------------------------------------------

_RE_SERVABLE = re.compile(
    r"Servable not found for request: (Latest|Specific|Earliest)\(([^,)]+)(?:, (\d+))?\)")
_RE_NO_VERSIONS = re.compile(r"Could not find any versions of model (\S+)")
_RE_NO_VERSION = re.compile(r"Could not find version (\d+) of model (\S+)")
_RE_V2_VERSION = re.compile(r"^Model (\S+) with version (\S+) +not found")
_RE_V2_MODEL = re.compile(
    r"^Model (\S+)(?: with version \S*)? +not found|^Model with name (\S+) does not exist")
_RE_LABEL = re.compile(r"Unrecognized servable version label: (\S*)")
_RE_SIGNATURE = re.compile(r'Serving signature (?:name: |key )\\?"([^"\\]*)\\?" not found'
                           r'|No signature was found with the name: (\S+)')
_RE_NAMED_INPUT = re.compile(r"does not have named input: (\S+)")
_RE_KEYS_EQUAL = re.compile(r"keys must be equal to: (.*)$")


def classify_server_message(message: str, status: int | str | None) -> tuple[str, str, dict[str, Any]]:
    """Map a TF Serving error message to (kind, hint, details). Generic by status when unknown."""
    m = _RE_SERVABLE.search(message)
    if m:
        what, name, version = m.group(1), m.group(2), m.group(3)
        if what == "Specific" and version:
            return ("version-not-found", f"model {name!r} has no loaded version {version}",
                    {"model": name, "version": int(version)})
        return ("model-not-found", f"no model named {name!r} is loaded (yet): the name in the URL must equal "
                "the server's --model_name / model config name; a model that failed to load shows state END "
                "in its status", {"model": name})
    m = _RE_V2_VERSION.search(message)
    if m:
        return ("version-not-found", f"model {m.group(1)!r} has no version {m.group(2)!r}",
                {"model": m.group(1), "version": m.group(2)})
    m = _RE_V2_MODEL.search(message)
    if m:
        name = next(g for g in m.groups() if g)
        return ("model-not-found", f"no model named {name!r} is served here", {"model": name})
    m = _RE_NO_VERSION.search(message)
    if m:
        return ("version-not-found", f"model {m.group(2)!r} has no version {m.group(1)}",
                {"model": m.group(2), "version": int(m.group(1))})
    m = _RE_NO_VERSIONS.search(message)
    if m:
        return ("model-not-found", f"no model named {m.group(1)!r} is loaded: the name must equal the "
                "server's --model_name or a name in its model config", {"model": m.group(1)})
    m = _RE_LABEL.search(message)
    if m:
        return ("label-not-found", f"label {m.group(1)!r} is not defined: labels come from version_labels in "
                "the server's model config (TF Serving does not list them over its API)",
                {"label": m.group(1)})
    if "Model labels does not init yet" in message:
        return ("label-not-found", "the server's version labels are not initialised yet: retry shortly", {})
    if message.startswith("Malformed request"):
        return ("malformed-url", "the URL does not match the TF Serving API: " + "; ".join(
            " ".join(f.split()) for f in TFS_URL_FORMS), {})
    if "Missing model name in request" in message:
        return ("malformed-url", "name a model: GET /v1/models/{name}", {})
    if "Failed to convert version" in message:
        return ("malformed-url", "a version must be a number that fits in int64: /versions/{N}", {})
    m = _RE_SIGNATURE.search(message)
    if m:
        sig = m.group(1) if m.group(1) is not None else m.group(2)
        return ("unknown-signature", f"the model has no signature {sig!r}: pick one from its metadata "
                "(GET .../metadata, key metadata.signature_def.signature_def)", {"signature": sig})
    m = _RE_NAMED_INPUT.search(message)
    if m:
        return ("bad-input-key", f"{m.group(1)!r} is not an input alias of the signature: instance keys must "
                "be the signature's input names (see the metadata), not column or feature names",
                {"key": m.group(1)})
    m = _RE_KEYS_EQUAL.search(message)
    if m:
        return ("bad-input-key", f"every instance must have exactly the signature's inputs: {m.group(1)}",
                {"expected": m.group(1)})
    if "Unable to base64 decode" in message or "not formatted correctly for base64" in message:
        return ("bad-base64", "send standard base64 (alphabet A-Z a-z 0-9 + /, '=' padding), not the "
                "web-safe alphabet ('-' and '_'): base64.b64encode, not urlsafe_b64encode; the server "
                "decodes it, the model must not decode it again", {})
    if "Type: Object is not of expected type" in message and "b64" in message:
        return ("b64-to-non-string", "{\"b64\": ...} is only for DT_STRING inputs; this input expects "
                "numbers: send a numeric array", {})
    if re.search(r"is not of expected type: string", message):
        return ("string-input", "this input is DT_STRING (often a serialized tf.Example): call :classify or "
                ":regress with \"examples\", or send {\"b64\": <serialized tf.Example>} values", {})
    if "is not of expected type" in message:
        return ("bad-value-type", "a value does not match the input's dtype in the signature", {})
    if "Missing 'inputs' or 'instances' key" in message or "expecting only one of 'inputs' or 'instances'" \
            in message:
        return ("bad-request-body", "a predict body needs exactly one of \"instances\" (rows) or \"inputs\" "
                "(columns)", {})
    if "key 'examples' is expected" in message:
        return ("bad-request-body", ":classify and :regress take {\"examples\": [{feature: value}, ...]}", {})
    if "JSON Parse error" in message:
        return ("bad-request-body", "the request body is not valid JSON", {})
    if "Data types don't match" in message and "ParseExample" in message:
        return ("example-feature-type", "a tf.Example feature has another type than the model parses: "
                "JSON integers become int64_list, decimal numbers float_list; write 1.0, not 1, for float "
                "features", {})
    if "Expecting tensor size" in message or "Expecting shape" in message or "is not a matrix" in message \
            or "Incompatible shapes" in message or "Matrix size-incompatible" in message:
        return ("bad-shape", "the tensor shapes do not match the signature (the server does not check shapes "
                "before running the model): compare with tensor_shape in the metadata (-1 = any size)", {})
    if "input size does not match signature" in message or "input tensor alias not found" in message:
        return ("bad-input-key", "the request's input names differ from the signature's inputs", {})
    if "Expected classification signature" in message or "Expected regression signature" in message:
        return ("wrong-method", "this signature's method does not fit the call: use :predict for predict "
                "signatures, :classify/:regress for classify/regress ones", {})
    return _by_status(status)


def _by_status(status: int | str | None) -> tuple[str, str, dict[str, Any]]:
    hints = {
        400: "the server rejected the request as invalid",
        401: "the endpoint wants credentials: pass --header 'Authorization: Bearer <token>'",
        403: "the credentials are not allowed to call this endpoint",
        404: "nothing is served at this path: check the model name and the URL",
        405: "this path does not take this HTTP method",
        409: "the request conflicts with the server's state",
        413: "the request body is too large for the server or a proxy in front of it",
        422: "the body does not follow the protocol's schema",
        429: "the server (or its batching queue) is overloaded: slow down or retry later",
        499: "the request was cancelled",
        500: "the server failed while handling the request: see its message and its log",
        501: "the server does not implement this call",
        502: "a proxy or gateway in front of the model server got no good answer from it",
        503: "the server or model is not available (yet): retry, check the model status",
        504: "the model did not answer in time (server-side deadline, TF Serving --rest_api_timeout_in_ms)",
    }
    if isinstance(status, int):
        hint = hints.get(status) or ("client error" if 400 <= status < 500 else "server error")
        return (f"http-{status}", hint, {})
    if isinstance(status, str):
        kind = f"grpc-{status.lower().replace('_', '-')}"
        return (kind, _GRPC_HINTS.get(status, f"the server answered with gRPC status {status}"), {})
    return ("error", "", {})


_GRPC_HINTS = {
    "INVALID_ARGUMENT": "the server rejected the request as invalid",
    "FAILED_PRECONDITION": "the request does not fit the model (signature, method)",
    "NOT_FOUND": "nothing is served under this name/version",
    "UNIMPLEMENTED": "the server does not implement this method: is this a TF Serving gRPC port (8500)?",
    "UNAUTHENTICATED": "the endpoint wants credentials: pass --header 'authorization: Bearer <token>'",
    "PERMISSION_DENIED": "the credentials are not allowed to call this endpoint",
    "RESOURCE_EXHAUSTED": "the server is overloaded or the message is too large",
    "INTERNAL": "the server failed while handling the request",
    "UNKNOWN": "the server failed with an unknown error",
    "UNAVAILABLE": "the server is not available",
}


def diagnose_http(status: int, body: str, content_type: str | None, url: str) -> Diagnosis:
    """Classify an HTTP error answer from its status and body (TF Serving, KServe, MLServer, proxies)."""
    message, is_json = _error_text(body)
    if not is_json:
        snippet = _strip_html(body)[:300] or "(empty body)"
        what = "an HTML page" if "html" in (content_type or "").lower() or "<html" in body[:500].lower() \
            else "a non-JSON body"
        kind_hint = _by_status(status)[1]
        return Diagnosis("non-json-response", f"HTTP {status}: {snippet}",
                         f"the answer is {what}, not a model server's JSON error: a proxy, load balancer or "
                         f"another service answers at {_host_of(url)}"
                         + (f" ({kind_hint})" if kind_hint else "")
                         + ("; TF Serving answers 404 without a body for paths outside /v1/" if status == 404
                            else ""),
                         status=status)
    kind, hint, details = classify_server_message(message, status)
    return Diagnosis(kind, message, hint, status=status, details=details)


def _error_text(body: str) -> tuple[str, bool]:
    """The server's own message from an error body, and whether the body was JSON."""
    import json

    from workbench.core.serving.untrusted import json_problem

    data, problem = json_problem(body)
    if problem is not None:
        return body.strip(), False
    if isinstance(data, dict):
        if "error" in data:
            err = data["error"]
            return (err if isinstance(err, str) else json.dumps(err)), True
        if "detail" in data:  # FastAPI (MLServer, KServe) schema errors
            detail = data["detail"]
            if isinstance(detail, list):
                parts = []
                for d in detail:
                    if isinstance(d, dict):
                        loc = ".".join(str(x) for x in d.get("loc", []))
                        parts.append(f"{loc}: {d.get('msg', '')}")
                    else:
                        parts.append(str(d))
                return "; ".join(parts), True
            return str(detail), True
        if "message" in data:
            return str(data["message"]), True
    return body.strip(), True


def _strip_html(text: str) -> str:
    text = re.sub(r"(?is)<(script|style).*?</\1>", " ", text)
    text = re.sub(r"(?s)<[^>]+>", " ", text)
    return " ".join(text.split())


# ---- gRPC answers -----------------------------------------------------------------------------------

def _grpc_last_error(message: str) -> str:
    """The useful tail of a gRPC transport message ("... last error: UNKNOWN: ipv4:...: <this>")."""
    tail = message.rsplit("last error:", 1)[-1].strip()
    tail = re.sub(r"^[A-Z_]+:\s*", "", tail)
    tail = re.sub(r"^(ipv4|ipv6|dns|unix):\S+?:\s+", "", tail)
    return " ".join(tail.split()) or message


def _grpc_tls_reason(message: str) -> str:
    m = re.search(r"CERTIFICATE_VERIFY_FAILED:?\s*([^\n;]*)", message)
    if m:
        return "certificate verify failed" + (f": {m.group(1).strip()}" if m.group(1).strip() else "")
    m = re.search(r"(?i)(wrong[_ ]version[_ ]number|handshake failed[^;\n]*)", message)
    return m.group(1).lower().replace("_", " ") if m else _grpc_last_error(message)


#: how grpc words an UNAVAILABLE it made up itself because no server answered (not a server's status)
_GRPC_TRANSPORT_WORDS = ("failed to connect", "connections to all backends failing", "last error:",
                         "no addresses", "connection attempt timed out", "socket closed", "connection reset",
                         "end of tcp stream", "broken pipe", "keepalive", "goaway", "connect failed",
                         "channel is in state", "name resolution", "dns")


def _grpc_transport_failure(low: str) -> bool:
    return any(word in low for word in _GRPC_TRANSPORT_WORDS)


def diagnose_grpc(exc: BaseException, target: str, timeout: float | None = None) -> Diagnosis:
    """Classify a grpc.RpcError (or any exception raised by a gRPC call)."""
    code_obj = getattr(exc, "code", None)
    details_fn = getattr(exc, "details", None)
    code = code_obj() if callable(code_obj) else None
    name = getattr(code, "name", None) or "UNKNOWN"
    message = (details_fn() if callable(details_fn) else None) or str(exc)
    low = message.lower()
    raw = {"raw": message}
    if name == "UNAVAILABLE":
        if "dns resolution failed" in low or "name resolution" in low or "could not resolve" in low \
                or "not known" in low or "errors resolving" in low or "lookup error" in low:
            hostname = target.rsplit(":", 1)[0].strip("[]") if ":" in target else target
            return Diagnosis("dns-failure", f"cannot resolve host {hostname}",
                             f"the host name in {target!r} does not resolve: check its spelling or use an IP "
                             "address", status=name, details=raw)
        if any(s in low for s in ("ssl", "tls", "handshake", "certificate")):
            return Diagnosis("tls-failure", f"TLS handshake with {target} failed: {_grpc_tls_reason(message)}",
                             "the TLS handshake failed: pass the server's CA certificate (--ca-file), or use "
                             "plaintext gRPC if the port does not speak TLS", status=name, details=raw)
        if "connection refused" in low or "connect failed" in low:
            return Diagnosis("connection-refused", f"connection refused by {target}",
                             f"nothing listens on {target}: is the server running? TF Serving's gRPC port is "
                             "8500 by default (--port)", status=name, details=raw)
        if "http/2" in low or "settings frame" in low:
            return Diagnosis("protocol-mismatch", f"{target} does not speak gRPC (HTTP/2)",
                             f"{target} does not speak gRPC (HTTP/2): is it the REST port? TF Serving: gRPC "
                             "8500, REST 8501", status=name, details=raw)
        if "socket closed" in low or "connection reset" in low or "end of tcp stream" in low:
            return Diagnosis("protocol-mismatch", f"{target} closed the connection without a gRPC answer",
                             f"{target} closed the connection: if it expects TLS use --grpc-tls (and "
                             "--ca-file), or a grpcs:// URL", status=name, details=raw)
        if not _grpc_transport_failure(low):
            return Diagnosis("grpc-unavailable",
                             f"the gRPC server at {target} answered UNAVAILABLE: {message}",
                             "the server answered, with status UNAVAILABLE: it (or the model) is not ready "
                             "or is shutting down; retry later and check its log",
                             status=name, details=raw)
        return Diagnosis("unreachable", f"cannot reach {target}: {_grpc_last_error(message)}",
                         f"could not reach {target}", status=name, details=raw)
    if name == "RESOURCE_EXHAUSTED" and "larger than max" in low:
        from workbench.core.limits import RESPONSE_BYTES

        return Diagnosis("response-too-large", f"{target}: the answer is over the limit of "
                         f"{RESPONSE_BYTES.value} bytes ({RESPONSE_BYTES.name}): {message}",
                         f"if this is genuine, raise it with WORKBENCH_LIMIT_{RESPONSE_BYTES.name.upper()}",
                         status=name, details={**raw, "limit": RESPONSE_BYTES.name})
    if name == "DEADLINE_EXCEEDED":
        within = f" within {timeout:g} s" if timeout else " in time"
        return Diagnosis("timeout", f"no answer from {target}{within}",
                         (f"no answer within {timeout:g} s: " if timeout else "") +
                         "the server may be overloaded, or the port does not speak gRPC; raise --timeout",
                         status=name, details=raw)
    if name == "UNIMPLEMENTED" and ("unknown service" in low or "method not found" in low or
                                    "not implemented" in low or message == str(exc)):
        return Diagnosis("grpc-unimplemented", message, _GRPC_HINTS["UNIMPLEMENTED"], status=name)
    kind, hint, details = classify_server_message(message, name)
    return Diagnosis(kind, message, hint, status=name, details=details)
