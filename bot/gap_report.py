"""What writers see about gaps: counts, trend, customers, samples, nearest article, recommendation; CSV/JSON export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from bot.gap_store import STATUSES, ask_key_sql, customer_key_sql, get_gap, iso, period_start, to_utc

NearestFn = Callable[[str], "tuple[str, str, float] | None"]
SORTS: tuple[str, ...] = ("impact", "count", "last_seen", "trend")
# Cosine of the nearest article on the bundled help center: 8 of 14 in-scope paraphrases scored 0.75-0.98 (the rest
# 0.54-0.73), our gap questions 0.37-0.72 (an unrelated article can reach ~0.7 with this model), so 0.75 says "edit".
EDIT_SCORE = 0.75
SAMPLES = 5
CSV_FIELDS = (
    "id", "status", "title", "suggested_title", "count", "previous_count", "trend", "trend_pct", "distinct_customers",
    "handoffs", "impact", "first_seen", "last_seen", "reasons", "keywords", "nearest_article_slug",
    "nearest_article_title", "nearest_article_score", "recommendation", "recommendation_text",
    "resolved_article_slug", "resolution_note", "dismissed_reason", "status_note", "replay_answered", "replay_total",
    "sample_questions",
)


@dataclass(frozen=True)
class GapView:
    """One gap as the writers' report shows it; counts are for the chosen period."""

    id: int
    status: str
    title: str  # the gap's most central question, as a customer wrote it
    suggested_title: str  # that question turned into an article title
    representative_query: str
    count: int  # questions asked in the period (a chat message counts once, whatever it triggered)
    previous_count: int  # the same, in the period of equal length before
    trend: str  # "up", "down", "flat" or "new" (nothing in the previous period)
    trend_pct: float | None  # change against the previous period in percent; None when it had nothing
    distinct_customers: int  # chat sessions; a signal without a session counts as its own customer
    handoffs: int
    impact: float  # count + distinct customers + handoffs: repeat askers, many askers and agent time all weigh in
    first_seen: str | None
    last_seen: str | None
    sample_questions: tuple[str, ...]  # up to 5 distinct, newest first
    reasons: dict[str, int]  # signal reason -> signals in the period
    keywords: tuple[str, ...]  # c-TF-IDF words that set this gap apart from the others
    nearest_article_slug: str | None
    nearest_article_title: str | None
    nearest_article_score: float | None
    recommendation: str  # "edit" the nearest article or "write" a new one
    recommendation_text: str
    resolved_article_slug: str | None = None
    resolution_note: str | None = None
    dismissed_reason: str | None = None
    status_note: str | None = None  # e.g. why it was reopened
    resolved_at: str | None = None
    replay_answered: int | None = None  # after resolving: "now answered x of y"
    replay_total: int | None = None

    def properties(self) -> dict[str, Any]:
        data = asdict(self)
        data["sample_questions"] = list(self.sample_questions)
        data["keywords"] = list(self.keywords)
        return data


@dataclass(frozen=True)
class GapQuestion:
    """One time a customer asked, with where and how it failed."""

    text: str
    ts: str
    source: str
    reason: str
    session_id: str | None
    page_url: str | None
    top_score: float | None
    top_article_slug: str | None
    message_id: int | None


@dataclass(frozen=True)
class GapDetail:
    """A gap with its newest questions and the pages they were asked on."""

    gap: GapView
    questions: tuple[GapQuestion, ...]  # up to 100, newest first
    pages: tuple[tuple[str, int], ...]  # page URL -> questions asked there, most first


def newest_questions(db: Database, gap_id: int, limit: int, until: str | None = None) -> list[str]:
    """The gap's distinct questions (by normalized text), newest first, each in its newest wording."""
    # With a single max() aggregate SQLite takes the bare query_text from the row holding that max.
    rows = db.execute(
        "select query_text, max(ts || printf('%012d', id)) as newest from gap_signals "
        "where gap_id = ? and ts <= ? group by query_norm order by newest desc limit ?",
        [gap_id, until or "9999", limit],
    ).fetchall()
    return [" ".join(r[0].split()) for r in rows]


def recommend(suggested_title: str, slug: str | None, title: str | None, score: float | None,
              edit_score: float = EDIT_SCORE) -> tuple[str, str]:
    """("edit", ...) when an existing article is close to the gap, else ("write", ...)."""
    if slug is not None and score is not None and score >= edit_score:
        return "edit", f"Edit the existing article \"{title or slug}\" ({score:.2f} similar) to answer these questions"
    return "write", f"Write a new article: \"{suggested_title}\""


def _check(status: str, period_days: float, sort: str) -> None:
    if status != "all" and status not in STATUSES:
        raise ValueError(f"unknown gap status {status!r}: use one of {', '.join(STATUSES)} or all")
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
    if not period_days > 0:
        raise ValueError(f"the period must be a positive number of days (got {period_days})")


def _refresh_nearest(db: Database, gap: dict[str, Any], nearest: NearestFn) -> dict[str, Any]:
    found = nearest(gap["title"] or gap["representative_query"] or "")
    slug, title, score = found if found is not None else (None, None, None)
    fields = {"nearest_article_slug": slug, "nearest_article_title": title,
              "nearest_article_score": None if score is None else round(float(score), 4)}
    if any(gap.get(k) != v for k, v in fields.items()):
        db.table("gaps").update(gap["id"], fields)
    return {**gap, **fields}


def _views(
    db: Database, gaps: list[dict[str, Any]], moment: datetime, period_days: float, edit_score: float,
    nearest: NearestFn | None,
) -> list[GapView]:
    now, start, before = iso(moment), period_start(moment, period_days), period_start(moment, 2 * period_days)
    views = []
    for gap in gaps:
        if nearest is not None and (gap["title"] or gap["representative_query"]):
            gap = _refresh_nearest(db, gap, nearest)
        stats = db.execute(
            f"select count(distinct case when ts > :start then {ask_key_sql()} end), "
            f"count(distinct case when ts <= :start then {ask_key_sql()} end), "
            f"count(distinct case when ts > :start then {customer_key_sql()} end), "
            "count(distinct case when ts > :start and reason = 'handoff' then id end) "
            "from gap_signals s where gap_id = :gap and ts > :before and ts <= :now",
            {"start": start, "before": before, "now": now, "gap": gap["id"]},
        ).fetchone()
        count, previous, customers, handoffs = (int(v) for v in stats)
        seen = db.execute("select min(ts), max(ts) from gap_signals where gap_id = ? and ts <= ?",
                          [gap["id"], now]).fetchone()
        reasons = dict(db.execute(
            "select reason, count(*) from gap_signals where gap_id = ? and ts > ? and ts <= ? "
            "group by reason order by count(*) desc, reason", [gap["id"], start, now]
        ).fetchall())
        samples = newest_questions(db, gap["id"], SAMPLES, now)
        if previous == 0:
            trend, pct = ("new" if count else "flat"), None
        else:
            trend = "up" if count > previous else "down" if count < previous else "flat"
            pct = round(100.0 * (count - previous) / previous, 1)
        suggested = gap["suggested_title"] or gap["title"] or ""
        rec, rec_text = recommend(suggested, gap["nearest_article_slug"], gap.get("nearest_article_title"),
                                  gap["nearest_article_score"], edit_score)
        views.append(GapView(
            id=gap["id"], status=gap["status"], title=gap["title"] or "", suggested_title=suggested,
            representative_query=gap["representative_query"] or "", count=count, previous_count=previous,
            trend=trend, trend_pct=pct, distinct_customers=customers, handoffs=handoffs,
            impact=float(count + customers + handoffs), first_seen=seen[0], last_seen=seen[1],
            sample_questions=tuple(" ".join(s.split()) for s in samples), reasons=reasons,
            keywords=tuple(json.loads(gap.get("keywords") or "[]")),
            nearest_article_slug=gap["nearest_article_slug"], nearest_article_title=gap.get("nearest_article_title"),
            nearest_article_score=gap["nearest_article_score"], recommendation=rec, recommendation_text=rec_text,
            resolved_article_slug=gap["resolved_article_slug"], resolution_note=gap["resolution_note"],
            dismissed_reason=gap["dismissed_reason"], status_note=gap.get("status_note"),
            resolved_at=gap["resolved_at"], replay_answered=gap["replay_answered"], replay_total=gap["replay_total"],
        ))
    return views


# Each key sorts descending: the most of it first, then newest, then the oldest gap id.
_SORT_KEYS: dict[str, Callable[[GapView], tuple[Any, ...]]] = {
    "impact": lambda v: (v.impact, v.count, v.last_seen or "", -v.id),
    "count": lambda v: (v.count, v.distinct_customers, v.last_seen or "", -v.id),
    "last_seen": lambda v: (v.last_seen or "", v.count, -v.id),
    "trend": lambda v: (v.count - v.previous_count, v.count, v.last_seen or "", -v.id),
}


def list_gaps(
    db: Database,
    *,
    status: str = "open",
    period_days: float = 30,
    sort: str = "impact",
    now: datetime | None = None,
    nearest: NearestFn | None = None,
    edit_score: float = EDIT_SCORE,
    include_quiet: bool | None = None,
) -> list[GapView]:
    """The gaps with ``status`` ("open", "resolved", "dismissed" or "all"), with their numbers for the last
    ``period_days`` against the period before, sorted by "impact", "count", "last_seen" or "trend".

    Gaps nobody asked about in the period are left out when ``include_quiet`` is false, which is the default
    for the open list only: a well resolved gap goes quiet and should still be listed. ``nearest(question)``
    returns (slug, title, score) of the closest article (build it with ``bot.gaps.nearest_article``); when
    given, each gap's nearest article is looked up again and stored. An article at least ``edit_score``
    similar turns the recommendation from "write a new article" into "edit this one".

    >>> [g.suggested_title for g in list_gaps(db, period_days=7, sort="count")]
    ['Gift a subscription', 'Dark mode in the app']
    """
    _check(status, period_days, sort)
    moment = to_utc(now)
    where, params = ("", []) if status == "all" else ("where status = ?", [status])
    gaps = list(db.query(f"select * from gaps {where} order by id", params))
    views = _views(db, gaps, moment, period_days, edit_score, nearest)
    if include_quiet is None:
        include_quiet = status != "open"
    if not include_quiet:
        views = [v for v in views if v.count]
    return sorted(views, key=_SORT_KEYS[sort], reverse=True)


def gap_detail(
    db: Database,
    gap_id: int,
    *,
    period_days: float = 30,
    now: datetime | None = None,
    nearest: NearestFn | None = None,
    edit_score: float = EDIT_SCORE,
    limit: int = 100,
) -> GapDetail:
    """One gap with its ``limit`` newest questions (times, pages, sessions) and the pages asked on most."""
    _check("all", period_days, "impact")
    moment = to_utc(now)
    view = _views(db, [get_gap(db, gap_id)], moment, period_days, edit_score, nearest)[0]
    rows = db.execute(
        "select query_text, ts, source, reason, session_id, page_url, top_score, top_article_slug, message_id "
        "from gap_signals where gap_id = ? and ts <= ? order by ts desc, id desc limit ?",
        [gap_id, iso(moment), limit],
    ).fetchall()
    pages = db.execute(
        "select page_url, count(*) from gap_signals where gap_id = ? and page_url is not null and page_url != '' "
        "group by page_url order by count(*) desc, page_url limit 20", [gap_id]
    ).fetchall()
    return GapDetail(view, tuple(GapQuestion(*row) for row in rows), tuple((p, int(n)) for p, n in pages))


def _csv_cell(value: Any, joiner: str = ", ") -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        value = "; ".join(f"{k}: {v}" for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        value = joiner.join(str(v) for v in value)
    text = str(value)
    # Customers typed these questions: a cell starting with = + - @ would run as a spreadsheet formula (OWASP CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_gaps(
    db: Database,
    fmt: str = "csv",
    *,
    status: str = "open",
    period_days: float = 30,
    sort: str = "impact",
    now: datetime | None = None,
    edit_score: float = EDIT_SCORE,
    include_quiet: bool | None = None,
) -> str:
    """The ``list_gaps`` report as CSV (one row per gap, sample questions one per line in their cell) or JSON."""
    if fmt not in ("csv", "json"):
        raise ValueError(f"unknown export format {fmt!r}: use csv or json")
    moment = to_utc(now)
    views = list_gaps(db, status=status, period_days=period_days, sort=sort, now=moment, edit_score=edit_score,
                      include_quiet=include_quiet)
    if fmt == "json":
        document = {"generated_at": iso(moment), "status": status, "period_days": period_days, "sort": sort,
                    "gaps": [v.properties() for v in views]}
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for view in views:
        data = view.properties()
        # One sample question per line inside its cell; spreadsheets show them stacked.
        writer.writerow({name: _csv_cell(data[name], "\n" if name == "sample_questions" else ", ")
                         for name in CSV_FIELDS})
    return out.getvalue()
