"""Load a whole articles folder: articles, categories from folders and ``_index.md``, and every problem found."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from slugify import slugify

from kb.cache import ArticleCache
from kb.models import Article, Catalog, Category, Problem
from kb.parse import ArticleParseError, parse_article, read_front_matter, read_text, readable_title

INDEX_FILE = "_index.md"


def article_files(root: Path) -> list[Path]:
    """Every Markdown file under ``root`` in a stable order, hidden folders excluded."""
    return sorted(
        p for p in root.rglob("*.md")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def _folder_category(root: Path, index_path: Path, problems: list[Problem]) -> Category | None:
    folders = index_path.relative_to(root).parts[:-1]
    if not folders or len(folders) > 2:
        problems.append(Problem(index_path, "an _index.md belongs in a category or section folder", severity="warning"))
        return None
    meta: dict[str, object] = {}
    try:
        meta, _, _ = read_front_matter(index_path, read_text(index_path))
    except ArticleParseError as exc:
        problems.append(Problem(exc.path, exc.message, exc.line))
    position = meta.get("position", 0)
    return Category(
        slug=slugify(folders[-1]),
        title=str(meta.get("title") or readable_title(folders[-1])),
        description=str(meta.get("description") or ""),
        position=position if isinstance(position, int) else 0,
        parent=slugify(folders[0]) if len(folders) == 2 else None,
    )


def load_catalog(root: Path, cache: ArticleCache | None = None) -> Catalog:
    """Parse every article under ``root``. A broken file becomes a ``Problem``; the rest still load.

    With a ``cache`` (a long-running site keeps one), files unchanged since the last call are not parsed again.
    """
    if not root.is_dir():
        raise FileNotFoundError(f"articles folder {root} does not exist: pass --articles DIR or set KB_ARTICLES_DIR")
    catalog = Catalog()
    declared: dict[tuple[str | None, str], Category] = {}
    by_slug: dict[str, Article] = {}
    for path in article_files(root):
        if path.name == INDEX_FILE:
            category = _folder_category(root, path, catalog.problems)
            if category:
                declared[(category.parent, category.slug)] = category
            continue
        try:
            article = cache.parse(path, root, parse_article) if cache else parse_article(path, root)
        except ArticleParseError as exc:
            catalog.problems.append(Problem(exc.path, exc.message, exc.line))
            continue
        except OSError as exc:
            catalog.problems.append(Problem(path, f"cannot read file: {exc.strerror or exc}"))
            continue
        if article.slug in by_slug:
            other = by_slug[article.slug].path
            catalog.problems.append(
                Problem(path, f"duplicate slug '{article.slug}' (also used by {other}); set a different 'slug:'", 1)
            )
            continue
        by_slug[article.slug] = article
        catalog.articles.append(article)

    if cache:
        cache.forget_missing({str(a.path) for a in catalog.articles}, {a.slug for a in catalog.articles})
    catalog.categories = _categories(catalog.articles, declared)
    catalog.articles = [_with_titles(a, declared) for a in catalog.articles]
    catalog.problems.extend(check_links(catalog.articles))
    return catalog


def _categories(articles: list[Article], declared: dict[tuple[str | None, str], Category]) -> list[Category]:
    """Categories and sections that hold at least one article, declared ones taking their ``_index.md`` values."""
    found: dict[tuple[str | None, str], Category] = {}
    for a in articles:
        key = (None, a.category)
        found.setdefault(key, declared.get(key) or Category(a.category, a.category_title))
        if a.section:
            key2 = (a.category, a.section)
            found.setdefault(key2, declared.get(key2) or Category(a.section, a.section_title or a.section, parent=a.category))
    return sorted(found.values(), key=lambda c: (c.parent or "", *position_key(c.position), c.title.lower()))


def position_key(position: int) -> tuple[bool, int]:
    """Sort by ``position``; things without one (0) come after those with one."""
    return (position == 0, position)


def _with_titles(article: Article, declared: dict[tuple[str | None, str], Category]) -> Article:
    category = declared.get((None, article.category))
    section = declared.get((article.category, article.section)) if article.section else None
    return dataclasses.replace(
        article,
        category_title=category.title if category else article.category_title,
        section_title=section.title if section else article.section_title,
    )


def slug_resolver(articles: list[Article]) -> dict[str, str]:
    """Map every published slug, and every old slug in ``redirect_from``, to the current slug."""
    resolve = {old: a.slug for a in articles if not a.draft for old in a.redirect_from}
    resolve.update({a.slug: a.slug for a in articles if not a.draft})
    return resolve


def check_links(articles: list[Article]) -> list[Problem]:
    """Links to articles that do not exist (or are drafts), and redirects that clash with a live slug."""
    resolve = slug_resolver(articles)
    anchors = {a.slug: {s.anchor for s in a.sections} for a in articles}
    problems = []
    for a in articles:
        for link in a.links:
            if link.slug not in resolve:
                problems.append(Problem(a.path, f"broken link to '{link.slug}': no published article has that slug", link.line))
            elif link.fragment and link.fragment not in anchors[resolve[link.slug]]:
                problems.append(
                    Problem(a.path, f"link to '{link.slug}#{link.fragment}': that article has no such section",
                            link.line, severity="warning")
                )
        for old in a.redirect_from:
            if old in anchors and old != a.slug:
                problems.append(Problem(a.path, f"redirect_from '{old}' is the slug of a live article", severity="warning"))
    return problems
