"""The app factory: ``create_app(settings)`` wires settings, services, routes, errors and static files.

Run it with ``kb serve``, or ``uvicorn --factory web.app:create_app``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import cast

import anyio
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from kb.settings import Settings, load_settings
from search.batcher import BatchingEmbedder
from search.embed import Embedder, SentenceEmbedder
from search.index import MANIFEST
from search.indexer import INDEX_DIR, IndexReport
from search.onnx_embed import ONNX_DIR, OnnxEmbedder, make_embedder
from web.auth import StaffAuth
from web.errors import install_error_handlers
from web.middleware import SiteMiddleware
from web.reload import ArticleWatcher
from web.routes import admin, admin_analytics, admin_gaps, admin_tickets, api, chat, pages, seo, widget
from web.services import Services
from web.templating import STATIC, build_templates

log = logging.getLogger("kb.web")


def _progress_logger() -> Callable[[int, int], None]:
    """Log embedding progress at about every 10% (a first build of a large help center takes a while)."""
    last = [-1]

    def progress(done: int, total: int) -> None:
        step = done * 10 // total if total else 10
        if total and step != last[0]:
            last[0] = step
            log.info("embedding chunks: %d/%d", done, total)

    return progress


def reindex(services: Services, progress: Callable[[int, int], None] | None = None) -> IndexReport:
    """Re-index (only what changed), swap in the new engine, and log what happened and every problem."""
    report = services.reindex(progress=progress)
    for problem in report.problems:
        log.warning("skipped or flagged: %s", problem)
    log.info(
        "%d articles, %d chunks (%d embedded, %d unchanged); %d changed, %d removed; %d problems; %.2fs",
        report.articles, report.chunks, report.embedded, report.reused, len(report.changed), len(report.removed),
        len(report.problems), report.seconds,
    )
    return report


def start_services(settings: Settings, embedder: Embedder) -> Services:
    """Index what changed since the last run (everything, the first time) and load the search engine."""
    services = Services(settings, embedder)
    first = not (settings.data_dir / INDEX_DIR / MANIFEST).exists()
    if first:
        log.info("no search index in %s yet: building one from %s", settings.data_dir, settings.articles_dir)
    reindex(services, progress=_progress_logger() if first else None)
    services.start_chat()
    services.start_gap_clustering()
    return services


def serve_queries_single_threaded(embedder: Embedder) -> None:
    """Run the model on one CPU thread per query from now on (after the startup index is built).

    A query is one short text, so torch's intra-op threads buy little, and when the CPU is busy
    (concurrent requests, other processes) their spin-waiting costs a lot: on the 2-core target
    machine under load, embedding one query took 460 ms p50 with 2 threads and 12 ms with 1.
    ONNX Runtime sessions have their own thread setting (``KB_INFERENCE_THREADS``): torch is then
    not even imported.
    """
    embedder = getattr(embedder, "inner", embedder)  # under the micro-batcher
    if isinstance(embedder, OnnxEmbedder) and not embedder.uses_torch:
        return
    if isinstance(embedder, SentenceEmbedder):
        import torch

        torch.set_num_threads(1)


def serving_embedder(settings: Settings) -> Embedder:
    """The configured model (``KB_INFERENCE``), behind the micro-batcher when ``KB_QUERY_BATCH_SIZE`` > 1.

    Off by default: on the CPUs measured, the batcher's one model thread made every query wait for
    it, and each request running its own forward pass served 0-8 % more chats a second under load
    with ONNX Runtime (and 50 % more with torch). BENCHMARKS.md, issue 7.
    """
    model = make_embedder(
        settings.model, settings.embed_batch_size, inference=settings.inference,
        cache_dir=settings.data_dir / ONNX_DIR, threads=settings.onnx_threads, query_int8=settings.query_int8,
    )
    # SentenceEmbedder's `dims` is a property (it loads the model), which mypy won't match to the protocol.
    if settings.query_batch_size <= 1:
        return cast(Embedder, model)
    return cast(Embedder, BatchingEmbedder(
        cast(Embedder, model), max_batch=settings.query_batch_size, max_wait=settings.query_batch_wait_ms / 1000,
    ))


def create_app(settings: Settings | None = None, embedder: Embedder | None = None) -> FastAPI:
    """Build the help-center app. Nothing heavy happens here: the lifespan indexes and loads."""
    settings = settings or load_settings()
    model = embedder or serving_embedder(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = start_services(settings, model)
        serve_queries_single_threaded(model)
        # Sync routes run in AnyIO's thread pool (40 threads by default). On two cores, 40 requests
        # at once mostly fight over the GIL: 32 concurrent chats got 142/s with p99 1.4 s, and
        # 245/s with p99 0.16 s on 2 threads (scripts/bench_speed_web.py, issue 7).
        threads = settings.request_threads or os.cpu_count() or 1
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        app.state.services = services
        app.state.auth = StaffAuth.from_settings(settings)
        watcher = None
        if settings.watch:
            watcher = ArticleWatcher(settings.articles_dir, lambda: reindex(services)).start()
            app.state.watcher = watcher
        try:
            yield
        finally:
            if watcher:
                watcher.stop()
            services.close()
            if isinstance(model, BatchingEmbedder):
                model.close()

    app = FastAPI(
        title=settings.site_name, summary="Search and read the help center's articles.", lifespan=lifespan,
        docs_url=None, redoc_url=None,
    )
    app.state.settings = settings
    app.state.templates = build_templates(settings)
    _mount_docs(app)  # before /static, which would otherwise swallow /static/swagger
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(SiteMiddleware)
    install_error_handlers(app)
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(seo.router)
    app.include_router(chat.api)
    app.include_router(chat.pages)
    widget.install(app, settings)  # /widget.js, /widget/frame, /api/widget (with its CORS)
    for router in (admin.router, admin_tickets.router, admin_gaps.router, admin_analytics.router):
        app.include_router(router)
    return app


def _mount_docs(app: FastAPI) -> None:
    """Swagger UI from the swagger-ui-bundle package, so /docs needs no CDN either."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title=f"{app.title} API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js", swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )
