"""Split an article into the chunks that get embedded: its summary, each customer question, each section."""

from __future__ import annotations

import hashlib
import re

from kb.models import Article, Chunk

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def content_hash(text: str) -> str:
    """Hash of exactly the text that is embedded: equal hashes can share one vector."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def split_text(text: str, max_chars: int) -> list[str]:
    """Split text into pieces of at most ``max_chars``, at sentence ends where possible."""
    if len(text) <= max_chars:
        return [text]
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > max_chars:  # a single run-on "sentence": cut at a space
            cut = sentence.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > max_chars:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return [p for p in pieces if p]


def _chunk(article: Article, chunk_id: str, kind: str, anchor: str, heading: str, text: str) -> Chunk:
    return Chunk(chunk_id, article.slug, kind, anchor, heading, text, content_hash(text))


def chunk_article(article: Article, max_chars: int = 1200) -> list[Chunk]:
    """The article's chunks: one summary (title, description, questions), one per question, then its sections.

    Section chunks carry the article title and heading, so a passage is embedded in its context.
    """
    summary = "\n".join([article.title, article.description, *article.questions]).strip()
    chunks = [_chunk(article, f"{article.slug}/summary", "summary", "", article.title, summary)]
    for i, question in enumerate(dict.fromkeys(article.questions), start=1):
        chunks.append(_chunk(article, f"{article.slug}/q{i}", "question", "", article.title, question))
    for section in article.sections:
        if not section.text:
            continue
        context = article.title if section.level == 0 else f"{article.title}: {section.heading}"
        for n, piece in enumerate(split_text(section.text, max_chars), start=1):
            suffix = "" if n == 1 else f"/{n}"
            anchor_id = section.anchor or "intro"
            chunks.append(
                _chunk(article, f"{article.slug}#{anchor_id}{suffix}", "section", section.anchor, section.heading,
                       f"{context}\n{piece}")
            )
    return chunks
