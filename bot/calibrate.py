"""Self-calibrating confidence: learn from a knowledge base's own questions where right and wrong answers score.

Two self-tests, with no labelled data beyond the articles:

- **held-out question** (positives and in-scope errors): ask an article's question with that
  question's own chunk, and the summary chunk that repeats it, left out of the search. The top
  article is right or wrong, as for a customer who phrased it a new way.
- **held-out article** (negatives): ask the same question with its whole article left out. Any
  answer is wrong: this is what a question the help center has no article for looks like.

A logistic model over the search signals (``bot.confidence.signals``) is fitted on both, then the
thresholds are chosen so they mean the same on any knowledge base: the clarify threshold hands off
``handoff_target`` of the held-out-article questions, and the answer threshold keeps answers right
``precision_target`` of the time on an equal mix of both tests.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.confidence import CALIBRATION_VERSION, Calibration, Signals, rest_mean
from search.searcher import Ranked, Searcher

MIN_QUESTIONS = 20  # below this the self-test says too little; the shipped defaults are used


class CalibrationError(ValueError):
    """Too few questions to calibrate on; the message says what to add."""


@dataclass(frozen=True)
class Sample:
    """One self-test question: held out "question" or "article", and whether the top article was right."""

    test: str  # "question" | "article"
    right: bool
    signals: Signals


@dataclass(frozen=True)
class CurvePoint:
    """At one answer threshold: the share of held-out questions answered, and how often those were right."""

    threshold: float
    answer_rate: float  # of held-out-question tests
    precision: float  # right answers / answers, on an equal mix of both tests
    handoff_rate: float  # of held-out-article tests (a right handoff)


@dataclass(frozen=True)
class CalibrationReport:
    calibration: Calibration
    samples: list[Sample]
    curve: list[CurvePoint]
    seconds: float


def question_rows(searcher: Searcher) -> dict[str, list[int]]:
    """Index rows of each article's question chunks."""
    rows: dict[str, list[int]] = {}
    for row, info in enumerate(searcher.chunks):
        if info is not None and info.kind == "question":
            rows.setdefault(info.article_slug, []).append(row)
    return rows


def ranked_signals(ranked: Sequence[Ranked]) -> Signals:
    """``bot.confidence.signals`` of the hits these ranked articles would become (no snippets needed)."""
    if not ranked:
        return Signals(0.0, 0.0, 0.0)
    scores = [round(r.vector_score, 4) for r in ranked]
    second = scores[1] if len(scores) > 1 else 0.0
    return Signals(scores[0], second, round(ranked[0].keyword_score, 4), rest_mean(scores), ranked[0].votes)


def collect_samples(
    searcher: Searcher, max_questions: int = 1000, seed: int = 0, k: int = 5, prefer: frozenset[str] = frozenset()
) -> list[Sample]:
    """Run both self-tests on up to ``max_questions`` questions, spread evenly over the articles.

    ``prefer``: when the model was fine-tuned on the questions, the ones kept out of its training;
    only those are asked (a question the model trained on would look easier than a new one).
    The questions are embedded as queries (one batched pass; the same vectors as the index's unless
    queries have their own model, ``KB_QUERY_INT8``).
    """
    by_article = question_rows(searcher)
    if prefer:
        chosen = {slug: [r for r in rows if searcher.chunks[r].text in prefer]  # type: ignore[union-attr]
                  for slug, rows in by_article.items()}
        by_article = {slug: rows for slug, rows in chosen.items() if rows}
    rng = random.Random(seed)
    per_article = max(1, -(-max_questions // max(1, len(by_article))))
    picked = [(slug, row) for slug in sorted(by_article)
              for row in rng.sample(by_article[slug], min(per_article, len(by_article[slug])))]
    if len(picked) > max_questions:
        picked = rng.sample(picked, max_questions)
    summary_of = {info.article_slug: searcher.index.chunk_ids[row] for row, info in enumerate(searcher.chunks)
                  if info is not None and info.kind == "summary"}
    # Each question asked as a customer's query would be: embedded the way queries are (with
    # KB_QUERY_INT8 that is the int8 model, whose scores sit a little lower than the stored vectors').
    texts = [searcher.chunks[row].text for _, row in picked]  # type: ignore[union-attr]
    vectors = searcher.query_vectors(texts) if texts else np.empty((0, 0), dtype=np.float32)
    samples = []
    for (slug, row), vector in zip(picked, vectors):
        info = searcher.chunks[row]
        assert info is not None
        own = frozenset({searcher.index.chunk_ids[row], summary_of.get(slug, "")})
        ranked = searcher.rank(info.text, vector, k, exclude_chunks=own)
        samples.append(Sample("question", bool(ranked) and ranked[0].slug == slug, ranked_signals(ranked)))
        ranked = searcher.rank(info.text, vector, k, exclude_articles=frozenset({slug}))
        samples.append(Sample("article", False, ranked_signals(ranked)))
    return samples


def fit_logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float = 0.5, steps: int = 50) -> tuple[np.ndarray, float]:
    """Weighted logistic regression by Newton's method; returns (weights, bias)."""
    design = np.hstack([x, np.ones((len(x), 1))])
    theta = np.zeros(design.shape[1])
    penalty = l2 * np.eye(design.shape[1])
    penalty[-1, -1] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ theta, -50, 50)))
        gradient = design.T @ (weight * (p - y)) + penalty @ theta
        hessian = (design * (weight * p * (1 - p))[:, None]).T @ design + penalty
        step = np.linalg.solve(hessian + 1e-9 * np.eye(len(theta)), gradient)
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    return theta[:-1], float(theta[-1])


def _mix_weights(tests: np.ndarray) -> np.ndarray:
    """Weights that give both self-tests the same total: half the questions a KB gets are assumed unanswerable."""
    out = np.ones(len(tests))
    for name in ("question", "article"):
        mask = tests == name
        if mask.any():
            out[mask] = 0.5 * len(tests) / mask.sum()
    return out


def build_curve(p: np.ndarray, right: np.ndarray, tests: np.ndarray, thresholds: Sequence[float]) -> list[CurvePoint]:
    weight = _mix_weights(tests)
    held_q, held_a = tests == "question", tests == "article"
    points = []
    for t in thresholds:
        answered = p >= t
        total = float((weight * answered).sum())
        points.append(CurvePoint(
            threshold=round(float(t), 4),
            answer_rate=round(float(answered[held_q].mean()), 4) if held_q.any() else 0.0,
            precision=round(float((weight * (answered & right)).sum() / total), 4) if total else 1.0,
            handoff_rate=round(float((~answered[held_a]).mean()), 4) if held_a.any() else 1.0,
        ))
    return points


def calibrate(
    searcher: Searcher,
    *,
    precision_target: float = 0.9,
    handoff_target: float = 0.8,
    max_questions: int = 1000,
    min_questions: int = MIN_QUESTIONS,
    seed: int = 0,
    prefer: frozenset[str] = frozenset(),
) -> CalibrationReport:
    """Fit the confidence model and choose thresholds on the knowledge base's own questions.

    Raises ``CalibrationError`` when the articles have fewer than ``min_questions`` questions.
    """
    started = time.perf_counter()
    total = sum(len(rows) for rows in question_rows(searcher).values())
    if total < min_questions:
        raise CalibrationError(
            f"self-calibration needs at least {min_questions} questions in the articles' `questions:` "
            f"(found {total}): the shipped default calibration is used"
        )
    samples = collect_samples(searcher, max_questions=max_questions, seed=seed, prefer=prefer)
    x = np.array([s.signals.vector() for s in samples])
    right = np.array([s.right for s in samples])
    tests = np.array([s.test for s in samples])
    weights, bias = fit_logistic(x, right.astype(float), _mix_weights(tests))
    provisional = Calibration(tuple(float(w) for w in weights), bias)  # type: ignore[arg-type]
    p = np.array([provisional.probability(s.signals) for s in samples])

    held_a = tests == "article"
    # The clarify threshold: hand off ``handoff_target`` of the questions that have no article.
    clarify = float(np.quantile(p[held_a], handoff_target)) if held_a.any() else 0.5
    grid = [float(t) for t in np.unique(np.round(np.concatenate([np.linspace(0, 1, 101), p]), 4))]
    curve = build_curve(p, right, tests, grid)
    # The answer threshold: the lowest at which answers are right ``precision_target`` of the time.
    answer = next((c.threshold for c in curve if c.threshold >= clarify and c.precision >= precision_target), 1.0)
    answer = max(answer, clarify)
    calibration = Calibration(
        weights=tuple(round(float(w), 4) for w in weights),  # type: ignore[arg-type]
        bias=round(bias, 4),
        source=f"self-calibrated on {int((~held_a).sum())} of the knowledge base's own questions",
        answer=round(answer, 4),
        clarify=round(clarify, 4),
        version=CALIBRATION_VERSION,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        samples=len(samples),
    )
    shown = build_curve(p, right, tests, [round(t, 2) for t in np.linspace(0.05, 0.95, 19)])
    return CalibrationReport(calibration, samples, shown, round(time.perf_counter() - started, 2))
