"""A tight HTTP/1.1 keep-alive load engine on raw non-blocking sockets and one epoll loop.

Chosen by measurement (docs/performance.md): on this machine `requests` costs ~1.3 ms per call,
`http.client` ~0.17 ms, aiohttp ~0.33 ms; this loop stays within ~50 us of wrk at one connection and
reaches well over half of wrk's requests/s, in one thread. Requests are pre-encoded bytes; responses
are parsed just enough to find the status and the end of the body (Content-Length, chunked, or close).

Closed loop: `level` connections, each sends its next request as soon as the previous answer is in.
Open loop: requests are due at t0 + i / rate; a due request goes out on the first idle connection
(`connections` of them). Its latency counts from the due time (corrected) and from the actual send
(uncorrected), so a stall that keeps requests from being sent shows in the corrected numbers.

A server is not trusted: each request has a total deadline from its send (`timeout_s`, however slowly
bytes trickle in); heads over `limits.RESPONSE_HEADER_BYTES` and bodies over `limits.RESPONSE_BYTES` are
errors without reading on; a Content-Length that is not a size, bytes that are not HTTP, interim 1xx
answers (skipped) and 2xx bodies the protocol's `check` refuses each have their own error kind. Every
request sent in the measurement ends as ok, an error or `incomplete` (sent = ok + errors + incomplete).
"""

from __future__ import annotations

import errno
import select
import socket
import threading
import time
from collections import deque
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from workbench.core import limits
from workbench.core.bench.recorder import Recorder

#: judges a 2xx body: None when it is a valid answer of the protocol, else the error kind to count
BodyCheck = Callable[[bytes], "str | None"]

_POLL_MAX_S = 0.05          # upper bound of one wait: cancellation and deadlines are checked this often
_RECONNECT_DELAY_NS = 10_000_000
_IN = select.EPOLLIN
_OUT = select.EPOLLOUT
_ERRS = select.EPOLLERR | select.EPOLLHUP


@dataclass(frozen=True)
class HttpRequest:
    """One request to send: method, path (with query), body bytes and extra headers."""

    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)

    def encode(self, host_header: str) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host_header}"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        if self.body or self.method not in ("GET", "HEAD"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


@dataclass
class LevelOutcome:
    """What one measured level of the HTTP engine leaves: the recorder and why it stopped."""

    recorder: Recorder
    stopped_by: str              # duration | count | error-budget | cancelled
    elapsed_s: float
    incomplete: int              # requests still unanswered after the drain grace
    unsent: int                  # open loop: requests that were due but never got a connection
    cpu_s: float                 # CPU time of the engine thread during the measurement
    connections_opened: int
    sent: int = -1               # requests sent (or attempted) in the measurement; -1: not counted


def _tight_timer_slack() -> None:
    """Ask Linux for 1 ns timer slack on this thread (default 50 us), so short waits wake on time."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(29, 1, 0, 0, 0)  # PR_SET_TIMERSLACK
    except (OSError, AttributeError):
        pass


class _Conn:
    __slots__ = (
        "buf",
        "busy",
        "client",
        "close",
        "coding",
        "data",
        "fd",
        "gen",
        "head_end",
        "intended",
        "mode",
        "need",
        "out",
        "retried",
        "retry_at",
        "reused",
        "sent",
        "sock",
        "status",
    )

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.fd = -1
        self.buf = b""
        self.busy = False
        self.intended = 0
        self.sent = 0
        self.client = 0
        self.out = b""
        self.retry_at = 0
        self.gen = 0
        self.need = -1          # total bytes of the current response once its head is parsed
        self.head_end = -1
        self.status = 0
        self.mode = 0           # 0 length, 1 chunked, 2 until close
        self.close = False
        self.coding = b""       # Content-Encoding of the current response
        self.data = b""
        self.reused = False     # a response already came back on this connection
        self.retried = False


class _ResponseError(Exception):
    pass


def _parse_head(conn: _Conn) -> bool:
    """Parse the status line and headers in conn.buf; False when the head is not complete yet.

    Raises _ResponseError(kind): "not-http" (the bytes are not an HTTP answer), "bad-response" (a broken
    status line or Content-Length), "headers-too-large", "response-too-large" (a declared body over the
    limit)."""
    buf = conn.buf
    if len(buf) >= 5 and buf[:5] != b"HTTP/":
        raise _ResponseError("not-http")
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > limits.RESPONSE_HEADER_BYTES.value:
            raise _ResponseError("headers-too-large")
        return False
    if end > limits.RESPONSE_HEADER_BYTES.value:
        raise _ResponseError("headers-too-large")
    if buf[:5] != b"HTTP/":
        raise _ResponseError("not-http")
    code = buf[9:12]
    if len(code) != 3 or not code.isdigit() or buf[12:13] not in (b" ", b"\r"):
        raise _ResponseError("bad-response")
    conn.status = int(code)
    head = buf[:end].lower()
    conn.head_end = end + 4
    pos = head.find(b"\r\ncontent-encoding:")
    conn.coding = b""
    if pos >= 0:
        stop = head.find(b"\r\n", pos + 19)
        conn.coding = head[pos + 19: stop if stop >= 0 else len(head)].strip()
    pos = head.find(b"\r\ncontent-length:")
    if 100 <= conn.status < 200 or conn.status in (204, 304):
        conn.need = conn.head_end
        conn.mode = 0
    elif pos >= 0:
        stop = head.find(b"\r\n", pos + 17)
        value = head[pos + 17: stop if stop >= 0 else len(head)].strip()
        if not value.isdigit():          # "-5", "abc", "": not a size
            raise _ResponseError("bad-response")
        if int(value) > limits.RESPONSE_BYTES.value:
            raise _ResponseError("response-too-large")
        conn.need = conn.head_end + int(value)
        conn.mode = 0
    elif b"\r\ntransfer-encoding:" in head and b"chunked" in head:
        conn.mode = 1
        conn.need = -1
    else:
        conn.mode = 2
        conn.need = -1
    return True


def _dechunk(buf: bytes, start: int, end: int) -> bytes:
    """The body of a complete chunked message buf[start:end]."""
    out = []
    pos = start
    while pos < end:
        eol = buf.find(b"\r\n", pos)
        size = int(buf[pos:eol].split(b";", 1)[0], 16)
        if size == 0:
            break
        out.append(buf[eol + 2: eol + 2 + size])
        pos = eol + 2 + size + 2
    return b"".join(out)


def _decoded(body: bytes, coding: bytes) -> bytes:
    """A gzip/deflate body inflated, never past RESPONSE_BYTES; _ResponseError("response-too-large" or
    "bad-encoding") when it cannot be."""
    if coding in (b"", b"identity"):
        return body
    wbits = {b"gzip": 31, b"x-gzip": 31, b"deflate": 15}.get(coding)
    if wbits is None:
        raise _ResponseError("bad-encoding")
    limit = limits.RESPONSE_BYTES.value
    try:
        out = zlib.decompressobj(wbits).decompress(body, limit + 1)
    except zlib.error:
        raise _ResponseError("bad-encoding") from None
    if len(out) > limit:
        raise _ResponseError("response-too-large")
    return out


def _chunked_end(buf: bytes, start: int) -> int:
    """Index just past a complete chunked body starting at `start`, or -1 when incomplete."""
    pos = start
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return -1
        size_text = buf[pos:eol].split(b";", 1)[0].strip()
        if not size_text or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
            raise ValueError("bad chunk size")
        size = int(size_text, 16)
        if size == 0:
            trailer_end = buf.find(b"\r\n\r\n", eol)
            if trailer_end == eol:  # no trailers: "0\r\n\r\n"
                return eol + 4
            return -1 if trailer_end < 0 else trailer_end + 4
        pos = eol + 2 + size + 2
        if pos > len(buf):
            return -1


def run_http_level(host: str, port: int, wire: Sequence[bytes], *, mode: str, level: float,
                   connections: int, duration_s: float | None, count: int | None, warmup_s: float,
                   timeout_s: float, recorder_factory, cancel: threading.Event | None,
                   drain_s: float = 1.0, check: BodyCheck | None = None) -> LevelOutcome:
    """Run one level (a concurrency or a rate) of an HTTP load test; see the module docstring.

    `check(body)` judges each 2xx body (None: valid; else the error kind it counts as)."""
    engine = _HttpEngine(host, port, wire, mode, level, connections, timeout_s, cancel)
    engine.check = check
    try:
        return engine.run(duration_s, count, warmup_s, recorder_factory, drain_s)
    finally:
        engine.close()


class _HttpEngine:
    def __init__(self, host: str, port: int, wire: Sequence[bytes], mode: str, level: float, connections: int,
                 timeout_s: float, cancel: threading.Event | None) -> None:
        if mode not in ("closed", "open"):
            raise ValueError(f"unknown load mode {mode!r}")
        self.host, self.port = host, port
        self.wire = list(wire)
        if not self.wire:
            raise ValueError("no requests to send")
        self.mode = mode
        self.level = level
        n = int(level) if mode == "closed" else connections
        self.conns = [_Conn() for _ in range(max(1, n))]
        self.by_fd: dict[int, _Conn] = {}
        self.ep = select.epoll()
        self.timeout_ns = int(timeout_s * 1e9)
        self.cancel = cancel or threading.Event()
        self.next_wire = 0
        self.opened = 0
        self.inflight = 0
        self.heads: dict[bytes, tuple[int, int, int, bool]] = {}
        self.gen = 0                # measurement generation: 0 = warm-up
        self.rec: Recorder | None = None
        self.sent = 0               # requests sent (or attempted) in the measurement generation
        self.check: BodyCheck | None = None

    # -- connections --------------------------------------------------------------------------------
    def _connect(self, conn: _Conn) -> str | None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=min(5.0, self.timeout_ns / 1e9))
        except ConnectionRefusedError:
            return "connection-refused"
        except TimeoutError:
            return "connect-timeout"
        except OSError as exc:
            return "connect-" + (errno.errorcode.get(exc.errno or 0, "error").lower())
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        conn.sock, conn.fd, conn.buf, conn.need, conn.head_end = sock, sock.fileno(), b"", -1, -1
        conn.reused = False
        self.by_fd[conn.fd] = conn
        self.ep.register(conn.fd, _IN)
        self.opened += 1
        return None

    def _drop(self, conn: _Conn) -> None:
        if conn.sock is not None:
            self.by_fd.pop(conn.fd, None)
            try:
                self.ep.unregister(conn.fd)
            except OSError:
                pass
            conn.sock.close()
        if conn.busy:
            self.inflight -= 1
        conn.sock, conn.fd, conn.buf, conn.out, conn.busy = None, -1, b"", b"", False

    def close(self) -> None:
        for conn in self.conns:
            self._drop(conn)
        self.ep.close()

    # -- requests -----------------------------------------------------------------------------------
    def _send(self, conn: _Conn, intended: int, now: int) -> bool:
        """Send the next request on conn; False (error recorded) when the connection failed."""
        if self.rec is not None and self.gen > 0:
            self.sent += 1
        if conn.sock is None:
            kind = self._connect(conn)
            if kind is not None:
                if self.rec is not None and self.gen > 0:
                    self.rec.error(kind, time.perf_counter_ns())
                conn.retry_at = time.perf_counter_ns() + _RECONNECT_DELAY_NS
                return False
            now = time.perf_counter_ns()
        data = self.wire[self.next_wire]
        self.next_wire = (self.next_wire + 1) % len(self.wire)
        conn.retried = False
        return self._transmit(conn, data, intended, now, self.gen)

    def _transmit(self, conn: _Conn, data: bytes, intended: int, now: int, gen: int) -> bool:
        conn.busy, conn.intended, conn.gen, conn.data = True, intended, gen, data
        self.inflight += 1
        conn.need, conn.head_end = -1, -1
        conn.sent = now
        try:
            n = conn.sock.send(data)  # type: ignore[union-attr]
        except BlockingIOError:
            n = 0
        except OSError:
            self._retry_or_fail(conn, "connection-reset")
            return conn.busy
        after = time.perf_counter_ns()
        conn.client = after - now
        if n < len(data):
            conn.out = data[n:]
            self.ep.modify(conn.fd, _IN | _OUT)
        return True

    def _retry_or_fail(self, conn: _Conn, kind: str) -> None:
        """A kept-alive connection the server had already closed: resend once on a fresh one (as
        urllib3 does); the latency still counts from the first send. Otherwise record the failure."""
        if conn.reused and not conn.retried and not conn.buf:
            intended, sent, gen, data = conn.intended, conn.sent, conn.gen, conn.data
            self._drop(conn)
            if self._connect(conn) is None:
                conn.retried = True
                self._transmit(conn, data, intended, sent, gen)
                return
            conn.busy = False
        self._fail(conn, kind, conn.intended, time.perf_counter_ns())

    def _fail(self, conn: _Conn, kind: str, intended: int, now: int, reconnect: bool = True) -> None:
        if self.rec is not None and conn.gen == self.gen and self.gen > 0:
            self.rec.error(kind, now)
        self._drop(conn)

    def _complete(self, conn: _Conn, done: int, wake: int, body: bytes = b"") -> None:
        conn.busy = False
        conn.reused = True
        self.inflight -= 1
        rec = self.rec
        if rec is not None and conn.gen == self.gen:
            status = conn.status
            problem = None
            if 200 <= status < 300 and self.check is not None:
                try:
                    problem = self.check(_decoded(body, conn.coding))
                except _ResponseError as exc:
                    problem = str(exc)
            if problem is not None:
                rec.error(problem, done)
            elif 200 <= status < 300:
                rec.corrected.append(done - conn.intended)
                rec.uncorrected.append(done - conn.sent)
                rec.client.append(conn.client + (done - wake))
                rec.done_at.append(done)
            else:
                rec.error(f"http-{status}", done)

    def _on_readable(self, conn: _Conn, wake: int) -> None:
        sock = conn.sock
        try:
            data = sock.recv(262144)  # type: ignore[union-attr]
        except BlockingIOError:
            return
        except OSError:
            if conn.busy:
                self._retry_or_fail(conn, "connection-reset")
            else:
                self._drop(conn)
            return
        if not data:  # peer closed
            if conn.busy and conn.mode == 2 and conn.head_end >= 0:
                self._complete(conn, time.perf_counter_ns(), wake, conn.buf[conn.head_end:])
                self._drop(conn)
            elif conn.busy and conn.buf and conn.head_end < 0 and conn.buf[:5] != b"HTTP/"[:len(conn.buf)]:
                self._fail(conn, "not-http", conn.intended, time.perf_counter_ns())
            elif conn.busy and conn.head_end >= 0:
                self._fail(conn, "broken-answer", conn.intended, time.perf_counter_ns())
            elif conn.busy:
                self._retry_or_fail(conn, "connection-closed")
            else:
                self._drop(conn)
            return
        if not conn.busy:
            return  # bytes nobody asked for: ignore
        buf = conn.buf + data if conn.buf else data
        conn.buf = buf
        while True:
            if conn.head_end < 0:
                # fast path: a head seen before (servers repeat theirs; the Date changes once a second)
                end = buf.find(b"\r\n\r\n")
                cached = self.heads.get(buf[:end]) if end >= 0 else None
                if cached is None:
                    try:
                        if not _parse_head(conn):
                            return
                    except _ResponseError as exc:
                        self._fail(conn, str(exc), conn.intended, time.perf_counter_ns())
                        return
                    except ValueError:
                        self._fail(conn, "bad-response", conn.intended, time.perf_counter_ns())
                        return
                    head = buf[:conn.head_end - 4]
                    cached = (conn.status, conn.mode, conn.need - conn.head_end if conn.mode == 0 else -1,
                              b"\r\nconnection: close" in head.lower(), conn.coding)
                    if len(self.heads) > 64:
                        self.heads.clear()
                    self.heads[head] = cached
                    end = conn.head_end - 4
                conn.status, conn.mode, length, conn.close, conn.coding = cached
                conn.head_end = end + 4
                if conn.mode == 0:
                    conn.need = conn.head_end + length
                if 100 <= conn.status < 200 and conn.status != 101:
                    # an interim answer (100 Continue, 103 Early Hints): the real one follows
                    buf = conn.buf = buf[conn.head_end:]
                    conn.head_end, conn.need = -1, -1
                    continue
            break
        try:
            if conn.mode == 0:
                if len(buf) < conn.need:
                    return
                body, rest = buf[conn.head_end:conn.need], buf[conn.need:]
            elif conn.mode == 1:
                end = _chunked_end(buf, conn.head_end)
                if end < 0:
                    if len(buf) - conn.head_end > limits.RESPONSE_BYTES.value:
                        self._fail(conn, "response-too-large", conn.intended, time.perf_counter_ns())
                    return
                body = _dechunk(buf, conn.head_end, end)
                rest = buf[end:]
            else:
                if len(buf) - conn.head_end > limits.RESPONSE_BYTES.value:
                    self._fail(conn, "response-too-large", conn.intended, time.perf_counter_ns())
                return  # until close
        except ValueError:
            self._fail(conn, "bad-response", conn.intended, time.perf_counter_ns())
            return
        conn.buf = rest
        conn.head_end = -1
        self._complete(conn, time.perf_counter_ns(), wake, body)
        if conn.close or conn.status == 101:
            self._drop(conn)

    def _on_writable(self, conn: _Conn) -> None:
        try:
            n = conn.sock.send(conn.out)  # type: ignore[union-attr]
        except BlockingIOError:
            return
        except OSError:
            self._fail(conn, "connection-reset", conn.intended, time.perf_counter_ns())
            return
        conn.out = conn.out[n:]
        if not conn.out:
            self.ep.modify(conn.fd, _IN)

    def _check_timeouts(self, now: int) -> None:
        for conn in self.conns:
            if conn.busy and now - conn.sent > self.timeout_ns:
                self._fail(conn, "timeout", conn.intended, now)

    # -- the loop -----------------------------------------------------------------------------------
    def run(self, duration_s: float | None, count: int | None, warmup_s: float, recorder_factory,
            drain_s: float) -> LevelOutcome:
        pc = time.perf_counter_ns
        cancel = self.cancel
        closed = self.mode == "closed"
        if not closed:
            _tight_timer_slack()
        interval = 0 if closed else int(1e9 / float(self.level))
        if not closed and interval <= 0:
            raise ValueError("rate must be positive")
        start = pc()
        warm_end = start + int(max(0.0, warmup_s) * 1e9)
        self.gen = 0 if warmup_s > 0 else 1
        measure_start = start if self.gen == 1 else 0
        if self.gen == 1:
            self.rec = recorder_factory(start)
        end_ns = (measure_start + int(duration_s * 1e9)) if (self.gen == 1 and duration_s) else 0
        backlog: deque[int] = deque()
        unsent = 0
        next_due = start
        scheduled = 0
        stopped_by = ""
        cpu0 = time.thread_time()
        idle = deque(self.conns)
        last_timeout_check = start
        poll = self.ep.poll
        epfd = [self.ep.fileno()]
        by_fd = self.by_fd
        sending = True
        drain_deadline = 0
        while True:
            now = pc()
            if cancel.is_set():
                stopped_by = "cancelled"
                break
            rec = self.rec
            # phase changes
            if self.gen == 0 and now >= warm_end:
                self.gen = 1
                measure_start = now
                rec = self.rec = recorder_factory(now)
                end_ns = now + int(duration_s * 1e9) if duration_s else 0
                cpu0 = time.thread_time()
                if not closed:
                    backlog.clear()
                    next_due = now
                    scheduled = 0
            if rec is not None and sending:
                if end_ns and now >= end_ns:
                    stopped_by = "duration"
                elif count is not None and (scheduled if not closed else rec.completed) >= count:
                    stopped_by = "count"
                elif rec.over_budget():
                    stopped_by = "error-budget"
                if stopped_by:
                    sending = False
                    drain_deadline = now + int(drain_s * 1e9)
                    unsent = len(backlog)
                    backlog.clear()
            if not sending and (stopped_by == "error-budget" or now >= drain_deadline
                                or not any(c.busy and c.gen == self.gen for c in self.conns)):
                break
            if rec is not None:
                rec.tick(now)
            # hand out work
            if sending:
                if closed:
                    while idle:
                        conn = idle.popleft()
                        if conn.busy:
                            continue
                        if conn.retry_at > now:
                            idle.append(conn)
                            break
                        if count is not None and rec is not None and rec.completed + self.inflight >= count:
                            idle.appendleft(conn)
                            break
                        if not self._send(conn, now, now):
                            idle.append(conn)
                        now = pc()
                else:
                    while next_due <= now and (count is None or self.gen == 0 or scheduled < count):
                        backlog.append(next_due)
                        next_due += interval
                        scheduled += 1
                    while backlog and idle:
                        conn = idle.popleft()
                        if conn.busy:
                            continue
                        if conn.retry_at > now:
                            idle.append(conn)
                            break
                        if not self._send(conn, backlog.popleft(), pc()):
                            idle.append(conn)
            # how long may we wait?
            if now - last_timeout_check > 50_000_000:
                self._check_timeouts(now)
                last_timeout_check = now
                for conn in self.conns:
                    if not conn.busy and conn not in idle:
                        idle.append(conn)
            fine_wait = 0.0
            if sending and not closed and not backlog:
                wait_ns = next_due - pc()
                if wait_ns < 1_000_000:
                    # epoll waits in whole ms; select() on the epoll fd waits with us precision, no spinning
                    timeout, fine_wait = 0.0, max(0.0, wait_ns / 1e9)
                else:
                    timeout = min(_POLL_MAX_S, (wait_ns // 1_000_000) / 1000.0)
            elif sending and idle and closed:
                timeout = 0.001  # a connection waits to reconnect
            else:
                timeout = _POLL_MAX_S
            if fine_wait > 0.0:
                select.select(epfd, (), (), fine_wait)
            events = poll(timeout)
            wake = pc()
            for fd, ev in events:
                conn = by_fd.get(fd)
                if conn is None:
                    continue
                if ev & _OUT and conn.out:
                    self._on_writable(conn)
                    if conn.sock is None:
                        idle.append(conn)
                        continue
                if ev & (_IN | _ERRS):
                    self._on_readable(conn, wake)
                    if not conn.busy:
                        if closed and sending and (count is None or rec is None
                                                   or rec.completed + self.inflight < count):
                            t = pc()
                            if self._send(conn, t, t):
                                continue
                        idle.append(conn)
        end = pc()
        if stopped_by != "cancelled":
            self._check_timeouts(end)   # a request past its deadline at the end is a timeout, not lost
        rec = self.rec
        cpu = time.thread_time() - cpu0
        if rec is None:  # cancelled during warm-up
            rec = recorder_factory(end)
            measure_start = end
        incomplete = sum(1 for c in self.conns if c.busy and c.gen == self.gen)
        rec.finish(end)
        if not stopped_by:
            stopped_by = "cancelled"
        return LevelOutcome(recorder=rec, stopped_by=stopped_by, elapsed_s=(end - measure_start) / 1e9,
                            incomplete=incomplete, unsent=unsent or len(backlog), cpu_s=cpu,
                            connections_opened=self.opened, sent=self.sent if self.gen > 0 else 0)
