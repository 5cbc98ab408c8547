"""Pydantic models of the JSON API, so ``/docs`` documents every request and response."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kb.events import MAX_COMMENT_CHARS

Vote = Literal["up", "down"]
Reason = Literal["need_more_info", "inaccurate", "hard_to_understand", "broken_link", "other"]


class _FromAttributes(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class SearchResult(_FromAttributes):
    slug: str
    title: str
    url: str = Field(description="The article's URL.")
    section_url: str = Field(description="The matching section: the article URL with its anchor.")
    category: str
    category_title: str
    section: str = Field(description="Heading of the best-matching section.")
    anchor: str
    snippet: str = Field(description="HTML-escaped text around the match, query words in <mark>.")
    score: float
    click_url: str = Field(description="Follow this to open the result and record the click.")


class TitleMatch(_FromAttributes):
    slug: str
    title: str
    url: str


class SearchResponse(BaseModel):
    query: str
    count: int
    results: list[SearchResult]
    corrected: str | None = Field(None, description="The query with misspellings fixed, when that differs.")
    similar_titles: list[TitleMatch] = Field(description="Articles with a similar title, when nothing matched.")
    event_id: int = Field(description="Id of the recorded search.")


class Suggestion(_FromAttributes):
    slug: str
    title: str
    url: str
    category_title: str
    section: str


class SuggestResponse(BaseModel):
    query: str
    suggestions: list[Suggestion]


class ArticleSummary(_FromAttributes):
    slug: str
    title: str
    description: str
    url: str
    category: str
    category_title: str
    section: str | None
    section_title: str | None
    updated: dt.date | None
    reading_minutes: int


class TocEntry(_FromAttributes):
    anchor: str
    heading: str
    level: int


class RelatedArticle(_FromAttributes):
    slug: str
    title: str
    url: str
    category_title: str
    score: float


class Article(ArticleSummary):
    html: str = Field(description="The sanitized article body.")
    markdown: str
    toc: list[TocEntry]
    tags: list[str]
    word_count: int
    related: list[RelatedArticle]


class FeedbackRequest(BaseModel):
    article_slug: str = Field(max_length=200)
    vote: Vote
    reason: Reason | None = Field(None, description="Why the article did not help (with a 'down' vote).")
    comment: str = Field("", max_length=MAX_COMMENT_CHARS)


class FeedbackResponse(BaseModel):
    article_slug: str
    vote: Vote
    reason: Reason | None
    recorded: bool = True


class ErrorResponse(BaseModel):
    detail: str
