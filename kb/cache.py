"""Parsed and rendered articles kept between index runs of one process, reused while their files are unchanged.

A live site re-indexes the whole folder after every save; parsing and rendering Markdown is most of
that work (on the Arduino help center, 414 files, ~1.5 s of a ~1.7 s no-op re-index). With this
cache only the saved file is parsed and rendered again (issue 7: an edit searchable within 1 s).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from kb.models import Article


class ArticleCache:
    """``parse_article`` and ``render_body`` results keyed by what they depend on. Thread-safe.

    A parse is keyed by the file's path, folder root, content and modification time (the fallback
    ``updated`` date); a rendering by the Markdown body and the slug map its links resolve against.
    Entries of files that disappear are dropped at the next ``forget_missing``.
    """

    def __init__(self) -> None:
        self._parsed: dict[tuple[str, str], tuple[tuple[int, str], Article]] = {}
        self._rendered: dict[str, tuple[str, str]] = {}  # slug -> (key, html)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def parse(self, path: Path, root: Path, parse: Callable[[Path, Path], Article]) -> Article:
        """``parse(path, root)``, or the earlier result for the same file content and time."""
        data = path.read_bytes()
        key = (path.stat().st_mtime_ns, hashlib.sha1(data).hexdigest())
        where = (str(path), str(root))
        with self._lock:
            found = self._parsed.get(where)
            if found is not None and found[0] == key:
                self.hits += 1
                return found[1]
        article = parse(path, root)  # errors are not cached: a broken file is retried every run
        with self._lock:
            self._parsed[where] = (key, article)
            self.misses += 1
        return article

    def render(self, article: Article, resolve: Mapping[str, str], render: Callable[[str, Mapping[str, str]], str],
               resolve_key: str) -> str:
        """``render(article.body, resolve)``, or the earlier HTML for the same body and slug map (``resolve_key``)."""
        key = hashlib.sha1(f"{resolve_key}\0{article.body}".encode()).hexdigest()
        with self._lock:
            found = self._rendered.get(article.slug)
            if found is not None and found[0] == key:
                return found[1]
        html = render(article.body, resolve)
        with self._lock:
            self._rendered[article.slug] = (key, html)
        return html

    def forget_missing(self, paths: set[str], slugs: set[str]) -> None:
        """Drop entries of files and articles that are gone, so the cache never outgrows the folder."""
        with self._lock:
            for where in [w for w in self._parsed if w[0] not in paths]:
                del self._parsed[where]
            for slug in [s for s in self._rendered if s not in slugs]:
                del self._rendered[slug]


def resolver_key(resolve: Mapping[str, str]) -> str:
    """A fingerprint of a slug map: renderings made against an equal map can be reused."""
    return hashlib.sha1(repr(sorted(resolve.items())).encode()).hexdigest()
