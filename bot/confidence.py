"""Confidence that the top article answers the question: a calibrated probability, not a raw cosine.

Signals of the search results feed a logistic model: the top article's cosine similarity, its margin
over the runner-up, keyword agreement, its spread over the next four, and its votes (the share of the
query's nearest chunks that are the top article's). The weights shipped here were fitted on labelled
dev questions (CLINC150 train -> val, see BENCHMARKS.md); ``kb calibrate`` refits them on a
knowledge base's own questions and saves them beside the index.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from search.searcher import SearchHit

CALIBRATION_FILE = "calibration.json"
CALIBRATION_VERSION = 3  # bump when the signals change: older files are then ignored
SPREAD_HITS = 5  # the spread compares the top article with the next four


@dataclass(frozen=True)
class Signals:
    top: float
    second: float
    keyword: float
    rest: float = 0.0  # mean similarity of the articles ranked 2 to 5 (0 for missing ones)
    # Share of the query's nearest chunks that are the top article's (``search.searcher.VOTE_CHUNKS``).
    # A question with an article finds several of that article's questions; one without finds a mix
    # (0 to +8 points of overall accuracy on CLINC150 and HINT3 dev, never lower: BENCHMARKS.md).
    votes: float = 0.0

    @property
    def margin(self) -> float:
        return self.top - self.second

    @property
    def spread(self) -> float:
        # A question with no article scores many articles alike; one with an article stands out
        # from all the others, not only from the runner-up (measured in BENCHMARKS.md, issue 6).
        return self.top - self.rest

    def vector(self) -> list[float]:
        return [self.top, self.margin, self.keyword, self.spread, self.votes]


def rest_mean(scores: Sequence[float]) -> float:
    """Mean of the 2nd to 5th scores, counting missing ones as 0."""
    return sum(scores[1:SPREAD_HITS]) / (SPREAD_HITS - 1)


def signals(hits: Sequence[SearchHit]) -> Signals:
    """The features of a result list (zeros where there are no results)."""
    if not hits:
        return Signals(0.0, 0.0, 0.0)
    second = hits[1].vector_score if len(hits) > 1 else 0.0
    return Signals(hits[0].vector_score, second, hits[0].keyword_score, rest_mean([h.vector_score for h in hits]),
                   hits[0].votes)


@dataclass(frozen=True)
class Calibration:
    """Logistic weights over (top, margin, keyword[, spread, votes]), where they came from, and the thresholds chosen with them.

    ``answer`` / ``clarify`` are set by self-calibration (``bot.calibrate``); when they are None the
    thresholds from settings apply.
    """

    # scripts/fit_default_calibration.py on CLINC150 train -> val (3,000 in scope + 100 out of scope).
    # Three weights: the spread and the votes are not used by the default (zip stops at the shorter).
    weights: tuple[float, ...] = (5.13, 7.0, 4.2)
    bias: float = -6.47
    source: str = "default: fitted on CLINC150 dev questions"
    answer: float | None = None
    clarify: float | None = None
    version: int = CALIBRATION_VERSION
    created: str = ""
    samples: int = 0

    def probability(self, s: Signals) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, s.vector()))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def save(self, directory: Path) -> Path:
        path = directory / CALIBRATION_FILE
        directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, directory: Path) -> Calibration:
        """The knowledge base's own calibration when one was written (by indexing or ``kb calibrate``), else the default."""
        path = directory / CALIBRATION_FILE
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version", CALIBRATION_VERSION) != CALIBRATION_VERSION:
            return cls()
        return cls(
            tuple(data["weights"]), float(data["bias"]), str(data.get("source", path)),  # type: ignore[arg-type]
            data.get("answer"), data.get("clarify"), CALIBRATION_VERSION, str(data.get("created", "")),
            int(data.get("samples", 0)),
        )
