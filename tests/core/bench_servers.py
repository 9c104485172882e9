"""Small real HTTP/1.1 keep-alive servers on 127.0.0.1 for the load-engine tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

BODY = b'{"predictions": [2.5]}'


class ScriptedServer:
    """Answers POST/GET with BODY; `script(index)` may return a status code or stall that request.

    `script(i) -> (status, stall_s)`: request number i (0-based, counted across connections) is held for
    `stall_s` seconds (the simulated server work, waited on `self.release` so a test can end it early)
    and answered with `status`.
    """

    def __init__(self, script: Callable[[int], tuple[int, float]] | None = None, *,
                 close_silently: bool = False) -> None:
        """`close_silently`: close each connection after its response without `Connection: close`
        (what a server's keep-alive timeout does to an idle connection)."""
        self.script = script or (lambda i: (200, 0.0))
        self.close_silently = close_silently
        self.last_headers: dict[str, str] = {}
        self.count = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.first_stall = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes: without TCP_NODELAY, Nagle + the client's delayed
            # ACK add ~40 ms to every keep-alive request
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with owner.lock:
                    index = owner.count
                    owner.count += 1
                    owner.last_headers = dict(self.headers.items())
                status, stall = owner.script(index)
                if stall > 0:
                    owner.first_stall.set()
                    owner.release.wait(stall)
                body = BODY if status == 200 else b'{"error": "scripted"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                if owner.close_silently:
                    self.close_connection = True

            do_POST = _serve
            do_GET = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/models/m:predict"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class ScriptedGrpcServer:
    """A gRPC server on 127.0.0.1 answering every unary method with empty bytes (raw, no protos).

    `script(i)` returns None (OK) or a grpc.StatusCode to abort request number i with.
    """

    def __init__(self, script: Callable[[int], object] | None = None) -> None:
        from concurrent import futures

        import grpc

        self.script = script or (lambda i: None)
        self.count = 0
        self.lock = threading.Lock()
        self.metadata: list[dict[str, str]] = []
        owner = self

        def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
            with owner.lock:
                index = owner.count
                owner.count += 1
                owner.metadata.append(dict(context.invocation_metadata()))
            code = owner.script(index)
            if code is not None:
                context.abort(code, "scripted")
            return b""

        class Generic(grpc.GenericRpcHandler):
            def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
                return grpc.unary_unary_rpc_method_handler(handle)

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[Generic()])
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop(grace=None).wait()
