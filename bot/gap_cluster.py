"""Group gap signals into gaps by meaning, keeping gap ids stable from one run to the next."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlite_utils import Database

from bot.gap_store import iso, period_start, to_utc
from bot.gap_title import keywords_by_group, tidy_question, title_from_question, title_quality
from kb.locks import GAPS_LOCK, one_at_a_time
from search.embed import Embedder

NearestFn = Callable[[str], "tuple[str, str, float] | None"]

# Measured with all-MiniLM-L6-v2 by scripts/bench_gaps.py (figures in BENCHMARKS.md). Complete linkage at 0.4
# kept gaps 86-91% pure on our question set and CLINC150 samples and left one-off questions out; average and
# single linkage and HDBSCAN mixed topics or pulled one-off questions in. Clustering everything at once split
# each topic over more and more gaps as questions pile up (40% of an intent in its biggest gap at 30 questions
# per intent); batches of 100 matched against the gaps before them kept 80-83% together at the same purity.
# Half-topic centroids of the same topic scored 0.59-0.84 against each other and mostly under 0.6 against
# other topics, hence the match threshold.
MIN_SIMILARITY = 0.4
BATCH_SIZE = 100
MATCH_SIMILARITY = 0.6


@dataclass(frozen=True)
class ClusterReport:
    """What one ``cluster_gaps`` run did."""

    signals: int  # unassigned signals considered
    queries: int  # distinct normalized questions among them
    embedded: int  # questions embedded now (the rest came from the vector cache)
    clusters: int  # groups of meaning found among the unassigned questions
    attached: int  # signals added to gaps that already existed
    pending: int  # signals left unassigned, waiting for a similar question
    created: tuple[int, ...] = field(default_factory=tuple)  # ids of new gaps
    grew: tuple[int, ...] = field(default_factory=tuple)  # ids of existing gaps that got new signals
    reopened: tuple[int, ...] = field(default_factory=tuple)  # resolved gaps asked about again
    seconds: float = 0.0


def _vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm else vector).astype(np.float32)


def query_vectors(db: Database, embedder: Embedder, norms: Sequence[str]) -> tuple[dict[str, np.ndarray], int]:
    """Vectors for these normalized questions, embedding only the ones not cached; returns (vectors, embedded)."""
    model = embedder.model_name
    found: dict[str, np.ndarray] = {}
    wanted = list(dict.fromkeys(norms))
    for start in range(0, len(wanted), 500):
        batch = wanted[start : start + 500]
        marks = ",".join("?" * len(batch))
        for norm, blob in db.execute(
            f"select query_norm, vector from gap_vectors where model = ? and query_norm in ({marks})", [model, *batch]
        ).fetchall():
            found[norm] = _vector(blob)
    missing = [n for n in wanted if n not in found]
    if missing:
        vectors = embedder.encode(missing)
        rows = [{"model": model, "query_norm": n, "vector": v.astype(np.float32).tobytes()} for n, v in zip(missing, vectors)]
        with db.atomic():
            db.table("gap_vectors").upsert_all(rows, pk=("model", "query_norm"))
        found.update({n: np.asarray(v, dtype=np.float32) for n, v in zip(missing, vectors)})
    return found, len(missing)


def _cluster_labels(vectors: np.ndarray, min_similarity: float, linkage: str) -> np.ndarray:
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=int)
    from sklearn.cluster import AgglomerativeClustering  # heavy import, only when clustering

    # Average linkage: two groups merge while their questions are, on average, at least min_similarity alike.
    model = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage=linkage, distance_threshold=1.0 - min_similarity
    )
    return np.asarray(model.fit_predict(vectors))


def _members(db: Database, gap_id: int) -> dict[str, tuple[int, str]]:
    """Normalized question -> (times asked, newest wording) for one gap."""
    rows = db.execute(
        "select query_norm, count(*), (select s2.query_text from gap_signals s2 where s2.gap_id = s.gap_id and "
        "s2.query_norm = s.query_norm order by s2.ts desc, s2.id desc limit 1) "
        "from gap_signals s where gap_id = ? group by query_norm",
        [gap_id],
    ).fetchall()
    return {r[0]: (int(r[1]), str(r[2])) for r in rows}


def _centroid(
    db: Database, embedder: Embedder, members: dict[str, tuple[int, str]],
    vectors: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """The normalized mean of a gap's question vectors, each weighted by how often it was asked."""
    if vectors is None:
        vectors, _ = query_vectors(db, embedder, list(members))
    weights = np.array([members[n][0] for n in members], dtype=np.float32)
    return _unit((np.stack([vectors[n] for n in members]) * weights[:, None]).sum(axis=0))


def _refresh_gap(
    db: Database, embedder: Embedder, gap: dict[str, Any], now: str, nearest: NearestFn | None
) -> np.ndarray | None:
    """Recompute a gap's centroid (and, while it is open, its title) from all its questions."""
    members = _members(db, gap["id"])
    if not members:
        return None
    vectors, _ = query_vectors(db, embedder, list(members))
    norms = list(members)
    matrix = np.stack([vectors[n] for n in norms])
    centroid = _centroid(db, embedder, members, vectors)
    update: dict[str, Any] = {"centroid": centroid.tobytes(), "centroid_model": embedder.model_name, "updated": now}
    # A resolved or dismissed gap keeps the name the writer acted on.
    if gap["status"] == "open" or not gap["title"]:
        central = matrix @ centroid
        ranked = sorted(range(len(norms)), key=lambda i: (-round(float(central[i]), 4), -members[norms[i]][0]))
        title = tidy_question(members[norms[ranked[0]]][1])
        # The title suggestion comes from the best-phrased of the three most central questions: a short
        # "how do I ..." makes a better title than a long story around the same ask.
        best = max(ranked[:3], key=lambda i: title_quality(members[norms[i]][1]))
        update.update(title=title, representative_query=norms[ranked[0]],
                      suggested_title=title_from_question(members[norms[best]][1]))
        if nearest is not None:
            update.update(_nearest_fields(nearest, title))
    db.table("gaps").update(gap["id"], update)
    return centroid


def _nearest_fields(nearest: NearestFn, question: str) -> dict[str, Any]:
    found = nearest(question)
    if found is None:
        return {"nearest_article_slug": None, "nearest_article_title": None, "nearest_article_score": None}
    slug, title, score = found
    return {"nearest_article_slug": slug, "nearest_article_title": title, "nearest_article_score": round(float(score), 4)}


@one_at_a_time(GAPS_LOCK)
def cluster_gaps(
    db: Database,
    embedder: Embedder,
    *,
    now: datetime | None = None,
    min_similarity: float = MIN_SIMILARITY,
    match_similarity: float = MATCH_SIMILARITY,
    linkage: str = "complete",
    min_count: int = 2,
    since_days: float = 90,
    batch_size: int = BATCH_SIZE,
    nearest: NearestFn | None = None,
) -> ClusterReport:
    """Group the signals not yet in a gap by meaning and file each group under a gap.

    Distinct questions are clustered with agglomerative clustering (``linkage``, cosine): with "complete",
    every two questions of a group are at least ``min_similarity`` alike. A group joins the existing gap
    (any status) whose centroid is at least ``match_similarity`` alike, so ids stay stable across runs and a
    dismissed gap silently absorbs its new questions. Otherwise a group asked at least ``min_count`` times
    becomes a new open gap; smaller groups wait for a similar question. A resolved gap that gets questions
    asked after ``resolved_at`` is reopened with a note saying why.

    Questions are taken oldest first in batches of ``batch_size`` distinct questions, each batch matched
    against the gaps of the batches before it, so a first run over a large backlog files questions the way
    regular small runs would (one big clustering split each topic over many gaps). Only signals from the
    last ``since_days`` are considered. Runs sharing the database file (server workers, ``kb gaps cluster``)
    take turns (``kb.locks``), so no question is filed twice.
    """
    if not 0 < min_similarity < 1 or not 0 < match_similarity <= 1:
        raise ValueError("min_similarity and match_similarity are cosine similarities between 0 and 1")
    if linkage not in ("average", "complete", "single"):
        raise ValueError(f"unknown linkage {linkage!r}: use average, complete or single")
    if batch_size < 2:
        raise ValueError(f"batch_size must be at least 2 (got {batch_size})")
    started = time.perf_counter()
    moment = to_utc(now)
    stamp = iso(moment)

    centroids: dict[int, np.ndarray] = {}
    for gap in db.query("select * from gaps order by id"):
        if gap["centroid"] is not None and gap.get("centroid_model") == embedder.model_name:
            centroids[gap["id"]] = _vector(gap["centroid"])
        else:  # new model (or a gap made elsewhere): rebuild its centroid in this model's space
            rebuilt = _refresh_gap(db, embedder, gap, gap["updated"] or stamp, None)
            if rebuilt is not None:
                centroids[gap["id"]] = rebuilt

    pending: dict[str, list[int]] = {}  # normalized question -> its signal ids, oldest question first
    for signal_id, norm in db.execute(
        "select id, query_norm from gap_signals where gap_id is null and ts > ? and ts <= ? order by ts, id",
        [period_start(moment, since_days), stamp],
    ).fetchall():
        pending.setdefault(norm, []).append(signal_id)
    norms = list(pending)
    vectors, embedded = query_vectors(db, embedder, norms)

    clusters = attached = 0
    created: list[int] = []
    grew: set[int] = set()
    waiting: list[str] = []  # groups too small for a gap, carried into the next batch
    with db.atomic():
        for start in range(0, len(norms), batch_size):
            batch = waiting + norms[start : start + batch_size]
            waiting = []
            labels = _cluster_labels(np.stack([vectors[n] for n in batch]), min_similarity, linkage)
            groups: dict[int, list[str]] = {}
            for norm, label in zip(batch, labels):
                groups.setdefault(int(label), []).append(norm)
            clusters += len(groups)
            gap_ids = list(centroids)
            known = np.stack([centroids[g] for g in gap_ids]) if gap_ids else None
            changed: set[int] = set()
            # Biggest groups first, so the most asked new gaps get the lowest ids.
            for group in sorted(groups.values(), key=lambda g: -sum(len(pending[n]) for n in g)):
                ids = [i for n in group for i in pending[n]]
                target = None
                if known is not None:
                    weights = np.array([len(pending[n]) for n in group], dtype=np.float32)
                    centroid = _unit((np.stack([vectors[n] for n in group]) * weights[:, None]).sum(axis=0))
                    sims = known @ centroid  # inner product is cosine similarity on normalized vectors
                    best = int(np.argmax(sims))
                    if sims[best] >= match_similarity:
                        target = gap_ids[best]
                if target is None and len(ids) < min_count:
                    waiting.extend(group)
                    continue
                if target is None:
                    row_id = db.table("gaps").insert({"status": "open", "created": stamp, "updated": stamp}).last_pk
                    assert row_id is not None  # sqlite always assigns an integer primary key
                    target = int(row_id)
                    created.append(target)
                elif target not in created:
                    attached += len(ids)
                    grew.add(target)
                changed.add(target)
                for chunk in range(0, len(ids), 500):
                    part = ids[chunk : chunk + 500]
                    db.execute(f"update gap_signals set gap_id = ? where id in ({','.join('?' * len(part))})",
                               [target, *part])
            # The next batch is matched against what this one built.
            for gap_id in changed:
                centroids[gap_id] = _centroid(db, embedder, _members(db, gap_id))
        for gap in db.query("select * from gaps order by id"):
            if gap["id"] in grew or gap["id"] in created:
                _refresh_gap(db, embedder, gap, stamp, nearest)
            elif nearest is not None and gap["status"] == "open" and gap["title"]:
                # Articles change between runs, so the nearest one is looked up again for every open gap.
                db.table("gaps").update(gap["id"], _nearest_fields(nearest, gap["title"]))
        _store_keywords(db)
        reopened = _reopen_asked_again(db, stamp)
    return ClusterReport(
        signals=sum(len(v) for v in pending.values()), queries=len(norms), embedded=embedded, clusters=clusters,
        attached=attached, pending=sum(len(pending[n]) for n in waiting), created=tuple(created),
        grew=tuple(sorted(grew)), reopened=reopened, seconds=round(time.perf_counter() - started, 3),
    )


def _store_keywords(db: Database) -> None:
    documents: dict[int, list[str]] = {}
    for gap_id, norm in db.execute("select gap_id, query_norm from gap_signals where gap_id is not null").fetchall():
        documents.setdefault(int(gap_id), []).append(norm)
    for gap_id, words in keywords_by_group(documents).items():
        db.table("gaps").update(gap_id, {"keywords": json.dumps(words)})


def _reopen_asked_again(db: Database, stamp: str) -> tuple[int, ...]:
    rows = db.execute(
        "select g.id, g.resolved_at, g.resolved_article_slug, count(*) from gaps g "
        "join gap_signals s on s.gap_id = g.id "
        "where g.status = 'resolved' and s.ts > g.resolved_at group by g.id order by g.id"
    ).fetchall()
    for gap_id, resolved_at, slug, count in rows:
        note = (f"Reopened automatically on {stamp[:10]}: asked {count} more time{'s' if count != 1 else ''} "
                f"after it was resolved with '{slug}' on {str(resolved_at)[:10]}.")
        db.table("gaps").update(gap_id, {"status": "open", "status_note": note, "updated": stamp})
    return tuple(int(r[0]) for r in rows)
