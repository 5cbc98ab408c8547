"""Locks between the processes that share one data folder: server workers, and ``kb index`` beside a server.

Each worker of ``uvicorn --workers N`` watches the articles and re-indexes on an edit, and each runs
the gap clustering. Without a lock between them, N workers embedded the same new chunks N times at
once, and two clusterings could both read the same unassigned questions and file them twice. A lock
file in the data folder makes them take turns; whoever comes second finds the work done (vectors
cached by content hash, questions already in a gap) and only reloads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from filelock import FileLock
from sqlite_utils import Database

INDEX_LOCK = ".index.lock"  # search.indexer.index_articles
GAPS_LOCK = ".gaps.lock"  # bot.gap_cluster.cluster_gaps
P = ParamSpec("P")
R = TypeVar("R")


def data_lock(data_dir: Path, name: str) -> FileLock:
    """An exclusive lock on ``data_dir/name``, held by one process (and one thread) at a time.

    >>> with data_lock(Path("data"), INDEX_LOCK):
    ...     pass  # index here
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(data_dir / name))


def one_at_a_time(name: str) -> Callable[[Callable[Concatenate[Database, P], R]], Callable[Concatenate[Database, P], R]]:
    """A decorator: calls on one SQLite file (the function's first argument) take turns under
    ``data_lock(its folder, name)``, across processes; an in-memory database needs no lock."""

    def decorate(function: Callable[Concatenate[Database, P], R]) -> Callable[Concatenate[Database, P], R]:
        @functools.wraps(function)
        def locked(db: Database, /, *args: P.args, **kwargs: P.kwargs) -> R:
            database_file = db.execute("pragma database_list").fetchone()[2]
            lock = nullcontext() if database_file in ("", ":memory:") else data_lock(Path(database_file).parent, name)
            with lock:
                return function(db, *args, **kwargs)

        return locked

    return decorate
