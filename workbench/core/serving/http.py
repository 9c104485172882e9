"""One HTTP connection setup for every REST client: keep-alive session, timeout, headers, TLS options.

Transport failures become `ServingError` with a diagnosis (connection refused, DNS, TLS, timeout);
HTTP answers are returned as `HttpAnswer` whatever their status, the protocol clients judge them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from workbench.core.serving.diagnosis import Diagnosis, ServingError, diagnose_http, diagnose_transport

DEFAULT_TIMEOUT = 10.0


@dataclass
class HttpAnswer:
    """An HTTP response as the probe needs it."""

    status: int
    text: str
    content_type: str
    elapsed_ms: float
    url: str
    method: str

    def json(self) -> Any:
        """Parse the body; TF Serving writes bare NaN / Infinity / -Infinity, which json.loads accepts."""
        return json.loads(self.text)

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except ValueError:
            return None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def diagnosis(self) -> Diagnosis:
        return diagnose_http(self.status, self.text, self.content_type, self.url)

    def raise_for_error(self) -> HttpAnswer:
        if not self.ok:
            raise ServingError(self.diagnosis())
        return self


def parse_headers(items: list[str] | tuple[str, ...] | dict[str, str] | None) -> dict[str, str]:
    """`["K: V", ...]` (the CLI form) or a dict -> a header dict. Raises ValueError on a bad item."""
    if not items:
        return {}
    if isinstance(items, dict):
        return {str(k): str(v) for k, v in items.items()}
    out = {}
    for item in items:
        key, sep, value = item.partition(":")
        if not sep or not key.strip():
            raise ValueError(f"header {item!r} is not of the form 'Name: value'")
        out[key.strip()] = value.strip()
    return out


def base_url(url: str) -> str:
    """scheme://host:port of a URL (adds http:// when the scheme is missing)."""
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def _is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


class HttpSession:
    """A keep-alive requests.Session bound to one base URL, with timeout, headers and TLS settings.

    `verify`: True (system CAs), False (no verification: test endpoints only) or a CA bundle path.
    """

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT, headers: dict[str, str] | None = None,
                 verify: bool | str = True) -> None:
        import requests

        self.base = base_url(url)
        self.timeout = timeout
        self.verify = verify
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json"})
        self.session.headers.update(headers or {})
        self.session.verify = verify
        if _is_loopback(self.base):
            # never send loopback traffic to a proxy from the environment (HTTP_PROXY without NO_PROXY)
            self.session.trust_env = False
        self.headers = dict(headers or {})

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HttpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        return self.base + (path if path.startswith("/") else "/" + path)

    def request(self, method: str, path: str, body: Any = None, *, data: str | bytes | None = None,
                timeout: float | None = None) -> HttpAnswer:
        """Send one request; raise ServingError only when no HTTP answer arrived."""
        url = self.url(path)
        headers = {}
        if body is not None:
            data = json.dumps(body)  # allow_nan: TF Serving accepts NaN / Infinity tokens
        if data is not None:
            headers["Content-Type"] = "application/json"
        t = timeout if timeout is not None else self.timeout
        start = time.perf_counter()
        try:
            # verify per request: a session-level value loses against REQUESTS_CA_BUNDLE in the environment
            resp = self.session.request(method, url, data=data, headers=headers, timeout=t,
                                        verify=self.verify)
        except Exception as exc:  # requests / urllib3 / ssl / socket errors
            raise ServingError(diagnose_transport(exc, url, t)) from exc
        elapsed = (time.perf_counter() - start) * 1000.0
        resp.encoding = resp.encoding or "utf-8"
        return HttpAnswer(status=resp.status_code, text=resp.text,
                          content_type=resp.headers.get("Content-Type", ""), elapsed_ms=elapsed, url=url,
                          method=method)

    def get(self, path: str, **kw: Any) -> HttpAnswer:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> HttpAnswer:
        return self.request("POST", path, body, **kw)
