"""The naive way, as a baseline for scripts/bench_speed*.py: ``SentenceTransformer.encode`` per query + ``faiss.IndexFlatIP``.

    python scripts/bench_speed_naive.py --data DATA_DIR --port 8001    # serves /api/search and /api/chat

What a first version of a semantic help center looks like: the model with its default settings
(torch's default threads), every chunk of the data folder's articles embedded at start, exact
search, and a chat "decision" that answers when the best chunk is similar enough. No cache, no
batching, no keyword side, nothing written to a database: it does less work per request than the
product, which only makes the comparison harder for the product.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
from pathlib import Path

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ANSWER_SIMILARITY = 0.5


class NaiveSearch:
    """Model + flat index over (article slug, chunk text) rows."""

    def __init__(self, model_path: str, rows: list[tuple[str, str]]) -> None:
        import faiss
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model_path, device="cpu")
        self.rows = rows
        vectors = self.model.encode([text for _, text in rows], normalize_embeddings=True, show_progress_bar=False)
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors)

    def search(self, query: str, k: int = 10) -> list[dict[str, object]]:
        vector = self.model.encode([query], normalize_embeddings=True, show_progress_bar=False)
        scores, ids = self.index.search(vector, k)
        return [{"slug": self.rows[i][0], "text": self.rows[i][1][:200], "score": float(s)}
                for s, i in zip(scores[0], ids[0]) if i >= 0]

    def chat(self, message: str) -> dict[str, object]:
        hits = self.search(message, k=3)
        if hits and float(hits[0]["score"]) >= ANSWER_SIMILARITY:  # type: ignore[arg-type]
            return {"type": "answer", "text": hits[0]["text"], "articles": hits}
        return {"type": "handoff", "text": "Let me get a person to help.", "articles": hits}


def chunk_rows(data_dir: Path) -> list[tuple[str, str]]:
    """Every chunk the product indexed in ``data_dir`` (the same text, so the same corpus)."""
    with sqlite3.connect(data_dir / "kb.db") as db:
        return [(slug, text) for slug, text in db.execute("select article_slug, text from chunks order by rowid")]


class ChatRequest(BaseModel):
    message: str


def create_app(data_dir: Path, model_path: str):  # type: ignore[no-untyped-def]
    from fastapi import FastAPI

    engine = NaiveSearch(model_path, chunk_rows(data_dir))
    app = FastAPI()

    @app.get("/api/search")
    def search(q: str, limit: int = 10) -> dict[str, object]:
        return {"query": q, "results": engine.search(q, limit)}

    @app.post("/api/chat")
    def chat(body: ChatRequest) -> dict[str, object]:
        return engine.chat(body.message)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="A data folder indexed by `kb index`.")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import uvicorn

    from search.embed import resolve_model

    started = time.perf_counter()
    app = create_app(args.data, resolve_model("all-MiniLM-L6-v2"))
    print(f"naive engine ready in {time.perf_counter() - started:.1f}s", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
