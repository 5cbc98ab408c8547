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
    from search.embed import SentenceEmbedder

    return SentenceEmbedder(settings.model, settings.embed_batch_size)


def run_index(settings: Settings, embedder=None, quiet: bool = False):  # type: ignore[no-untyped-def]
    """Index the articles with a progress bar; returns the ``IndexReport``."""
    from search.indexer import index_articles

    embedder = embedder or build_embedder(settings)
    with Progress(
        TextColumn("[bold]Embedding"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, disable=quiet, transient=True,
    ) as bar:
        task = bar.add_task("embed", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            return index_articles(
                settings.articles_dir, settings.data_dir, embedder, chunk_max_chars=settings.chunk_max_chars,
                hnsw_threshold=settings.hnsw_threshold, progress=progress, batch_size=settings.embed_batch_size,
            )
        except (FileNotFoundError, RuntimeError) as exc:
            fail(str(exc))


@app.command()
def index(articles: ArticlesOpt = None, data: DataOpt = None) -> None:
    """Parse, embed and index the articles (only what changed is re-embedded)."""
    settings = settings_for(articles, data)
    report = run_index(settings)
    for problem in report.problems:
        err.print(f"[yellow]{problem}[/]", highlight=False)
    console.print(
        f"Indexed [bold]{report.articles}[/] articles ({report.drafts} drafts skipped) into {report.chunks} chunks: "
        f"{report.embedded} embedded, {report.reused} unchanged, {len(report.removed)} removed, "
        f"{len(report.problems)} problems, in {report.seconds:.1f}s",
        highlight=False,
    )


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


if __name__ == "__main__":
    app()
