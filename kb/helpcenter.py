"""Read-side queries for the help-center pages and API: categories, sections, articles, popular, sitemap.

Everything here reads the database that ``kb index`` writes, which holds published articles only, so
drafts cannot leak through any of these. The web pages and the JSON API both call these functions.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from kb.catalog import position_key

_HEADING = re.compile(r'<h([23]) id="([^"]+)">(.*?)</h\1>', re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


class NotFoundError(LookupError):
    """No published article, category or section by that name."""


class ArticleMovedError(NotFoundError):
    """The slug is an old name (``redirect_from``) of an article that now lives at ``new_slug``."""

    def __init__(self, old_slug: str, new_slug: str) -> None:
        self.old_slug, self.new_slug = old_slug, new_slug
        super().__init__(f"article '{old_slug}' is now '{new_slug}'")


@dataclass(frozen=True)
class ArticleSummary:
    """An article as it appears in a list."""

    slug: str
    title: str
    description: str
    category: str
    category_title: str
    section: str | None
    section_title: str | None
    updated: dt.date | None
    reading_minutes: int
    position: int

    @property
    def url(self) -> str:
        return f"/articles/{self.slug}"


@dataclass(frozen=True)
class SectionSummary:
    """A section of a category, with its articles in order."""

    slug: str
    category: str
    title: str
    description: str
    articles: tuple[ArticleSummary, ...]

    @property
    def url(self) -> str:
        return f"/categories/{self.category}/{self.slug}"


@dataclass(frozen=True)
class CategorySummary:
    """A category, its sections in order, and the articles that sit in no section."""

    slug: str
    title: str
    description: str
    sections: tuple[SectionSummary, ...]
    articles: tuple[ArticleSummary, ...]

    @property
    def url(self) -> str:
        return f"/categories/{self.slug}"

    @property
    def article_count(self) -> int:
        return len(self.articles) + sum(len(s.articles) for s in self.sections)

    @property
    def all_articles(self) -> tuple[ArticleSummary, ...]:
        return self.articles + tuple(a for s in self.sections for a in s.articles)

    def section(self, slug: str) -> SectionSummary:
        for section in self.sections:
            if section.slug == slug:
                return section
        raise NotFoundError(f"category '{self.slug}' has no section '{slug}'")


@dataclass(frozen=True)
class TocEntry:
    anchor: str
    heading: str
    level: int


@dataclass(frozen=True)
class ArticleDetail:
    """Everything the article page shows."""

    summary: ArticleSummary
    html: str
    markdown: str
    toc: tuple[TocEntry, ...]
    tags: tuple[str, ...]
    word_count: int
    external_id: str | None


@dataclass(frozen=True)
class SitemapEntry:
    path: str
    lastmod: dt.date | None


_SUMMARY_COLUMNS = (
    "a.slug, a.title, a.description, a.category, coalesce(c.title, a.category) as category_title, "
    "a.section, s.title as section_title, a.updated, a.reading_minutes, a.position"
)
_FROM = (
    " from articles a left join categories c on c.key = a.category "
    "left join categories s on s.key = a.category || '/' || a.section"
)


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value[:10]) if value else None


def _summary(row: dict[str, Any]) -> ArticleSummary:
    return ArticleSummary(
        slug=row["slug"], title=row["title"], description=row["description"] or "", category=row["category"],
        category_title=row["category_title"], section=row["section"],
        section_title=row["section_title"] or row["section"], updated=_date(row["updated"]),
        reading_minutes=row["reading_minutes"] or 1, position=row["position"] or 0,
    )


def _article_order(a: ArticleSummary) -> tuple[object, ...]:
    # Same order as `kb.catalog`: by position, unpositioned (0) last, then by title.
    return (*position_key(a.position), a.title.lower())


def list_articles(db: Database) -> list[ArticleSummary]:
    """Every published article, in catalog order (category, section, position, title)."""
    return [a for c in list_categories(db) for a in c.all_articles]


def list_categories(db: Database) -> list[CategorySummary]:
    """Every category with its sections and articles, each level in its own order."""
    articles = sorted((_summary(r) for r in db.query("select " + _SUMMARY_COLUMNS + _FROM)), key=_article_order)
    rows = list(db.query("select key, slug, parent, title, description, position from categories"))
    order = {r["key"]: (*position_key(r["position"] or 0), r["title"].lower()) for r in rows}
    categories = []
    for row in sorted((r for r in rows if not r["parent"]), key=lambda r: order[r["key"]]):
        own = [a for a in articles if a.category == row["slug"]]
        sections = [
            SectionSummary(
                s["slug"], row["slug"], s["title"], s["description"] or "",
                tuple(a for a in own if a.section == s["slug"]),
            )
            for s in sorted((r for r in rows if r["parent"] == row["slug"]), key=lambda r: order[r["key"]])
        ]
        categories.append(CategorySummary(
            row["slug"], row["title"], row["description"] or "",
            tuple(s for s in sections if s.articles), tuple(a for a in own if not a.section),
        ))
    return [c for c in categories if c.article_count]


def get_category(db: Database, category: str) -> CategorySummary:
    """One category with its sections; ``NotFoundError`` if it has no published article."""
    for found in list_categories(db):
        if found.slug == category:
            return found
    raise NotFoundError(f"there is no category '{category}'")


def get_section(db: Database, category: str, section: str) -> tuple[CategorySummary, SectionSummary]:
    """A section and the category it belongs to; ``NotFoundError`` if either has no published article."""
    found = get_category(db, category)
    return found, found.section(section)


def resolve_slug(db: Database, slug: str) -> str | None:
    """The current slug for a current or old (``redirect_from``) slug, or None."""
    if db["articles"].count_where("slug = ?", [slug]):
        return slug
    rows = list(db.query("select slug from redirects where old_slug = ?", [slug]))
    return rows[0]["slug"] if rows else None


def get_article(db: Database, slug: str) -> ArticleDetail:
    """The published article ``slug``.

    :raise ArticleMovedError: ``slug`` is an old name of an article (answer with a permanent redirect).
    :raise NotFoundError: no published article has that slug.
    """
    rows = list(db.query(
        "select " + _SUMMARY_COLUMNS + ", a.html, a.markdown, a.tags, a.word_count, a.external_id" + _FROM
        + " where a.slug = ?",
        [slug],
    ))
    if not rows:
        current = resolve_slug(db, slug)
        if current and current != slug:
            raise ArticleMovedError(slug, current)
        raise NotFoundError(f"there is no article '{slug}'")
    row = rows[0]
    return ArticleDetail(
        summary=_summary(row), html=row["html"], markdown=row["markdown"], toc=table_of_contents(row["html"]),
        tags=tuple(json.loads(row["tags"] or "[]")), word_count=row["word_count"] or 0,
        external_id=row["external_id"],
    )


def table_of_contents(article_html: str) -> tuple[TocEntry, ...]:
    """The h2/h3 headings of a rendered body, with the anchors ``kb.render`` gave them."""
    # The HTML comes from kb.render, which writes exactly `<h2 id="anchor">`, so a pattern is enough.
    return tuple(
        TocEntry(anchor, " ".join(html.unescape(_TAG.sub("", inner)).split()), int(level))
        for level, anchor, inner in _HEADING.findall(article_html)
    )


def popular_articles(db: Database, limit: int = 6, days: int = 30) -> list[ArticleSummary]:
    """Most viewed articles (distinct sessions over ``days``).

    Before there are views, and to fill up, it takes each category's first article in turn, so a new
    help center still shows a spread of starting points rather than one category's list.
    """
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).isoformat()
    views = {
        r["article_slug"]: r["n"] for r in db.query(
            "select article_slug, count(distinct coalesce(session_id, id)) as n from article_views "
            "where ts >= ? group by article_slug", [since],
        )
    }
    spread: list[tuple[int, int, ArticleSummary]] = []
    for cat_rank, category in enumerate(list_categories(db)):
        spread.extend((rank, cat_rank, a) for rank, a in enumerate(category.all_articles))
    ranked = sorted(spread, key=lambda item: (-views.get(item[2].slug, 0), item[0], item[1]))
    return [a for _, _, a in ranked[:limit]]


def sitemap_entries(db: Database) -> list[SitemapEntry]:
    """Home, every category and section, and every article, with the date each last changed."""
    categories = list_categories(db)
    newest = [a.updated for c in categories for a in c.all_articles if a.updated]
    entries = [SitemapEntry("/", max(newest) if newest else None)]
    for c in categories:
        entries.append(SitemapEntry(c.url, _latest(c.all_articles)))
        entries.extend(SitemapEntry(s.url, _latest(s.articles)) for s in c.sections)
    entries.extend(SitemapEntry(a.url, a.updated) for c in categories for a in c.all_articles)
    return entries


def _latest(articles: tuple[ArticleSummary, ...]) -> dt.date | None:
    dates = [a.updated for a in articles if a.updated]
    return max(dates) if dates else None
