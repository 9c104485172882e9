"""(c) The workbench load generator vs wrk on the same nginx (fixed predict body), same concurrency.

Prints req/s of both and the ratio (goal >= 0.5x), and the client's own cost: our p50 at one connection
minus wrk's p50 (goal <= 100 us). Needs `apt-get install -y wrk nginx`.

    python benchmarks/bench_load_vs_wrk.py [--duration 5] [--concurrency 1,8]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from _common import Nginx, header

from workbench.core.bench.load import LoadPlan, http_target, run_load

BODY = b'{"instances": [[1.0]]}'


def wrk(url: str, connections: int, duration: float) -> tuple[float, float]:
    """(req/s, p50 in us) of wrk -t1 sending the same POST."""
    script = Path(tempfile.mkdtemp()) / "post.lua"
    script.write_text(f'wrk.method = "POST"\nwrk.body = \'{BODY.decode()}\'\nwrk.headers["Content-Type"] = "application/json"\n')
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", out)
    p50 = float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]
    return rps, p50


def ours(url: str, connections: int, duration: float) -> tuple[float, float, float | None]:
    plan = LoadPlan(mode="closed", levels=(connections,), duration_s=duration, warmup_s=0.5)
    level = run_load(http_target(url, [BODY]), plan).levels[0]
    assert not level.errors, level.errors
    return level.throughput_rps, level.latency.p50_ms * 1000, level.client.in_latency_p50_us


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--rounds", type=int, default=2, help="alternate wrk/ours this many times; best kept")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    header("load generator vs wrk (nginx, fixed predict body, one nginx worker, wrk -t1)")
    with Nginx() as srv:
        print(f"{'conns':>5}  {'wrk req/s':>10}  {'ours req/s':>10}  {'ratio':>6}  {'wrk p50 us':>10}  "
              f"{'ours p50 us':>11}  {'client cost us':>14}  {'in-loop client us':>17}")
        for c in (int(x) for x in args.concurrency.split(",")):
            best_w, best_o = (0.0, 0.0), (0.0, 0.0, None)
            for _ in range(args.rounds):
                w = wrk(srv.url, c, args.duration)
                o = ours(srv.url, c, args.duration)
                best_w = w if w[0] > best_w[0] else best_w
                best_o = o if o[0] > best_o[0] else best_o
            print(f"{c:>5}  {best_w[0]:>10,.0f}  {best_o[0]:>10,.0f}  {best_o[0] / best_w[0]:>5.2f}x  "
                  f"{best_w[1]:>10.1f}  {best_o[1]:>11.1f}  {best_o[1] - best_w[1]:>14.1f}  "
                  f"{best_o[2] if best_o[2] is not None else float('nan'):>17.1f}")
    print("goals: ratio >= 0.5x; client cost (our p50 - wrk p50 at 1 connection) <= 100 us")


if __name__ == "__main__":
    main()
