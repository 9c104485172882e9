"""The load engine against real HTTP servers on 127.0.0.1: CO correction, errors, budget, cancel, timeline."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.core.bench_servers import ScriptedServer
from workbench.core.bench.load import LoadPlan, http_target, parse_levels, run_load
from workbench.core.errors import WorkbenchError

BODY = [b'{"instances": [1.0]}']


def test_open_loop_correction_shows_a_stall_that_uncorrected_latency_hides() -> None:
    # 200 req/s on ONE connection for 2 s = 400 requests; request #100 is held 0.5 s by the server.
    # While it is held, ~100 further requests fall due but cannot be sent (coordinated omission):
    # measured from their intended send time they waited up to 0.5 s; measured from the actual send
    # they look as fast as ever. Only the stalled request itself is slow in the uncorrected view.
    stall = 0.5
    with ScriptedServer(lambda i: (200, stall if i == 100 else 0.0)) as srv:
        plan = LoadPlan(mode="open", levels=(200,), duration_s=2.0, warmup_s=0.0, connections=1)
        result = run_load(http_target(srv.url, BODY), plan)
    level = result.levels[0]
    assert level.errors == {}
    assert level.ok >= 350
    corrected, uncorrected = level.latency, level.uncorrected
    # the stalled request itself is in both
    assert uncorrected.max_ms >= stall * 1000
    assert corrected.max_ms >= stall * 1000
    # ~25% of requests were delayed by the stall: the corrected p90/p99 reflect it ...
    assert corrected.p99_ms >= 0.8 * stall * 1000
    assert corrected.percentiles_ms[90.0] >= 0.2 * stall * 1000
    # ... the uncorrected p99 does not (one slow sample in ~400 is above the 99th percentile)
    assert uncorrected.p99_ms < 0.2 * stall * 1000
    assert corrected.p99_ms > 5 * uncorrected.p99_ms
    # the rate was honoured: ~400 requests were scheduled in 2 s
    assert 380 <= level.ok + level.unsent + level.incomplete <= 401


def test_closed_loop_counts_errors_by_kind_and_exact_request_count() -> None:
    # every 4th request answers 503: of 40 requests on one connection, 10 fail
    with ScriptedServer(lambda i: (503 if i % 4 == 3 else 200, 0.0)) as srv:
        plan = LoadPlan(mode="closed", levels=(1,), duration_s=None, count=40, warmup_s=0.0)
        result = run_load(http_target(srv.url, BODY), plan)
        served = srv.count
    level = result.levels[0]
    assert level.stopped_by == "count"
    assert level.requests == 40 and served == 40
    assert level.errors == {"http-503": 10}
    assert level.ok == 30
    assert level.latency.count == 30       # failed requests are not in the latency statistics
    assert level.client.in_latency_p50_us is not None and level.client.in_latency_p50_us > 0
    assert result.client_floor_us == level.client.in_latency_p50_us


def test_error_budget_stops_the_sweep_on_connection_refused() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    plan = LoadPlan(mode="closed", levels=(1, 4), duration_s=30.0, warmup_s=0.0, max_errors=5)
    result = run_load(http_target(f"http://127.0.0.1:{port}/v1/models/m:predict", BODY), plan)
    assert len(result.levels) == 1                 # the sweep stopped at the first level
    assert result.stopped_early == "error-budget"
    level = result.levels[0]
    assert level.stopped_by == "error-budget"
    assert level.errors == {"connection-refused": 6}   # "more than 5"
    assert level.ok == 0


def test_cancel_from_another_thread_returns_within_a_second_even_during_a_stall() -> None:
    # the server holds request #20 until the test ends: the loop must not wait for it
    with ScriptedServer(lambda i: (200, 60.0 if i == 20 else 0.0)) as srv:
        plan = LoadPlan(mode="closed", levels=(1, 2), duration_s=60.0, warmup_s=0.0)
        cancel = threading.Event()
        box: dict = {}
        thread = threading.Thread(target=lambda: box.update(
            result=run_load(http_target(srv.url, BODY), plan, cancel=cancel)))
        thread.start()
        assert srv.first_stall.wait(20), "the server never saw request #20"
        t0 = time.monotonic()
        cancel.set()
        thread.join(10)
        took = time.monotonic() - t0
        assert not thread.is_alive()
    assert took < 1.0
    result = box["result"]
    assert result.cancelled
    assert len(result.levels) == 1 and result.levels[0].stopped_by == "cancelled"
    assert result.levels[0].ok == 20        # requests 0..19 were answered before the stall


def test_per_second_timeline_is_streamed_and_adds_up() -> None:
    points = []
    with ScriptedServer() as srv:
        plan = LoadPlan(mode="closed", levels=(2,), duration_s=2.5, warmup_s=0.2)
        result = run_load(http_target(srv.url, BODY), plan, on_point=points.append)
    level = result.levels[0]
    assert level.stopped_by == "duration"
    # two whole seconds and the last half second (a slow drain on a loaded machine may add one more)
    assert [p.second for p in points] in ([1, 2, 3], [1, 2, 3, 4])
    assert points == level.timeline
    assert sum(p.requests for p in points) == level.requests
    assert all(p.errors == 0 and p.p50_ms <= p.p99_ms for p in points)
    assert all(p.throughput_rps > 0 for p in points)
    # the level's histogram counts every successful response and spans the measured min..max
    hist = level.histogram
    assert hist is not None and hist.count == level.ok == level.latency.count
    assert hist.edges_ms[0] <= level.latency.min_ms and level.latency.max_ms < hist.edges_ms[-1]


def test_plan_and_levels_validation() -> None:
    assert parse_levels("1,4,16", integers=True) == (1, 4, 16)
    assert parse_levels("100, 250.5", integers=False) == (100.0, 250.5)
    with pytest.raises(WorkbenchError, match="bad level 'x'"):
        parse_levels("1,x", integers=True)
    with pytest.raises(WorkbenchError, match="positive integers"):
        parse_levels("1.5", integers=True)
    with pytest.raises(WorkbenchError, match="concurrency levels must be positive integers"):
        LoadPlan(mode="closed", levels=(0,))
    with pytest.raises(WorkbenchError, match="https"):
        http_target("https://example.invalid/v1/models/m:predict", BODY)


def test_request_timeout_is_an_error_kind_and_the_loop_goes_on() -> None:
    # request #1 is held (up to 30 s, released when the server stops); the client gives up after 0.3 s,
    # reconnects and carries on
    with ScriptedServer(lambda i: (200, 30.0 if i == 1 else 0.0)) as srv:
        plan = LoadPlan(mode="closed", levels=(1,), duration_s=None, count=4, warmup_s=0.0, timeout_s=0.3)
        result = run_load(http_target(srv.url, BODY), plan)
    level = result.levels[0]
    assert level.errors == {"timeout": 1}
    assert level.ok == 3
    assert level.latency.max_ms < 300      # the timed-out request is not a latency sample


def test_response_framing_content_length_chunked_and_close() -> None:
    from workbench.core.bench.httpclient import _chunked_end, _Conn, _parse_head

    conn = _Conn()
    conn.buf = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 5\r\n\r\nhello"
    assert _parse_head(conn) and conn.status == 200 and conn.mode == 0 and conn.need == len(conn.buf)
    conn = _Conn()
    conn.buf = b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert _parse_head(conn) and conn.status == 503 and conn.mode == 1
    body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
    assert _chunked_end(conn.buf + body, conn.head_end) == len(conn.buf + body)
    assert _chunked_end(conn.buf + body[:-2], conn.head_end) == -1          # last CRLF missing
    assert _chunked_end(conn.buf + body[:9], conn.head_end) == -1           # inside a chunk
    conn = _Conn()
    conn.buf = b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\n{}"
    assert _parse_head(conn) and conn.mode == 2                            # body ends when the server closes
    conn = _Conn()
    conn.buf = b"HTTP/1.1 200 OK\r\nContent-"
    assert not _parse_head(conn)                                          # head incomplete


def test_http10_server_that_closes_after_each_response() -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):   # HTTP/1.0, no Content-Length: the body ends at close
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"predictions": [2.5]}')

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/v1/models/m:predict"
        plan = LoadPlan(mode="closed", levels=(2,), duration_s=None, count=10, warmup_s=0.0)
        level = run_load(http_target(url, BODY), plan).levels[0]
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert level.errors == {}
    assert level.ok == 10


def test_a_kept_alive_connection_closed_by_the_server_is_retried_once() -> None:
    # the server drops every connection after one response without saying so; like urllib3 the client
    # resends once on a fresh connection instead of reporting an error
    with ScriptedServer(close_silently=True) as srv:
        plan = LoadPlan(mode="closed", levels=(1,), duration_s=None, count=10, warmup_s=0.0)
        level = run_load(http_target(srv.url, BODY), plan).levels[0]
        served = srv.count
    assert level.errors == {}
    assert level.ok == 10 and served == 10


def test_headers_go_with_every_http_request() -> None:
    with ScriptedServer() as srv:
        target = http_target(srv.url, BODY, headers={"Authorization": "Bearer t0k3n", "X-Team": "ml"})
        plan = LoadPlan(mode="closed", levels=(1,), duration_s=None, count=3, warmup_s=0.0)
        level = run_load(target, plan).levels[0]
        seen = srv.last_headers
    assert level.ok == 3
    assert seen["Authorization"] == "Bearer t0k3n" and seen["X-Team"] == "ml"
    assert seen["Content-Type"] == "application/json"
    with pytest.raises(WorkbenchError, match="line breaks"):
        http_target(srv.url, BODY, headers={"X": "a\r\nInjected: 1"})


def test_grpc_engine_counts_status_codes_and_sends_metadata() -> None:
    import grpc

    from tests.core.bench_servers import ScriptedGrpcServer
    from workbench.core.bench.load import GrpcTarget

    with ScriptedGrpcServer(lambda i: grpc.StatusCode.UNAVAILABLE if i % 5 == 4 else None) as srv:
        target = GrpcTarget(srv.address, "/test.Service/Method", (b"\x01", b"\x02"), metadata=(("x-token", "abc"),))
        plan = LoadPlan(mode="closed", levels=(2,), duration_s=None, count=20, warmup_s=0.0)
        level = run_load(target, plan).levels[0]
        metadata = list(srv.metadata)
    assert level.requests == 20 and len(metadata) == 20
    assert level.errors == {"grpc-UNAVAILABLE": 4} and level.ok == 16
    assert all(m.get("x-token") == "abc" for m in metadata)
    assert level.client.in_latency_p50_us is None and level.client.cpu_us_per_request > 0
