"""Answer-quality metrics for ``kb eval run``: pure functions over what the bot did with labelled questions.

A question's ``expected`` is the slug of the article that answers it, or ``None`` when the knowledge
base has no answer (label ``oos``) and the right move is a handoff.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.chat import ChatInputError
from search.searcher import QueryError

if TYPE_CHECKING:
    from bot.build import BuildReport
    from bot.chat import Bot
    from search.searcher import Searcher

ANSWERING = ("answer", "clarify")


@dataclass(frozen=True)
class Outcome:
    """What happened to one labelled question."""

    expected: str | None  # the right article's slug; None for out of scope
    reply_type: str  # "answer" | "clarify" | "handoff" | "smalltalk"
    first: str | None  # slug of the reply's first article
    ranking: tuple[str, ...]  # slugs of the search results, best first (for top-1 and MRR)
    latency_ms: float = 0.0

    @property
    def answered_right(self) -> bool:
        return self.expected is not None and self.reply_type in ANSWERING and self.first == self.expected


def _rate(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def reciprocal_rank(ranking: Sequence[str], expected: str, cutoff: int = 10) -> float:
    """1/rank of ``expected`` in the first ``cutoff`` results, 0 when it is not there."""
    for rank, slug in enumerate(ranking[:cutoff], start=1):
        if slug == expected:
            return 1.0 / rank
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarize(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The ``kb eval run`` report: in-scope retrieval and decisions, out-of-scope handoffs, overall accuracy."""
    inside = [o for o in outcomes if o.expected is not None]
    outside = [o for o in outcomes if o.expected is None]
    handoffs = [o for o in outcomes if o.reply_type == "handoff"]
    answers = [o for o in outcomes if o.reply_type == "answer"]
    right = sum(o.answered_right for o in inside)
    oos_handed_off = sum(o.reply_type == "handoff" for o in outside)
    latencies = [o.latency_ms for o in outcomes]
    return {
        "n": len(outcomes),
        "in_scope": {
            "n": len(inside),
            "top1": _rate(sum(bool(o.ranking) and o.ranking[0] == o.expected for o in inside), len(inside)),
            "mrr10": round(sum(reciprocal_rank(o.ranking, o.expected) for o in inside if o.expected) / len(inside), 4)
            if inside else 0.0,
            "answered_right": _rate(right, len(inside)),
            "answered": _rate(sum(o.reply_type == "answer" for o in inside), len(inside)),
            "clarified": _rate(sum(o.reply_type == "clarify" for o in inside), len(inside)),
            "handed_off": _rate(sum(o.reply_type == "handoff" for o in inside), len(inside)),
            "smalltalk": _rate(sum(o.reply_type == "smalltalk" for o in inside), len(inside)),
        },
        "oos": {
            "n": len(outside),
            "handed_off": _rate(oos_handed_off, len(outside)),
            "answered": _rate(sum(o.reply_type == "answer" for o in outside), len(outside)),
            "clarified": _rate(sum(o.reply_type == "clarify" for o in outside), len(outside)),
            # Of all handoffs, the share that were right to hand off.
            "precision": _rate(oos_handed_off, len(handoffs)),
        },
        # Of all outright answers, the share that point at the right article.
        "answer_precision": _rate(sum(o.answered_right for o in answers), len(answers)),
        "overall_accuracy": _rate(right + oos_handed_off, len(outcomes)),
        "latency_ms": {"p50": round(percentile(latencies, 50), 2), "p99": round(percentile(latencies, 99), 2)},
    }


class EvalError(ValueError):
    """Queries that cannot be scored against these articles; the message says which label and what to do."""


def article_for_label(articles: Sequence[tuple[str, str | None]]) -> dict[str, str]:
    """Label -> slug: a label names its article by front-matter ``id``, else by slug."""
    mapping = {slug: slug for slug, _ in articles}
    mapping.update({external: slug for slug, external in articles if external})
    return mapping


def expected_slugs(labels: Sequence[tuple[str, int]], mapping: dict[str, str], out_of_scope: str) -> list[str | None]:
    """The right article for each (label, line); ``out_of_scope`` gives None. A label with no article is an error."""
    expected: list[str | None] = []
    for label, line in labels:
        if label == out_of_scope:
            expected.append(None)
        elif label in mapping:
            expected.append(mapping[label])
        else:
            raise EvalError(f"{line}: label {label!r} names no article (by front-matter id or slug): "
                            f"add the article or label the question {out_of_scope!r}")
    return expected


def ask_all(
    texts: Sequence[str],
    expected: Sequence[str | None],
    reply: Callable[[str], tuple[str, str | None]],
    rank: Callable[[str], list[str]],
) -> list[Outcome]:
    """Send each question through ``reply`` (-> reply type, first article slug), timed, and rank it with ``rank``."""
    outcomes = []
    for text, slug in zip(texts, expected):
        started = time.perf_counter()
        reply_type, first = reply(text)
        latency = (time.perf_counter() - started) * 1000
        outcomes.append(Outcome(slug, reply_type, first, tuple(rank(text)), round(latency, 3)))
    return outcomes


def run_queries(bot: Bot, searcher: Searcher, texts: Sequence[str], expected: Sequence[str | None]) -> list[Outcome]:
    """Ask every question through ``bot.reply``, each in a new conversation, exactly as ``POST /api/chat`` does."""

    def reply(text: str) -> tuple[str, str | None]:
        try:
            answer = bot.reply(text)
        except ChatInputError:  # too long for the chat: the customer is asked to shorten it, nothing answered
            return "error", None
        return answer.type, answer.articles[0].slug if answer.articles else None

    def rank(text: str) -> list[str]:
        try:
            return [hit.slug for hit in searcher.search(text, k=10)]
        except QueryError:
            return []

    return ask_all(texts, expected, reply, rank)


def report_for(outcomes: Sequence[Outcome], build: BuildReport | None = None) -> dict[str, Any]:
    """``summarize`` plus what the build did (fine-tuning, calibration) and how long it took."""
    report = summarize(outcomes)
    if build is not None:
        calibration = build.calibration.calibration if build.calibration else None
        tuned = build.tuned
        report["build"] = {
            "articles": build.index.articles,
            "chunks": build.index.chunks,
            "seconds": build.seconds,
            "model": build.index.model,
            "tuned": {"questions": tuned.questions, "steps": tuned.steps, "seconds": tuned.seconds} if tuned else None,
            "calibration": {"answer": calibration.answer, "clarify": calibration.clarify, "samples": calibration.samples,
                            "weights": list(calibration.weights), "bias": calibration.bias} if calibration else None,
            "notes": [n for n in (build.tune_note, build.calibration_note) if n],
        }
    return report
