"""One HTTP connection setup for every REST client: keep-alive session, timeout, headers, TLS options.

Transport failures become `ServingError` with a diagnosis (connection refused, DNS, TLS, timeout);
HTTP answers are returned as `HttpAnswer` whatever their status, the protocol clients judge them.

A server is not trusted to behave (see tests/core/test_hostile_servers.py):
* the timeout is a total deadline per call (connect + headers + body): a watchdog shuts the socket down
  when it passes, so a server trickling a byte a second cannot hold a call past it;
* the body is streamed and capped at `limits.RESPONSE_BYTES` (after decompression, which is done here,
  bounded, for gzip and deflate: the only encodings asked for), the headers at `RESPONSE_HEADER_BYTES`;
* a Content-Length that is not a size is a malformed answer, not a wait for the connection to close;
* redirects are never followed (they could carry the rows and the headers to another server): a 3xx is
  a `redirect` diagnosis naming the Location;
* a body that is not JSON (or nested deeper than `limits.NESTING`) is a `bad-json` diagnosis.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from workbench.core import limits
from workbench.core.serving.diagnosis import (Diagnosis, ServingError, _host_of, diagnose_http,
                                              diagnose_transport, malformed_answer)
from workbench.core.serving.untrusted import clean, parse_json

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
        """Parse the body; TF Serving writes bare NaN / Infinity / -Infinity, which json.loads accepts.

        A body that is not JSON, or nested deeper than limits.NESTING, raises ServingError (bad-json)."""
        return parse_json(self.text, _host_of(self.url), self.status)

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except ServingError:
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


class _Deadline:
    """A total deadline for one call: when it passes, the call's socket is shut down (from a timer thread),
    which ends any blocking connect wait, header read or body read at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self.conn: Any = None
        self._lock = threading.Lock()
        self._done = False
        self._timer: threading.Timer | None = None
        self._arm(seconds)

    def _arm(self, delay: float) -> None:
        self._timer = threading.Timer(max(0.0, delay), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return max(0.001, self.at - time.monotonic())

    def attach(self, conn: Any) -> None:
        with self._lock:
            self.conn = conn
            if self.expired:
                self._shutdown()

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            if not self._shutdown():
                self._arm(0.05)  # still connecting: the connect timeout ends it; shut down once connected

    def _shutdown(self) -> bool:
        sock = getattr(self.conn, "sock", None)
        if sock is None:
            return False
        try:  # the plain socket's shutdown (an SSLSocket's would drop its SSL object under the reader)
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass
        return True

    def cancel(self) -> None:
        with self._lock:
            self._done = True
            if self._timer is not None:
                self._timer.cancel()


_current = threading.local()


def _tracked_pools() -> dict[str, type]:
    """urllib3 connection pools that hand each connection they lend to the calling thread's deadline."""
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def _get_conn(self: Any, timeout: float | None = None) -> Any:
        conn = type(self).__mro__[1]._get_conn(self, timeout)
        deadline = getattr(_current, "deadline", None)
        if deadline is not None:
            deadline.attach(conn)
        return conn

    # named as urllib3 names them: its messages quote the pool class ("HTTPConnectionPool(host=...)")
    http_pool = type("HTTPConnectionPool", (HTTPConnectionPool,), {"_get_conn": _get_conn})
    https_pool = type("HTTPSConnectionPool", (HTTPSConnectionPool,), {"_get_conn": _get_conn})
    return {"http": http_pool, "https": https_pool}


def _adapter() -> Any:
    from requests.adapters import HTTPAdapter

    pools = _tracked_pools()

    class DeadlineAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = dict(pools)

        def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
            manager = super().proxy_manager_for(*args, **kwargs)
            manager.pool_classes_by_scheme = dict(pools)
            return manager

    return DeadlineAdapter(max_retries=0)


_LENGTH = re.compile(r"\s*\d+\s*")
#: the only content codings asked for (Accept-Encoding), hence the only ones decoded
_ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class _BodyReader:
    """Read a streamed body, decoding gzip/deflate, never holding more than RESPONSE_BYTES of it."""

    def __init__(self, encoding: str, source: str) -> None:
        self.source = source
        self.limit = limits.RESPONSE_BYTES.value
        self.parts: list[bytes] = []
        self.size = 0
        self.raw = 0
        coding = encoding.strip().lower()
        self.coding = coding
        self.inflate = zlib.decompressobj(_ENCODINGS[coding]) if coding in _ENCODINGS else None
        self._first_deflate = coding == "deflate"

    def _add(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self.limit:
            what = f"{self.source} ({self.coding}-decoded, reading stopped)" if self.inflate else self.source
            raise limits.LimitExceeded(limits.RESPONSE_BYTES, self.size, what)
        self.parts.append(piece)

    def feed(self, chunk: bytes) -> None:
        self.raw += len(chunk)
        if self.raw > self.limit:
            raise limits.LimitExceeded(limits.RESPONSE_BYTES, self.raw, f"{self.source} (reading stopped)")
        if self.inflate is None:
            self._add(chunk)
            return
        data = chunk
        while data:
            try:
                piece = self.inflate.decompress(data, self.limit - self.size + 1)
            except zlib.error:
                if self._first_deflate and not self.size:  # "deflate" sent as raw deflate (no zlib header)
                    self.inflate, self._first_deflate = zlib.decompressobj(-zlib.MAX_WBITS), False
                    continue
                raise
            self._first_deflate = False
            self._add(piece)
            data = self.inflate.unconsumed_tail
            if self.inflate.eof:
                break

    def body(self) -> bytes:
        return b"".join(self.parts)


class HttpSession:
    """A keep-alive requests.Session bound to one base URL, with timeout, headers and TLS settings.

    `verify`: True (system CAs), False (no verification: test endpoints only) or a CA bundle path.
    `timeout` is the total time one call may take, connection, headers and body together.
    """

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT, headers: dict[str, str] | None = None,
                 verify: bool | str = True) -> None:
        import requests

        self.base = base_url(url)
        self.timeout = timeout
        self.verify = verify
        self.session = requests.Session()
        adapter = _adapter()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Accept": "application/json", "Accept-Encoding": "gzip, deflate"})
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
        """Send one request; raise ServingError only when no usable HTTP answer arrived (nothing, a
        malformed or over-limit one, a redirect) within `timeout` seconds in all."""
        import json

        url = self.url(path)
        headers = {}
        if body is not None:
            data = json.dumps(body)  # allow_nan: TF Serving accepts NaN / Infinity tokens
        if data is not None:
            headers["Content-Type"] = "application/json"
        t = timeout if timeout is not None else self.timeout
        host = _host_of(url)
        start = time.perf_counter()
        deadline = _Deadline(t)
        _current.deadline = deadline
        resp = None
        try:
            resp = self._send(method, url, data, headers, deadline)
            status = resp.status_code
            self._check_head(resp, url, method, host)
            reader = _BodyReader(resp.headers.get("Content-Encoding", "") or "", host)
            for chunk in resp.raw.stream(65536, decode_content=False):
                reader.feed(chunk)
            if deadline.expired:
                raise TimeoutError("the deadline passed while the answer was read")
            raw_body = reader.body()
        except ServingError:
            raise
        except limits.LimitExceeded as exc:
            raise ServingError(Diagnosis("response-too-large", exc.message, exc.hint or "",
                                         details={"limit": exc.limit.name})) from None
        except zlib.error as exc:
            coding = resp.headers.get("Content-Encoding") if resp is not None else "encoded"
            raise ServingError(malformed_answer(host, f"its {coding} body does not decode ({exc})")) from None
        except Exception as exc:  # requests / urllib3 / ssl / socket errors
            if deadline.expired:
                exc = TimeoutError(f"no complete answer within {t:g} s")
            raise ServingError(diagnose_transport(exc, url, t)) from exc
        finally:
            deadline.cancel()
            _current.deadline = None
            if resp is not None:
                resp.close()
        elapsed = (time.perf_counter() - start) * 1000.0
        charset = resp.encoding or "utf-8"
        try:
            text = raw_body.decode(charset, "replace")
        except LookupError:
            text = raw_body.decode("utf-8", "replace")
        return HttpAnswer(status=status, text=text, content_type=resp.headers.get("Content-Type", ""),
                          elapsed_ms=elapsed, url=url, method=method)

    def _send(self, method: str, url: str, data: Any, headers: dict[str, str], deadline: _Deadline) -> Any:
        """Send through the session's adapter itself: Session.send would read a redirect's whole body (to
        prepare the redirect it is not asked to follow) before the head is even checked."""
        import requests

        prepared = self.session.prepare_request(requests.Request(method, url, data=data, headers=headers))
        # verify per request: a session-level value loses against REQUESTS_CA_BUNDLE in the environment
        settings = self.session.merge_environment_settings(prepared.url, {}, True, self.verify, None)
        adapter = self.session.get_adapter(prepared.url)
        return adapter.send(prepared, stream=True, timeout=(deadline.remaining(), deadline.remaining()),
                            verify=settings["verify"], cert=settings["cert"], proxies=settings["proxies"])

    def _check_head(self, resp: Any, url: str, method: str, host: str) -> None:
        """Refuse, before reading the body: over-limit headers, a broken Content-Length, an unasked-for
        encoding, a declared size over the limit, and any redirect."""
        head = sum(len(k) + len(v) + 4 for k, v in resp.raw.headers.items())
        limits.RESPONSE_HEADER_BYTES.check(head, source=host)
        status = resp.status_code
        declared = resp.headers.get("Content-Length")
        if declared is not None:
            values = {v.strip() for v in declared.split(",")}
            if not all(_LENGTH.fullmatch(v) for v in values) or len(values) != 1:
                problem = f"Content-Length: {clean(declared.strip())!r} is not a size"
                raise ServingError(malformed_answer(host, problem, status))
            if not resp.headers.get("Content-Encoding"):
                limits.RESPONSE_BYTES.check(int(values.pop()), source=host)
        coding = (resp.headers.get("Content-Encoding") or "").strip().lower()
        if coding not in ("", "identity", *_ENCODINGS):
            problem = f"Content-Encoding {clean(coding)!r}, not asked for (Accept-Encoding: gzip, deflate)"
            raise ServingError(malformed_answer(host, problem, status))
        if 300 <= status < 400:
            location = clean(resp.headers.get("Location") or "")
            target = urljoin(url, location) if location else "(no Location header)"
            other = location and (urlsplit(target).scheme, urlsplit(target).netloc) != \
                (urlsplit(url).scheme, urlsplit(url).netloc)
            where = " to another server" if other else ""
            raise ServingError(Diagnosis(
                "redirect", f"HTTP {status}: {host} redirects {method} {urlsplit(url).path} to {target}",
                f"the workbench does not follow redirects (following would send the rows and your headers"
                f"{where}): if the new address is the right endpoint, probe or load it directly",
                status=status, details={"location": target}))

    def get(self, path: str, **kw: Any) -> HttpAnswer:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> HttpAnswer:
        return self.request("POST", path, body, **kw)
