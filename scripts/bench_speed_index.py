"""Index build and edit speed, side by side: this project (ONNX Runtime and torch), the naive way, and txtai.

    python scripts/bench_speed_index.py [--repeat 3] [--work bench-out/speed-index] [--no-txtai]

For the bundled articles and the Arduino help center (../shared/data), each copied into a fresh folder:
- **this project**: ``index_articles`` into an empty data folder (parse, chunk, embed, FTS, FAISS,
  SQLite; the model already exported to ONNX, as after a first start), with ``KB_INFERENCE=onnx`` and
  ``torch``; then one edited article: save, ``index_articles`` (re-embeds one chunk) and
  ``Searcher.load``, until a search returns the new text;
- **naive**: ``SentenceTransformer.encode`` of the same chunk texts + ``faiss.IndexFlatIP.add``;
- **txtai**: its default ``Embeddings(path=model).index`` over the same chunk texts.
Median of ``--repeat`` runs each; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_speed_corpus import ARDUINO  # noqa: E402
from kb.catalog import load_catalog  # noqa: E402
from kb.settings import load_settings  # noqa: E402
from search.embed import SentenceEmbedder, resolve_model  # noqa: E402
from search.indexer import index_articles  # noqa: E402
from search.onnx_embed import ONNX_DIR, OnnxEmbedder  # noqa: E402
from search.searcher import Searcher  # noqa: E402


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def index_once(articles: Path, embedder: object, work: Path) -> tuple[float, Path]:
    data = Path(tempfile.mkdtemp(prefix="kb-bench-index-", dir=work))
    started = time.perf_counter()
    index_articles(articles, data, embedder)  # type: ignore[arg-type]
    return time.perf_counter() - started, data


def edit_once(articles: Path, data: Path, embedder: object, n: int) -> float:
    """Seconds from saving an edited article to a loaded searcher finding the new text."""
    catalog = load_catalog(articles)
    article = catalog.published[n * 7 % len(catalog.published)]
    target, word = article.path, f"zq{n}frobnicate"
    started = time.perf_counter()
    target.write_text(target.read_text(encoding="utf-8") + f"\n\nThe {word} setting controls the widget.\n",
                      encoding="utf-8")
    index_articles(articles, data, embedder)  # type: ignore[arg-type]
    searcher = Searcher.load(data, embedder)  # type: ignore[arg-type]
    found = [h.slug for h in searcher.search(word, k=1)] == [article.slug]
    elapsed = time.perf_counter() - started
    searcher.close()
    assert found, f"{word} not found after the edit"
    return elapsed


def naive_index(texts: list[str]) -> float:
    import faiss
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(resolve_model(load_settings().model), device="cpu")
    started = time.perf_counter()
    vectors = model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return time.perf_counter() - started


def bench_corpus(name: str, source: Path, args: argparse.Namespace, onnx: OnnxEmbedder, torch_embedder: SentenceEmbedder,
                 ) -> dict[str, object]:
    articles = args.work / f"{name}-articles"
    shutil.rmtree(articles, ignore_errors=True)
    shutil.copytree(source, articles)
    result: dict[str, object] = {"corpus": name, "load_before": load()}
    runs: dict[str, list[float]] = {"onnx": [], "torch": [], "naive": [], "edit_onnx": []}
    data = None
    for i in range(args.repeat):
        seconds, data = index_once(articles, torch_embedder, args.work)
        runs["torch"].append(seconds)
        shutil.rmtree(data)
        seconds, data = index_once(articles, onnx, args.work)
        runs["onnx"].append(seconds)
        runs["edit_onnx"].append(edit_once(articles, data, onnx, i))
        if i < args.repeat - 1:
            shutil.rmtree(data)
    assert data is not None
    with sqlite3.connect(data / "kb.db") as db:
        texts = [t for (t,) in db.execute("select text from chunks order by rowid")]
    result["chunks"] = len(texts)
    for _ in range(args.repeat):
        runs["naive"].append(naive_index(texts))
    if args.txtai:
        file = args.work / f"{name}-texts.jsonl"
        file.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
        runs["txtai"] = []
        for _ in range(args.repeat):
            saved = Path(tempfile.mkdtemp(prefix="txtai-", dir=args.work))
            out = subprocess.run([args.txtai, str(ROOT / "scripts" / "bench_speed_txtai.py"), "index", "--texts",
                                  str(file), "--model", resolve_model(load_settings().model), "--save", str(saved / "i")],
                                 capture_output=True, text=True, check=True).stdout
            runs["txtai"].append(json.loads(out.strip().splitlines()[-1])["index_s"])
            shutil.rmtree(saved)
    shutil.rmtree(data)
    for key, values in runs.items():
        result[key] = {"median_s": round(statistics.median(values), 2), "all": [round(v, 2) for v in values]}
    result["load_after"] = load()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=ROOT / "bench-out" / "speed-index")
    parser.add_argument("--txtai", default=str(ROOT / ".bench-venv" / "bin" / "python"))
    parser.add_argument("--no-txtai", dest="txtai", action="store_const", const="")
    parser.add_argument("--corpora", default="bundled,arduino")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    settings = load_settings()
    onnx = OnnxEmbedder(settings.model, settings.embed_batch_size, cache_dir=args.work / ONNX_DIR, strict=True)
    onnx.describe()  # export once, outside the timings (a first start does it; later starts load it)
    torch_embedder = SentenceEmbedder(settings.model, settings.embed_batch_size)
    sources = {"bundled": ROOT / "articles", "arduino": ARDUINO}
    results = []
    for name in args.corpora.split(","):
        result = bench_corpus(name, sources[name], args, onnx, torch_embedder)
        print(json.dumps(result), flush=True)
        results.append(result)
    (args.work / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print("\n| corpus | chunks | this project, ONNX Runtime | this project, torch | naive (encode + flat) | txtai "
          "| edit to searchable | load before → after |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        txtai = f"{r['txtai']['median_s']} s" if "txtai" in r else "—"  # type: ignore[index]
        print(f"| {r['corpus']} | {r['chunks']} | {r['onnx']['median_s']} s | {r['torch']['median_s']} s | "  # type: ignore[index]
              f"{r['naive']['median_s']} s | {txtai} | {r['edit_onnx']['median_s']} s | "  # type: ignore[index]
              f"{r['load_before']} → {r['load_after']} |")


if __name__ == "__main__":
    main()
