"""A daemon thread that repeats one job: on a timer, or at once when woken. The outbox and gap workers use it."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from types import TracebackType
from typing import Self

from sqlite_utils import Database

from kb.storage import open_db

log = logging.getLogger("kb.bot")


class BackgroundLoop:
    """Runs ``tick(db)`` on its own thread and SQLite connection until stopped.

    ``tick`` returns how long to wait before the next pass (None: the default ``interval``); ``wake()``
    cuts the wait short. A failing pass is logged and tried again later, never raised.
    """

    name = "kb-background"

    def __init__(self, db_path: Path | str | None, interval: float | None) -> None:
        self.db_path = Path(db_path) if db_path is not None else None
        self.interval = interval  # None or <= 0: only run when woken
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, db: Database) -> float | None:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Self:
        if not self.running:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()
        return self

    def wake(self) -> None:
        """Run a pass now instead of at the end of the wait."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the pass in progress and end the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _loop(self) -> None:
        db = open_db(self.db_path)
        try:
            while not self._stop.is_set():
                # Cleared before the pass, so a wake() that arrives during it triggers another pass at once.
                self._wake.clear()
                wait: float | None = None
                try:
                    wait = self.tick(db)
                except Exception:  # e.g. the database stayed locked past busy_timeout: try again later
                    log.exception("%s: pass failed; trying again on the next wake or interval", self.name)
                default = self.interval if self.interval and self.interval > 0 else None
                if wait is None:
                    wait = default
                elif default is not None:
                    wait = min(wait, default)
                self._wake.wait(wait)
        finally:
            db.close()
