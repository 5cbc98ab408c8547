"""Gap clustering benchmark: how pure the gaps are, how many questions they catch, and how long a run takes.

    python scripts/bench_gaps.py                       # our question set + CLINC150/BANKING77 samples
    python scripts/bench_gaps.py --similarity 0.45 --match 0.6

Each question set is recorded as gap signals (one customer each) into an in-memory database and
clustered with the real model, once in one run and once in two runs (half, then the rest) to check
that the second run files its questions under the first run's gaps. Prints Markdown for BENCHMARKS.md.

- purity: share of clustered questions whose gap's majority topic is their own topic;
- caught: share of topic questions that ended up in a gap (one-off noise should not);
- noise in gaps: one-off questions that were put in a gap (should be 0 for our set);
- biggest share: median over topics of the share of a topic's questions in its biggest gap (low means
  a topic is split over many gaps);
- gaps / topics: more gaps than topics means topics were split into sub-topics.

    python scripts/bench_gaps.py --timing              # also time 1,000 and 5,000 signals (slow)
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.gap_cluster import BATCH_SIZE  # noqa: E402
from bot.gaps import MATCH_SIMILARITY, MIN_SIMILARITY, cluster_gaps, record_signal  # noqa: E402
from kb.settings import load_settings  # noqa: E402
from kb.storage import open_db  # noqa: E402
from search.embed import SentenceEmbedder  # noqa: E402

EVAL = ROOT.parent / "shared" / "data" / "eval"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def own_set() -> list[tuple[str, str]]:
    data = json.loads((ROOT / "tests" / "fixtures" / "gap_questions.json").read_text(encoding="utf-8"))
    pairs = [(q, topic) for topic, questions in data["topics"].items() for q in questions]
    return pairs + [(q, f"noise-{i}") for i, q in enumerate(data["noise"])]


def sample(path: Path, intents: int, per: int, seed: int = 1) -> list[tuple[str, str]]:
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    rng = random.Random(seed)
    labels = rng.sample(sorted({r["label"] for r in rows if r["label"] != "oos"}), intents)
    pairs = []
    for label in labels:
        pairs += [(r["text"], label) for r in rng.sample([r for r in rows if r["label"] == label], per)]
    return pairs


def run(pairs: list[tuple[str, str]], embedder: SentenceEmbedder, similarity: float, match: float, linkage: str,
        batches: int, batch_size: int = BATCH_SIZE) -> dict[str, float | int]:
    db = open_db(None)
    order = list(pairs)
    random.Random(7).shuffle(order)
    label_of: dict[int, str] = {}
    seconds = 0.0
    for b in range(batches):
        part = order[b * len(order) // batches : (b + 1) * len(order) // batches]
        when = NOW - timedelta(days=batches - b)
        for i, (text, label) in enumerate(part):
            sid = record_signal(db, source="chat", reason="low_confidence", query=text, session_id=f"{b}-{i}",
                                now=when)
            label_of[sid] = label
        t = time.perf_counter()
        cluster_gaps(db, embedder, now=when, min_similarity=similarity, match_similarity=match, linkage=linkage,
                     batch_size=batch_size)
        seconds += time.perf_counter() - t
    members: dict[int, list[str]] = {}
    for sid, gap_id in db.execute("select id, gap_id from gap_signals where gap_id is not null").fetchall():
        members.setdefault(gap_id, []).append(label_of[sid])
    clustered = sum(len(m) for m in members.values())
    majority = sum(Counter(m).most_common(1)[0][1] for m in members.values())
    topics = {label for _, label in pairs if not label.startswith("noise-")}
    topic_total = sum(1 for _, label in pairs if not label.startswith("noise-"))
    caught = sum(1 for m in members.values() for label in m if not label.startswith("noise-"))
    noise = sum(1 for m in members.values() for label in m if label.startswith("noise-"))
    per_topic = Counter(label for _, label in pairs)
    shares = sorted(max((Counter(m)[t] for m in members.values()), default=0) / per_topic[t] for t in topics)
    return {"questions": len(pairs), "topics": len(topics), "gaps": len(members),
            "purity": majority / clustered if clustered else 0.0, "caught": caught / topic_total,
            "share": shares[len(shares) // 2], "noise": noise, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--similarity", type=float, default=MIN_SIMILARITY, help="min_similarity for clustering")
    parser.add_argument("--linkage", default="complete", help="average, complete or single")
    parser.add_argument("--batch", type=int, default=BATCH_SIZE, help="distinct questions clustered together")
    parser.add_argument("--timing", action="store_true", help="also time 1,000 and 5,000 signals")
    parser.add_argument("--runs", type=int, nargs="+", default=[1, 2], help="runs to split the questions over")
    parser.add_argument("--match", type=float, default=MATCH_SIMILARITY, help="match_similarity to join an existing gap")
    args = parser.parse_args()
    settings = load_settings()
    embedder = SentenceEmbedder(settings.model, settings.embed_batch_size)
    embedder.encode(["warm up"])
    sets = {"ours (Lumio gaps)": own_set()}
    if EVAL.is_dir():
        sets["CLINC150 (20 intents x 8)"] = sample(EVAL / "clinc150-train.csv", 20, 8)
        sets["CLINC150 (20 intents x 30)"] = sample(EVAL / "clinc150-train.csv", 20, 30)
        sets["BANKING77 (15 intents x 8)"] = sample(EVAL / "banking77-train.csv", 15, 8)
    print(f"{args.linkage} linkage, min_similarity {args.similarity}, match_similarity {args.match}, "
          f"batches of {args.batch}\n")
    print("| questions | runs | topics | gaps | purity | caught | biggest share | noise in gaps | time |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, pairs in sets.items():
        for batches in args.runs:
            r = run(pairs, embedder, args.similarity, args.match, args.linkage, batches, args.batch)
            print(f"| {name}: {r['questions']} | {batches} | {r['topics']} | {r['gaps']} | {r['purity']:.0%} "
                  f"| {r['caught']:.0%} | {r['share']:.0%} | {r['noise']} | {r['seconds']:.2f} s |")
    if EVAL.is_dir() and args.timing:
        rows = list(csv.DictReader((EVAL / "banking77-train.csv").open(encoding="utf-8")))
        for n in (1000, 5000):
            db = open_db(None)
            for i, row in enumerate(rows[:n]):
                record_signal(db, source="search", reason="no_result", query=row["text"], now=NOW - timedelta(hours=1))
            t = time.perf_counter()
            report = cluster_gaps(db, embedder, now=NOW, min_similarity=args.similarity,
                                  match_similarity=args.match, linkage=args.linkage, batch_size=args.batch)
            cold = time.perf_counter() - t
            db.execute("update gap_signals set gap_id = null")
            db.execute("delete from gaps")
            t = time.perf_counter()
            cluster_gaps(db, embedder, now=NOW, min_similarity=args.similarity, match_similarity=args.match,
                         linkage=args.linkage, batch_size=args.batch)
            warm = time.perf_counter() - t
            print(f"\n{n} signals ({report.queries} distinct): first run {cold:.1f} s (embeds all), "
                  f"again with cached vectors {warm:.2f} s; {len(report.created)} gaps")


if __name__ == "__main__":
    main()
