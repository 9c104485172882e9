"""Load sweeps against the TF-Serving-compatible test server (half_plus_two), REST and gRPC.

The server runs in a subprocess (it imports TensorFlow there, not in the test process).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

from tests.conftest import REPO, TFSERVING_TESTDATA
from workbench.core.bench.load import LoadPlan, run_load
from workbench.core.bench.requests import build_grpc_target, build_rest_target

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def tfs_server():
    base = TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu"
    if not base.is_dir():
        pytest.fail(f"TF Serving test model missing: {base}; run python sample_models/build_tfserving.py")
    proc = subprocess.Popen([sys.executable, "-m", "workbench.testing.tfserving_server", "--model", f"half={base}"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()   # the server prints one JSON line once it listens
        if not line:
            pytest.fail("the TF-Serving-compatible test server did not start")
        yield json.loads(line)
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture()
def rows():
    import pandas as pd

    return pd.DataFrame({"x": ["1.0", "2.0", "5.0"]})   # as read from a CSV: text


def test_rest_requests_are_valid_predict_bodies(tfs_server, rows) -> None:
    target = build_rest_target(tfs_server["rest_url"], "half", rows)
    assert target.url.endswith("/v1/models/half:predict")
    # the signature declares x as [-1, 1]: each row goes out as [x] (checked by the request builder), and
    # half_plus_two answers y = 0.5 x + 2 in the same shape
    assert [json.loads(r.body) for r in target.requests] == [{"instances": [[1.0]]}, {"instances": [[2.0]]},
                                                             {"instances": [[5.0]]}]
    answers = [requests.post(target.url, data=r.body, timeout=10).json() for r in target.requests]
    assert answers == [{"predictions": [[2.5]]}, {"predictions": [[3.0]]}, {"predictions": [[4.5]]}]


def test_grpc_requests_are_valid_predict_requests(tfs_server, rows) -> None:
    from workbench.core.serving.protos import tfserving_pb2 as pb
    from workbench.core.serving.tensors import from_tensor_proto

    target = build_grpc_target(tfs_server["grpc_target"], "half", rows, batch_size=2)
    req = pb.PredictRequest.FromString(target.payloads[0])
    assert req.model_spec.name == "half"
    assert from_tensor_proto(req.inputs["x"]).reshape(-1).tolist() == [1.0, 2.0]
    assert req.inputs["x"].dtype == pb.DT_FLOAT


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_concurrency_sweep(tfs_server, rows, protocol: str) -> None:
    if protocol == "rest":
        target = build_rest_target(tfs_server["rest_url"], "half", rows)
    else:
        target = build_grpc_target(tfs_server["grpc_target"], "half", rows)
    plan = LoadPlan(mode="closed", levels=(1, 3), duration_s=20.0, count=24, warmup_s=0.0)
    levels = []
    result = run_load(target, plan, model="half", on_level=levels.append)
    assert [lv.level for lv in result.levels] == [1, 3] and levels == result.levels
    for lv in result.levels:
        assert lv.errors == {}
        assert lv.ok == 24 and lv.stopped_by == "count"
        assert 0 < lv.latency.p50_ms <= lv.latency.p99_ms <= lv.latency.max_ms
        assert lv.throughput_rps > 0
    assert result.client_floor_us is not None and result.client_floor_us > 0


def test_rate_sweep_over_grpc(tfs_server, rows) -> None:
    target = build_grpc_target(tfs_server["grpc_target"], "half", rows)
    plan = LoadPlan(mode="open", levels=(40, 80), duration_s=1.0, warmup_s=0.0, connections=8)
    result = run_load(target, plan)
    scheduled = [lv.ok + lv.incomplete + lv.unsent + lv.error_count for lv in result.levels]
    assert all(lv.errors == {} for lv in result.levels)
    # one second at 40/s and at 80/s (the first request goes out at t=0)
    assert 38 <= scheduled[0] <= 41 and 78 <= scheduled[1] <= 81


def test_grpc_cancel_returns_within_a_second(tfs_server, rows) -> None:
    import threading
    import time

    target = build_grpc_target(tfs_server["grpc_target"], "half", rows)
    plan = LoadPlan(mode="closed", levels=(2,), duration_s=60.0, warmup_s=0.0)
    cancel = threading.Event()
    first = threading.Event()
    box: dict = {}
    thread = threading.Thread(target=lambda: box.update(
        result=run_load(target, plan, cancel=cancel, on_point=lambda p: first.set())))
    thread.start()
    assert first.wait(20), "no per-second point arrived"
    t0 = time.monotonic()
    cancel.set()
    thread.join(10)
    assert not thread.is_alive()
    assert time.monotonic() - t0 < 1.0
    level = box["result"].levels[0]
    assert box["result"].cancelled and level.stopped_by == "cancelled" and level.ok > 0


def test_version_goes_into_a_model_url(tfs_server, rows) -> None:
    """--version with a model URL that names none: that version is load-tested (it was dropped)."""
    target = build_rest_target(tfs_server["rest_url"] + "/v1/models/half", "half", rows, version=123)
    assert target.url == tfs_server["rest_url"] + "/v1/models/half/versions/123:predict"
    answer = requests.post(target.url, data=target.requests[0].body, timeout=10)
    assert answer.status_code == 200 and answer.json() == {"predictions": [[2.5]]}


@pytest.mark.parametrize("path", ["/v1/models/half", "/v1/models/half/", "/v1/models/half/versions/123"])
def test_a_model_url_gets_its_predict_verb(tfs_server, rows, path: str) -> None:
    """`probe` takes a model URL; `load` does too (it used to POST to it and get 'Malformed request')."""
    target = build_rest_target(tfs_server["rest_url"] + path, "half", rows)
    assert target.url == tfs_server["rest_url"] + path.rstrip("/") + ":predict"
    answer = requests.post(target.url, data=target.requests[0].body, timeout=10)
    assert answer.status_code == 200 and answer.json() == {"predictions": [[2.5]]}


def test_load_cli_refuses_what_it_would_ignore(tfs_server, rows, tmp_path, capsys) -> None:
    from workbench.cli import main

    csv = tmp_path / "rows.csv"
    csv.write_text("x\n1.0\n")
    base = tfs_server["rest_url"]
    for argv, message in (
        ([f"{base}/v1/models/three:predict", "--model", "half"],
         "error: the URL names model 'three' but --model says 'half' (use --model three, or a URL without a "
         "model path)"),
        ([base, "--model", "half", "--grpc", "127.0.0.1:1"],
         "error: give a REST URL or --grpc HOST:PORT, not both: one load test measures one protocol"),
        ([f"{base}/v1/models/half/versions/123", "--model", "half", "--version", "7"],
         "error: the URL names version 123 but --version says 7 (use --version 123, or a URL without a version)"),
    ):
        assert main(["load", *argv, "--rows", str(csv), "--count", "1", "--warmup", "0"]) == 2
        assert capsys.readouterr().err.strip() == message
    assert main(["load", f"{base}/v1/models/half", "--model", "half", "--rows", str(csv), "--count", "3",
                 "--warmup", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"][0]["ok"] == 3
