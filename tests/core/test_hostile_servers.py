"""`workbench probe` and `workbench load` against hostile servers (workbench.testing.hostile).

Each server is real (sockets on 127.0.0.1, a free port; HTTP/1.1 written byte for byte, or a real gRPC
server) and misbehaves in one way. Every run is timed and must end within a bound derived from --timeout,
with its own diagnosis and exit code, and every request a load sends is accounted for:
sent = ok + errors + incomplete.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import workbench.commands.load  # noqa: F401  - imported here, so no timed run pays for first imports
import workbench.commands.probe  # noqa: F401
import workbench.core.bench.requests  # noqa: F401
import workbench.core.rows  # noqa: F401
import workbench.core.serving.grpc_client  # noqa: F401
import workbench.core.serving.probe  # noqa: F401
from workbench.cli import main
from workbench.testing import hostile as h

T = 1.0            # --timeout of every run
SLACK = 2.0        # what a run may take beyond the waits its timeouts allow
COUNT = 3          # requests per load run
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rows(tmp_path: Path) -> Path:
    path = tmp_path / "rows.csv"
    path.write_text("x\n1.0\n2.0\n")
    return path


def run(capsys, *argv: str) -> tuple[int, str, str, float]:
    start = time.monotonic()
    code = main(list(argv))
    took = time.monotonic() - start
    out, err = capsys.readouterr()
    return code, out, err, took


def probe(capsys, url: str, *extra: str) -> tuple[int, dict, str, float]:
    code, out, err, took = run(capsys, "probe", url, "--timeout", str(T), "--generate", "1", "--json", *extra)
    return code, json.loads(out), err, took


def load(capsys, url: str, rows: Path, *extra: str, count: int = COUNT) -> tuple[int, dict, str, float]:
    """A load run without the preflight request, so the load engine itself meets the server."""
    code, out, err, took = run(capsys, "load", url, "--model", "m", "--rows", str(rows), "--count",
                               str(count), "--warmup", "0", "--timeout", str(T), "--json", "--no-preflight",
                               *extra)
    data = json.loads(out)
    for row in data["rows"]:   # every request is accounted for
        assert row["sent"] == row["ok"] + row["errors_total"] + row["incomplete"], row
        assert row["failed"] == row["errors_total"] + row["incomplete"]
    return code, data, err, took


def preflight(capsys, url: str, rows: Path, *extra: str) -> tuple[int, str, float]:
    """A load run with its preflight request: the diagnosis comes before any load (one stderr line)."""
    code, out, err, took = run(capsys, "load", url, "--model", "m", "--rows", str(rows), "--count",
                               str(COUNT), "--warmup", "0", "--timeout", str(T), *extra)
    assert err.count("\n") == 1 and err.startswith("error: the first request failed before any load ("), err
    return code, err, took


def only_row(data: dict) -> dict:
    (row,) = data["rows"]
    assert row["sent"] == COUNT
    return row


# ---- slow servers: the timeout is a total deadline ---------------------------------------------------

@pytest.mark.parametrize("answer", [h.slowloris_headers, h.slowloris_body], ids=["headers", "body"])
def test_a_trickled_answer_ends_at_the_timeout(capsys, rows, answer) -> None:
    # one byte a second never lets a per-read timeout fire: only a total deadline ends the call
    with h.HostileServer(answer(interval=0.2)) as srv:
        code, report, err, took = probe(capsys, srv.url)
        assert took < T + SLACK
        assert (code, report["error"]["kind"]) == (2, "timeout")
        assert report["error"]["message"] == f"no answer from 127.0.0.1:{srv.port} within {T:g} s"
        assert err == f"error: no answer from 127.0.0.1:{srv.port} within {T:g} s\n"

        code, err, took = preflight(capsys, srv.url, rows)
        assert took < 2 * T + SLACK      # the signature look-up and the preflight request, each its T
        assert code == 2 and "(timeout)" in err

        code, data, _, took = load(capsys, srv.url, rows, count=2)
        assert took < 3 * T + SLACK      # the look-up, then two requests one after the other
        row = data["rows"][0]
        assert (row["sent"], row["ok"], row["errors"], row["incomplete"]) == (2, 0, {"timeout": 2}, 0)
        assert code == 1


# ---- big answers: capped, streamed, bounded decompression ---------------------------------------------

def test_a_declared_gigabyte_is_refused_before_reading(capsys, rows) -> None:
    with h.HostileServer(h.huge_body()) as srv:
        code, report, _, took = probe(capsys, srv.url)
        assert took < T + SLACK
        assert (code, report["error"]["kind"]) == (1, "response-too-large")
        assert report["error"]["details"]["limit"] == "response_bytes"
        assert report["error"]["message"] == (
            f"127.0.0.1:{srv.port}: the answer's size is 1.0 GiB (1073741824 bytes), over the limit of "
            "64.0 MiB (67108864 bytes) (response_bytes)")
        assert report["error"]["hint"] == "if this is genuine, raise it with WORKBENCH_LIMIT_RESPONSE_BYTES"
        code, data, _, took = load(capsys, srv.url, rows)
        assert took < T + SLACK
        assert only_row(data)["errors"] == {"response-too-large": COUNT} and code == 1


def test_an_undeclared_endless_body_is_cut_at_the_limit(capsys, rows, monkeypatch) -> None:
    monkeypatch.setenv("WORKBENCH_LIMIT_RESPONSE_BYTES", str(1 << 20))
    with h.HostileServer(h.huge_body(declared=False)) as srv:
        code, report, _, took = probe(capsys, srv.url)
        assert took < T + SLACK
        assert (code, report["error"]["kind"]) == (1, "response-too-large")
        message = report["error"]["message"]
        assert message.startswith(f"127.0.0.1:{srv.port} (reading stopped): the answer's size is")
        assert message.endswith("over the limit of 1.0 MiB (1048576 bytes) (response_bytes)")
        code, data, _, took = load(capsys, srv.url, rows)
        assert took < T + SLACK
        assert only_row(data)["errors"] == {"response-too-large": COUNT} and code == 1


def test_a_gzip_bomb_is_inflated_only_up_to_the_limit(capsys, rows) -> None:
    bomb = h.gzip_bomb_bytes(1 << 30)
    assert len(bomb) < 1_100_000     # ~1 MB that inflates to 1 GiB
    with h.HostileServer(h.gzip_bomb()) as srv:
        code, report, _, took = probe(capsys, srv.url)
        assert took < T + SLACK
        assert (code, report["error"]["kind"]) == (1, "response-too-large")
        assert report["error"]["message"].startswith(f"127.0.0.1:{srv.port} (gzip-decoded, reading stopped): "
                                                     "the answer's size is 64.0 MiB")
        code, data, _, took = load(capsys, srv.url, rows)
        assert took < T + SLACK
        assert only_row(data)["errors"] == {"response-too-large": COUNT} and code == 1


def test_honest_gzip_is_decoded(capsys, rows) -> None:
    with h.HostileServer(h.gzip_answer()) as srv:
        code, report, _, _ = probe(capsys, srv.url)
        assert code == 0 and report["predictions"] == [[0.5]]
        code, data, _, _ = load(capsys, srv.url, rows)
        assert only_row(data)["ok"] == COUNT and code == 0


# ---- redirects: reported, never followed ------------------------------------------------------------

def test_a_redirect_to_another_port_is_reported_and_not_followed(capsys, rows) -> None:
    with h.HostileServer(h.tfserving_answer) as other, h.HostileServer(h.redirect(other.base)) as srv:
        key = ("--header", "X-Api-Key: secret")
        code, report, _, took = probe(capsys, srv.url, *key)
        assert took < T + SLACK
        assert (code, report["error"]["kind"], report["error"]["status"]) == (1, "redirect", 307)
        assert report["error"]["message"] == (f"HTTP 307: 127.0.0.1:{srv.port} redirects GET /v1/models/m to "
                                              f"{other.base}/v1/models/m")
        assert "to another server" in report["error"]["hint"]
        code, err, _ = preflight(capsys, srv.url, rows, *key)
        assert code == 1 and f"redirects POST /v1/models/m:predict to {other.base}/v1/models/m:predict" in err
        code, data, _, _ = load(capsys, srv.url, rows, *key)
        assert only_row(data)["errors"] == {"http-307": COUNT} and code == 1
        assert srv.requests[0].headers["x-api-key"] == "secret"
    assert other.requests == [] and other.connections == 0   # nothing, headers included, reached it


# ---- what the server says reaches no terminal raw ----------------------------------------------------

def test_escape_sequences_from_the_server_are_made_visible_not_executed(capsys, rows) -> None:
    with h.HostileServer(h.escape_sequences()) as srv:
        code, out, err, took = run(capsys, "probe", srv.url, "--timeout", str(T))
        assert took < T + SLACK and code == 1
        assert not CONTROL.search(out) and not CONTROL.search(err)
        assert "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mModel is gone\\x1b[0m\\u202e\\x9b31m" in out
        assert "[model-not-available] no version of 'm' is AVAILABLE (1: END UNKNOWN: \\x1b]0;pwned" in out

        code, report, _, _ = probe(capsys, srv.url)        # --json (ensure_ascii=False): C1, bidi too
        assert code == 1 and not CONTROL.search(json.dumps(report, ensure_ascii=False))
        assert report["versions"][0]["error"].startswith("UNKNOWN: \\x1b]0;pwned")

        from workbench.core.serving.probe import ProbeOptions, run_probe   # what the GUI shows

        shown = run_probe(ProbeOptions(url=srv.url, timeout=T))
        assert not CONTROL.search(shown.failures()[0].message + shown.failures()[0].hint)
        assert not CONTROL.search(json.dumps(shown.to_json(), ensure_ascii=False))

        code, err, _ = preflight(capsys, srv.url, rows)
        assert code == 1 and not CONTROL.search(err) and "\\x1b[2J" in err


# ---- answers that are not what they claim ------------------------------------------------------------

def test_invalid_json_is_diagnosed(capsys, rows) -> None:
    with h.HostileServer(h.bad_json()) as srv:
        code, report, _, took = probe(capsys, srv.url)
        assert took < T + SLACK
        assert (code, report["error"]["kind"]) == (1, "bad-json")
        assert report["error"]["message"].startswith(f"the server's answer from 127.0.0.1:{srv.port} is not "
                                                     "JSON: expecting value at line 1 column 23")
        code, data, _, _ = load(capsys, srv.url, rows)
        assert only_row(data)["errors"] == {"invalid-json": COUNT} and code == 1


def test_deeply_nested_json_is_diagnosed(capsys, rows) -> None:
    with h.HostileServer(h.deep_json()) as srv:
        code, report, _, took = probe(capsys, srv.url)
        assert took < T + SLACK
        assert (code, report["error"]["kind"]) == (1, "bad-json")
        assert report["error"]["message"] == (f"the server's answer from 127.0.0.1:{srv.port} is JSON nested "
                                              "deeper than 200 (the nesting limit)")
        code, data, _, _ = load(capsys, srv.url, rows)
        assert only_row(data)["errors"] == {"invalid-json": COUNT} and code == 1


def test_a_200_that_is_not_a_predict_answer_is_an_error(capsys, rows) -> None:
    with h.HostileServer(h.invalid_answer()) as srv:
        code, report, _, _ = probe(capsys, srv.url)
        assert (code, report["error"]["kind"], report["error"]["status"]) == (1, "invalid-answer", 200)
        assert report["error"]["message"] == (
            "the server answered 200, but not with predictions: its answer has keys message, status, none of "
            "predictions, results, outputs")
        code, data, _, _ = load(capsys, srv.url, rows)
        row = only_row(data)
        assert (row["ok"], row["errors"]) == (0, {"invalid-answer": COUNT}) and code == 1


def test_a_negative_content_length_is_a_malformed_answer_not_a_timeout(capsys, rows) -> None:
    with h.HostileServer(h.negative_length()) as srv:
        code, report, _, took = probe(capsys, srv.url)
        assert took < T          # decided from the head, without waiting for the held connection
        assert (code, report["error"]["kind"]) == (1, "malformed-answer")
        assert report["error"]["message"] == (f"127.0.0.1:{srv.port} sent a malformed HTTP answer: "
                                              "Content-Length: '-5' is not a size")
        code, data, _, took = load(capsys, srv.url, rows)
        assert took < T + SLACK
        assert only_row(data)["errors"] == {"bad-response": COUNT} and code == 1


def test_garbage_bytes_are_an_answer_that_is_not_http(capsys, rows) -> None:
    with h.HostileServer(h.garbage()) as srv:
        code, report, _, took = probe(capsys, srv.url)
        assert took < T + SLACK
        assert (code, report["error"]["kind"]) == (1, "not-http")
        assert report["error"]["message"].startswith(f"127.0.0.1:{srv.port} answered, but not with HTTP: "
                                                     "'\\x16\\x03\\x01")
        code, err, _ = preflight(capsys, srv.url, rows)
        assert code == 1 and "(not-http)" in err
        code, data, _, _ = load(capsys, srv.url, rows)
        assert only_row(data)["errors"] == {"not-http": COUNT} and code == 1


def test_100_continue_is_skipped(capsys, rows) -> None:
    with h.HostileServer(h.continue_100()) as srv:
        code, report, _, _ = probe(capsys, srv.url)
        assert code == 0 and report["error"] is None and report["predictions"] == [[0.5]]
        code, data, _, _ = load(capsys, srv.url, rows)
        row = only_row(data)
        assert (row["ok"], row["errors"]) == (COUNT, {}) and code == 0


def test_a_dropped_request_is_counted(capsys, rows) -> None:
    with h.HostileServer(h.dropped(when=h.is_predict)) as srv:
        code, report, _, _ = probe(capsys, srv.url)
        assert (code, report["error"]["kind"]) == (2, "protocol-mismatch")
        assert report["error"]["message"] == \
            f"127.0.0.1:{srv.port} closed the connection without an HTTP answer"
        code, data, _, _ = load(capsys, srv.url, rows)
        assert only_row(data)["errors"] == {"connection-closed": COUNT} and code == 1


def test_grpc_unavailable_is_the_servers_answer_not_unreachable(capsys, rows) -> None:
    with h.UnavailableGrpcServer() as srv:
        code, report, err, took = probe(capsys, f"grpc://{srv.target}", "--model", "m")
        assert took < T + SLACK
        error = report["error"]
        assert (code, error["kind"], error["status"]) == (1, "grpc-unavailable", "UNAVAILABLE")
        assert error["message"] == (f"the gRPC server at {srv.target} answered UNAVAILABLE: the model "
                                              "is warming up, try again later")
        assert report["protocol"] == "tfserving" and err == ""
        code, _, err, took = run(capsys, "load", "--grpc", srv.target, "--model", "m", "--rows", str(rows),
                                 "--count", "1", "--timeout", str(T))
        assert took < 2 * T + SLACK
        assert code == 1 and err.count("\n") == 1 and "before any load (grpc-unavailable)" in err
        code, out, _, _ = run(capsys, "load", "--grpc", srv.target, "--model", "m", "--rows", str(rows),
                              "--count", str(COUNT), "--warmup", "0", "--timeout", str(T), "--json",
                              "--no-preflight")
        row = only_row(json.loads(out))
        assert row["errors"] == {"grpc-UNAVAILABLE": COUNT} and row["sent"] == row["errors_total"]
        assert code == 1


# ---- lost requests ------------------------------------------------------------------------------------

def test_requests_that_never_come_back_are_timeouts(capsys, rows) -> None:
    # the server holds every predict request: they end as timeouts at their deadline, never unaccounted
    with h.HostileServer(h.held()) as srv:
        code, data, _, took = load(capsys, srv.url, rows, "--concurrency", "2", "--count", "2", count=2)
        assert took < 2 * T + SLACK
        row = data["rows"][0]
        assert (row["sent"], row["ok"], row["errors"], row["incomplete"]) == (2, 0, {"timeout": 2}, 0)
        assert code == 1


def test_unanswered_requests_are_failures_in_text_and_exit_code(capsys, rows) -> None:
    # the first predict fails (503), the next ones are held: the error budget (0) stops the level at once,
    # leaving the held request unanswered; it is a failure, in the table, the error line and the exit code
    seen = []

    def script(server, conn, request):
        if not h.is_predict(request):
            return h.tfserving_answer(server, conn, request)
        seen.append(request)
        if len(seen) == 1:
            server.wait_requests(len(server.requests) + 1, 5)   # until the other connection's request is in
            conn.sendall(h.response(503, b'{"error": "busy"}'))
            return True
        server.stopped.wait()
        return False

    with h.HostileServer(script) as srv:
        code, out, err, took = run(capsys, "load", srv.url, "--model", "m", "--rows", str(rows),
                                   "--concurrency", "2", "--duration", "5", "--warmup", "0", "--timeout", "5",
                                   "--max-errors", "0",
                                   "--no-preflight", "--out", str(rows.parent / "r.json"))
        assert took < 5
    assert code == 1, (out, err)
    saved = json.loads((rows.parent / "r.json").read_text())
    row = saved["rows"][0]
    lost = row["incomplete"]
    assert lost >= 1      # the held request (and one more when the 503's connection had already resent)
    assert (row["sent"], row["ok"], row["errors_total"], row["failed"]) == (1 + lost, 0, 1, 1 + lost)
    assert saved["summary"]["failed"] == 1 + lost
    line = f"concurrency 2: errors http-503: 1, incomplete (never answered): {lost} (of {1 + lost} sent)"
    assert line in out
    assert re.search(r"^2 +0 +%d " % (1 + lost), out, re.M), out      # the table's errors column counts them
    assert f"incomplete (never answered) {lost} (error-budget)" in err


# ---- Ctrl-C ------------------------------------------------------------------------------------------

def test_ctrl_c_stops_the_run_saves_the_partial_result_and_exits_130(rows, tmp_path) -> None:
    out = tmp_path / "partial.json"
    n = {"predict": 0}

    def every_third_held(request):
        if h.is_predict(request):
            n["predict"] += 1
            return n["predict"] % 3 == 0
        return False

    with h.HostileServer(h.misbehave(lambda server, conn, request: server.stopped.wait() and False,
                                     every_third_held)) as srv:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-m", "workbench", "load", srv.url, "--model", "m", "--rows",
                                 str(rows), "--concurrency", "1,2", "--duration", "2", "--warmup", "0",
                                 "--timeout", "0.5", "--out", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT),
                                env=env)
        try:
            first = proc.stderr.readline()          # the first level's result line ...
            assert first.startswith("concurrency 1: "), first
            assert srv.wait_requests(len(srv.requests) + 1, 10)   # ... and level 2 is sending
            proc.send_signal(signal.SIGINT)
            start = time.monotonic()
            stdout, rest = proc.communicate(timeout=30)
            took = time.monotonic() - start
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 130
    assert took < 0.5 + SLACK
    lines = rest.splitlines()
    assert lines[-1] == f"error: interrupted, partial result saved to {out}"
    assert sum(line.startswith("error:") for line in lines) == 1 and "Traceback" not in rest
    assert "interrupted: the result is partial" in stdout
    saved = json.loads(out.read_text())
    assert saved["summary"]["interrupted"] is True and saved["summary"]["cancelled"] is True
    assert [r["level"] for r in saved["rows"]] == [1, 2]
    assert saved["rows"][1]["stopped_by"] == "cancelled"
    for row in saved["rows"]:
        assert row["sent"] == row["ok"] + row["errors_total"] + row["incomplete"] > 0
        assert row["failed"] == row["errors_total"] + row["incomplete"]


# ---- the helpers -------------------------------------------------------------------------------------

def test_clean_and_parse_json_units() -> None:
    from workbench.core.serving.diagnosis import ServingError
    from workbench.core.serving.untrusted import clean, clean_json, parse_json

    assert clean("a\x1b[31mb\tc\u202ed\x9b") == "a\\x1b[31mb\\x09c\\u202ed\\x9b"
    assert clean(5) == 5 and clean("plain é") == "plain é"
    assert clean_json({"k\x07": ["v\x1b", 1]}) == {"k\\x07": ["v\\x1b", 1]}
    assert parse_json('{"a": [1, 2]}') == {"a": [1, 2]}
    with pytest.raises(ServingError, match="nested deeper than 200"):
        parse_json("[" * 201 + "]" * 201)
    with pytest.raises(ServingError, match="nested deeper than 200"):
        parse_json("[" * 100_000 + "]" * 100_000)
    assert parse_json("[" * 200 + "]" * 200) is not None
    with pytest.raises(ServingError, match="is not JSON: expecting value"):
        parse_json("oops")
