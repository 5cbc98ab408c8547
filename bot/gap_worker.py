"""Groups new gap signals into gaps in the background, so the writers' report is current without anyone
running ``kb gaps cluster``.

A daemon thread with its own SQLite connection runs ``cluster_gaps`` when woken (the web app wakes it when the
gaps page is opened) and every ``interval`` seconds, but only when signals arrived since its last run. That
check matters: one-off questions stay unassigned until a similar one comes, and every run re-reads them, so an
idle run would not be free. Measured with all-MiniLM-L6-v2 on one CPU thread (as the site runs queries): the
check takes 0.1 ms; a run after 5 new questions took 0.09 s over 1,000 earlier signals and 0.14 s over 3,000
(1,048 distinct questions, 35 gaps), since earlier vectors are cached; a first run over a backlog of 3,000
signals took 4.5 s. Cheap enough to run often, too slow for a page view, hence the thread.

Usage::

    worker = GapClusterWorker(data_dir / "kb.db", embedder, nearest=lambda: nearest_article(searcher)).start()
    worker.wake()          # e.g. when a writer opens the report
    worker.run(db)         # "Re-cluster now": in the caller's thread, after any run in progress
    worker.stop()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from bot.background import BackgroundLoop
from bot.gap_cluster import MATCH_SIMILARITY, MIN_SIMILARITY, ClusterReport, NearestFn, cluster_gaps
from search.embed import Embedder

log = logging.getLogger(__name__)


def newest_signal_id(db: Database) -> int:
    """The id of the newest gap signal, 0 when there is none (ids only grow, so this tells "anything new?")."""
    row = db.execute("select max(id) from gap_signals").fetchone()
    return int(row[0] or 0)


class GapClusterWorker(BackgroundLoop):
    """Runs ``cluster_gaps`` one run at a time, in its own thread or on demand."""

    name = "kb-gap-cluster"

    def __init__(
        self,
        db_path: Path | str | None,
        embedder: Embedder,
        *,
        nearest: Callable[[], NearestFn | None] = lambda: None,
        interval: float = 300.0,
        min_similarity: float = MIN_SIMILARITY,
        match_similarity: float = MATCH_SIMILARITY,
    ) -> None:
        super().__init__(db_path, interval)
        self.embedder = embedder
        self.nearest = nearest  # called per run: the search index may have been swapped by a re-index
        self.min_similarity = min_similarity
        self.match_similarity = match_similarity
        self.last_report: ClusterReport | None = None
        self.last_run: datetime | None = None
        self.last_error: str | None = None
        self._seen = 0  # newest signal id the last run considered
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        """A run is in progress."""
        return self._lock.locked()

    def has_new_signals(self, db: Database) -> bool:
        return newest_signal_id(db) > self._seen

    def run(self, db: Database) -> ClusterReport:
        """Cluster now on ``db`` (the caller's connection); waits for a run already in progress to finish."""
        with self._lock:
            newest = newest_signal_id(db)
            try:
                report = cluster_gaps(db, self.embedder, nearest=self.nearest(), min_similarity=self.min_similarity,
                                      match_similarity=self.match_similarity)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                raise
            self._seen = max(self._seen, newest)
            self.last_report, self.last_run, self.last_error = report, datetime.now(UTC), None
            log.info("gaps: grouped %d new questions in %.2fs: %d new gaps, %d joined existing ones",
                     report.signals, report.seconds, len(report.created), report.attached)
            return report

    def tick(self, db: Database) -> float | None:
        """Cluster when signals arrived since the last run (one-off questions make idle runs not free)."""
        if self.has_new_signals(db):
            self.run(db)
        return None
