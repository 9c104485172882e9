"""Endpoint load tests: closed loop (N in flight) or open loop (constant rate), swept over levels.

    target = http_target("http://127.0.0.1:8501/v1/models/m:predict", bodies)
    result = run_load(target, LoadPlan(mode="open", levels=(100, 500), duration_s=10),
                      on_point=chart.add, cancel=stop_event)

Open-loop latencies are measured from each request's intended send time (coordinated-omission
correction, as wrk2 does); the uncorrected numbers (from the actual send) are kept beside them. In a
closed loop both are the same. Only successful (2xx / gRPC OK) responses enter the latency statistics;
failures are counted by kind. Every level reports the client's own cost (see `ClientCost`).

Every completed request keeps 32 bytes of exact samples (corrected, uncorrected, client part, completion
time; int64 ns) until its level ends: 19 MB for 10 s at 60,000 req/s, 115 MB for an hour at 1,000 req/s.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from workbench.core.bench.histogram import LatencyHistogram
from workbench.core.bench.httpclient import HttpRequest, LevelOutcome, run_http_level
from workbench.core.bench.recorder import ProgressCallback, Recorder, TimePoint
from workbench.core.bench.stats import LatencyStats, summarize_ns
from workbench.core.errors import WorkbenchError

Mode = Literal["closed", "open"]
TFS_PREDICT_METHOD = "/tensorflow.serving.PredictionService/Predict"
V2_INFER_METHOD = "/inference.GRPCInferenceService/ModelInfer"


#: the keys a valid 2xx answer of each protocol has (TF Serving :predict/:classify/:regress, v2 /infer)
ANSWER_KEYS = {"tfserving": ("predictions", "outputs", "results"), "v2": ("outputs",)}


def answer_protocol(path: str) -> str | None:
    """The protocol whose answers a request path gets: "tfserving" (/v1/models/M...:verb), "v2"
    (/v2/models/M.../infer) or None (any 2xx body is accepted)."""
    path = path.split("?", 1)[0]
    if path.startswith("/v1/models/") and path.rsplit("/", 1)[-1].partition(":")[2] in (
            "predict", "classify", "regress"):
        return "tfserving"
    if path.startswith("/v2/models/") and path.rstrip("/").endswith("/infer"):
        return "v2"
    return None


def answer_problem(protocol: str | None, body: bytes | str) -> str | None:
    """Why a 2xx body is not a valid answer of `protocol` ("invalid-json", "invalid-answer"), or None."""
    if protocol is None:
        return None
    from workbench.core.serving.untrusted import json_problem

    value, problem = json_problem(body)
    if problem is not None:
        return "invalid-json"
    keys = ANSWER_KEYS[protocol]
    if not isinstance(value, dict) or not any(k in value for k in keys) \
            or (protocol == "v2" and not isinstance(value.get("outputs"), list)):
        return "invalid-answer"
    return None


def answer_check(protocol: str | None) -> Callable[[bytes], str | None] | None:
    """`answer_problem` for the load engine, remembering up to 64 bodies already found valid (servers
    repeat their answers), so the check costs a dict look-up per request."""
    if protocol is None:
        return None
    valid: dict[bytes, None] = {}

    def check(body: bytes) -> str | None:
        if body in valid:
            return None
        problem = answer_problem(protocol, body)
        if problem is None and len(valid) < 64:
            valid[body] = None
        return problem

    return check


@dataclass(frozen=True)
class HttpTarget:
    """An HTTP endpoint and the pre-built requests to cycle through."""

    host: str
    port: int
    requests: tuple[HttpRequest, ...]
    url: str = ""

    @property
    def answers(self) -> str | None:
        """The protocol the 2xx answers are checked against (see `answer_protocol`)."""
        return answer_protocol(self.requests[0].path) if self.requests else None

    @property
    def protocol(self) -> str:
        return "http"

    def wire(self) -> list[bytes]:
        host_header = self.host if self.port == 80 else f"{self.host}:{self.port}"
        return [r.encode(host_header) for r in self.requests]


@dataclass(frozen=True)
class GrpcTarget:
    """A gRPC endpoint, the full method name and serialized request messages to cycle through."""

    address: str
    method: str
    payloads: tuple[bytes, ...]
    #: gRPC metadata sent with every call (keys lower-case, as gRPC requires)
    metadata: tuple[tuple[str, str], ...] = ()

    @property
    def protocol(self) -> str:
        return "grpc"

    @property
    def url(self) -> str:
        return f"grpc://{self.address}{self.method}"


Target = HttpTarget | GrpcTarget


def http_target(url: str, bodies: Sequence[bytes], *, method: str = "POST",
                content_type: str = "application/json", headers: dict[str, str] | None = None) -> HttpTarget:
    """An HttpTarget for `url` sending each body in turn, with extra `headers` (e.g. authorization).

    https is not supported by the load engine."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise WorkbenchError(f"load tests need an http:// URL, got {url!r}",
                             hint="https endpoints can be probed but not load-tested yet")
    if not parts.hostname:
        raise WorkbenchError(f"no host in URL {url!r}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    extra = tuple((k, v) for k, v in (headers or {}).items() if k.lower() not in ("host", "content-length"))
    if bodies and any(bodies) and not any(k.lower() == "content-type" for k, _ in extra):
        extra = (("Content-Type", content_type), *extra)
    for key, value in extra:
        if any(c in key + value for c in "\r\n") or not key.strip():
            raise WorkbenchError(f"bad header {key!r}: names and values cannot hold line breaks")
    requests = tuple(HttpRequest(method, path, bytes(b), extra) for b in (bodies or [b""]))
    return HttpTarget(parts.hostname, parts.port or 80, requests, url)


@dataclass
class LoadPlan:
    """How to load: mode, the levels to sweep, and when each level stops."""

    mode: Mode = "closed"
    #: concurrency levels (closed loop) or request rates in req/s (open loop)
    levels: tuple[float, ...] = (1,)
    duration_s: float | None = 10.0
    #: requests per level (stops at whichever of duration/count comes first)
    count: int | None = None
    warmup_s: float = 1.0
    #: stop the sweep when a level has more errors than this ...
    max_errors: int | None = None
    #: ... or a larger error fraction than this (checked after 20 requests)
    max_error_rate: float | None = None
    timeout_s: float = 10.0
    #: open loop: connections (HTTP) or maximum in-flight calls (gRPC) that carry the rate
    connections: int = 16

    def __post_init__(self) -> None:
        if self.mode not in ("closed", "open"):
            raise WorkbenchError(f"unknown load mode {self.mode!r} (closed or open)")
        if not self.levels:
            raise WorkbenchError("no load levels given")
        for level in self.levels:
            if not level > 0 or (self.mode == "closed" and int(level) != level):
                what = "concurrency levels must be positive integers" if self.mode == "closed" \
                    else "rates must be positive numbers of requests per second"
                raise WorkbenchError(f"bad load level {level!r}: {what}")
        if self.duration_s is None and self.count is None:
            raise WorkbenchError("a load plan needs a duration or a request count")

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "levels": list(self.levels), "duration_s": self.duration_s,
                "count": self.count, "warmup_s": self.warmup_s, "max_errors": self.max_errors,
                "max_error_rate": self.max_error_rate, "timeout_s": self.timeout_s,
                "connections": self.connections}


@dataclass(frozen=True)
class ClientCost:
    """The load generator's own cost, so a reader knows which part of a latency is the client's.

    `in_latency_p50_us`: median time per request spent in the client inside the measured latency
    (sending the request + reading and parsing the answer after the wake-up), measured in the loop;
    `cpu_us_per_request`: CPU time of the client thread divided by completed requests.
    gRPC runs inside grpc's C core, so only the CPU figure is available there (`in_latency_*` None).
    """

    in_latency_p50_us: float | None
    in_latency_p99_us: float | None
    cpu_us_per_request: float | None

    def to_json(self) -> dict[str, Any]:
        return {"in_latency_p50_us": self.in_latency_p50_us, "in_latency_p99_us": self.in_latency_p99_us,
                "cpu_us_per_request": self.cpu_us_per_request}


@dataclass
class LevelResult:
    """The measurement of one level of a sweep: sent = ok + errors + incomplete."""

    mode: Mode
    level: float
    requests: int                # completed: ok + errors
    ok: int
    errors: dict[str, int]
    elapsed_s: float
    throughput_rps: float        # ok / elapsed
    latency: LatencyStats        # corrected (open loop); the service time in a closed loop
    uncorrected: LatencyStats    # from the actual send time
    client: ClientCost
    stopped_by: str
    incomplete: int = 0
    unsent: int = 0
    timeline: list[TimePoint] = field(default_factory=list)
    #: histogram of `latency` (the corrected one) from every sample; None when nothing succeeded
    histogram: LatencyHistogram | None = None
    #: requests sent (or attempted) in the measurement: ok + errors + incomplete
    sent: int = 0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def failed(self) -> int:
        """Requests that did not succeed: errors, and those still unanswered when the level ended."""
        return self.error_count + self.incomplete


@dataclass
class LoadResult:
    """A whole sweep against one target."""

    target: str
    protocol: str
    model: str | None
    plan: LoadPlan
    levels: list[LevelResult]
    cancelled: bool = False
    stopped_early: str | None = None     # "error-budget" when the sweep was cut short
    #: the run was stopped by the user (Ctrl-C): the result is partial
    interrupted: bool = False
    #: the client's median own cost at the lowest level, in microseconds (the measurement floor)
    client_floor_us: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def run_load(target: Target, plan: LoadPlan, *, model: str | None = None,
             on_point: ProgressCallback | None = None,
             on_level: Callable[[LevelResult], None] | None = None,
             cancel: threading.Event | None = None) -> LoadResult:
    """Run the sweep in `plan` against `target` (blocking; call it from a worker thread in a GUI).

    `on_point` gets a TimePoint per second of measurement, `on_level` each finished level;
    setting `cancel` stops the run within a fraction of a second (the partial level is kept).
    """
    cancel = cancel or threading.Event()
    levels: list[LevelResult] = []
    stopped_early = None
    for level in plan.levels:
        if cancel.is_set():
            break

        def factory(t0: int, _level: float = level) -> Recorder:
            return Recorder(_level, t0, on_point, plan.max_errors, plan.max_error_rate)

        common: dict[str, Any] = {
            "mode": plan.mode, "level": level, "connections": plan.connections, "duration_s": plan.duration_s,
            "count": plan.count, "warmup_s": plan.warmup_s, "timeout_s": plan.timeout_s,
            # requests in flight at the end get their whole timeout: they end as ok or as errors, and
            # only a cancelled (or error-budget) level leaves requests unanswered (`incomplete`)
            "recorder_factory": factory, "cancel": cancel, "drain_s": plan.timeout_s + 0.1}
        if isinstance(target, HttpTarget):
            outcome = run_http_level(target.host, target.port, target.wire(),
                                     check=answer_check(target.answers), **common)
        else:
            from workbench.core.bench.grpcclient import run_grpc_level

            outcome = run_grpc_level(target.address, target.method, target.payloads, metadata=target.metadata,
                                     **common)
        result = _level_result(plan.mode, level, outcome, client_measured=isinstance(target, HttpTarget))
        levels.append(result)
        if on_level is not None:
            on_level(result)
        if outcome.stopped_by == "error-budget":
            stopped_early = "error-budget"
            break
    floor = levels[0].client.in_latency_p50_us if levels else None
    if floor is None and levels:
        floor = levels[0].client.cpu_us_per_request
    return LoadResult(target=target.url, protocol=target.protocol, model=model, plan=plan, levels=levels,
                      cancelled=cancel.is_set(), stopped_early=stopped_early, client_floor_us=floor)


def _level_result(mode: Mode, level: float, outcome: LevelOutcome, client_measured: bool) -> LevelResult:
    rec = outcome.recorder
    ok = len(rec.corrected)
    elapsed = max(outcome.elapsed_s, 1e-9)
    client_stats = summarize_ns(rec.client, (50.0, 99.0)) if (client_measured and ok) else None
    completed = ok + rec.error_count
    cpu_per = outcome.cpu_s / completed * 1e6 if completed else None
    return LevelResult(
        mode=mode, level=level, requests=completed, ok=ok, errors=dict(sorted(rec.errors.items())),
        elapsed_s=outcome.elapsed_s, throughput_rps=ok / elapsed,
        latency=summarize_ns(rec.corrected), uncorrected=summarize_ns(rec.uncorrected),
        client=ClientCost(
            in_latency_p50_us=client_stats.percentiles_ms[50.0] * 1000 if client_stats else None,
            in_latency_p99_us=client_stats.percentiles_ms[99.0] * 1000 if client_stats else None,
            cpu_us_per_request=cpu_per),
        stopped_by=outcome.stopped_by, incomplete=outcome.incomplete, unsent=outcome.unsent,
        timeline=list(rec.timeline), histogram=LatencyHistogram.from_ns(rec.corrected),
        sent=outcome.sent if outcome.sent >= 0 else completed + outcome.incomplete)


def parse_levels(text: str, *, integers: bool) -> tuple[float, ...]:
    """"1,4,16" -> (1, 4, 16); raises WorkbenchError naming the bad item."""
    out: list[float] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            value = float(item)
        except ValueError:
            raise WorkbenchError(f"bad level {item!r} in {text!r}: expected numbers like 1,4,16") from None
        if not math.isfinite(value) or value <= 0 or (integers and value != int(value)):
            raise WorkbenchError(f"bad level {item!r} in {text!r}: expected positive "
                                 f"{'integers' if integers else 'numbers'}")
        out.append(int(value) if integers else value)
    if not out:
        raise WorkbenchError(f"no levels in {text!r}")
    return tuple(out)
