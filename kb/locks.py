"""Locks between the processes that share one data folder: server workers, and ``kb index`` beside a server.

Each worker of ``uvicorn --workers N`` watches the articles and re-indexes on an edit, and each runs
the gap clustering. Without a lock between them, N workers embedded the same new chunks N times at
once, and two clusterings could both read the same unassigned questions and file them twice. A lock
file in the data folder makes them take turns; whoever comes second finds the work done (vectors
cached by content hash, questions already in a gap) and only reloads.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from filelock import FileLock

INDEX_LOCK = ".index.lock"  # search.indexer.index_articles
GAPS_LOCK = ".gaps.lock"  # bot.gap_cluster.cluster_gaps


def data_lock(data_dir: Path, name: str) -> FileLock:
    """An exclusive lock on ``data_dir/name``, held by one process (and one thread) at a time.

    >>> with data_lock(Path("data"), INDEX_LOCK):
    ...     pass  # index here
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(data_dir / name))


def database_lock(database_file: str, name: str) -> AbstractContextManager[object]:
    """``data_lock`` beside a SQLite file; no lock for an in-memory database (``""`` or ``":memory:"``)."""
    if database_file in ("", ":memory:"):
        return nullcontext()
    return data_lock(Path(database_file).parent, name)
