"""Shared helpers of the benchmark scripts (not tests): machine description, nginx, timing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from typing import Self

from workbench.core.bench.results import machine_info

PREDICT_BODY = '{"predictions": [[2.5]]}'


def header(title: str) -> None:
    m = machine_info()
    print(f"# {title}")
    print(f"machine: {m['nproc']} cores, {m['cpu_model']}, {m['ram_gb']} GB RAM, Python {m['python']}, {m['os']}")
    try:
        print(f"load average at start: {os.getloadavg()[0]:.2f}")
    except OSError:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


class Nginx:
    """Debian's nginx on 127.0.0.1 returning a fixed predict body; config written into a temp dir."""

    def __init__(self, workers: int = 1) -> None:
        if not shutil.which("nginx"):
            raise SystemExit("nginx is not installed: apt-get install -y nginx")
        self.dir = Path(tempfile.mkdtemp(prefix="wb-nginx-"))
        self.port = free_port()
        d = self.dir
        (d / "nginx.conf").write_text(f"""daemon off;
worker_processes {workers};
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  keepalive_requests 100000000;
  server {{
    listen 127.0.0.1:{self.port};
    location / {{ default_type application/json; return 200 '{PREDICT_BODY}'; }}
  }}
}}
""")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/models/m:predict"

    def __enter__(self) -> Self:
        self.proc = subprocess.Popen(["nginx", "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)
