"""Hostile servers on 127.0.0.1 for tests: each one misbehaves in one way a real attacker (or a broken
proxy) can, speaking HTTP/1.1 byte for byte over raw sockets, plus a real gRPC server that answers
UNAVAILABLE.

    with HostileServer(slowloris_headers()) as srv:
        ...probe or load srv.url...
        srv.requests        # what the server received (method, path, headers, body)

`HostileServer(answer)` calls `answer(server, conn, request)` for each request it reads; the answer writes
whatever bytes it likes on `conn` and returns True to keep the connection open for the next request.
Without a misbehaviour on a route, `tfserving_answer` answers like TF Serving serving model "m" (one
float input "x" [-1, 1], :predict answers {"predictions": [[0.5], ...]}), so a probe gets as far as the
misbehaving call.

Every server binds 127.0.0.1 on a free port, serves each connection in a daemon thread, bounds what it
reads and writes, and `stop()` (or leaving the `with`) closes every socket and joins every thread.
Slow answers pace themselves on the server's stop event, so stopping the server ends them at once.
"""

from __future__ import annotations

import gzip
import json
import re
import socket
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MODEL = "m"
_MAX_REQUEST = 1 << 20


@dataclass
class Request:
    """One request as the server read it."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


Answer = Callable[["HostileServer", socket.socket, Request], bool]


class HostileServer:
    """A raw HTTP/1.1 server on 127.0.0.1 whose every answer is written by `answer` (see module doc)."""

    def __init__(self, answer: Answer, *, host: str = "127.0.0.1") -> None:
        self.answer = answer
        self.host = host
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.stopped = threading.Event()
        self.requests: list[Request] = []
        self.connections = 0
        self._cond = threading.Condition()
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, name=f"hostile-{self.port}", daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The model URL of model "m" (what `workbench probe` and `workbench load` take)."""
        return f"{self.base}/v1/models/{MODEL}"

    def start(self) -> HostileServer:
        self._accepter.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        try:
            self.sock.close()
        except OSError:
            pass
        with self._cond:
            conns = list(self._conns)
            self._cond.notify_all()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self._accepter.join(5)
        for thread in list(self._threads):
            thread.join(5)

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_requests(self, n: int, timeout: float = 10.0) -> bool:
        """Wait until the server has read `n` requests (True) or `timeout` passed (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.requests) >= n or self.stopped.is_set(), timeout) \
                and len(self.requests) >= n

    # -- serving -----------------------------------------------------------------------------------
    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._cond:
                if self.stopped.is_set():
                    conn.close()
                    return
                self._conns.append(conn)
                self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        try:
            while not self.stopped.is_set():
                request, buf = _read_request(conn, buf, self.stopped)
                if request is None:
                    return
                with self._cond:
                    self.requests.append(request)
                    self._cond.notify_all()
                if not self.answer(self, conn, request):
                    return
        except OSError:
            return
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def pace(self, seconds: float) -> bool:
        """Wait `seconds` as part of a slow answer; False once the server is stopping."""
        return not self.stopped.wait(seconds)


def _read_request(conn: socket.socket, buf: bytes, stopped: threading.Event) -> tuple[Request | None, bytes]:
    """One request from `conn` (head and Content-Length body); (None, b"") when the peer closed."""
    conn.settimeout(0.2)

    def more() -> bytes | None:
        while not stopped.is_set():
            try:
                data = conn.recv(65536)
            except (TimeoutError, socket.timeout):
                continue
            return data or None
        return None

    while b"\r\n\r\n" not in buf:
        if len(buf) > _MAX_REQUEST:
            return None, b""
        data = more()
        if data is None:
            return None, b""
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, *_ = (lines[0].split(" ") + ["", ""])[:3]
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    length = min(int(headers.get("content-length", "0") or 0), _MAX_REQUEST)
    while len(rest) < length:
        data = more()
        if data is None:
            return None, b""
        rest += data
    return Request(method, path, headers, rest[:length]), rest[length:]


# ---- writing answers -------------------------------------------------------------------------------

def response(status: int, body: bytes = b"", *, reason: str = "", headers: dict[str, str] | None = None,
             length: bool = True) -> bytes:
    """The bytes of one HTTP/1.1 answer (Content-Length added unless `length` is False)."""
    reasons = {100: "Continue", 200: "OK", 301: "Moved Permanently", 302: "Found", 307: "Temporary Redirect",
               404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable"}
    lines = [f"HTTP/1.1 {status} {reason or reasons.get(status, 'Status')}"]
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if length:
        all_headers.setdefault("Content-Length", str(len(body)))
    lines += [f"{k}: {v}" for k, v in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


STATUS = {"model_version_status": [{"version": "1", "state": "AVAILABLE",
                                    "status": {"error_code": "OK", "error_message": ""}}]}
_DIMS = [{"size": "-1", "name": ""}, {"size": "1", "name": ""}]
_TENSOR = {"dtype": "DT_FLOAT", "tensor_shape": {"dim": _DIMS, "unknown_rank": False}}
METADATA = {"model_spec": {"name": MODEL, "signature_name": "", "version": "1"},
            "metadata": {"signature_def": {"signature_def": {"serving_default": {
                "inputs": {"x": {**_TENSOR, "name": "x:0"}}, "outputs": {"y": {**_TENSOR, "name": "y:0"}},
                "method_name": "tensorflow/serving/predict"}}}}}


_MODEL_PATH = re.compile(rf"^/v1/models/{MODEL}(?:/versions/(\d+))?(?P<rest>/metadata|:predict)?$")


def tfserving_body(request: Request) -> tuple[int, bytes]:
    """What TF Serving serving model "m" (version 1) answers to `request` (status, body)."""
    path = request.path.split("?", 1)[0]
    found = _MODEL_PATH.match(path)
    if not path.startswith("/v1/"):
        return 404, b""
    if found is None:
        return 404, _json({"error": "Malformed request: " + request.method + " " + path})
    if found.group(1) not in (None, "1"):
        return 404, _json({"error": f"Servable not found for request: Specific({MODEL}, {found.group(1)})"})
    rest = found.group("rest")
    if request.method == "GET" and rest is None:
        return 200, _json(STATUS)
    if request.method == "GET" and rest == "/metadata":
        return 200, _json(METADATA)
    if request.method == "POST" and rest == ":predict":
        try:
            rows = len(json.loads(request.body or b"{}").get("instances") or [0])
        except (ValueError, AttributeError):
            rows = 1
        return 200, _json({"predictions": [[0.5]] * rows})
    return 404, _json({"error": "Malformed request: " + request.method + " " + path})


def tfserving_answer(server: HostileServer, conn: socket.socket, request: Request) -> bool:
    """Answer like TF Serving (keep-alive)."""
    status, body = tfserving_body(request)
    conn.sendall(response(status, body))
    return True


def is_predict(request: Request) -> bool:
    return request.method == "POST" and request.path.endswith(":predict")


def always(_request: Request) -> bool:
    return True


def misbehave(bad: Answer, when: Callable[[Request], bool] = always) -> Answer:
    """Answer with `bad` the requests `when` picks, like TF Serving otherwise."""
    def answer(server: HostileServer, conn: socket.socket, request: Request) -> bool:
        if when(request):
            return bad(server, conn, request)
        return tfserving_answer(server, conn, request)
    return answer


# ---- the misbehaviours -----------------------------------------------------------------------------

def slowloris_headers(interval: float = 1.0, when: Callable[[Request], bool] = always) -> Answer:
    """A status line, then header bytes trickled one per `interval` seconds, forever."""
    def bad(server: HostileServer, conn: socket.socket, request: Request) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: ")
        while server.pace(interval):
            conn.sendall(b"a")
        return False
    return misbehave(bad, when)


def slowloris_body(interval: float = 1.0, when: Callable[[Request], bool] = always) -> Answer:
    """Complete headers declaring 1000 bytes, then the body trickled one byte per `interval` seconds."""
    def bad(server: HostileServer, conn: socket.socket, request: Request) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[")
        while server.pace(interval):
            conn.sendall(b"1")
        return False
    return misbehave(bad, when)


def huge_body(size: int = 1 << 30, *, declared: bool = True,
              when: Callable[[Request], bool] = always) -> Answer:
    """A body of `size` bytes (1 GB by default), declared in Content-Length or sent until close, streamed
    in 64 KiB writes for as long as the client reads."""
    block = b"0" * 65536

    def bad(server: HostileServer, conn: socket.socket, request: Request) -> bool:
        head = {"Content-Length": str(size)} if declared else {"Connection": "close"}
        conn.sendall(response(200, b"", headers=head, length=False))
        sent = 0
        while sent < size and not server.stopped.is_set():
            conn.sendall(block)
            sent += len(block)
        return False
    return misbehave(bad, when)


_BOMBS: dict[int, bytes] = {}


def gzip_bomb_bytes(inflated: int) -> bytes:
    """gzip data that inflates to `inflated` zero bytes (a multiple of 1 MiB; ~1 MB for 1 GiB).

    Built in well under a second: one MiB of zeros deflated up to a full flush (which leaves no reference
    to what came before) is a segment that can be repeated; the gzip trailer carries the true CRC-32 and
    size, so it is a valid gzip stream of `inflated` bytes."""
    if inflated not in _BOMBS:
        mib = 1 << 20
        comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        zeros = b"\0" * mib
        segment = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
        count = max(1, inflated // mib)
        crc = 0
        for _ in range(count):
            crc = zlib.crc32(zeros, crc)
        _BOMBS[inflated] = (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + segment * count + comp.flush()
                            + struct.pack("<II", crc, (count * mib) & 0xFFFFFFFF))
    return _BOMBS[inflated]


def gzip_bomb(inflated: int = 1 << 30, when: Callable[[Request], bool] = always) -> Answer:
    """A ~1 MB gzip body (Content-Encoding: gzip) that inflates to `inflated` bytes (1 GB by default)."""
    gzip_bomb_bytes(inflated)  # built before the server answers anything

    def bad(server: HostileServer, conn: socket.socket, request: Request) -> bool:
        conn.sendall(response(200, gzip_bomb_bytes(inflated), headers={"Content-Encoding": "gzip"}))
        return True
    return misbehave(bad, when)


def gzip_answer(when: Callable[[Request], bool] = always) -> Answer:
    """Honest gzip: TF Serving's answers, gzip-compressed (what a proxy in front may do)."""
    def answer(server: HostileServer, conn: socket.socket, request: Request) -> bool:
        status, body = tfserving_body(request)
        conn.sendall(response(status, gzip.compress(body), headers={"Content-Encoding": "gzip"}))
        return True
    return misbehave(answer, when)


def redirect(location: str, status: int = 307, when: Callable[[Request], bool] = always) -> Answer:
    """A redirect to `location` (e.g. the same path on another port)."""
    def bad(server: HostileServer, conn: socket.socket, request: Request) -> bool:
        target = location.rstrip("/") + request.path if location.count("/") <= 2 else location
        conn.sendall(response(status, b"", headers={"Location": target}))
        return True
    return misbehave(bad, when)


#: an error message that, printed raw, would retitle the terminal, clear it and recolour what follows
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31mModel is gone\x1b[0m\u202e\x9b31m"


def escape_sequences(when: Callable[[Request], bool] = always) -> Answer:
    """TF Serving whose answers carry terminal escape sequences: the version status says the model failed
    to load with an escape-laden error message, and every other call is a 404 whose error has them."""
    def bad(server: HostileServer, conn: socket.socket, request: Request) -> bool:
        if request.method == "GET" and request.path == f"/v1/models/{MODEL}":
            body = {"model_version_status": [{"version": "1", "state": "END",
                                              "status": {"error_code": "UNKNOWN", "error_message": ESCAPES}}]}
            conn.sendall(response(200, json.dumps(body, ensure_ascii=False).encode()))
        else:
            body = {"error": f"Could not find any versions of model {MODEL}: {ESCAPES}"}
            conn.sendall(response(404, json.dumps(body, ensure_ascii=False).encode()))
        return True
    return misbehave(bad, when)


def canned(status: int, body: bytes, *, headers: dict[str, str] | None = None,
           when: Callable[[Request], bool] = always) -> Answer:
    """One fixed answer (keep-alive)."""
    def bad(server: HostileServer, conn: socket.socket, request: Request) -> bool:
        conn.sendall(response(status, body, headers=headers))
        return True
    return misbehave(bad, when)


BAD_JSON = b'{"predictions": [0.5, '


def bad_json(when: Callable[[Request], bool] = always) -> Answer:
    """200 with a truncated JSON body."""
    return canned(200, BAD_JSON, when=when)


def deep_json(depth: int = 100_000, when: Callable[[Request], bool] = always) -> Answer:
    """200 with JSON nested `depth` levels deep ([[[[...]]]])."""
    return canned(200, b"[" * depth + b"]" * depth, when=when)


def negative_length(when: Callable[[Request], bool] = always) -> Answer:
    """200 with `Content-Length: -5`, a short body, and the connection held open."""
    def bad(server: HostileServer, conn: socket.socket, request: Request) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: -5\r\n\r\n{}")
        server.stopped.wait()
        return False
    return misbehave(bad, when)


GARBAGE = b"\x16\x03\x01\xff\xfeSSH-2.0-not-http \x00\x01\x02garbage\r\n\r\n"


def garbage(when: Callable[[Request], bool] = always) -> Answer:
    """Bytes that are not HTTP, then the connection closed."""
    def bad(server: HostileServer, conn: socket.socket, request: Request) -> bool:
        conn.sendall(GARBAGE)
        return False
    return misbehave(bad, when)


def continue_100(when: Callable[[Request], bool] = always) -> Answer:
    """`100 Continue` (an interim answer), then the real TF Serving answer."""
    def answer(server: HostileServer, conn: socket.socket, request: Request) -> bool:
        status, body = tfserving_body(request)
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n" + response(status, body))
        return True
    return misbehave(answer, when)


def invalid_answer(when: Callable[[Request], bool] = is_predict) -> Answer:
    """200 with valid JSON that is not a predict answer (no "predictions"), on :predict by default."""
    return canned(200, b'{"status": "ok", "message": "queued"}', when=when)


def dropped(when: Callable[[Request], bool] = always) -> Answer:
    """Read the request, then close the connection without a byte of answer."""
    def bad(server: HostileServer, conn: socket.socket, request: Request) -> bool:
        return False
    return misbehave(bad, when)


def held(when: Callable[[Request], bool] = is_predict) -> Answer:
    """Read the request and never answer (the connection stays open until the server stops)."""
    def bad(server: HostileServer, conn: socket.socket, request: Request) -> bool:
        server.stopped.wait()
        return False
    return misbehave(bad, when)


# ---- gRPC ------------------------------------------------------------------------------------------

class UnavailableGrpcServer:
    """A real gRPC server on 127.0.0.1 that answers every call with UNAVAILABLE and `message`."""

    def __init__(self, message: str = "the model is warming up, try again later") -> None:
        from concurrent import futures

        import grpc

        self.message = message
        self.calls: list[str] = []
        owner = self

        class Handler(grpc.GenericRpcHandler):
            def service(self, details: Any) -> Any:
                owner.calls.append(details.method)

                def refuse(request: bytes, context: Any) -> bytes:
                    context.abort(grpc.StatusCode.UNAVAILABLE, owner.message)

                return grpc.unary_unary_rpc_method_handler(refuse)

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[Handler()])
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> UnavailableGrpcServer:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop(None).wait(5)
