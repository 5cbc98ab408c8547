"""Website throughput and latency on loopback: a real uvicorn server with the real model on the bundled articles.

    python scripts/bench_web.py [--seconds 10] [--connections 16] [--client wrk|httpx]

The server runs in its own process (one uvicorn worker, as `kb serve` runs it) on a free
127.0.0.1 port; the load comes from `wrk` when it is installed (apt-get install wrk), else from an
asyncio httpx client. Each run is bounded in time and talks to loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "how do I get a refund for my annual plan"
# (name, path, unique): with `unique`, every request gets its own query, so the embedding cache
# never helps and each request runs the model once.
TARGETS = [
    ("home page `/`", "/", False),
    ("article page `/articles/request-a-refund`", "/articles/request-a-refund", False),
    ("search page `/search?q=`, repeated query", f"/search?q={QUESTION.replace(' ', '+')}", False),
    ("`/api/search`, repeated query", f"/api/search?q={QUESTION.replace(' ', '+')}", False),
    ("`/api/search`, a new query each request", f"/api/search?q={QUESTION.replace(' ', '+')}", True),
    ("`/api/suggest`, a new query each request", "/api/suggest?q=refund+annual", True),
]


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KB_ARTICLES_DIR": str(ROOT / "articles"), "KB_DATA_DIR": str(data_dir), "KB_WATCH": "false"}
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "web.app:create_app", "--host", "127.0.0.1", "--port",
         str(port), "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )


def wait_until_up(base: str, server: subprocess.Popen[bytes], timeout: float = 600) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode}")
        try:
            if httpx.get(base + "/", timeout=2).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not start in time")


def run_wrk(base: str, name: str, path: str, unique: bool, seconds: int, connections: int) -> Result:
    script = None
    if unique:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write('n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format("GET", "%s+" .. n .. "x")\nend\n'
                     % path)
        script.close()
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    cmd += ["-s", script.name] if script else []
    out = subprocess.run([*cmd, base + path], capture_output=True, text=True, check=True).stdout
    if script:
        os.unlink(script.name)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Result(name, requests, float(seconds), _wrk_ms(out, "50%"), _wrk_ms(out, "99%"),
                  int(errors.group(1)) if errors else 0)


def _wrk_ms(out: str, pct: str) -> float:
    value, unit = re.search(rf"{pct}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


async def _httpx_load(base: str, path: str, unique: bool, seconds: int, connections: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    counter = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        async def worker() -> None:
            nonlocal errors, counter
            while time.perf_counter() < deadline:
                counter += 1
                url = f"{path}+{counter}x" if unique else path
                started = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - started)
                errors += response.status_code >= 400

        await asyncio.gather(*(worker() for _ in range(connections)))
    return latencies, errors


def run_httpx(base: str, name: str, path: str, unique: bool, seconds: int, connections: int) -> Result:
    latencies, errors = asyncio.run(_httpx_load(base, path, unique, seconds, connections))
    cuts = statistics.quantiles(latencies, n=100)
    return Result(name, len(latencies), float(seconds), cuts[49] * 1000, cuts[98] * 1000, errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="Length of each run.")
    parser.add_argument("--connections", type=int, default=16, help="Concurrent connections.")
    parser.add_argument("--client", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx")
    parser.add_argument("--data", type=Path, help="Use this data folder (default: a fresh temporary one).")
    args = parser.parse_args()

    data_dir = args.data or Path(tempfile.mkdtemp(prefix="kb-bench-web-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(data_dir, port)
    try:
        startup = wait_until_up(base, server)
        print(f"server up in {startup:.1f}s (includes indexing {ROOT / 'articles'} when new); "
              f"client {args.client}, {args.connections} connections, {args.seconds}s per run\n")
        run = run_wrk if args.client == "wrk" else run_httpx
        for name, path, unique in TARGETS:  # warm up: the model, caches, the database
            httpx.get(base + path, timeout=30)
        print("| endpoint | requests/s | p50 latency | p99 latency | errors |")
        print("|---|---|---|---|---|")
        for name, path, unique in TARGETS:
            r = run(base, name, path, unique, args.seconds, args.connections)
            print(f"| {r.name} | {r.rps:,.0f} | {r.p50_ms:.1f} ms | {r.p99_ms:.1f} ms | {r.errors} |", flush=True)
    finally:
        server.terminate()
        server.wait(10)
        if not args.data:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
