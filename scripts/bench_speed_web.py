"""HTTP speed side by side on 127.0.0.1: this project's /api/search and /api/chat, the naive way, and txtai's API.

    python scripts/bench_speed_web.py [--seconds 10] [--clients 1,8,32] [--only ours,naive,txtai]
                                      [--variant NAME:KB_X=1,KB_Y=2 ...] [--edits 5] [--cold 3]

Each server runs in its own process on a free loopback port over the bundled articles (indexed once
into ``--work``); the load comes from ``wrk`` (one thread, N connections; Debian's package), each
request one of the articles' own questions (or, one in four, a CLINC150 question the help center has
no article for) with a token no other run used appended, so no cache ever helps and every request
runs the model. Per server: requests/s and wrk's p50 / p99 latency at each client count, peak memory
(VmHWM of the server and its workers), and cold start: process start to the first answer with an
existing index, median of ``--cold`` starts. ``--edits`` measures, on a live server
with the watcher on, the time from saving an edited article to ``/api/search`` returning it.
``--variant`` adds this project with other settings (e.g. ``torch-nobatch:KB_INFERENCE=torch,KB_QUERY_BATCH_SIZE=1``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from bench_speed_corpus import ARDUINO, queries  # noqa: E402
from search.onnx_embed import ONNX_DIR  # noqa: E402

BENCH_PYTHON = ROOT / ".bench-venv" / "bin" / "python"


@dataclass
class Server:
    """How to start one system and what its two endpoints look like."""

    name: str
    command: list[str]
    env: dict[str, str]
    search: str  # path prefix the query is appended to (URL-encoded)
    chat: str | None = None  # POST path taking {"message": ...}
    workers: int = 1
    extra: dict[str, object] = field(default_factory=dict)
    # Copied to KB_DATA_DIR before each start: every run begins with the same conversations and gap
    # signals (none), not the earlier runs' thousands, which the gap worker would cluster meanwhile.
    data: Path | None = None


def helpcenter_queries(articles: Path, n: int = 500) -> list[str]:
    """Customers' questions for the bundled help center: its articles' own questions, and one in four
    CLINC150 questions it has no article for (the "no result" path: spelling fix, similar titles, gap signal)."""
    sys.path.insert(0, str(ROOT))
    from kb.catalog import load_catalog

    asked = [q for a in load_catalog(articles).published for q in a.questions]
    outside = queries(n, seed=1)
    mixed = [outside[i // 4] if i % 4 == 3 else asked[i % len(asked)] for i in range(n)]
    return mixed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def start(server: Server, port: int) -> subprocess.Popen[bytes]:
    command = [part.replace("{port}", str(port)) for part in server.command]
    # A file, not a pipe: a pipe nobody reads fills up with log lines and blocks the server.
    log = tempfile.NamedTemporaryFile(prefix=f"kb-bench-{server.name}-", suffix=".log", delete=False)
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **server.env}, stdout=subprocess.DEVNULL,
                               stderr=log)
    process.log_path = log.name  # type: ignore[attr-defined]
    return process


def first_answer(base: str, server: Server, process: subprocess.Popen[bytes], timeout: float = 900) -> float:
    """Seconds from now until the server gives its first answer (chat when it has one, else search)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            log = Path(process.log_path).read_text(errors="replace")[-2000:]  # type: ignore[attr-defined]
            raise SystemExit(f"{server.name} exited with {process.returncode}: {log}")
        try:
            if server.chat:
                response = httpx.post(base + server.chat, json={"message": "how do I get a refund"}, timeout=5)
            else:
                response = httpx.get(base + server.search + "refund", timeout=5)
            if response.status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{server.name} did not answer within {timeout:.0f}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
    Path(process.log_path).unlink(missing_ok=True)  # type: ignore[attr-defined]


def peak_rss_mb(pid: int) -> float:
    """VmHWM of ``pid`` and its descendants (uvicorn workers), in MB."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (OSError, AttributeError):
            continue
        todo += [int(c) for c in children]
    return total / 1024


def lua_script(server: Server, endpoint: str, texts: list[str]) -> str:
    """wrk's request generator: the texts in turn, each with a token no earlier run used.

    The token is this run's own (``salt``) plus a counter: wrk restarts its counter on every run, so
    a counter alone repeats the earlier runs' texts (the search runs', for chat) and the embedding
    cache answers them.
    """
    salt = f"local salt = 'r{secrets.randbelow(10**6)}x'\n"
    if endpoint == "search":
        items = ",".join(json.dumps(urllib.parse.quote_plus(t)) for t in texts)
        return (f"local q = {{{items}}}\n{salt}local n = 0\nrequest = function()\n  n = n + 1\n"
                f"  return wrk.format('GET', {json.dumps(server.search)} .. q[n % #q + 1] .. '+' .. salt .. n)\nend\n")
    items = ",".join(json.dumps(json.dumps(t, ensure_ascii=False)[1:-1], ensure_ascii=False) for t in texts)
    return (f"local q = {{{items}}}\n{salt}local n = 0\nwrk.method = 'POST'\n"
            f"wrk.headers['Content-Type'] = 'application/json'\n"
            f"request = function()\n  n = n + 1\n  return wrk.format('POST', {json.dumps(server.chat)}, nil, "
            f"'{{\"message\": \"' .. q[n % #q + 1] .. ' ' .. salt .. n .. '\"}}')\nend\n")


def wrk(base: str, script: str, clients: int, seconds: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "--latency", "-s",
                              f.name, base], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(f.name)
    requests = int(re.search(r"(\d+) requests in ([\d.]+)(\w+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": round(requests / seconds, 1), "p50_ms": _ms(out, "50%"), "p99_ms": _ms(out, "99%"),
            "errors": int(non2xx.group(1)) if non2xx else 0, "socket_errors": socket_errors.group(1) if socket_errors else ""}


def _ms(out: str, pct: str) -> float:
    value, unit = re.search(rf"{pct}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)


def prepare(work: Path) -> tuple[Path, Path]:
    """The bundled articles indexed by the product (ONNX export included), and txtai's index of the same chunks."""
    articles, data = work / "articles", work / "data"
    if not (data / "index" / "index.json").exists():
        shutil.rmtree(articles, ignore_errors=True)
        shutil.copytree(ROOT / "articles", articles)
        env = {**os.environ, "KB_ARTICLES_DIR": str(articles), "KB_DATA_DIR": str(data)}
        subprocess.run([sys.executable, "-m", "kb.cli", "index"], cwd=ROOT, env=env, check=True)
    saved = work / "txtai-index"
    if BENCH_PYTHON.exists() and not saved.exists():
        import sqlite3

        texts = work / "texts.jsonl"
        with sqlite3.connect(data / "kb.db") as db, texts.open("w", encoding="utf-8") as f:
            for chunk_id, text in db.execute("select id, text from chunks order by rowid"):
                f.write(json.dumps({"id": chunk_id, "text": text}) + "\n")
        sys.path.insert(0, str(ROOT))
        from search.embed import resolve_model

        subprocess.run([str(BENCH_PYTHON), str(ROOT / "scripts" / "bench_speed_txtai.py"), "index", "--texts",
                        str(texts), "--model", resolve_model("all-MiniLM-L6-v2"), "--save", str(saved)], check=True)
    return articles, data


def servers(articles: Path, data: Path, work: Path, variants: list[str], workers: int) -> dict[str, Server]:
    product_env = {"KB_ARTICLES_DIR": str(articles), "KB_DATA_DIR": str(work / "serving-data"), "KB_WATCH": "false",
                   "KB_GAP_CLUSTER_INTERVAL": "0"}
    uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "web.app:create_app", "--host", "127.0.0.1",
               "--port", "{port}", "--no-access-log", "--log-level", "warning"]
    found = {
        "ours": Server("ours", uvicorn + (["--workers", str(workers)] if workers > 1 else []), product_env,
                       "/api/search?q=", "/api/chat", workers, data=data),
        "naive": Server("naive", [sys.executable, str(ROOT / "scripts" / "bench_speed_naive.py"), "--data", str(data),
                                  "--port", "{port}"], {}, "/api/search?q=", "/api/chat"),
    }
    config = work / "txtai.yml"
    # txtai's API adds its /search route only when the config has an `embeddings` section; with an
    # index at `path`, that index is loaded (the section's model is the one it was built with).
    sys.path.insert(0, str(ROOT))
    from search.embed import resolve_model

    config.write_text(f"path: {work / 'txtai-index'}\nembeddings:\n  path: {resolve_model('all-MiniLM-L6-v2')}\n",
                      encoding="utf-8")
    found["txtai"] = Server("txtai", [str(BENCH_PYTHON), "-m", "uvicorn", "txtai.api:app", "--host", "127.0.0.1",
                                      "--port", "{port}", "--no-access-log", "--log-level", "warning"],
                            {"CONFIG": str(config)}, "/search?query=")
    for variant in variants:
        name, _, assignments = variant.partition(":")
        env = dict(product_env)
        env.update(dict(a.split("=", 1) for a in assignments.split(",") if a))
        count = int(env.pop("WORKERS", "1"))
        found[name] = Server(name, uvicorn + (["--workers", str(count)] if count > 1 else []), env,
                             "/api/search?q=", "/api/chat", count, data=data)
    return found


def bench_server(server: Server, args: argparse.Namespace, texts: list[str]) -> dict[str, object]:
    result: dict[str, object] = {"name": server.name, "env": server.env, "workers": server.workers}
    colds = []
    for attempt in range(max(1, args.cold)):
        if server.data is not None:
            fresh = Path(server.env["KB_DATA_DIR"])
            shutil.rmtree(fresh, ignore_errors=True)
            shutil.copytree(server.data, fresh, ignore=shutil.ignore_patterns(ONNX_DIR))
            (fresh / ONNX_DIR).symlink_to((server.data / ONNX_DIR).resolve())  # exports (int8 too) made once
        port = free_port()
        process = start(server, port)
        base = f"http://127.0.0.1:{port}"
        try:
            colds.append(round(first_answer(base, server, process), 2))
            if attempt < args.cold - 1:
                continue
            result["cold_start_s"] = statistics.median(colds)
            result["cold_starts"] = colds
            for endpoint in ("search", "chat"):
                if endpoint == "chat" and not server.chat:
                    continue
                wrk(base, lua_script(server, endpoint, texts), 8, 2)  # warm-up: threads, the database
                for clients in args.clients:
                    started_load = load()
                    figures = wrk(base, lua_script(server, endpoint, texts), clients, args.seconds)
                    figures["load"] = started_load  # type: ignore[assignment]
                    result[f"{endpoint}_{clients}"] = figures
                    print(f"{server.name} {endpoint} {clients} clients: {figures}", flush=True)
            result["peak_rss_mb"] = round(peak_rss_mb(process.pid), 1)
        finally:
            stop(process)
    return result


def bench_edits(articles_dir: Path, work: Path, edits: int, name: str) -> dict[str, object]:
    """Save an edited article on a live server (watcher on) and poll /api/search until it returns the new text."""
    copy, data = work / f"edit-{name}-articles", work / f"edit-{name}-data"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(articles_dir, copy)
    env = {"KB_ARTICLES_DIR": str(copy), "KB_DATA_DIR": str(data), "KB_WATCH": "true", "KB_GAP_CLUSTER_INTERVAL": "0"}
    server = Server(f"edit-{name}", [sys.executable, "-m", "uvicorn", "--factory", "web.app:create_app", "--host",
                                     "127.0.0.1", "--port", "{port}", "--log-level", "warning"], env, "/api/search?q=")
    port = free_port()
    process = start(server, port)
    base = f"http://127.0.0.1:{port}"
    times = []
    try:
        first_answer(base, server, process, timeout=1800)
        time.sleep(2)  # the watcher is set up
        files = sorted(p for p in copy.rglob("*.md") if p.name != "_index.md")
        for i in range(edits):
            target = files[(i * 7) % len(files)]
            # A new section, asked for in its own words: searchable means its anchor comes back.
            word = f"zq{i}x{os.getpid()}frobnicate"
            text = target.read_text(encoding="utf-8")
            saved = time.perf_counter()
            target.write_text(text + f"\n\n## Turn on {word}\n\nThe {word} setting controls the widget.\n",
                              encoding="utf-8")
            while time.perf_counter() - saved < 30:
                hits = httpx.get(f"{base}/api/search", params={"q": f"turn on {word} setting widget"},
                                 timeout=10).json().get("results", [])
                if any(word in hit["anchor"] for hit in hits):
                    break
                time.sleep(0.01)
            times.append(round(time.perf_counter() - saved, 3))
            time.sleep(1)
    finally:
        stop(process)
    return {"corpus": name, "edits": times, "median_s": statistics.median(times), "max_s": max(times), "load": load()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--only", default="ours,naive,txtai")
    parser.add_argument("--variant", action="append", default=[], help="NAME:KB_X=1,KB_Y=2 (WORKERS=n for uvicorn workers)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of `ours`")
    parser.add_argument("--cold", type=int, default=3, help="Cold starts per server (median reported).")
    parser.add_argument("--edits", type=int, default=5, help="Edits per corpus for edit-to-searchable (0: skip).")
    parser.add_argument("--work", type=Path, default=ROOT / "bench-out" / "speed-web")
    parser.add_argument("--no-arduino-edits", dest="arduino_edits", action="store_false",
                        help="Edits on the bundled articles only.")
    args = parser.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    args.work.mkdir(parents=True, exist_ok=True)
    articles, data = prepare(args.work)
    texts = helpcenter_queries(articles)
    known = servers(articles, data, args.work, args.variant, args.workers)
    wanted = [n for n in args.only.split(",") if n] + [v.partition(":")[0] for v in args.variant]
    if "txtai" in wanted and not BENCH_PYTHON.exists():
        raise SystemExit(f"{BENCH_PYTHON} is missing: python3 -m venv .bench-venv && .bench-venv/bin/pip install "
                         "-c constraints.txt 'txtai[api]'  (or --only ours,naive)")
    print(f"load average at start: {load()}; {args.seconds}s per run, wrk -t1", flush=True)
    results = [bench_server(known[name], args, texts) for name in wanted]
    if args.edits:
        results.append(bench_edits(articles, args.work, args.edits, "bundled"))
        if ARDUINO.is_dir() and args.arduino_edits:
            results.append(bench_edits(ARDUINO, args.work, args.edits, "arduino"))
    (args.work / f"results-{int(time.time())}.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    report(results, args.clients)


def report(results: list[dict[str, object]], clients: list[int]) -> None:
    print("\n| server | endpoint | " + " | ".join(f"{c} client{'s' if c > 1 else ''}: req/s, p50 / p99" for c in clients)
          + " | cold start | peak RSS |")
    print("|---|---|" + "---|" * len(clients) + "---|---|")
    for r in results:
        if "edits" in r:
            continue
        for endpoint in ("search", "chat"):
            cells = [r.get(f"{endpoint}_{c}") for c in clients]
            if not any(cells):
                continue
            row = " | ".join(f"{m['rps']:,.0f}, {m['p50_ms']:.1f} / {m['p99_ms']:.1f} ms"  # type: ignore[index]
                             + (f" ({m['errors']} errors)" if m["errors"] else "") for m in cells if m)  # type: ignore[index]
            print(f"| {r['name']} | {endpoint} | {row} | {r['cold_start_s']} s | {r['peak_rss_mb']} MB |")
    for r in results:
        if "edits" in r:
            print(f"\nedit to searchable ({r['corpus']}): median {r['median_s']} s, max {r['max_s']} s, "
                  f"all {r['edits']} (load {r['load']})")


if __name__ == "__main__":
    main()
