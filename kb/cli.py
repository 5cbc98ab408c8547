"""The ``kb`` command: the composition root that wires settings to the library and turns errors into messages."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kb.catalog import load_catalog
from kb.settings import Settings, SettingsError, load_settings

app = typer.Typer(help="A self-hosted help center with semantic search.", no_args_is_help=True, add_completion=False)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

ArticlesOpt = Annotated[Optional[Path], typer.Option("--articles", help="Articles folder (default: KB_ARTICLES_DIR).")]
DataOpt = Annotated[Optional[Path], typer.Option("--data", help="Data folder (default: KB_DATA_DIR).")]


def fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)


def settings_for(articles: Path | None = None, data: Path | None = None) -> Settings:
    overrides: dict[str, object] = {}
    if articles is not None:
        overrides["articles_dir"] = articles
    if data is not None:
        overrides["data_dir"] = data
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        fail(str(exc))
        raise  # unreachable: fail() exits


def build_embedder(settings: Settings):  # type: ignore[no-untyped-def]
    from search.onnx_embed import ONNX_DIR, make_embedder

    return make_embedder(
        settings.model, settings.embed_batch_size, inference=settings.inference,
        cache_dir=settings.data_dir / ONNX_DIR, threads=settings.onnx_threads, query_int8=settings.query_int8,
    )


def build_options(settings: Settings):  # type: ignore[no-untyped-def]
    from bot.build import BuildOptions

    return BuildOptions(
        chunk_max_chars=settings.chunk_max_chars, hnsw_threshold=settings.hnsw_threshold,
        batch_size=settings.embed_batch_size, keyword_weight=settings.keyword_weight, auto_tune=settings.auto_tune,
        tune_min_questions=settings.tune_min_questions, tune_epochs=settings.tune_epochs,
        tune_max_seconds=settings.tune_max_seconds, tune_held_out=settings.tune_held_out,
        tune_frozen_layers=settings.tune_frozen_layers, auto_calibrate=settings.auto_calibrate,
        calibration_min_questions=settings.calibration_min_questions, target_precision=settings.target_precision,
        target_handoff=settings.target_handoff,
    )


def run_index(settings: Settings, embedder=None, quiet: bool = False, force_tune: bool = False):  # type: ignore[no-untyped-def]
    """Build the knowledge base (tune when due, index, self-calibrate) with progress bars; returns the ``BuildReport``."""
    from bot.build import build_knowledge_base
    from search.tune import TuneError

    embedder = embedder or build_embedder(settings)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, disable=quiet, transient=True,
    ) as bar:
        tasks: dict[str, object] = {}

        def tracker(name: str):  # type: ignore[no-untyped-def]
            def progress(done: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = bar.add_task(name, total=None)
                bar.update(tasks[name], completed=done, total=total)  # type: ignore[arg-type]
            return progress

        try:
            return build_knowledge_base(
                settings.articles_dir, settings.data_dir, embedder, build_options(settings),
                progress=tracker("Embedding"), tune_progress=tracker("Fine-tuning"), force_tune=force_tune,
            )
        except (FileNotFoundError, RuntimeError, TuneError) as exc:
            fail(str(exc))


def print_build(build) -> None:  # type: ignore[no-untyped-def]
    report = build.index
    for problem in report.problems:
        err.print(f"[yellow]{problem}[/]", highlight=False)
    if build.tune_note:
        console.print(build.tune_note[:1].upper() + build.tune_note[1:], highlight=False)
    console.print(
        f"Indexed [bold]{report.articles}[/] articles ({report.drafts} drafts skipped) into {report.chunks} chunks: "
        f"{report.embedded} embedded, {report.reused} unchanged, {len(report.removed)} removed, "
        f"{len(report.problems)} problems, in {report.seconds:.1f}s",
        highlight=False,
    )
    if build.calibration_note:
        console.print(build.calibration_note[:1].upper() + build.calibration_note[1:], highlight=False)


@app.command()
def index(articles: ArticlesOpt = None, data: DataOpt = None) -> None:
    """Parse, embed and index the articles (only what changed is re-embedded); fine-tune and self-calibrate when due."""
    settings = settings_for(articles, data)
    print_build(run_index(settings))


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in your own words.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100)] = 5,
    category: Annotated[Optional[str], typer.Option(help="Only this category (slug).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data: DataOpt = None,
) -> None:
    """Search the indexed articles."""
    from search.index import IndexMismatchError, IndexNotFoundError
    from search.searcher import QueryError, Searcher

    settings = settings_for(data=data)
    try:
        searcher = Searcher.load(
            settings.data_dir, build_embedder(settings), keyword_weight=settings.keyword_weight,
            max_query_chars=settings.max_query_chars,
        )
        hits = searcher.search(query, k=limit, category=category)
    except (IndexNotFoundError, IndexMismatchError, QueryError, RuntimeError) as exc:
        fail(str(exc))
    if as_json:
        json.dump([hit.__dict__ for hit in hits], sys.stdout, indent=2)
        print()
        return
    if not hits:
        console.print("No articles match. Try other words.")
        return
    table = Table(show_lines=False)
    for col in ("#", "score", "article", "section", "category"):
        table.add_column(col)
    for rank, hit in enumerate(hits, start=1):
        table.add_row(str(rank), f"{hit.score:.3f}", f"{hit.title}\n[dim]{hit.section_url}[/]", hit.section,
                      hit.category_title)
    console.print(table)


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Address to listen on (default: KB_HOST).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port to listen on (default: KB_PORT).", min=1, max=65535)] = None,
    articles: ArticlesOpt = None,
    data: DataOpt = None,
) -> None:
    """Run the help-center website; builds the search index first when there is none."""
    import os

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    settings = settings_for(articles, data)
    host, port = host or settings.host, port or settings.port
    if not settings.articles_dir.is_dir():
        fail(f"articles folder {settings.articles_dir} does not exist: pass --articles DIR or set KB_ARTICLES_DIR")
    # The app factory (web.app.create_app) reads its settings from the environment: pass the options that way.
    for name, value in {"KB_ARTICLES_DIR": articles, "KB_DATA_DIR": data, "KB_HOST": host, "KB_PORT": port}.items():
        if value is not None:
            os.environ[name] = str(value)
    # Our "kb" loggers (index progress, re-index reports) print like uvicorn's own.
    log_config = {**LOGGING_CONFIG, "loggers": {
        **LOGGING_CONFIG["loggers"], "kb": {"handlers": ["default"], "level": "INFO", "propagate": False},
    }}
    console.print(f"Serving {settings.site_name} on [bold]http://{host}:{port}[/] (Ctrl+C stops)", highlight=False)
    uvicorn.run("web.app:create_app", factory=True, host=host, port=port, log_config=log_config)


@app.command()
def check(articles: ArticlesOpt = None) -> None:
    """Validate the articles: front matter, titles, duplicate slugs, broken links, unreadable files."""
    settings = settings_for(articles)
    try:
        catalog = load_catalog(settings.articles_dir)
    except FileNotFoundError as exc:
        fail(str(exc))
    for problem in catalog.problems:
        colour = "red" if problem.severity == "error" else "yellow"
        console.print(f"[{colour}]{problem}[/]", highlight=False)
    errors = len(catalog.errors)
    warnings = len(catalog.problems) - errors
    console.print(
        f"{len(catalog.articles)} articles, {len(catalog.categories)} categories and sections: "
        f"{errors} errors, {warnings} warnings",
        highlight=False,
    )
    if errors:
        raise typer.Exit(1)


staff_app = typer.Typer(help="Staff accounts for the admin pages (writers: gaps and analytics; agents: tickets).",
                        no_args_is_help=True)
app.add_typer(staff_app, name="staff")


def _staff_db(data: Path | None):  # type: ignore[no-untyped-def]
    from kb.storage import DB_FILE, open_db

    return open_db(settings_for(data=data).data_dir / DB_FILE)


@staff_app.command("add")
def staff_add(
    username: str,
    role: Annotated[str, typer.Option(help="writer, agent or admin.")] = "agent",
    password: Annotated[Optional[str], typer.Option(help="Default: asked for, hidden.")] = None,
    data: DataOpt = None,
) -> None:
    """Create a staff account."""
    from kb.accounts import AccountError, create_staff

    secret = password or typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        staff = create_staff(_staff_db(data), username, secret, role)
    except AccountError as exc:
        fail(str(exc))
    console.print(f"Created {staff.role} account [bold]{staff.username}[/]; sign in at /admin/login")


@staff_app.command("list")
def staff_list(data: DataOpt = None) -> None:
    """List staff accounts."""
    from kb.accounts import list_staff

    for staff in list_staff(_staff_db(data)):
        print(f"{staff.username}\t{staff.role}")


@staff_app.command("password")
def staff_password(
    username: str,
    password: Annotated[Optional[str], typer.Option(help="Default: asked for, hidden.")] = None,
    data: DataOpt = None,
) -> None:
    """Set a staff account's password."""
    from kb.accounts import AccountError, set_password

    secret = password or typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        set_password(_staff_db(data), username, secret)
    except AccountError as exc:
        fail(str(exc))
    console.print(f"Password changed for {username}")


@staff_app.command("remove")
def staff_remove(username: str, data: DataOpt = None) -> None:
    """Delete a staff account."""
    from kb.accounts import AccountError, delete_staff

    try:
        delete_staff(_staff_db(data), username)
    except AccountError as exc:
        fail(str(exc))
    console.print(f"Removed {username}")


gaps_app = typer.Typer(help="Gap reports for writers: questions the help center could not answer, grouped by meaning.",
                       no_args_is_help=True)
app.add_typer(gaps_app, name="gaps")
StatusOpt = Annotated[str, typer.Option("--status", help="open, resolved, dismissed or all.")]
PeriodOpt = Annotated[int, typer.Option("--period", min=1, help="Days counted; the trend compares with the days before.")]
SortOpt = Annotated[str, typer.Option("--sort", help="impact, count, last_seen or trend.")]


def _gaps_db(settings: Settings):  # type: ignore[no-untyped-def]
    from kb.storage import DB_FILE, open_db

    return open_db(settings.data_dir / DB_FILE)


def _searcher_or_none(settings: Settings, embedder):  # type: ignore[no-untyped-def]
    """The search index when there is one; gap commands still work without it, minus the nearest articles."""
    from search.index import IndexMismatchError, IndexNotFoundError
    from search.searcher import Searcher

    try:
        return Searcher.load(settings.data_dir, embedder, keyword_weight=settings.keyword_weight,
                             max_query_chars=settings.max_query_chars)
    except (IndexNotFoundError, IndexMismatchError) as exc:
        err.print(f"[yellow]{exc}: nearest articles are not looked up[/]", highlight=False)
        return None


def _trend(view) -> str:  # type: ignore[no-untyped-def]
    arrows = {"up": "↑", "down": "↓", "flat": "=", "new": "new"}
    return f"{arrows[view.trend]} from {view.previous_count}" if view.trend != "new" else "new"


@gaps_app.command("list")
def gaps_list(status: StatusOpt = "open", period: PeriodOpt = 30, sort: SortOpt = "impact",
              data: DataOpt = None) -> None:
    """List gaps with their counts for the period, trend, nearest article and the suggested next step."""
    from rich.markup import escape

    from bot.gaps import list_gaps

    settings = settings_for(data=data)
    try:
        views = list_gaps(_gaps_db(settings), status=status, period_days=period, sort=sort,
                          edit_score=settings.gap_edit_score)
    except ValueError as exc:
        fail(str(exc))
    if not views:
        console.print(f"No {'' if status == 'all' else status + ' '}gaps asked about in the last {period} days. "
                      "Run `kb gaps cluster` to group new questions.")
        return
    table = Table(show_lines=True, expand=True)
    table.add_column("id", justify="right")
    table.add_column("gap → next step", ratio=3)
    for col in ("asked", "people", "trend", "last seen"):
        table.add_column(col, no_wrap=True)
    table.add_column("nearest article", ratio=2)
    for v in views:
        # Customers wrote these questions: escape them so "[...]" is shown, not read as markup.
        step = "edit the nearest article" if v.recommendation == "edit" else f"write \"{escape(v.suggested_title)}\""
        if v.status == "resolved":
            step = f"resolved with {v.resolved_article_slug}" + (
                f", now answered {v.replay_answered} of {v.replay_total}" if v.replay_total is not None else "")
        elif v.status == "dismissed":
            step = f"dismissed: {escape(v.dismissed_reason or '')}"
        gap = f"{escape(v.title)}\n[dim]→ {step}[/]"
        near = f"{v.nearest_article_slug} [dim]{v.nearest_article_score:.2f}[/]" if v.nearest_article_slug else "—"
        table.add_row(str(v.id), gap, str(v.count), str(v.distinct_customers), _trend(v), (v.last_seen or "")[:10],
                      near)
    console.print(table)


@gaps_app.command("show")
def gaps_show(gap_id: int, period: PeriodOpt = 30, data: DataOpt = None) -> None:
    """One gap with its newest questions, when and where they were asked."""
    from rich.markup import escape

    from bot.gaps import GapNotFoundError, gap_detail

    settings = settings_for(data=data)
    try:
        detail = gap_detail(_gaps_db(settings), gap_id, period_days=period, edit_score=settings.gap_edit_score)
    except (GapNotFoundError, ValueError) as exc:
        fail(str(exc))
    v = detail.gap
    console.print(f"[bold]#{v.id} {escape(v.title)}[/] ({v.status}) — asked {v.count} times by "
                  f"{v.distinct_customers} customers in {period} days, trend {_trend(v)}", highlight=False)
    console.print(f"Keywords: {escape(', '.join(v.keywords))}", highlight=False)
    for note in (v.recommendation_text, v.status_note, v.dismissed_reason and f"Dismissed: {v.dismissed_reason}",
                 v.replay_total is not None and f"Now answered {v.replay_answered} of {v.replay_total}"):
        if note:
            console.print(escape(str(note)), highlight=False)
    table = Table()
    for col in ("asked", "question", "reason", "page"):
        table.add_column(col)
    for q in detail.questions:
        table.add_row(q.ts[:16].replace("T", " "), escape(q.text), q.reason, escape(q.page_url or ""))
    console.print(table)


@gaps_app.command("cluster")
def gaps_cluster(
    since: Annotated[int, typer.Option("--since", min=1, help="Only questions from the last N days.")] = 90,
    data: DataOpt = None,
) -> None:
    """Group new unanswered questions into gaps (ids stay stable) and look up each gap's nearest article."""
    from bot.gaps import cluster_gaps, nearest_article

    settings = settings_for(data=data)
    embedder = build_embedder(settings)
    searcher = _searcher_or_none(settings, embedder)
    try:
        report = cluster_gaps(
            _gaps_db(settings), embedder, min_similarity=settings.gap_similarity,
            match_similarity=settings.gap_match_similarity, since_days=since,
            nearest=nearest_article(searcher) if searcher else None,
        )
    except (RuntimeError, ValueError) as exc:
        fail(str(exc))
    console.print(
        f"Grouped {report.signals} new questions ({report.queries} distinct, {report.embedded} embedded) in "
        f"{report.seconds:.1f}s: {len(report.created)} new gaps, {report.attached} joined {len(report.grew)} "
        f"existing gaps, {len(report.reopened)} reopened; {report.pending} wait for a similar question.",
        highlight=False,
    )


@gaps_app.command("export")
def gaps_export(
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
    status: StatusOpt = "open", period: PeriodOpt = 30, sort: SortOpt = "impact", data: DataOpt = None,
) -> None:
    """Export the gap report as CSV or JSON."""
    from bot.gaps import export_gaps

    settings = settings_for(data=data)
    try:
        text = export_gaps(_gaps_db(settings), fmt, status=status, period_days=period, sort=sort,
                           edit_score=settings.gap_edit_score)
    except ValueError as exc:
        fail(str(exc))
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    err.print(f"Wrote {output}", highlight=False)


@gaps_app.command("resolve")
def gaps_resolve(
    gap_id: int,
    article: Annotated[str, typer.Option("--article", help="Slug of the article that answers the gap.")],
    note: Annotated[str, typer.Option("--note", help="What was written or changed.")] = "",
    replay: Annotated[bool, typer.Option(help="Ask the gap's questions again against the current index.")] = True,
    data: DataOpt = None,
) -> None:
    """Mark a gap resolved by an article; by default replays its questions through the chatbot's decision."""
    from bot.gap_review import article_replay
    from bot.gaps import GapNotFoundError, resolve_gap

    settings = settings_for(data=data)
    replay_fn = None
    if replay:
        from bot.chat import Thresholds
        from bot.confidence import Calibration

        searcher = _searcher_or_none(settings, build_embedder(settings))
        if searcher is not None:
            thresholds = Thresholds(answer=settings.answer_threshold, clarify=settings.clarify_threshold,
                                    ambiguity_margin=settings.ambiguity_margin)
            replay_fn = article_replay(searcher, Calibration.load(settings.data_dir), thresholds, article)
    try:
        view = resolve_gap(_gaps_db(settings), gap_id, article, note, replay=replay_fn)
    except (GapNotFoundError, ValueError, RuntimeError) as exc:
        fail(str(exc))
    answered = (f": now answered {view.replay_answered} of {view.replay_total} questions"
                if view.replay_total is not None else "")
    console.print(f"Resolved gap {gap_id} with {article}{answered}", highlight=False)


@gaps_app.command("dismiss")
def gaps_dismiss(
    gap_id: int,
    reason: Annotated[str, typer.Option("--reason", help="Why (it stays dismissed; new questions join it quietly).")],
    data: DataOpt = None,
) -> None:
    """Dismiss a gap for good, with a reason."""
    from bot.gaps import GapNotFoundError, dismiss_gap

    try:
        dismiss_gap(_gaps_db(settings_for(data=data)), gap_id, reason)
    except (GapNotFoundError, ValueError) as exc:
        fail(str(exc))
    console.print(f"Dismissed gap {gap_id}")


@gaps_app.command("reopen")
def gaps_reopen(gap_id: int, data: DataOpt = None) -> None:
    """Put a resolved or dismissed gap back on the open list."""
    from bot.gaps import GapNotFoundError, reopen_gap

    try:
        reopen_gap(_gaps_db(settings_for(data=data)), gap_id)
    except (GapNotFoundError, ValueError) as exc:
        fail(str(exc))
    console.print(f"Reopened gap {gap_id}")



@app.command()
def tune(articles: ArticlesOpt = None, data: DataOpt = None) -> None:
    """Fine-tune the embedding model on the articles' questions, then re-index and self-calibrate with it."""
    settings = settings_for(articles, data)
    print_build(run_index(settings, force_tune=True))


@app.command()
def calibrate(
    data: DataOpt = None,
    precision: Annotated[Optional[float], typer.Option(min=0.01, max=0.99, help="Answer precision to aim for (default: KB_TARGET_PRECISION).")] = None,
    handoff: Annotated[Optional[float], typer.Option(min=0.01, max=0.99, help="Share of questions with no article to hand off (default: KB_TARGET_HANDOFF).")] = None,
) -> None:
    """Fit confidence on the articles' own questions; print the curve (answer rate vs precision) and save the thresholds."""
    from bot.build import run_calibration
    from bot.calibrate import CalibrationError
    from search.index import IndexMismatchError, IndexNotFoundError

    settings = settings_for(data=data)
    options = build_options(settings)
    overrides = {"target_precision": precision, "target_handoff": handoff}
    options = type(options)(**{**options.__dict__, **{k: v for k, v in overrides.items() if v is not None}})
    try:
        report = run_calibration(settings.data_dir, build_embedder(settings), options)
    except (IndexNotFoundError, IndexMismatchError, CalibrationError, RuntimeError) as exc:
        fail(str(exc))
    c = report.calibration
    table = Table(title="Self-test: held-out questions (answer rate) and held-out articles (handoff rate)")
    for col in ("threshold", "answer rate", "precision", "no-article handoff rate"):
        table.add_column(col, justify="right")
    for point in report.curve:
        table.add_row(f"{point.threshold:.2f}", f"{point.answer_rate:.3f}", f"{point.precision:.3f}",
                      f"{point.handoff_rate:.3f}")
    console.print(table)
    console.print(
        f"Weights (top, margin, keyword, spread, votes) = {c.weights}, bias = {c.bias}; {c.samples // 2} questions, "
        f"{report.seconds:.1f}s.\nAnswer at confidence >= {c.answer:.3f} (precision {options.target_precision:.2f}), "
        f"hand off below {c.clarify:.3f} ({options.target_handoff:.0%} of questions with no article); "
        f"written to {settings.data_dir / 'calibration.json'}",
        highlight=False,
    )


eval_app = typer.Typer(help="Measure answer quality on labelled questions (CSV text,label).", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


@eval_app.command("build-kb")
def eval_build_kb(
    train: Annotated[Path, typer.Argument(help="CSV with text,label: one article per label.")],
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the articles into.")],
    shots: Annotated[Optional[int], typer.Option(min=1, help="Questions per article, picked with --seed (default: all).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for picking --shots questions.")] = 0,
) -> None:
    """Write one Markdown article per label of TRAIN (label `oos` skipped) into OUT_DIR."""
    from kb.evalset import EvalSetError, build_kb

    try:
        written = build_kb(train, out_dir, shots=shots, seed=seed)
    except (EvalSetError, OSError) as exc:
        fail(str(exc))
    console.print(f"Wrote {written} articles to {out_dir}", highlight=False)


@eval_app.command("run")
def eval_run(
    articles: Annotated[Path, typer.Option("--articles", help="Articles folder to index (into a temporary data folder).")],
    queries: Annotated[Path, typer.Option("--queries", help="CSV text,label; label `oos` means the bot should hand off.")],
    json_file: Annotated[Optional[Path], typer.Option("--json", help="Also write the report as JSON to FILE.")] = None,
) -> None:
    """Index ARTICLES as a deployment would, ask every query through the chatbot, and report answer quality."""
    import tempfile

    from bot.chat import Bot, Thresholds
    from bot.confidence import Calibration
    from bot.evaluate import EvalError, article_for_label, expected_slugs, report_for, run_queries
    from kb.evalset import OUT_OF_SCOPE, EvalSetError, read_questions
    from search.searcher import Searcher

    settings = settings_for()
    try:
        questions = read_questions(queries)
        catalog = load_catalog(articles)
    except (EvalSetError, FileNotFoundError) as exc:
        fail(str(exc))
    if not catalog.published:
        fail(f"{articles}: no published articles to answer from")
    if json_file is not None and not json_file.parent.is_dir():
        fail(f"{json_file}: its folder does not exist; create it or pass another --json path")
    mapping = article_for_label([(a.slug, a.external_id) for a in catalog.published])
    try:
        expected = expected_slugs([(q.label, q.line) for q in questions], mapping, OUT_OF_SCOPE)
    except EvalError as exc:
        fail(f"{queries}:{exc}")
    with tempfile.TemporaryDirectory(prefix="kb-eval-") as tmp:
        run = settings.model_copy(update={"articles_dir": articles, "data_dir": Path(tmp) / "data"})
        embedder = build_embedder(run)
        build = run_index(run, embedder)
        print_build(build)
        searcher = Searcher.load(run.data_dir, embedder, keyword_weight=run.keyword_weight,
                                 max_query_chars=run.max_query_chars)
        bot = Bot(lambda: searcher, run.data_dir / "kb.db", calibration=Calibration.load(run.data_dir),
                  thresholds=Thresholds(run.answer_threshold, run.clarify_threshold, run.ambiguity_margin,
                                        run.max_message_chars))
        outcomes = run_queries(bot, searcher, [q.text for q in questions], expected)
        searcher.close()
    report = report_for(outcomes, build)
    print_eval(report)
    if json_file is not None:
        try:
            json_file.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            fail(f"{json_file}: cannot write the report: {exc.strerror}")
        console.print(f"Wrote {json_file}", highlight=False)


def print_eval(report: dict) -> None:  # type: ignore[type-arg]
    inside, outside = report["in_scope"], report["oos"]
    table = Table(title=f"kb eval: {report['n']} questions")
    table.add_column("", no_wrap=True, min_width=12)
    for col in ("n", "top-1", "MRR@10", "answered right", "answered", "clarified", "handed off"):
        table.add_column(col, justify="right")
    table.add_row("in-scope", str(inside["n"]), f"{inside['top1']:.3f}", f"{inside['mrr10']:.3f}",
                  f"{inside['answered_right']:.3f}", f"{inside['answered']:.3f}", f"{inside['clarified']:.3f}",
                  f"{inside['handed_off']:.3f}")
    if outside["n"]:
        table.add_row("out-of-scope", str(outside["n"]), "", "", "", f"{outside['answered']:.3f}",
                      f"{outside['clarified']:.3f}", f"{outside['handed_off']:.3f}")
    console.print(table)
    console.print(
        f"overall accuracy {report['overall_accuracy']:.3f}; answer precision {report['answer_precision']:.3f}; "
        f"handoff precision {outside['precision']:.3f}; latency p50 {report['latency_ms']['p50']:.1f} ms, "
        f"p99 {report['latency_ms']['p99']:.1f} ms",
        highlight=False,
    )


if __name__ == "__main__":
    app()
