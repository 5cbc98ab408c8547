"""Index and query benchmark: full index, no-op re-index, one-article edit, warm query latency.

    python scripts/bench_index.py                      # bundled articles (+ Arduino when ../shared exists)
    python scripts/bench_index.py --articles DIR ...   # any folders

Prints a Markdown table for BENCHMARKS.md. Each corpus is indexed into a fresh temporary data folder.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.catalog import article_files  # noqa: E402
from kb.settings import load_settings  # noqa: E402
from search.embed import SentenceEmbedder  # noqa: E402
from search.indexer import index_articles  # noqa: E402
from search.searcher import Searcher  # noqa: E402

QUERIES = [
    "I forgot my password", "how do I get a refund", "the video does not play", "change my email address",
    "my board is not detected", "upload failed", "download for offline", "cancel my plan", "invoice for my company",
    "is my data safe", "two factor authentication code not arriving", "where is my order",
]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def bench(articles: Path, embedder: SentenceEmbedder, repeat: int) -> dict[str, float | int | str]:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "articles"
        import shutil

        shutil.copytree(articles, copy)
        data = Path(tmp) / "data"
        t = time.perf_counter()
        full = index_articles(copy, data, embedder)
        full_s = time.perf_counter() - t
        t = time.perf_counter()
        index_articles(copy, data, embedder)
        noop_s = time.perf_counter() - t
        target = next(p for p in article_files(copy) if p.name != "_index.md")
        target.write_text(target.read_text(encoding="utf-8") + "\n\nOne more paragraph about a new setting.\n",
                          encoding="utf-8")
        t = time.perf_counter()
        edit = index_articles(copy, data, embedder)
        edit_s = time.perf_counter() - t

        searcher = Searcher.load(data, embedder)
        for q in QUERIES:  # warm up the model and the caches
            searcher.search(q)
        cold, warm = [], []
        for i in range(repeat):
            for q in QUERIES:
                fresh = f"{q} {i}"  # not in the embedding cache: embed + search
                t = time.perf_counter()
                searcher.search(fresh)
                cold.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                searcher.search(q)  # cached embedding: search only
                warm.append((time.perf_counter() - t) * 1000)
        searcher.close()
    return {
        "corpus": articles.name if articles.name != "content" else articles.parent.name,
        "articles": full.articles, "chunks": full.chunks, "full_s": full_s, "noop_s": noop_s,
        "edit_s": edit_s, "edit_embedded": edit.embedded,
        "query_p50_ms": statistics.median(cold), "query_p99_ms": percentile(cold, 99),
        "cached_p50_ms": statistics.median(warm), "cached_p99_ms": percentile(warm, 99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=Path, action="append", help="Articles folder (repeatable).")
    parser.add_argument("--repeat", type=int, default=10, help="Rounds over the query set.")
    args = parser.parse_args()
    folders = args.articles or [ROOT / "articles"]
    arduino = ROOT.parent / "shared" / "data" / "helpcenter-arduino" / "content"
    if not args.articles and arduino.is_dir():
        folders.append(arduino)
    settings = load_settings()
    embedder = SentenceEmbedder(settings.model, settings.embed_batch_size)
    embedder.encode(["warm up"])
    rows = [bench(folder, embedder, args.repeat) for folder in folders]
    print("| corpus | articles | chunks | full index | no-op re-index | one edit (chunks embedded) "
          "| query p50 / p99 (embed + search) | cached query p50 / p99 |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['corpus']} | {r['articles']} | {r['chunks']} | {r['full_s']:.1f} s | {r['noop_s']:.2f} s "
              f"| {r['edit_s']:.2f} s ({r['edit_embedded']}) | {r['query_p50_ms']:.1f} / {r['query_p99_ms']:.1f} ms "
              f"| {r['cached_p50_ms']:.2f} / {r['cached_p99_ms']:.2f} ms |")


if __name__ == "__main__":
    main()
