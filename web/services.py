"""What the web app loads once: settings, the search engine (swapped on re-index) and database access."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlite_utils import Database

from bot.chat import Bot, Thresholds
from bot.confidence import Calibration
from bot.delivery import DeliveryConfig
from bot.gap_worker import GapClusterWorker
from bot.gaps import NearestFn, nearest_article
from bot.outbox import OutboxWorker, enqueue_ticket
from kb import helpcenter
from kb.cache import ArticleCache
from kb.helpcenter import ArticleSummary
from kb.settings import Settings
from kb.storage import DB_FILE, open_db
from search.embed import Embedder
from search.indexer import IndexReport, index_articles
from search.related import RelatedIndex
from search.searcher import Searcher

log = logging.getLogger("kb.web")
POPULAR_TTL_SECONDS = 60.0


@dataclass(frozen=True)
class Engine:
    """A searcher and the related-articles index built from the same index: swapped together."""

    searcher: Searcher
    related: RelatedIndex


@dataclass
class Services:
    """Loaded once by the app's lifespan and kept on ``app.state.services``."""

    settings: Settings
    embedder: Embedder
    engine: Engine | None = None
    _index_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)
    _popular: dict[int, tuple[float, list[ArticleSummary]]] = field(default_factory=dict, repr=False)
    # Live reload re-parses only the files that changed (issue 7: an edit searchable within 1 s).
    _articles: ArticleCache = field(default_factory=ArticleCache, repr=False)
    bot: Bot | None = None
    outbox: OutboxWorker | None = None
    gap_worker: GapClusterWorker | None = None

    def start_chat(self) -> Bot:
        """The chatbot over the current engine, and the worker that delivers its tickets by email and webhook."""
        s = self.settings
        config = DeliveryConfig.from_settings(s)
        if config.channels:
            self.outbox = OutboxWorker(self.db_path, config).start()

        def notify(event: str, ticket_id: int, packet: dict[str, object]) -> None:
            # Queue only: the customer never waits for an SMTP server or a webhook receiver.
            if config.channels:
                enqueue_ticket(self.db(), config, event, ticket_id, packet)
                if self.outbox:
                    self.outbox.wake()

        self.bot = Bot(
            lambda: self.searcher, self.db_path, calibration=Calibration.load(s.data_dir),
            thresholds=Thresholds(s.answer_threshold, s.clarify_threshold, s.ambiguity_margin, s.max_message_chars,
                                  min_suggestion_score=s.search_min_score),
            notifier=notify, site_name=s.site_name, base_url=s.base_url.rstrip("/"),
        )
        return self.bot

    def start_gap_clustering(self) -> GapClusterWorker:
        """The background thread that groups new gap signals into gaps for the writers' report."""
        s = self.settings

        def nearest() -> NearestFn | None:  # looked up per run: a re-index swaps the searcher
            return nearest_article(self.searcher) if self.engine is not None else None

        self.gap_worker = GapClusterWorker(
            self.db_path, self.embedder, nearest=nearest, interval=s.gap_cluster_interval,
            min_similarity=s.gap_similarity, match_similarity=s.gap_match_similarity,
        ).start()
        return self.gap_worker

    @property
    def db_path(self) -> Path:
        return self.settings.data_dir / DB_FILE

    @property
    def searcher(self) -> Searcher:
        return self.current().searcher

    def current(self) -> Engine:
        """The engine in use; take it once per request so the searcher and related index match."""
        if self.engine is None:
            raise RuntimeError("the search index is not loaded yet")
        return self.engine

    def db(self) -> Database:
        """This thread's connection (SQLite connections cannot be shared between threads)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = open_db(self.db_path)  # WAL, synchronous=NORMAL: see kb.storage.open_db
            self._local.db = db
        return db

    def popular_articles(self, limit: int) -> list[ArticleSummary]:
        """``kb.helpcenter.popular_articles``, cached for a minute: it counts a month of views."""
        now = time.monotonic()
        cached = self._popular.get(limit)
        if cached is None or now - cached[0] > POPULAR_TTL_SECONDS:
            cached = (now, helpcenter.popular_articles(self.db(), limit=limit))
            self._popular[limit] = cached
        return cached[1]

    def reindex(self, progress: Callable[[int, int], None] | None = None) -> IndexReport:
        """Index what changed and swap in a fresh engine; the old one serves until this one is ready."""
        s = self.settings
        with self._index_lock:
            report = index_articles(
                s.articles_dir, s.data_dir, self.embedder, chunk_max_chars=s.chunk_max_chars,
                hnsw_threshold=s.hnsw_threshold, progress=progress, batch_size=s.embed_batch_size,
                cache=self._articles,
            )
            # Loading is cheap (no model work), so reload even when only a category title changed.
            searcher = Searcher.load(
                s.data_dir, self.embedder, keyword_weight=s.keyword_weight, max_query_chars=s.max_query_chars
            )
            # One assignment swaps the searcher and related index together; requests that already
            # took the old engine finish with it.
            self.engine = Engine(searcher, RelatedIndex(searcher))
            self._popular.clear()  # it may name an article that just went away
            if self.bot is not None:  # a rebuild may have re-calibrated the confidence model
                self.bot.calibration = Calibration.load(s.data_dir)
        return report

    def close(self) -> None:
        """Close this thread's connections (others close with their threads) and stop the delivery worker."""
        if self.outbox is not None:
            self.outbox.stop()
        if self.gap_worker is not None:
            self.gap_worker.stop()
        if self.engine is not None:
            self.engine.searcher.close()
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
