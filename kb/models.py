"""The values that flow through the knowledge base: frozen dataclasses with full type hints."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Section:
    """A part of an article body under one h2/h3 heading (the intro has level 0 and no heading)."""

    anchor: str
    heading: str
    level: int
    markdown: str
    text: str
    line: int


@dataclass(frozen=True)
class Link:
    """A link in an article body that points at another article by slug."""

    slug: str
    fragment: str
    line: int


@dataclass(frozen=True)
class Article:
    """One parsed Markdown article."""

    slug: str
    title: str
    path: Path
    category: str
    category_title: str
    section: str | None
    section_title: str | None
    body: str
    sections: tuple[Section, ...]
    description: str = ""
    tags: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    updated: dt.date | None = None
    draft: bool = False
    position: int = 0
    external_id: str | None = None
    redirect_from: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()

    @property
    def word_count(self) -> int:
        return sum(len(s.text.split()) for s in self.sections)

    @property
    def reading_minutes(self) -> int:
        """Reading time at 200 words a minute, never less than one minute."""
        return max(1, round(self.word_count / 200))


@dataclass(frozen=True)
class Category:
    """A category (``parent`` is None) or a section inside one, from folders and ``_index.md``."""

    slug: str
    title: str
    description: str = ""
    position: int = 0
    parent: str | None = None


@dataclass(frozen=True)
class Chunk:
    """A piece of an article that gets one embedding: a section (or part of one), the summary, or a question."""

    id: str
    article_slug: str
    kind: str  # "summary" | "question" | "section"
    anchor: str
    heading: str
    text: str
    content_hash: str


@dataclass(frozen=True)
class Problem:
    """Something wrong with an article file. Errors skip the file; warnings do not."""

    path: Path
    message: str
    line: int | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.severity}: {self.message}"


@dataclass
class Catalog:
    """Everything loaded from an articles folder: articles, categories and the problems found."""

    articles: list[Article] = field(default_factory=list)
    categories: list[Category] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def published(self) -> list[Article]:
        return [a for a in self.articles if not a.draft]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]
