"""FTS5's bm25 keyword ranking, computed in memory with numpy: the same scores, without FTS5's per-row cost.

FTS5 ranks a query by calling bm25() on every row that matches any of its words. Help-center
questions are full of common words ("how", "do", "my"), so that is most rows: 0.8 ms a query on
1k chunks, 6 ms on 10k and 64 ms on 100k on the 2-core target machine (issue 7). Dropping the
common words would be fast but changes the ranking, and answer quality with it.

``KeywordIndex`` reads FTS5's own index once (every token of every row, through the ``fts5vocab``
virtual table) and reproduces ``bm25(chunks_fts, 4.0, 2.0, 1.0)`` exactly as ``fts5_aux.c`` computes
it: per query word, an IDF of ``log((N - n + 0.5) / (n + 0.5))`` (at least 1e-6), a column-weighted
frequency ``f``, and ``f (k1 + 1) / (f + k1 (1 - b + b D / avgdl))`` with k1 = 1.2, b = 0.75 and
``D`` the row's token count. Query words are tokenized by FTS5 itself (porter over unicode61, in a
one-row scratch table), so a word finds exactly the stems FTS5 would. A query FTS5 would read as a
phrase (a word that is several tokens, such as ``wi_fi``) returns ``None``: the caller asks FTS5.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from kb.storage import FTS_WEIGHTS, KeywordHit

K1 = 1.2
B = 0.75


@dataclass(frozen=True)
class _Postings:
    rows: np.ndarray  # int32 dense row numbers of the rows containing the term
    saturated: np.ndarray  # float64 f (k1 + 1) / (f + k1 (1 - b + b D / avgdl)) for those rows


class KeywordIndex:
    """The chunks' bm25 ranking in memory. Build it with ``KeywordIndex.build(connection)``; thread-safe.

    >>> index = KeywordIndex.build(sqlite3.connect("data/kb.db"))
    >>> index.search(["reset", "my", "password"], limit=50)[0]
    KeywordHit(chunk_id='...', article_slug='reset-your-password', rank=-7.31...)
    """

    def __init__(self, postings: dict[str, _Postings], chunk_ids: list[str], slugs: list[str], total_rows: int,
                 tokenize: sqlite3.Connection) -> None:
        self.postings = postings
        self.chunk_ids = chunk_ids
        self.slugs = slugs
        self.total_rows = total_rows
        self._tokenizer = tokenize
        self._tokenizer_lock = threading.Lock()
        self._tokens = lru_cache(maxsize=65536)(self._tokenize)

    @classmethod
    def build(cls, db: sqlite3.Connection, table: str = "chunks_fts", content: str = "chunks") -> KeywordIndex:
        """Read FTS5's index of ``table`` (whose rows are ``content``'s rowids) into memory."""
        db.execute(f"create virtual table if not exists temp.kb_fts_instances using fts5vocab(main, '{table}', 'instance')")
        try:
            instances = db.execute("select term, doc, col from temp.kb_fts_instances").fetchall()
        finally:
            db.execute("drop table if exists temp.kb_fts_instances")
        total_rows = int(db.execute(f"select count(*) from '{table}_docsize'").fetchone()[0])
        content_rows = db.execute(f"select rowid, id, article_slug from '{content}' order by rowid").fetchall()
        dense = {rowid: i for i, (rowid, _, _) in enumerate(content_rows)}
        chunk_ids = [r[1] for r in content_rows]
        slugs = [r[2] for r in content_rows]

        terms: dict[str, int] = {}
        term_of = np.fromiter((terms.setdefault(t, len(terms)) for t, _, _ in instances), dtype=np.int64,
                              count=len(instances))
        row_of = np.fromiter((dense.get(d, -1) for _, d, _ in instances), dtype=np.int64, count=len(instances))
        weight_of = np.fromiter((FTS_WEIGHTS.get(c, 1.0) for _, _, c in instances), dtype=np.float64,
                                count=len(instances))
        del instances
        n = max(1, len(content_rows))
        lengths = np.bincount(row_of[row_of >= 0], minlength=n).astype(np.float64)  # D: tokens per row
        avgdl = float(len(row_of)) / max(1, total_rows)
        # One (term, row) pair per key; its frequency weighted by column, as bm25() sums aFreq.
        keep = row_of >= 0
        unique, inverse = np.unique(term_of[keep] * n + row_of[keep], return_inverse=True)
        freq = np.bincount(inverse, weights=weight_of[keep], minlength=len(unique))
        pair_terms, pair_rows = unique // n, unique % n
        norm = K1 * (1 - B + B * lengths[pair_rows] / (avgdl or 1.0))
        saturated = freq * (K1 + 1.0) / (freq + norm)
        starts = np.searchsorted(pair_terms, np.arange(len(terms) + 1))
        names = sorted(terms, key=terms.__getitem__)
        postings = {
            name: _Postings(pair_rows[starts[i]:starts[i + 1]].astype(np.int32), saturated[starts[i]:starts[i + 1]])
            for i, name in enumerate(names)
        }
        tokenizer = sqlite3.connect(":memory:", check_same_thread=False)
        tokenizer.execute("create virtual table words using fts5(x, tokenize='porter')")
        tokenizer.execute("create virtual table words_terms using fts5vocab(words, 'row')")
        return cls(postings, chunk_ids, slugs, total_rows, tokenizer)

    def _tokenize(self, word: str) -> tuple[str, ...]:
        with self._tokenizer_lock:
            self._tokenizer.execute("insert into words(rowid, x) values (1, ?)", [word])
            found = tuple(t for (t,) in self._tokenizer.execute("select term from words_terms"))
            self._tokenizer.execute("delete from words")
        return found

    def search(self, words: Sequence[str], limit: int = 50) -> list[KeywordHit] | None:
        """The ``limit`` best rows for ``words`` ORed (each word once, as ``kb.storage.fts_query`` asks), best
        first, with FTS5's rank (minus the bm25 score); ``None`` when FTS5 would read a word as a phrase."""
        scores = np.zeros(len(self.chunk_ids), dtype=np.float64)
        for word in dict.fromkeys(words):
            tokens = self._tokens(word)
            if len(tokens) != 1:
                return None
            found = self.postings.get(tokens[0])
            if found is None:
                continue
            idf = math.log((self.total_rows - len(found.rows) + 0.5) / (len(found.rows) + 0.5))
            scores[found.rows] += (idf if idf > 0 else 1e-6) * found.saturated
        matched = np.flatnonzero(scores)
        if len(matched) > limit:
            matched = matched[np.argpartition(-scores[matched], limit - 1)[:limit]]
        best = matched[np.lexsort((matched, -scores[matched]))]
        return [KeywordHit(self.chunk_ids[i], self.slugs[i], -float(scores[i])) for i in best]
