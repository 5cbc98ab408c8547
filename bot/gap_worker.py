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

from bot.gap_cluster import MATCH_SIMILARITY, MIN_SIMILARITY, ClusterReport, NearestFn, cluster_gaps
from kb.storage import open_db
from search.embed import Embedder

log = logging.getLogger(__name__)


def newest_signal_id(db: Database) -> int:
    """The id of the newest gap signal, 0 when there is none (ids only grow, so this tells "anything new?")."""
    row = db.execute("select max(id) from gap_signals").fetchone()
    return int(row[0] or 0)


class GapClusterWorker:
    """Runs ``cluster_gaps`` one run at a time, in its own thread or on demand."""

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
        self.db_path = db_path
        self.embedder = embedder
        self.nearest = nearest  # called per run: the search index may have been swapped by a re-index
        self.interval = interval
        self.min_similarity = min_similarity
        self.match_similarity = match_similarity
        self.last_report: ClusterReport | None = None
        self.last_run: datetime | None = None
        self.last_error: str | None = None
        self._seen = 0  # newest signal id the last run considered
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        """A run is in progress."""
        return self._lock.locked()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

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

    def start(self) -> GapClusterWorker:
        if not self.running:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="kb-gap-cluster", daemon=True)
            self._thread.start()
        return self

    def wake(self) -> None:
        """Check for new signals now instead of at the next interval."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """End the thread after the run in progress (unassigned signals wait for the next start)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        db = open_db(self.db_path)
        try:
            while not self._stop.is_set():
                # Cleared before the check, so a wake() during a run triggers another check at once.
                self._wake.clear()
                try:
                    if self.has_new_signals(db):
                        self.run(db)
                except Exception:  # e.g. a locked database or a model error: logged, tried again next time
                    log.exception("gap clustering failed; trying again on the next wake or interval")
                self._wake.wait(self.interval if self.interval > 0 else None)
        finally:
            db.close()
