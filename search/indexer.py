"""Build or update the index of an articles folder: parse, chunk, embed what changed, store, swap in."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from kb.cache import ArticleCache, resolver_key
from kb.catalog import load_catalog, slug_resolver
from kb.chunk import chunk_article
from kb.locks import INDEX_LOCK, data_lock
from kb.models import Problem
from kb.render import render_body
from kb.storage import DB_FILE, article_row, cached_vectors, open_db, prune_vectors, record_index_run, replace_catalog
from kb.storage import store_vectors
from search.embed import Embedder
from search.index import VectorIndex
from search.tune import TunedModel, tuned_embedder

INDEX_DIR = "index"
Progress = Callable[[int, int], None]


@dataclass
class IndexReport:
    """What one ``kb index`` run did."""

    articles: int = 0
    drafts: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    removed: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    model: str = ""
    changed: list[str] = field(default_factory=list)


def index_articles(
    articles_dir: Path,
    data_dir: Path,
    embedder: Embedder,
    *,
    chunk_max_chars: int = 1200,
    hnsw_threshold: int = 50_000,
    progress: Progress | None = None,
    batch_size: int = 64,
    cache: ArticleCache | None = None,
) -> IndexReport:
    """Index ``articles_dir`` into ``data_dir``, re-embedding only chunks whose content hash is new.

    Files that cannot be parsed are reported in ``IndexReport.problems`` and skipped; everything else
    is indexed. The database changes and the new vector index become visible together at the end.
    A ``cache`` kept between runs (the website's live reload) parses and renders only changed files.
    Processes sharing ``data_dir`` (server workers, ``kb index``) take turns (``kb.locks``): the second
    finds the new chunks' vectors stored by the first and embeds nothing.
    """
    with data_lock(data_dir, INDEX_LOCK):
        return _index_articles(articles_dir, data_dir, embedder, chunk_max_chars, hnsw_threshold, progress,
                               batch_size, cache)


def _index_articles(
    articles_dir: Path, data_dir: Path, embedder: Embedder, chunk_max_chars: int, hnsw_threshold: int,
    progress: Progress | None, batch_size: int, cache: ArticleCache | None,
) -> IndexReport:
    started = time.perf_counter()
    base_model = embedder.model_name
    # A model fine-tuned on this knowledge base (``kb tune``) replaces its base model.
    embedder = tuned_embedder(data_dir, embedder)
    catalog = load_catalog(articles_dir, cache)
    articles = catalog.published
    report = IndexReport(
        articles=len(articles), drafts=len(catalog.articles) - len(articles), problems=catalog.problems,
        model=embedder.model_name,
    )
    resolve = slug_resolver(catalog.articles)
    if cache:
        resolve_key = resolver_key(resolve)
        html = {a.slug: cache.render(a, resolve, render_body, resolve_key) for a in articles}
    else:
        html = {a.slug: render_body(a.body, resolve) for a in articles}
    hashes = {a.slug: _article_hash(article_row(a, html[a.slug], "")) for a in articles}
    chunks = [c for a in articles for c in chunk_article(a, chunk_max_chars)]
    report.chunks = len(chunks)

    db = open_db(data_dir / DB_FILE)
    try:
        known = cached_vectors(db, embedder.model_name, (c.content_hash for c in chunks))
        todo = {c.content_hash: c.text for c in chunks if c.content_hash not in known}
        report.reused = sum(1 for c in chunks if c.content_hash in known)
        report.embedded = len(todo)
        # Similar lengths share a batch, so little time goes into padding.
        items = sorted(todo.items(), key=lambda item: len(item[1]))
        if progress:
            progress(0, len(items))
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            vectors = embedder.encode([text for _, text in batch])
            fresh = {h: v.astype(np.float32).tobytes() for (h, _), v in zip(batch, vectors)}
            store_vectors(db, embedder.model_name, fresh)
            known.update(fresh)
            if progress:
                progress(min(start + batch_size, len(items)), len(items))

        dims = len(next(iter(known.values()))) // 4 if known else embedder.dims
        matrix = np.frombuffer(b"".join(known[c.content_hash] for c in chunks), dtype=np.float32).reshape(-1, dims)
        index = VectorIndex.build(
            matrix, [c.id for c in chunks], [c.content_hash for c in chunks], embedder.model_name, hnsw_threshold
        )
        if embedder.model_name != base_model:
            tuned = TunedModel.load(data_dir)
            index.extra = {"base_model": base_model, "tuned_model": asdict(tuned) if tuned else None}
        before = {r["slug"]: r["content_hash"] for r in db.query("select slug, content_hash from articles")}
        report.changed = sorted(a.slug for a in articles if before.get(a.slug) != hashes[a.slug])
        with db.conn:
            report.removed = replace_catalog(db, articles, catalog.categories, chunks, html, hashes)
            db.table("meta").upsert({"key": "build_id", "value": index.build_id}, pk="key")
            # The swap happens inside the transaction: if it fails, the database rolls back with it.
            index.save(data_dir / INDEX_DIR)
        prune_vectors(db, embedder.model_name)
        report.seconds = round(time.perf_counter() - started, 3)
        record_index_run(db, {
            "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "seconds": report.seconds,
            "articles": report.articles, "chunks": report.chunks, "embedded": report.embedded,
            "reused": report.reused, "removed": len(report.removed), "problems": len(report.problems),
            "model": embedder.model_name,
        })
    finally:
        db.close()
    return report


def _article_hash(row: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()[:32]
