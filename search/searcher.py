"""Hybrid article search: vector similarity fused with FTS5 keyword ranking, with typo-tolerant keywords."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz, process

from kb.storage import DB_FILE, KeywordHit, fts_query, keyword_search, open_db
from search.embed import Embedder, encode_queries
from search.highlight import highlight, query_terms
from search.index import VectorIndex
from search.keywords import KeywordIndex
from search.indexer import INDEX_DIR
from search.tune import tuned_embedder


_WORD = re.compile(r"\w+")
# A question an article answers finds several of its chunks (its questions, its sections) among the
# nearest few; one with no article finds a mix. Two uses, each measured on CLINC150, BANKING77,
# HINT3 and StackFAQ dev (BENCHMARKS.md): an article's share of the 5 nearest chunks is a
# confidence signal (bot.confidence), and its questions among the 10 nearest chunks, times
# VOTE_WEIGHT / 10, add to its score (BANKING77 top-1 +1.0 point, CLINC150 +0.5, no HINT3 split
# lower). Only questions vote there: counting sections too favoured long articles (StackFAQ -0.3).
VOTE_CHUNKS = 5
RANK_VOTE_CHUNKS = 10
VOTE_WEIGHT = 0.1
log = logging.getLogger("kb.search")


class QueryError(ValueError):
    """A query that cannot be searched (empty or too long); the message says what to change."""


@dataclass(frozen=True)
class SearchHit:
    """One article in a result list, with the section that matched best."""

    slug: str
    title: str
    url: str
    category: str
    category_title: str
    section: str
    anchor: str
    snippet: str  # HTML-escaped text with the query terms in <mark>
    score: float
    vector_score: float
    keyword_score: float
    matched: str  # kind of the best chunk: "summary", "question" or "section"
    # Share of the query's ``VOTE_CHUNKS`` nearest chunks (of any article) that are this article's.
    votes: float = 0.0

    @property
    def section_url(self) -> str:
        return f"{self.url}#{self.anchor}" if self.anchor else self.url


@dataclass(frozen=True)
class _ChunkInfo:
    article_slug: str
    kind: str
    anchor: str
    heading: str
    text: str


class Ranked(NamedTuple):
    """An article's scores for one query, before its snippet is made (ordered by ``score``)."""

    score: float
    vector_score: float
    keyword_score: float
    slug: str
    row: int  # index row of its best chunk (-1: matched by keywords only)
    votes: float = 0.0  # share of the query's VOTE_CHUNKS nearest chunks that are this article's


def normalize_query(query: str) -> str:
    return " ".join(query.lower().split())


class Searcher:
    """Searches one built index. Load it once (``Searcher.load``) and share it; it is safe across threads.

    >>> searcher = Searcher.load(Path("data"), embedder)
    >>> searcher.search("I forgot my password", k=3)[0].slug
    'reset-your-password'
    """

    def __init__(
        self,
        index: VectorIndex,
        db_path: Path | None,
        embedder: Embedder,
        *,
        keyword_weight: float = 0.25,
        vote_weight: float = VOTE_WEIGHT,
        max_query_chars: int = 500,
        cache_size: int = 4096,
        overlap: bool = True,
        memory_keywords: bool = True,
    ) -> None:
        self.index = index
        self.db_path = db_path
        self.embedder = embedder
        self.keyword_weight = keyword_weight
        self.vote_weight = vote_weight
        self.max_query_chars = max_query_chars
        self._local = threading.local()
        db = self._db()
        self.articles = {r["slug"]: r for r in db.query(
            "select a.slug, a.title, a.description, a.category, a.section, a.updated, "
            "coalesce(c.title, a.category) as category_title from articles a "
            "left join categories c on c.key = a.category"
        )}
        rows = {r["id"]: r for r in db.query("select id, article_slug, kind, anchor, heading, text from chunks")}
        # Chunks the manifest names but the database lost (an interrupted build) are skipped, not fatal.
        self.chunks = [
            _ChunkInfo(r["article_slug"], r["kind"], r["anchor"], r["heading"], r["text"]) if r else None
            for r in (rows.get(cid) for cid in index.chunk_ids)
        ]
        self.rows_by_article: dict[str, list[int]] = {}
        for row, info in enumerate(self.chunks):
            if info is not None:
                self.rows_by_article.setdefault(info.article_slug, []).append(row)
        self.vectors = index.vectors()
        # Words as written (not stemmed), to tell a typo from a word the articles use.
        self.vocabulary = {w for info in self.chunks if info for w in _WORD.findall(info.text.lower())}
        self._vocab_list = sorted(w for w in self.vocabulary if len(w) >= 3 and w.isalpha())
        self._embed_cached = lru_cache(maxsize=cache_size)(self._embed_one)
        # ``search`` runs the keyword side on another thread while the model embeds the query (both
        # release the GIL): a query costs the longer of the two instead of their sum.
        self.overlap = overlap
        self._keyword_threads: ThreadPoolExecutor | None = None
        self._threads_lock = threading.Lock()
        # FTS5's bm25 ranking, reproduced in memory (search.keywords), is built in the background;
        # until it is ready FTS5 answers, with the same scores.
        self.keywords: KeywordIndex | None = None
        self._keywords_ready = threading.Event()
        if memory_keywords and db_path is not None:
            threading.Thread(target=self._build_keywords, name="kb-keyword-index", daemon=True).start()
        else:
            self._keywords_ready.set()
        self._correct_cached = lru_cache(maxsize=cache_size)(self._correct_word)

    @classmethod
    def load(cls, data_dir: Path, embedder: Embedder, **options: float | int) -> Searcher:
        """Load the index in ``data_dir``, checking it was built with ``embedder``'s model.

        When ``kb tune`` fine-tuned ``embedder``'s model for this data folder, the tuned model is used.
        """
        embedder = tuned_embedder(data_dir, embedder)
        index = VectorIndex.load(data_dir / INDEX_DIR, model=embedder.model_name)
        if index.dims != embedder.dims:
            VectorIndex.load(data_dir / INDEX_DIR, model=embedder.model_name, dims=embedder.dims)
        return cls(index, data_dir / DB_FILE, embedder, **options)  # type: ignore[arg-type]

    def _db(self):  # type: ignore[no-untyped-def]
        db = getattr(self._local, "db", None)
        if db is None:
            db = open_db(self.db_path)
            self._local.db = db
        return db

    def check_query(self, query: str) -> str:
        query = query.strip()
        if not query:
            raise QueryError("the query is empty: type a few words about what you need")
        if len(query) > self.max_query_chars:
            raise QueryError(f"the query is {len(query)} characters long; the limit is {self.max_query_chars}")
        return query

    def _embed_one(self, normalized: str) -> np.ndarray:
        return encode_queries(self.embedder, [normalized])[0]

    def query_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Many queries' vectors in batched passes (no cache): self-calibration asks the articles' questions."""
        return encode_queries(self.embedder, [normalize_query(t) for t in texts])

    def embed(self, query: str) -> np.ndarray:
        """The query's vector; repeated queries (after normalizing case and spaces) come from a cache."""
        return self._embed_cached(normalize_query(query))

    def _correct_word(self, word: str) -> str:
        if len(word) < 4 or not word.isalpha() or word in self.vocabulary:
            return word
        match = process.extractOne(word, self._vocab_list, scorer=fuzz.ratio, score_cutoff=80)
        return str(match[0]) if match else word

    def corrected(self, query: str) -> str:
        """The query with misspelt words replaced by indexed ones ("pasword" -> "password")."""
        return " ".join(self._correct_cached(w) for w in _WORD.findall(query.lower()))

    def keyword_query(self, query: str) -> str:
        """The FTS5 query for ``query``: its corrected words, ORed.

        Stopwords stay: dropping them made the keyword side 4x faster on 1k chunks but cost up to
        4.5 points of HINT3 overall accuracy (the best keyword hit scores 1.0, and with fewer words
        a weak match becomes the best one), measured with ``scripts/eval_dev.py`` (issue 7).
        """
        return fts_query(self.corrected(query))

    def search(self, query: str, k: int = 10, category: str | None = None) -> list[SearchHit]:
        """The ``k`` best articles for ``query``, optionally only in one ``category`` (slug)."""
        query = self.check_query(query)
        if not self.overlap:
            return self.search_vector(query, self.embed(query), k, category)
        keywords = self._keyword_executor().submit(self.keyword_hits, query, self._pool_size(k, category))
        vector = self.embed(query)
        return self.search_vector(query, vector, k, category, keyword_hits=keywords.result())

    def _keyword_executor(self) -> ThreadPoolExecutor:
        if self._keyword_threads is None:
            with self._threads_lock:
                if self._keyword_threads is None:
                    self._keyword_threads = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="kb-keywords")
        return self._keyword_threads

    def _build_keywords(self) -> None:
        try:
            with closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)) as db:
                self.keywords = KeywordIndex.build(db)
        except Exception:  # noqa: BLE001 - FTS5 keeps answering; the cause is logged
            log.exception("keyword index: building it in memory failed; FTS5 ranks keywords instead")
        finally:
            self._keywords_ready.set()

    def wait_for_keywords(self, timeout: float | None = None) -> bool:
        """Wait until the in-memory keyword index is built (or failed); True when it is in use."""
        self._keywords_ready.wait(timeout)
        return self.keywords is not None

    def keyword_hits(self, query: str, pool: int) -> list[KeywordHit]:
        """The ``pool`` best chunks for ``query`` by keywords alone (bm25, typos corrected)."""
        keywords = self.keywords
        if keywords is not None:
            hits = keywords.search(_WORD.findall(self.corrected(query)), pool)
            if hits is not None:
                return hits
        return keyword_search(self._db(), self.keyword_query(query), limit=pool)

    @staticmethod
    def _pool_size(k: int, category: str | None) -> int:
        """How many chunks each side fetches to fill ``k`` articles (more within a category, which filters)."""
        return max(50, k * 10) if category is None else max(200, k * 40)

    def search_vector(
        self,
        query: str,
        vector: np.ndarray,
        k: int = 10,
        category: str | None = None,
        *,
        exclude_chunks: frozenset[str] = frozenset(),
        exclude_articles: frozenset[str] = frozenset(),
        keyword_hits: list[KeywordHit] | None = None,
    ) -> list[SearchHit]:
        """Like ``search`` with the query's vector already computed (batched callers use this).

        ``exclude_chunks`` (chunk ids) and ``exclude_articles`` (slugs) search as if they were not
        indexed: self-calibration asks an article's own questions with them held out.
        ``keyword_hits`` are ``keyword_hits(query, ...)`` when already fetched.
        """
        ranked = self.rank(query, vector, k, category, exclude_chunks=exclude_chunks,
                           exclude_articles=exclude_articles, keyword_hits=keyword_hits)
        terms = query_terms(f"{query} {self.corrected(query)}")
        # The passage shown is the best section: one matrix product for every result that matched elsewhere.
        sections = self._best_rows([r.slug for r in ranked if not self._is_section(r.row)], vector, "section")
        return [self._hit(terms, r, r.row if self._is_section(r.row) else sections[r.slug][1]) for r in ranked]

    def _is_section(self, row: int) -> bool:
        info = self.chunks[row] if row >= 0 else None
        return info is not None and info.kind == "section"

    def rank(
        self,
        query: str,
        vector: np.ndarray,
        k: int = 10,
        category: str | None = None,
        *,
        exclude_chunks: frozenset[str] = frozenset(),
        exclude_articles: frozenset[str] = frozenset(),
        keyword_hits: list[KeywordHit] | None = None,
    ) -> list[Ranked]:
        """The ``k`` best articles with their scores only: no snippets (``search_vector`` adds them)."""
        if not len(self.index) or not self.articles:
            return []
        pool = self._pool_size(k, category)
        pool += len(exclude_chunks) + sum(len(self.rows_by_article.get(s, ())) for s in exclude_articles)
        scores, rows = self.index.search(vector.reshape(1, -1), pool)
        vec_best: dict[str, tuple[float, int]] = {}
        near: list[tuple[str, str]] = []  # (article, kind) of the nearest chunks, nearest first
        for score, row in zip(scores[0], rows[0]):
            info = self.chunks[row] if row >= 0 else None
            if info is None or info.article_slug in exclude_articles:
                continue
            if exclude_chunks and self.index.chunk_ids[row] in exclude_chunks:
                continue
            if len(near) < RANK_VOTE_CHUNKS:
                near.append((info.article_slug, info.kind))
            if info.article_slug not in vec_best:
                vec_best[info.article_slug] = (float(score), int(row))
        votes = Counter(slug for slug, _ in near[:VOTE_CHUNKS])
        rank_votes = Counter(slug for slug, kind in near if kind == "question")

        keyword: dict[str, float] = {}
        if keyword_hits is None:
            keyword_hits = self.keyword_hits(query, pool)
        hits = [h for h in keyword_hits if h.chunk_id not in exclude_chunks and h.article_slug not in exclude_articles]
        if hits:
            best_rank = hits[0].rank
            for hit in hits:
                if hit.article_slug not in keyword and best_rank < 0:
                    keyword[hit.article_slug] = hit.rank / best_rank

        results = []
        candidates = [s for s in dict.fromkeys([*vec_best, *keyword]) if s in self.articles
                      and (not category or self.articles[s]["category"] == category)]
        vec_best.update(self._best_rows([s for s in candidates if s not in vec_best], vector))
        for slug in candidates:
            vec_score, best_row = vec_best[slug]
            kw = keyword.get(slug, 0.0)
            bonus = self.keyword_weight * kw + self.vote_weight * rank_votes[slug] / RANK_VOTE_CHUNKS
            results.append(Ranked(vec_score + bonus, vec_score, kw, slug, best_row, votes[slug] / VOTE_CHUNKS))
        results.sort(reverse=True)
        return results[:k]

    def _best_rows(self, slugs: list[str], vector: np.ndarray, kind: str | None = None) -> dict[str, tuple[float, int]]:
        """Each article's most similar chunk (of ``kind``, when given) as (cosine, row), (0.0, -1) when it has
        none: one matrix product for all of them."""
        found = {slug: (0.0, -1) for slug in slugs}
        groups = {slug: rows for slug in slugs if (rows := self._rows_of(slug, kind))}
        if not groups:
            return found
        flat = np.fromiter((r for group in groups.values() for r in group), dtype=np.int64)
        sims = self.vectors[flat] @ vector
        start = 0
        for slug, group in groups.items():
            best = start + int(np.argmax(sims[start:start + len(group)]))
            found[slug] = (float(sims[best]), int(flat[best]))
            start += len(group)
        return found

    def _rows_of(self, slug: str, kind: str | None) -> list[int]:
        rows = self.rows_by_article.get(slug, [])
        return rows if kind is None else [r for r in rows if self.chunks[r].kind == kind]  # type: ignore[union-attr]

    def _hit(self, terms: list[str], ranked: Ranked, section_row: int) -> SearchHit:
        article = self.articles[ranked.slug]
        best = self.chunks[ranked.row] if ranked.row >= 0 else None
        section = self.chunks[section_row] if section_row >= 0 else None
        text = section.text.split("\n", 1)[-1] if section else article["description"] or ""
        return SearchHit(
            slug=ranked.slug,
            title=article["title"],
            url=f"/articles/{ranked.slug}",
            category=article["category"],
            category_title=article["category_title"],
            section=section.heading if section else article["title"],
            anchor=section.anchor if section else "",
            snippet=highlight(text, terms),
            score=round(ranked.score, 4),
            vector_score=round(ranked.vector_score, 4),
            keyword_score=round(ranked.keyword_score, 4),
            matched=best.kind if best else "keyword",
            votes=ranked.votes,
        )

    def close(self) -> None:
        if self._keyword_threads is not None:
            self._keyword_threads.shutdown(wait=False)
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def search_many(searcher: Searcher, queries: Sequence[str], k: int = 10) -> list[list[SearchHit]]:
    """Search several queries with one embedding pass (for evaluation and batch tools)."""
    checked = [searcher.check_query(q) for q in queries]
    vectors = encode_queries(searcher.embedder, [normalize_query(q) for q in checked])
    return [searcher.search_vector(q, v, k) for q, v in zip(checked, vectors)]
