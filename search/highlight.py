"""Snippets: the part of a passage around the query's words, HTML-escaped, with the words in ``<mark>``."""

from __future__ import annotations

import html
import re
from functools import lru_cache

STOPWORDS = frozenset(
    "a an and are as at be by can do does for from have how i if in is it its me my no not of on or our so "
    "that the their then there this to was we what when where which who why will with you your yours "
    "i'm im cant can't dont don't get got".split()
)


def query_terms(query: str) -> list[str]:
    """Words worth marking: no stopwords, longest first; long words keep only a stem-like prefix."""
    terms = set()
    for word in re.findall(r"\w+", query.lower()):
        if word in STOPWORDS or len(word) < 2:
            continue
        terms.add(word[: max(5, len(word) - 2)] if len(word) > 5 else word)
    return sorted(terms, key=len, reverse=True)


@lru_cache(maxsize=1024)
def _pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    """The terms' regular expression, built once per query (a search highlights ten results with it)."""
    # Long words match as prefixes ("passwo" marks "passwords"); short ones only with a plural or
    # verb ending, so "back" marks "backs" but not "backups".
    alternatives = [re.escape(t) + (r"\w*" if len(t) > 4 else r"(?:s|es|ed|ing)?\b") for t in terms]
    return re.compile(r"\b(?:" + "|".join(alternatives) + ")", re.IGNORECASE)


def highlight(text: str, terms: list[str], width: int = 220) -> str:
    """A window of about ``width`` characters with the most matches, escaped, terms wrapped in ``<mark>``."""
    if not terms:
        return html.escape(_window(text, 0, width))
    pattern = _pattern(tuple(terms))
    matches = list(pattern.finditer(text))
    start = 0
    if matches:
        # Start at the match that has the most other matches within the window.
        best = max(matches, key=lambda m: sum(1 for o in matches if m.start() <= o.start() < m.start() + width))
        start = max(0, best.start() - width // 4)
    window = _window(text, start, width)
    out, last = [], 0
    for m in pattern.finditer(window):
        out.append(html.escape(window[last : m.start()]))
        out.append(f"<mark>{html.escape(m.group(0))}</mark>")
        last = m.end()
    out.append(html.escape(window[last:]))
    return "".join(out)


def _window(text: str, start: int, width: int) -> str:
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    end = start + width
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    piece = text[start:end].strip()
    return ("… " if start > 0 else "") + piece + (" …" if end < len(text) else "")
