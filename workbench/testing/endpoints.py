"""Small real endpoints on 127.0.0.1 that misbehave the way real networks do, for diagnosis tests.

* `refused_port()`: a port where nothing listens (connection refused).
* `SilentServer`: accepts TCP connections and never answers (timeouts, for HTTP and gRPC alike).
* `CannedHttpServer`: answers every request with one fixed status/body/content type (an HTML page from a
  proxy, a 503 from a gateway, ...), over plain HTTP or TLS (`tls=(cert, key)`).
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def refused_port(host: str = "127.0.0.1") -> int:
    """A port on `host` that was just free: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class SilentServer:
    """A listening socket that accepts connections and never sends a byte."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.host = host
        self.port = int(self.sock.getsockname()[1])
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self._conns.append(conn)

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._conns:
            conn.close()
        self.sock.close()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class CannedHttpServer:
    """Answers every request with the same status, body and content type (records the request headers)."""

    def __init__(self, status: int, body: str, content_type: str = "text/html",
                 host: str = "127.0.0.1", tls: tuple[str, str] | None = None) -> None:
        owner = self
        self.requests: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no Nagle + delayed-ACK 40 ms stalls

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _reply(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                owner.requests.append({"method": self.command, "path": self.path,
                                       "headers": dict(self.headers.items())})
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _reply  # noqa: N815

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:  # (cert.pem, key.pem), e.g. from workbench.testing.tls.make_self_signed
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls[0], tls[1])
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = int(self.httpd.server_address[1])
        self.url = f"{'https' if tls else 'http'}://{host}:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> CannedHttpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
