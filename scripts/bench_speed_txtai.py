"""txtai's side of the speed benchmarks; runs in the benchmark's own venv, never the project's.

    python3 -m venv .bench-venv && .bench-venv/bin/pip install -c constraints.txt "txtai[api]"
    .bench-venv/bin/python scripts/bench_speed_txtai.py index --texts T.jsonl --model PATH --save DIR
    .bench-venv/bin/python scripts/bench_speed_txtai.py latency --load DIR --queries Q.json [--threads 1]

``index`` builds txtai's default embeddings index (``Embeddings(path=model)``: its own mean
pooling over the same model files, its own FAISS choice) over the same chunk texts as the product;
``latency`` times ``Embeddings.search(query, 10)`` per query. Both print one JSON object. The
HTTP side uses txtai's own API (``uvicorn txtai.api:app`` with ``CONFIG`` naming the saved index),
started by ``scripts/bench_speed_web.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def build(texts_file: str, model: str, save: str) -> dict[str, object]:
    from txtai import Embeddings

    with open(texts_file, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    started = time.perf_counter()
    embeddings = Embeddings(path=model)
    embeddings.index((i, row["text"], None) for i, row in enumerate(rows))
    seconds = time.perf_counter() - started
    embeddings.save(save)
    return {"rows": len(rows), "index_s": round(seconds, 2), "config": {
        k: v for k, v in embeddings.config.items() if k in ("backend", "method", "faiss", "dimensions", "offset")
    }}


def latency(load: str, queries_file: str, threads: int | None) -> dict[str, object]:
    import torch
    from txtai import Embeddings

    if threads:
        torch.set_num_threads(threads)
    embeddings = Embeddings()
    embeddings.load(load)
    with open(queries_file, encoding="utf-8") as f:
        queries = json.load(f)
    for query in queries["warmup"]:
        embeddings.search(query, 10)
    times = []
    for query in queries["search"]:
        started = time.perf_counter()
        embeddings.search(query, 10)
        times.append((time.perf_counter() - started) * 1000)
    return {"threads": torch.get_num_threads(), "n": len(times), "p50_ms": round(statistics.median(times), 3),
            "p99_ms": round(percentile(times, 99), 3), "config": {k: v for k, v in embeddings.config.items()
                                                                  if k in ("backend", "faiss", "offset")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("index")
    p.add_argument("--texts", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--save", required=True)
    p = sub.add_parser("latency")
    p.add_argument("--load", required=True)
    p.add_argument("--queries", required=True)
    p.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if args.command == "index":
        result = build(args.texts, args.model, args.save)
    else:
        result = latency(args.load, args.queries, args.threads or None)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
