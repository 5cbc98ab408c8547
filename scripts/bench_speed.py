"""In-process speed, side by side on the same corpus and queries: this project, the naive way, and txtai.

    python scripts/bench_speed.py [--sizes 1000,10000,100000] [--queries 500] [--work bench-out/speed]
                                  [--txtai .bench-venv/bin/python | --no-txtai] [--txtai-max 10000]

For each corpus size (built by ``bench_speed_corpus.py`` from ../shared/data, indexed once and kept
in ``--work``), every system answers the same distinct CLINC150 validation questions, each once, after
20 warm-up queries (so the embedding cache never helps):
- **this project**: ``Searcher.search(q, k=10)`` (embed with the configured runtime + hybrid search +
  result building) and ``Bot.reply(q)`` (the full chat decision, conversation rows written to SQLite);
- **naive**: ``SentenceTransformer.encode([q])`` (torch's default threads) + ``faiss.IndexFlatIP``
  over the same vectors; its "chat" adds a similarity threshold;
- **txtai** (``scripts/bench_speed_txtai.py`` in its own venv): its default ``Embeddings(path=model)``
  over the same chunk texts, ``search(q, 10)``, at torch's default threads and at one thread.
Also: embedding alone (ONNX Runtime vs torch), the vector index alone with recall@10 of the approximate
index against exact search, and index build times. Prints Markdown tables; raw figures go to JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import numpy as np  # noqa: E402

from bench_speed_corpus import build_corpus, queries  # noqa: E402
from bot.chat import Bot  # noqa: E402
from bot.confidence import Calibration  # noqa: E402
from kb.settings import load_settings  # noqa: E402
from search.embed import SentenceEmbedder, resolve_model  # noqa: E402
from search.index import MANIFEST  # noqa: E402
from search.indexer import INDEX_DIR, index_articles  # noqa: E402
from search.onnx_embed import ONNX_DIR, OnnxEmbedder  # noqa: E402
from search.searcher import Searcher  # noqa: E402

WARMUP = 20


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def timed(fn: Callable[[str], object], items: list[str]) -> dict[str, float]:
    """p50 / p99 / mean in ms of ``fn`` over ``items``, one call each."""
    times = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(times), 3), "p99_ms": round(percentile(times, 99), 3),
            "mean_ms": round(statistics.fmean(times), 3), "n": len(times)}


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def prepare(size: int, work: Path, embedder: OnnxEmbedder, hnsw_threshold: int) -> tuple[Path, dict[str, object]]:
    """The corpus and its data folder for ``size`` chunks, built and indexed the first time."""
    articles, data = work / f"corpus-{size}", work / f"data-{size}"
    info: dict[str, object] = {}
    if not (data / INDEX_DIR / MANIFEST).exists():
        info["chunks_written"] = build_corpus(size, articles)
        started = time.perf_counter()
        report = index_articles(articles, data, embedder, hnsw_threshold=hnsw_threshold)
        info.update(index_s=round(time.perf_counter() - started, 1), articles=report.articles, chunks=report.chunks)
        (data / "bench-index.json").write_text(json.dumps(info), encoding="utf-8")
    else:
        info = json.loads((data / "bench-index.json").read_text(encoding="utf-8"))
    return data, info


def serving(data: Path, embedder: OnnxEmbedder, keyword_weight: float, warm: list[str]) -> tuple[Searcher, Bot]:
    """This project's searcher and bot over ``data``, warmed up, in the steady state (keyword index built)."""
    searcher = Searcher.load(data, embedder, keyword_weight=keyword_weight)
    searcher.wait_for_keywords()
    bot = Bot(lambda: searcher, data / "kb.db", calibration=Calibration.load(data))
    for q in warm:
        searcher.search(q)
        bot.reply(q + " ?")
    return searcher, bot


def recall_at(approx: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx, exact)]))


def bench_size(size: int, args: argparse.Namespace, onnx: OnnxEmbedder, int8: OnnxEmbedder,
               torch1: SentenceEmbedder) -> dict[str, object]:
    import faiss
    import torch
    from sentence_transformers import SentenceTransformer

    settings = load_settings()
    data, info = prepare(size, args.work, onnx, settings.hnsw_threshold)
    result: dict[str, object] = {"size": size, **info, "load_before": load()}
    qs = queries(WARMUP + 2 * args.queries)
    warm, search_qs, chat_qs = qs[:WARMUP], qs[WARMUP:WARMUP + args.queries], qs[WARMUP + args.queries:]

    searcher, bot = serving(data, onnx, settings.keyword_weight, warm)
    result["chunks"] = len(searcher.index)
    result["index_kind"] = searcher.index.kind
    result["ours_search"] = timed(lambda q: searcher.search(q, k=10), search_qs)
    result["ours_chat"] = timed(lambda q: bot.reply(q), chat_qs)
    result["onnx_embed"] = timed(lambda q: onnx.encode([q]), search_qs)

    # The same with KB_QUERY_INT8: queries embedded by the int8 copy of the model.
    fast, fast_bot = serving(data, int8, settings.keyword_weight, warm)
    result["int8_search"] = timed(lambda q: fast.search(q, k=10), search_qs)
    result["int8_chat"] = timed(lambda q: fast_bot.reply(q), chat_qs)
    result["int8_embed"] = timed(lambda q: int8.encode_queries([q]), search_qs)
    fast.close()

    # Vector index alone: the product's index (HNSW past KB_HNSW_THRESHOLD) against exact search.
    vectors = onnx.encode(search_qs)
    exact = faiss.IndexFlatIP(searcher.index.dims)
    exact.add(searcher.vectors)
    rows = iter(range(len(vectors)))
    result["vector_index"] = timed(lambda _: searcher.index.search(vectors[next(rows)].reshape(1, -1), 10), search_qs)
    rows = iter(range(len(vectors)))
    result["vector_exact"] = timed(lambda _: exact.search(vectors[next(rows)].reshape(1, -1), 10), search_qs)
    result["recall_at_10"] = round(recall_at(searcher.index.search(vectors, 10)[1], exact.search(vectors, 10)[1]), 4)

    # The same searcher with torch on one thread (what the website ran before ONNX Runtime).
    torch_searcher = Searcher.load(data, torch1, keyword_weight=settings.keyword_weight)
    torch_searcher.wait_for_keywords()
    torch.set_num_threads(1)
    for q in warm:
        torch_searcher.search(q)
    result["ours_search_torch"] = timed(lambda q: torch_searcher.search(q, k=10), search_qs)
    result["torch1_embed"] = timed(lambda q: torch1.encode([q]), search_qs)
    torch_searcher.close()

    # The naive way: torch's default threads, exact search over the same vectors, a threshold for "chat".
    torch.set_num_threads(args.default_threads)
    model = SentenceTransformer(resolve_model(settings.model), device="cpu")

    def naive_search(q: str) -> tuple[np.ndarray, np.ndarray]:
        return exact.search(model.encode([q], normalize_embeddings=True, show_progress_bar=False), 10)

    def naive_chat(q: str) -> str:
        scores, _ = naive_search(q)
        return "answer" if scores[0][0] >= 0.5 else "handoff"

    for q in warm:
        naive_search(q)
    result["naive_search"] = timed(naive_search, search_qs)
    result["naive_chat"] = timed(naive_chat, chat_qs)
    torch.set_num_threads(1)
    result["naive_search_1thread"] = timed(naive_search, search_qs)

    if args.txtai and size <= args.txtai_max:
        result["txtai"] = bench_txtai(size, data, searcher, warm, search_qs, args)
    searcher.close()
    result["load_after"] = load()
    return result


def bench_txtai(size: int, data: Path, searcher: Searcher, warm: list[str], search_qs: list[str],
                args: argparse.Namespace) -> dict[str, object]:
    saved = args.work / f"txtai-{size}"
    out: dict[str, object] = {}
    script = str(ROOT / "scripts" / "bench_speed_txtai.py")
    if not (saved / "config.json").exists() and not (saved / "config").exists():
        texts = args.work / f"texts-{size}.jsonl"
        db = searcher._db()
        with texts.open("w", encoding="utf-8") as f:
            for chunk_id in searcher.index.chunk_ids:
                row = db.execute("select text from chunks where id = ?", [chunk_id]).fetchone()
                f.write(json.dumps({"id": chunk_id, "text": row[0] if row else ""}) + "\n")
        built = subprocess.run([args.txtai, script, "index", "--texts", str(texts), "--model",
                                resolve_model(load_settings().model), "--save", str(saved)],
                               capture_output=True, text=True, check=True)
        (args.work / f"txtai-{size}-index.json").write_text(built.stdout.strip().splitlines()[-1], encoding="utf-8")
    out["index"] = json.loads((args.work / f"txtai-{size}-index.json").read_text(encoding="utf-8"))
    qfile = args.work / f"queries-{size}.json"
    qfile.write_text(json.dumps({"warmup": warm, "search": search_qs}), encoding="utf-8")
    for threads in (0, 1):
        run = subprocess.run([args.txtai, script, "latency", "--load", str(saved), "--queries", str(qfile),
                              "--threads", str(threads)], capture_output=True, text=True, check=True)
        out["default_threads" if threads == 0 else "1thread"] = json.loads(run.stdout.strip().splitlines()[-1])
    return out


def fmt(m: dict[str, float]) -> str:
    return f"{m['p50_ms']:.2f} / {m['p99_ms']:.2f}"


def report(results: list[dict[str, object]]) -> None:
    print("\n| chunks | index | this project: search, float32 / int8 queries | naive: search "
          "| txtai: search (best of default, 1 thread) | vs naive | vs txtai | this project: chat, float32 / int8 "
          "| naive: chat |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        ours, int8, naive = r["ours_search"], r["int8_search"], r["naive_search"]  # type: ignore[index]
        txtai = r.get("txtai")
        best = min((txtai["default_threads"], txtai["1thread"]), key=lambda m: m["p50_ms"]) if txtai else None  # type: ignore[index]
        print(f"| {r['chunks']:,} | {r['index_kind']} | {fmt(ours)} / {fmt(int8)} | {fmt(naive)} | "  # type: ignore[arg-type]
              f"{fmt(best) if best else '—'} | {naive['p50_ms'] / ours['p50_ms']:.1f}x / "  # type: ignore[index]
              f"{naive['p50_ms'] / int8['p50_ms']:.1f}x | "  # type: ignore[index]
              + (f"{best['p50_ms'] / ours['p50_ms']:.1f}x / {best['p50_ms'] / int8['p50_ms']:.1f}x" if best else "—")  # type: ignore[index]
              + f" | {fmt(r['ours_chat'])} / {fmt(r['int8_chat'])} | {fmt(r['naive_chat'])} |")  # type: ignore[arg-type]
    print("\n| chunks | embed: ONNX Runtime float32 / int8 / torch 1 thread | search with torch 1 thread | naive at 1 thread "
          "| vector index: ours / exact | recall@10 | load before / after |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['chunks']:,} | {fmt(r['onnx_embed'])} / {fmt(r['int8_embed'])} / {fmt(r['torch1_embed'])} | "  # type: ignore[arg-type]
              f"{fmt(r['ours_search_torch'])} | {fmt(r['naive_search_1thread'])} | "  # type: ignore[arg-type]
              f"{fmt(r['vector_index'])} / {fmt(r['vector_exact'])} | {r['recall_at_10']} | "  # type: ignore[arg-type]
              f"{r['load_before']} → {r['load_after']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=500, help="Distinct questions per measurement.")
    parser.add_argument("--work", type=Path, default=ROOT / "bench-out" / "speed")
    parser.add_argument("--txtai", default=str(ROOT / ".bench-venv" / "bin" / "python"))
    parser.add_argument("--no-txtai", dest="txtai", action="store_const", const="")
    parser.add_argument("--txtai-max", type=int, default=100_000, help="Skip txtai above this many chunks.")
    parser.add_argument("--default-threads", type=int, default=os.cpu_count() or 1,
                        help="torch's default intra-op threads (one per core) for the naive baseline.")
    args = parser.parse_args()
    if args.txtai and not Path(args.txtai).exists():
        raise SystemExit(f"{args.txtai} is missing: python3 -m venv .bench-venv && .bench-venv/bin/pip install "
                         "-c constraints.txt 'txtai[api]'  (or pass --no-txtai)")
    args.work.mkdir(parents=True, exist_ok=True)
    settings = load_settings()
    onnx = OnnxEmbedder(settings.model, settings.embed_batch_size, cache_dir=args.work / ONNX_DIR, strict=True,
                        threads=settings.onnx_threads)
    int8 = OnnxEmbedder(settings.model, settings.embed_batch_size, cache_dir=args.work / ONNX_DIR, strict=True,
                        threads=settings.onnx_threads, query_int8=True)
    torch1 = SentenceEmbedder(settings.model, settings.embed_batch_size)
    print(f"load average at start: {load()}; model {settings.model}; runtime {onnx.describe()['runtime']}", flush=True)
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        result = bench_size(size, args, onnx, int8, torch1)
        results.append(result)
        print(json.dumps(result), flush=True)
        (args.work / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    report(results)


if __name__ == "__main__":
    main()
