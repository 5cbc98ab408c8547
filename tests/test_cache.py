"""The article cache: unchanged files are not parsed or rendered again; any change is."""

from __future__ import annotations

import os
from pathlib import Path

from kb.cache import ArticleCache, resolver_key
from kb.catalog import load_catalog
from kb.parse import parse_article
from kb.render import render_body


def counting(calls: list[str]):  # type: ignore[no-untyped-def]
    def parse(path: Path, root: Path):  # type: ignore[no-untyped-def]
        calls.append(path.name)
        return parse_article(path, root)

    return parse


def test_unchanged_files_are_parsed_once(articles_dir: Path):
    cache, calls = ArticleCache(), []
    path = next(p for p in sorted(articles_dir.rglob("*.md")) if p.name != "_index.md")
    first = cache.parse(path, articles_dir, counting(calls))
    assert cache.parse(path, articles_dir, counting(calls)) is first
    assert calls == [path.name]


def test_a_changed_file_or_time_is_parsed_again(articles_dir: Path):
    cache, calls = ArticleCache(), []
    path = next(p for p in sorted(articles_dir.rglob("*.md")) if p.name != "_index.md")
    cache.parse(path, articles_dir, counting(calls))
    path.write_text(path.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    changed = cache.parse(path, articles_dir, counting(calls))
    assert changed.sections[-1].text.endswith("One more line.")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # same text, new date: `updated` may change
    cache.parse(path, articles_dir, counting(calls))
    assert calls == [path.name] * 3


def test_renderings_follow_the_body_and_the_slug_map(articles_dir: Path):
    cache, renders = ArticleCache(), []
    article = load_catalog(articles_dir).published[0]

    def render(body, resolve):  # type: ignore[no-untyped-def]
        renders.append(dict(resolve))
        return render_body(body, resolve)

    resolve = {article.slug: article.slug}
    html = cache.render(article, resolve, render, resolver_key(resolve))
    assert html == render_body(article.body, resolve)
    assert cache.render(article, resolve, render, resolver_key(resolve)) == html
    moved = {article.slug: article.slug, "old-slug": article.slug}
    cache.render(article, moved, render, resolver_key(moved))
    assert renders == [resolve, moved]


def test_load_catalog_with_a_cache_equals_without_and_forgets_deleted_files(articles_dir: Path):
    cache = ArticleCache()
    assert load_catalog(articles_dir, cache) == load_catalog(articles_dir)
    assert load_catalog(articles_dir, cache) == load_catalog(articles_dir)
    assert cache.misses == len(load_catalog(articles_dir).articles)
    gone = load_catalog(articles_dir).articles[0]
    gone.path.unlink()
    assert load_catalog(articles_dir, cache) == load_catalog(articles_dir)
    assert str(gone.path) not in {where for where, _ in cache._parsed}


def test_index_with_a_cache_sees_an_edit(articles_dir: Path, data_dir: Path, fake_embedder):
    from search.indexer import index_articles
    from search.searcher import Searcher

    cache = ArticleCache()
    index_articles(articles_dir, data_dir, fake_embedder, cache=cache)
    article = load_catalog(articles_dir).published[0]
    article.path.write_text(article.path.read_text(encoding="utf-8") + "\n\nThe zorblax setting.\n", encoding="utf-8")
    report = index_articles(articles_dir, data_dir, fake_embedder, cache=cache)
    assert report.changed == [article.slug]
    searcher = Searcher.load(data_dir, fake_embedder)
    keyword = {h.slug: h.keyword_score for h in searcher.search("zorblax", k=10) if h.keyword_score}
    assert keyword == {article.slug: 1.0}
    searcher.close()
