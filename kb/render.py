"""Markdown to safe HTML and plain text: CommonMark + tables, heading anchors, links between articles by slug."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from slugify import slugify

SECTION_TAGS = ("h2", "h3")

_ALLOWED_TAGS = set(nh3.ALLOWED_TAGS) | {
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "colgroup", "col",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "br", "pre", "code", "kbd", "mark", "details", "summary",
    "img", "figure", "figcaption", "div", "span", "p", "sup", "sub", "del", "ins",
}
_ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"id", "title", "lang"},
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"style", "colspan", "rowspan"},
    "td": {"style", "colspan", "rowspan"},
    "ol": {"start"},
    "code": {"class"},
}
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=1)
def markdown_parser() -> MarkdownIt:
    """CommonMark with tables; raw HTML is parsed here and sanitized after rendering."""
    return MarkdownIt("commonmark", {"html": True}).enable("table")


def sanitize(raw_html: str) -> str:
    """Remove anything that could run script; keep the structure of a help article."""
    return nh3.clean(
        raw_html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel"},
        filter_style_properties={"text-align"},
        link_rel="noopener noreferrer",
    )


def to_text(markdown: str) -> str:
    """Plain text of a Markdown fragment (for embeddings, FTS and snippets)."""
    rendered = markdown_parser().render(markdown)
    stripped = nh3.clean(rendered, tags=set(), clean_content_tags={"script", "style"})
    return _SPACE.sub(" ", html.unescape(stripped)).strip()


def heading_anchors(headings: Iterable[str]) -> list[str]:
    """Stable, unique anchors for headings, in order: "Reset it" -> "reset-it", a repeat -> "reset-it-2"."""
    seen: dict[str, int] = {}
    anchors = []
    for i, heading in enumerate(headings, start=1):
        base = slugify(heading) or f"section-{i}"
        seen[base] = seen.get(base, 0) + 1
        anchors.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return anchors


def internal_link_target(href: str) -> tuple[str, str] | None:
    """(slug, fragment) when ``href`` points at another article by slug, else None.

    ``reset-password``, ``reset-password.md#steps`` and ``../account/reset-password.md`` all name the
    article ``reset-password``; absolute URLs, site paths and bare fragments are left alone.
    """
    if not href or href.startswith(("#", "/", "?")) or _SCHEME.match(href):
        return None
    path, _, fragment = href.partition("#")
    stem = path.rstrip("/").rsplit("/", 1)[-1]
    if stem.endswith(".md"):
        stem = stem[:-3]
    slug = slugify(stem)
    return (slug, fragment) if slug else None


def section_headings(tokens: list[Token]) -> list[tuple[int, Token, str]]:
    """(index, heading_open token, heading text) for each top-level h2/h3 in parsed tokens."""
    found = []
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.tag in SECTION_TAGS and tok.level == 0:
            found.append((i, tok, tokens[i + 1].content.strip()))
    return found


def render_body(
    markdown: str,
    resolve_slug: Mapping[str, str] | None = None,
    article_url: Callable[[str], str] = lambda slug: f"/articles/{slug}",
) -> str:
    """Render an article body to sanitized HTML.

    h2/h3 headings get the same anchors as the article's sections; links to other articles by slug
    become their URLs (``resolve_slug`` maps known and old slugs to the current slug).
    """
    md = markdown_parser()
    tokens = md.parse(markdown)
    headings = section_headings(tokens)
    for (_, tok, _), anchor in zip(headings, heading_anchors(h for _, _, h in headings)):
        tok.attrSet("id", anchor)
    if resolve_slug is not None:
        for tok in tokens:
            for child in tok.children or ():
                if child.type != "link_open":
                    continue
                target = internal_link_target(str(child.attrGet("href") or ""))
                if target and target[0] in resolve_slug:
                    slug, fragment = target
                    child.attrSet("href", article_url(resolve_slug[slug]) + (f"#{fragment}" if fragment else ""))
    return sanitize(md.renderer.render(tokens, md.options, {}))
