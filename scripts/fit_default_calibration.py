"""Fit the default confidence weights shipped in ``bot/confidence.py`` on labelled dev questions.

    python scripts/fit_default_calibration.py [--train clinc150-train.csv] [--val clinc150-val.csv] [--shots N]

Builds a knowledge base from TRAIN (one article per intent), searches every VAL question, and fits a
logistic regression of "the top article is right" (out-of-scope questions are never right) on the
signals ``bot.confidence.signals`` computes. Prints the weights and, for a range of thresholds, the
in-scope answered-right rate and the out-of-scope handoff rate, so the shipped threshold maps to a
measured rate of right answers. Dev data only: never the held-out test sets.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.confidence import signals  # noqa: E402
from kb.evalset import OUT_OF_SCOPE, build_kb, read_questions  # noqa: E402
from kb.settings import load_settings  # noqa: E402
from kb.storage import open_db  # noqa: E402
from search.embed import SentenceEmbedder  # noqa: E402
from search.indexer import index_articles  # noqa: E402
from search.searcher import Searcher, search_many  # noqa: E402

EVAL = ROOT.parent / "shared" / "data" / "eval"


def collect(train: Path, val: Path, shots: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    settings = load_settings()
    embedder = SentenceEmbedder(settings.model, settings.embed_batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        articles, data = Path(tmp) / "articles", Path(tmp) / "data"
        build_kb(train, articles, shots=shots)
        index_articles(articles, data, embedder)
        db = open_db(data / "kb.db")
        label_of = {r["slug"]: r["external_id"] for r in db.query("select slug, external_id from articles")}
        searcher = Searcher.load(data, embedder, keyword_weight=settings.keyword_weight)
        questions = read_questions(val)
        results = search_many(searcher, [q.text for q in questions], k=5)
    x = np.array([signals(hits).vector() for hits in results])
    right = np.array([bool(hits) and label_of[hits[0].slug] == q.label for q, hits in zip(questions, results)])
    oos = np.array([q.label == OUT_OF_SCOPE for q in questions])
    return x, right, oos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, default=EVAL / "clinc150-train.csv")
    parser.add_argument("--val", type=Path, default=EVAL / "clinc150-val.csv")
    parser.add_argument("--shots", type=int, default=None)
    args = parser.parse_args()
    from sklearn.linear_model import LogisticRegression

    x, right, oos = collect(args.train, args.val, args.shots)
    model = LogisticRegression(C=10.0, max_iter=1000).fit(x, right)
    p = model.predict_proba(x)[:, 1]
    print(f"top-1 right (in scope): {right[~oos].mean():.3f} over {(~oos).sum()} questions; {oos.sum()} out of scope")
    print(f"weights (top, margin, keyword) = {tuple(round(float(w), 3) for w in model.coef_[0])}, "
          f"bias = {float(model.intercept_[0]):.3f}")
    print("threshold | in-scope answered right | in-scope handed off | out-of-scope handed off | precision of answers")
    for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        answered = p >= t
        print(f"{t:9.2f} | {np.mean(answered[~oos] & right[~oos]):.3f} | {np.mean(~answered[~oos]):.3f} | "
              f"{np.mean(~answered[oos]):.3f} | {np.mean(right[answered]) if answered.any() else float('nan'):.3f}")


if __name__ == "__main__":
    main()
