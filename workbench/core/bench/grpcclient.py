"""gRPC load engine: one grpc.aio channel (HTTP/2, reused), raw pre-serialized request bytes.

The payloads are serialized once up front (by the Serving probe's request builder), and the call is a
generic unary-unary method with no (de)serializers, so the loop measures the transport and the server,
not protobuf encoding. Same closed/open loop semantics as the HTTP engine.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

from workbench.core.bench.httpclient import LevelOutcome
from workbench.core.bench.recorder import Recorder

_POLL_S = 0.05


def run_grpc_level(address: str, method: str, payloads: Sequence[bytes], *, mode: str, level: float,
                   connections: int, duration_s: float | None, count: int | None, warmup_s: float,
                   timeout_s: float, recorder_factory, cancel: threading.Event | None,
                   drain_s: float = 1.0, metadata: Sequence[tuple[str, str]] = ()) -> LevelOutcome:
    """Run one level (concurrency or rate) against a gRPC method; see the HTTP engine for semantics."""
    if mode not in ("closed", "open"):
        raise ValueError(f"unknown load mode {mode!r}")
    if not payloads:
        raise ValueError("no requests to send")
    runner = _Level(address, method, list(payloads), mode, level, connections, timeout_s,
                    cancel or threading.Event())
    runner.metadata = tuple((k.lower(), v) for k, v in metadata) or None
    return asyncio.run(runner.run(duration_s, count, warmup_s, recorder_factory,
                                                               drain_s))


class _Level:
    def __init__(self, address: str, method: str, payloads: list[bytes], mode: str, level: float,
                 connections: int, timeout_s: float, cancel: threading.Event) -> None:
        self.address, self.method, self.payloads = address, method, payloads
        self.mode, self.level, self.connections = mode, level, max(1, int(connections))
        self.timeout_s = timeout_s
        self.cancel = cancel
        self.gen = 0
        self.rec: Recorder | None = None
        self.next_payload = 0
        self.inflight = 0
        self.started = 0
        self.metadata: tuple[tuple[str, str], ...] | None = None
        self.sending = True
        self.sent = 0               # calls started in the measurement generation
        self.pending = 0            # of those, still unanswered

    def _payload(self) -> bytes:
        data = self.payloads[self.next_payload]
        self.next_payload = (self.next_payload + 1) % len(self.payloads)
        return data

    async def _one(self, call, intended: int) -> None:
        import grpc

        gen = self.gen
        measured = self.rec is not None and gen > 0
        self.inflight += 1
        if measured:
            self.sent += 1
            self.pending += 1
        sent = time.perf_counter_ns()
        try:
            # `timeout` is the call's deadline: connection, answer and all
            await call(self._payload(), timeout=self.timeout_s, metadata=self.metadata)
        except grpc.aio.AioRpcError as exc:
            kind = "timeout" if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED else f"grpc-{exc.code().name}"
            if self.rec is not None and gen == self.gen and gen > 0:
                self.rec.error(kind, time.perf_counter_ns())
            return
        finally:
            self.inflight -= 1
            if measured:
                self.pending -= 1
        done = time.perf_counter_ns()
        if self.rec is not None and gen == self.gen and gen > 0:
            # the client's part is not separable inside grpc's C core: report 0 (see client cpu instead)
            self.rec.ok(intended, sent, done, 0)

    async def _closed_worker(self, call, count: int | None) -> None:
        while self.sending:
            if count is not None and self.gen > 0:
                if self.started >= count:
                    return
                self.started += 1
            t = time.perf_counter_ns()
            await self._one(call, t)

    async def run(self, duration_s, count, warmup_s, recorder_factory, drain_s) -> LevelOutcome:
        import grpc

        from workbench.core.limits import RESPONSE_BYTES

        options = [("grpc.max_receive_message_length", RESPONSE_BYTES.value),
                   ("grpc.max_send_message_length", 64 * 1024 * 1024)]
        channel = grpc.aio.insecure_channel(self.address, options=options)
        call = channel.unary_unary(self.method, request_serializer=None, response_deserializer=None)
        pc = time.perf_counter_ns
        tasks: set[asyncio.Task] = set()
        backlog_sem = asyncio.Semaphore(self.connections)
        stopped_by = ""
        unsent = 0
        try:
            start = pc()
            warm_end = start + int(max(0.0, warmup_s) * 1e9)
            self.gen = 0
            if warmup_s <= 0:
                self.gen = 1
                self.rec = recorder_factory(start)
            measure_start = start
            end_ns = start + int(duration_s * 1e9) if (duration_s and self.gen == 1) else 0
            cpu0 = time.thread_time()
            closed = self.mode == "closed"
            if closed:
                for _ in range(max(1, int(self.level))):
                    task = asyncio.ensure_future(self._closed_worker(call, count))
                    tasks.add(task)
            interval = 0 if closed else int(1e9 / float(self.level))
            next_due = start
            scheduled = 0
            open_tasks: set[asyncio.Task] = set()

            async def fire(intended: int) -> None:
                async with backlog_sem:
                    await self._one(call, intended)

            while True:
                now = pc()
                if self.cancel.is_set():
                    stopped_by = "cancelled"
                    break
                if self.gen == 0 and now >= warm_end:
                    self.gen = 1
                    self.rec = recorder_factory(now)
                    measure_start = now
                    end_ns = now + int(duration_s * 1e9) if duration_s else 0
                    cpu0 = time.thread_time()
                    next_due, scheduled = now, 0
                rec = self.rec
                if rec is not None:
                    if end_ns and now >= end_ns:
                        stopped_by = "duration"
                    elif count is not None and (rec.completed if closed else scheduled) >= count:
                        stopped_by = "count"
                    elif rec.over_budget():
                        stopped_by = "error-budget"
                    if stopped_by:
                        break
                    rec.tick(now)
                if closed:
                    await asyncio.sleep(min(_POLL_S, max(0.0, (end_ns - now) / 1e9) if end_ns else _POLL_S))
                    continue
                while next_due <= now and (count is None or self.gen == 0 or scheduled < count):
                    task = asyncio.ensure_future(fire(next_due))
                    open_tasks.add(task)
                    task.add_done_callback(open_tasks.discard)
                    next_due += interval
                    scheduled += 1
                await asyncio.sleep(max(0.0, min(_POLL_S, (next_due - pc()) / 1e9)))
            self.sending = False
            if stopped_by != "cancelled":
                deadline = pc() + int(drain_s * 1e9)
                while self.inflight and pc() < deadline and not self.cancel.is_set():
                    await asyncio.sleep(0.005)
            end = pc()
            cpu = time.thread_time() - cpu0
            incomplete = self.pending
            sent = self.sent
            unsent = sum(1 for t in open_tasks if not t.done()) - min(self.inflight, len(open_tasks))
            for task in list(tasks) + list(open_tasks):
                task.cancel()
            await asyncio.gather(*tasks, *open_tasks, return_exceptions=True)
        finally:
            await channel.close(grace=None)
        rec = self.rec or recorder_factory(end)
        rec.finish(end)
        return LevelOutcome(recorder=rec, stopped_by=stopped_by or "cancelled",
                            elapsed_s=(end - measure_start) / 1e9, incomplete=incomplete,
                            unsent=max(0, unsent), cpu_s=cpu, connections_opened=1, sent=sent)
