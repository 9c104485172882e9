"""Start a real MLServer (v2 / Open Inference Protocol) on 127.0.0.1 from its own venv, for tests.

The venv is made by scripts/setup_mlserver.sh (run by scripts/setup.sh) (MLServer wants scikit-learn 1.9.1, the workbench pins 1.9.0).
Settings: host 127.0.0.1, free ports, "parallel_workers": 0 (its workers crash with uvloop >= 0.22).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any


def find_mlserver_venv() -> Path | None:
    """The MLServer venv: $WORKBENCH_MLSERVER_VENV, /opt/mlserver-venv or ~/.cache/workbench/mlserver-venv."""
    candidates = [os.environ.get("WORKBENCH_MLSERVER_VENV"), "/opt/mlserver-venv",
                  str(Path.home() / ".cache" / "workbench" / "mlserver-venv")]
    for cand in candidates:
        if cand and (Path(cand) / "bin" / "mlserver").exists():
            return Path(cand)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_sklearn_model(repo: Path, name: str, model_file: str | Path, version: str = "v1",
                        inputs: list[dict[str, Any]] | None = None) -> Path:
    """Lay out one mlserver-sklearn model (model-settings.json + the joblib file) under `repo/name`."""
    folder = Path(repo) / name
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "model.joblib"
    shutil.copyfile(model_file, target)
    settings: dict[str, Any] = {"name": name, "implementation": "mlserver_sklearn.SKLearnModel",
                                "parameters": {"uri": "./model.joblib", "version": version}}
    if inputs:
        settings["inputs"] = inputs
    (folder / "model-settings.json").write_text(json.dumps(settings, indent=2))
    return folder


class MLServerProcess:
    """`mlserver start REPO` in a child process; `with` waits until the models are ready, then stops it."""

    def __init__(self, repo: str | Path, venv: str | Path, models: list[str],
                 startup_timeout: float = 120.0) -> None:
        self.repo = Path(repo)
        self.venv = Path(venv)
        self.models = models
        self.startup_timeout = startup_timeout
        self.http_port = _free_port()
        self.grpc_port = _free_port()
        self.metrics_port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.repo / "mlserver.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> MLServerProcess:
        import requests

        settings = {"host": "127.0.0.1", "http_port": self.http_port, "grpc_port": self.grpc_port,
                    "metrics_port": self.metrics_port, "parallel_workers": 0, "debug": False}
        (self.repo / "settings.json").write_text(json.dumps(settings, indent=2))
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._log = log
        self.proc = subprocess.Popen([str(self.venv / "bin" / "mlserver"), "start", str(self.repo)],
                                     cwd=self.repo, env=env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout
        pending = list(self.models)
        wait = threading.Event()
        while pending:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlserver exited with {self.proc.returncode}: {self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"mlserver not ready after {self.startup_timeout} s: {self.log_tail()}")
            try:
                if requests.get(f"{self.url}/v2/models/{pending[0]}/ready", timeout=2).status_code == 200:
                    pending.pop(0)
                    continue
            except requests.RequestException:
                pass
            wait.wait(0.25)
        return self

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> MLServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
