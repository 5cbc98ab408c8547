"""The app factory and its lifespan: first build, live-reload logging, `kb serve`, page structure."""

from __future__ import annotations

import logging
import os
import time

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kb.cli import app as cli_app
from tests.conftest import web_settings
from tests.webpage import parse
from web.app import create_app


def test_first_start_builds_the_index_with_progress(articles_dir, data_dir, fake_embedder, caplog):
    (articles_dir / "billing" / "broken.md").write_text("---\ntitle: [oops\n---\n")
    caplog.set_level(logging.INFO, logger="kb.web")
    with TestClient(create_app(web_settings(articles_dir, data_dir), embedder=fake_embedder)):
        pass
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == f"no search index in {data_dir} yet: building one from {articles_dir}"
    assert messages[1].startswith("embedding chunks: 0/")
    assert any(m.startswith("skipped or flagged: ") and "broken.md:2: error: front matter is not valid YAML" in m
               for m in messages)
    assert messages[-1].startswith("5 articles, ")

    caplog.clear()  # a second start embeds nothing
    with TestClient(create_app(web_settings(articles_dir, data_dir), embedder=fake_embedder)):
        pass
    assert not any(r.getMessage().startswith("no search index") for r in caplog.records)
    assert " (0 embedded, " in caplog.records[-1].getMessage()


def test_a_broken_file_saved_while_running_is_reported(articles_dir, data_dir, fake_embedder, caplog):
    caplog.set_level(logging.INFO, logger="kb.web")
    app = create_app(web_settings(articles_dir, data_dir, watch=True), embedder=fake_embedder)
    with TestClient(app) as client:
        assert app.state.watcher.ready.wait(5)
        (articles_dir / "billing" / "payments" / "plans.md").write_text("---\ntitle: Plans\nposition: first\n---\n")
        deadline = time.monotonic() + 6
        while not any("plans.md" in r.getMessage() for r in caplog.records) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(r.levelname == "WARNING" and "'position' must be a whole number" in r.getMessage()
                   for r in caplog.records)
        assert client.get("/articles/plans").status_code == 404  # skipped, not half-published
        assert client.get("/articles/refunds").status_code == 200


def test_kb_serve_runs_uvicorn_on_the_app_factory(articles_dir, data_dir, monkeypatch):
    calls = []
    monkeypatch.setattr("uvicorn.run", lambda target, **options: calls.append((target, options)))
    for name in ("KB_HOST", "KB_PORT", "KB_ARTICLES_DIR", "KB_DATA_DIR"):
        monkeypatch.setenv(name, "")  # so that monkeypatch restores what `kb serve` sets
        monkeypatch.delenv(name)
    result = CliRunner().invoke(cli_app, ["serve", "--port", "8123", "--articles", str(articles_dir),
                                          "--data", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "Serving Lumio Help Center on http://127.0.0.1:8123" in result.output
    [(target, options)] = calls
    assert (target, options["factory"], options["host"], options["port"]) == (
        "web.app:create_app", True, "127.0.0.1", 8123)
    # The factory reads its settings from the environment.
    assert (os.environ["KB_ARTICLES_DIR"], os.environ["KB_DATA_DIR"], os.environ["KB_PORT"]) == (
        str(articles_dir), str(data_dir), "8123")


def test_kb_serve_refuses_a_missing_articles_folder(tmp_path, monkeypatch):
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("must not start"))
    monkeypatch.setenv("KB_ARTICLES_DIR", "")
    result = CliRunner().invoke(cli_app, ["serve", "--articles", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_bad_settings_name_the_variable(monkeypatch):
    from kb.settings import SettingsError

    monkeypatch.setenv("KB_PORT", "eighty")
    with pytest.raises(SettingsError, match="KB_PORT: Input should be a valid integer"):
        create_app()


@pytest.mark.parametrize("url", ["/", "/categories/account", "/categories/account/sign-in",
                                 "/articles/reset-password", "/search?q=refund", "/search?q=zzzqqq", "/nope"])
def test_every_page_has_one_h1_a_skip_link_and_landmarks(site, url):
    doc = parse(site.get(url).text)
    assert len(doc.find_all("h1")) == 1
    skip = doc.find("body").children[0]
    assert (skip.tag, skip.attrs["href"], skip.text) == ("a", "#main", "Skip to content")
    assert doc.find("main").attrs["id"] == "main"
    assert [len(doc.find_all(tag)) for tag in ("header", "main", "footer")][1] == 1
    assert doc.find("header", cls="site-header") and doc.find("footer", cls="site-footer")
    assert doc.find("html").attrs["lang"] == "en"


@pytest.mark.parametrize("setting, expected", [(3, 3), (0, os.cpu_count() or 1)])
def test_requests_run_on_as_many_threads_as_set(articles_dir, data_dir, fake_embedder, setting, expected):
    import anyio

    app = create_app(web_settings(articles_dir, data_dir, request_threads=setting), embedder=fake_embedder)

    @app.get("/test-threads")
    async def threads() -> dict[str, float]:
        return {"tokens": anyio.to_thread.current_default_thread_limiter().total_tokens}

    with TestClient(app) as client:
        assert client.get("/test-threads").json() == {"tokens": expected}


@pytest.mark.parametrize("setting, expected", [(1, 1), (3, 3), (0, os.cpu_count() or 1)])
def test_the_served_model_runs_on_as_many_threads_as_set(articles_dir, data_dir, setting, expected):
    from web.app import serving_embedder

    settings = web_settings(articles_dir, data_dir, inference_threads=setting)
    model = serving_embedder(settings)
    # The ONNX embedder (nothing is loaded until the first query).
    assert model.threads == expected


def test_micro_batching_is_off_unless_a_batch_size_is_set(articles_dir, data_dir):
    from search.batcher import BatchingEmbedder
    from search.onnx_embed import OnnxEmbedder
    from web.app import serving_embedder

    assert isinstance(serving_embedder(web_settings(articles_dir, data_dir)), OnnxEmbedder)
    batched = serving_embedder(web_settings(articles_dir, data_dir, query_batch_size=8, query_batch_wait_ms=2))
    assert isinstance(batched, BatchingEmbedder) and isinstance(batched.inner, OnnxEmbedder)
    assert (batched.max_batch, batched.max_wait) == (8, 0.002)

