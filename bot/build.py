"""Build a knowledge base the way a deployment does: fine-tune when worth it, index, self-calibrate.

``kb index``, ``kb tune`` and ``kb eval run`` all go through ``build_knowledge_base``, so what
``kb eval`` measures is what a deployment serves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.calibrate import CalibrationError, CalibrationReport, calibrate
from bot.confidence import CALIBRATION_FILE, Calibration
from kb.catalog import load_catalog
from kb.storage import DB_FILE, open_db
from search.embed import Embedder, SentenceEmbedder
from search.index import update_manifest
from search.indexer import INDEX_DIR, IndexReport, index_articles
from search.searcher import Searcher
from search.tune import TunedModel, TuneError, questions_hash, remove_other_models, trainable, tune_model

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BuildOptions:
    """What a build does besides indexing (the ``KB_AUTO_*``, ``KB_TUNE_*`` and ``KB_TARGET_*`` settings)."""

    chunk_max_chars: int = 1200
    hnsw_threshold: int = 50_000
    batch_size: int = 64
    keyword_weight: float = 0.25
    auto_tune: bool = True
    tune_min_questions: int = 500
    tune_epochs: float = 1.0
    tune_max_seconds: float = 900.0
    tune_min_steps: int = 100  # small knowledge bases get several passes (measured: see BENCHMARKS.md)
    # Share of questions kept out of training so self-calibration sees new phrasings. Off: the shipped
    # targets were measured with calibration on the trained questions (BENCHMARKS.md).
    tune_held_out: float = 0.0
    # The token embeddings stay fixed: the same kb eval figures, faster steps (BENCHMARKS.md, issue 6).
    tune_frozen_layers: int = 1
    auto_calibrate: bool = True
    calibration_min_questions: int = 20
    target_precision: float = 0.9
    target_handoff: float = 0.8


@dataclass
class BuildReport:
    index: IndexReport
    tuned: TunedModel | None = None  # tuned in this build
    tune_note: str = ""
    calibration: CalibrationReport | None = None
    calibration_note: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def article_groups(articles_dir: Path, data_dir: Path | None = None) -> list[list[str]]:
    """Texts that ask for the same article: its title, its questions, and gap questions resolved to it."""
    catalog = load_catalog(articles_dir)
    groups = {a.slug: [a.title, *a.questions] for a in catalog.published}
    db_path = data_dir / DB_FILE if data_dir else None
    if db_path is not None and db_path.exists():
        db = open_db(db_path)
        try:
            for row in db.query(
                "select s.query_text, g.resolved_article_slug as slug from gap_signals s join gaps g on g.id = s.gap_id "
                "where g.status = 'resolved' and g.resolved_article_slug is not null"
            ):
                if row["slug"] in groups:
                    groups[row["slug"]].append(row["query_text"])
        finally:
            db.close()
    return [list(dict.fromkeys(g)) for g in groups.values()]


def run_tune(
    articles_dir: Path, data_dir: Path, embedder: Embedder, options: BuildOptions, progress: Progress | None = None
) -> TunedModel:
    """Fine-tune ``embedder``'s model on the articles' questions and make it the data folder's model."""
    if not isinstance(embedder, SentenceEmbedder):
        raise TuneError(f"model {embedder.model_name!r} cannot be fine-tuned: it is not a sentence-transformers model")
    from search.embed import resolve_model

    tuned = tune_model(
        embedder.source or resolve_model(embedder.model_name), embedder.model_name,
        article_groups(articles_dir, data_dir), data_dir, epochs=options.tune_epochs,
        batch_size=options.batch_size, max_seconds=options.tune_max_seconds, min_steps=options.tune_min_steps,
        held_out=options.tune_held_out, frozen_layers=options.tune_frozen_layers, progress=progress,
    )
    tuned.save(data_dir)
    remove_other_models(data_dir, tuned)
    return tuned


def tune_reason(articles_dir: Path, data_dir: Path, embedder: Embedder, options: BuildOptions) -> str | None:
    """Why this build should fine-tune (a sentence), or None when it should not."""
    if not options.auto_tune or not isinstance(embedder, SentenceEmbedder):
        return None
    groups = trainable(article_groups(articles_dir, data_dir))
    questions = sum(len(g) - 1 for g in groups)  # minus each article's title
    if questions < options.tune_min_questions:
        return None
    current = TunedModel.load(data_dir)
    if current is None or current.base != embedder.model_name:
        return f"{questions} questions and no tuned model yet"
    if current.questions_hash != questions_hash(groups):
        return "the questions changed since the last tuning"
    return None


def run_calibration(data_dir: Path, embedder: Embedder, options: BuildOptions) -> CalibrationReport:
    """Self-calibrate on the indexed questions and save ``calibration.json`` (recorded in the manifest)."""
    searcher = Searcher.load(data_dir, embedder, keyword_weight=options.keyword_weight)
    try:
        tuned = TunedModel.load(data_dir)
        fresh = frozenset(tuned.held_out) if tuned and searcher.embedder.model_name == tuned.name else frozenset()
        report = calibrate(
            searcher, precision_target=options.target_precision, handoff_target=options.target_handoff,
            min_questions=options.calibration_min_questions, prefer=fresh,
        )
    finally:
        searcher.close()
    report.calibration.save(data_dir)
    update_manifest(data_dir / INDEX_DIR, calibration={
        "file": CALIBRATION_FILE, "version": report.calibration.version, "created": report.calibration.created,
        "samples": report.calibration.samples, "answer": report.calibration.answer,
        "clarify": report.calibration.clarify,
    })
    return report


def build_knowledge_base(
    articles_dir: Path,
    data_dir: Path,
    embedder: Embedder,
    options: BuildOptions | None = None,
    *,
    progress: Progress | None = None,
    tune_progress: Progress | None = None,
    force_tune: bool = False,
) -> BuildReport:
    """Tune (when enabled and the questions changed), index, then self-calibrate (when there are enough questions)."""
    options = options or BuildOptions()
    started = time.perf_counter()
    tuned: TunedModel | None = None
    reason = "asked for" if force_tune else tune_reason(articles_dir, data_dir, embedder, options)
    tune_note = ""
    if reason:
        try:
            tuned = run_tune(articles_dir, data_dir, embedder, options, tune_progress)
            tune_note = (f"fine-tuned {tuned.base} on {tuned.questions} questions of {tuned.articles} articles "
                         f"({reason}) in {tuned.seconds:.0f}s")
        except TuneError as exc:
            if force_tune:
                raise
            tune_note = f"not fine-tuned: {exc}"
    index = index_articles(
        articles_dir, data_dir, embedder, chunk_max_chars=options.chunk_max_chars,
        hnsw_threshold=options.hnsw_threshold, progress=progress, batch_size=options.batch_size,
    )
    report = BuildReport(index, tuned, tune_note)
    if options.auto_calibrate:
        try:
            report.calibration = run_calibration(data_dir, embedder, options)
            c = report.calibration.calibration
            report.calibration_note = (
                f"self-calibrated on {c.samples // 2} questions in {report.calibration.seconds:.1f}s: "
                f"answer at {c.answer:.2f}, hand off below {c.clarify:.2f}"
            )
        except CalibrationError as exc:
            # Too few questions: the shipped calibration (fitted on dev data) is the better guess.
            (data_dir / CALIBRATION_FILE).unlink(missing_ok=True)
            report.calibration_note = str(exc)
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def load_calibration(data_dir: Path) -> Calibration:
    """The calibration the bot should use for this data folder."""
    return Calibration.load(data_dir)
