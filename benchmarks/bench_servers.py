"""(d) Latency of the TF-Serving-compatible test server (REST and gRPC) and of MLServer (v2 REST, if its
venv exists: see .ci/mlserver.sh) on half_plus_two, closed loop at 1 and 4 in flight, measured by the
workbench load engine (its client floor is printed beside each row).

    python benchmarks/bench_servers.py [--duration 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import REPO, free_port, header, wait_port

from workbench.core.bench.load import LoadPlan, http_target, run_load

HPT = REPO / "sample_models" / "tfserving" / "saved_model_half_plus_two_cpu"

MLSERVER_MODEL = '''
import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse


class HalfPlusTwo(MLModel):
    async def load(self) -> bool:
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        x = NumpyCodec.decode_input(payload.inputs[0])
        y = 0.5 * x + 2.0
        return InferenceResponse(model_name=self.name, outputs=[NumpyCodec.encode_output("y", y)])
'''


def report(name: str, target, duration: float) -> None:
    plan = LoadPlan(mode="closed", levels=(1, 4), duration_s=duration, warmup_s=1.0)
    for lv in run_load(target, plan).levels:
        floor = lv.client.in_latency_p50_us if lv.client.in_latency_p50_us is not None else lv.client.cpu_us_per_request
        errs = sum(lv.errors.values())
        print(f"{name:<26} {int(lv.level):>3}  {lv.throughput_rps:>9,.0f}  {lv.latency.p50_ms:>8.3f}  "
              f"{lv.latency.p99_ms:>8.3f}  {lv.latency.percentiles_ms[99.9]:>8.3f}  {floor:>9.1f}  {errs:>6}")


def mlserver_venv() -> Path | None:
    default = Path("/opt/mlserver-venv")
    if not default.exists():
        default = Path.home() / ".cache" / "workbench" / "mlserver-venv"
    venv = Path(os.environ.get("WORKBENCH_MLSERVER_VENV", default))
    return venv if (venv / "bin" / "mlserver").exists() else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    header("serving test servers: half_plus_two, one row per request")
    print(f"{'server':<26} {'c':>3}  {'req/s':>9}  {'p50 ms':>8}  {'p99 ms':>8}  {'p99.9 ms':>8}  "
          f"{'client us':>9}  {'errors':>6}")
    proc = subprocess.Popen([sys.executable, "-m", "workbench.testing.tfserving_server", "--model", f"half={HPT}"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        ports = json.loads(proc.stdout.readline())
        import pandas as pd

        from workbench.core.bench.requests import build_grpc_target, build_rest_target

        rows = pd.DataFrame({"x": [1.0, 2.0, 5.0]})
        report("tfs-test-server REST", build_rest_target(ports["rest_url"], "half", rows), args.duration)
        report("tfs-test-server gRPC", build_grpc_target(ports["grpc_target"], "half", rows), args.duration)
    finally:
        proc.terminate()
        proc.wait(30)
    venv = mlserver_venv()
    if venv is None:
        print("MLServer: no venv (run .ci/mlserver.sh); skipped")
        return
    d = Path(tempfile.mkdtemp(prefix="wb-mlserver-"))
    port, gport, mport = free_port(), free_port(), free_port()
    (d / "settings.json").write_text(json.dumps({"host": "127.0.0.1", "http_port": port, "grpc_port": gport,
                                                 "metrics_port": mport, "parallel_workers": 0, "debug": False}))
    model = d / "half_plus_two"
    model.mkdir()
    (model / "hpt_model.py").write_text(MLSERVER_MODEL)
    (model / "model-settings.json").write_text(json.dumps({
        "name": "half_plus_two", "implementation": "hpt_model.HalfPlusTwo",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 1]}]}))
    env = dict(os.environ, PYTHONPATH=str(model))
    ml = subprocess.Popen([str(venv / "bin" / "mlserver"), "start", str(d)], cwd=d, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, 60)
        import time

        import requests

        url = f"http://127.0.0.1:{port}/v2/models/half_plus_two/infer"
        body = {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32", "data": [1.0]}]}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                answer = requests.post(url, json=body, timeout=5)
                if answer.ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        print(f"MLServer answer: {answer.json()['outputs'][0]['data']}")
        report("MLServer 1.7.1 v2 REST", http_target(url, [json.dumps(body).encode()]), args.duration)
    finally:
        ml.terminate()
        ml.wait(30)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
