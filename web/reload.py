"""Live reload: watch the articles folder and re-index when a Markdown file changes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, DefaultFilter, watch

log = logging.getLogger("kb.web")

# Short enough that a saved article is searchable well within 2 s (re-indexing one file takes ~0.3 s),
# long enough that an editor's save-rename-delete dance is one batch.
DEBOUNCE_MS = 300


class MarkdownFilter(DefaultFilter):
    """Markdown files only, skipping editors' temporary files and hidden folders (DefaultFilter)."""

    def __call__(self, change: Change, path: str) -> bool:
        return path.endswith(".md") and super().__call__(change, path)


class ArticleWatcher:
    """A background thread that calls ``on_change`` after each batch of article file changes."""

    def __init__(self, articles_dir: Path, on_change: Callable[[], object]) -> None:
        self.articles_dir = articles_dir
        self.on_change = on_change
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="kb-article-watcher", daemon=True)

    def start(self) -> ArticleWatcher:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        changes = watch(
            self.articles_dir, watch_filter=MarkdownFilter(), debounce=DEBOUNCE_MS, step=50,
            stop_event=self.stop_event, raise_interrupt=False, yield_on_timeout=True, rust_timeout=200,
        )
        for batch in changes:
            # The first (timeout) yield means the watcher is set up: changes from now on are seen.
            self.ready.set()
            if not batch:
                continue
            log.info("articles changed (%d files): re-indexing", len(batch))
            try:
                self.on_change()
            except Exception:  # noqa: BLE001 - one bad rebuild must not stop watching
                log.exception("re-indexing after a change failed; the previous index stays in use")
