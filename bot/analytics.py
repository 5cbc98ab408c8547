"""Help-center analytics for writers: searches, answers, handoffs, deflection and article helpfulness.

A rate with nothing to divide by is ``None`` (shown as a dash), never 0%.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class ArticleStats:
    slug: str
    title: str
    views: int
    up: int
    down: int
    reasons: dict[str, int]

    @property
    def helpful(self) -> float | None:
        return _rate(self.up, self.up + self.down)


@dataclass(frozen=True)
class DayStats:
    """One UTC day of the period, for the daily breakdown (days with nothing are listed too)."""

    day: str  # YYYY-MM-DD
    searches: int
    no_confident: int  # searches with no result confident enough to show
    questions: int  # chat questions the bot answered, clarified or handed off
    answered: int
    tickets: int

    @property
    def no_confident_rate(self) -> float | None:
        return _rate(self.no_confident, self.searches)

    @property
    def answer_rate(self) -> float | None:
        return _rate(self.answered, self.questions)


@dataclass
class Report:
    since: str
    until: str
    searches: int = 0
    no_confident_rate: float | None = None
    click_through: float | None = None
    conversations: int = 0
    questions: int = 0
    answer_rate: float | None = None
    handoff_rate: float | None = None
    deflection_rate: float | None = None
    tickets: int = 0
    top_searches: list[dict[str, Any]] = field(default_factory=list)
    failed_searches: list[dict[str, Any]] = field(default_factory=list)
    articles: list[ArticleStats] = field(default_factory=list)
    to_update: list[ArticleStats] = field(default_factory=list)
    down_reasons: dict[str, int] = field(default_factory=dict)  # why readers voted "not helpful", most first
    daily: list[DayStats] = field(default_factory=list)


def report(db: Database, period_days: int = 30, now: dt.datetime | None = None, limit: int = 10) -> Report:
    """Everything on the analytics page for the last ``period_days``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    since = (now - dt.timedelta(days=period_days)).isoformat()
    until = now.isoformat()
    r = Report(since, until)
    window = [since, until]

    searches = "from query_events where channel != 'chat' and ts >= ? and ts <= ?"
    r.searches = db.execute(f"select count(*) {searches}", window).fetchone()[0]
    not_confident = db.execute(f"select count(*) {searches} and not answered", window).fetchone()[0]
    clicked = db.execute(f"select count(*) {searches} and clicked_article_slug is not null", window).fetchone()[0]
    r.no_confident_rate, r.click_through = _rate(not_confident, r.searches), _rate(clicked, r.searches)
    r.top_searches = [dict(row) for row in db.query(
        f"select query_norm as query, count(*) as count, avg(result_count) as results, "
        f"sum(clicked_article_slug is not null) as clicks {searches} group by query_norm "
        f"order by count desc, query_norm limit ?", [*window, limit])]
    r.failed_searches = [dict(row) for row in db.query(
        f"select query_norm as query, count(*) as count, max(ts) as last_seen {searches} and not answered "
        f"group by query_norm order by count desc, query_norm limit ?", [*window, limit])]

    turns = ("select m.conversation_id, m.type from messages m join conversations c on c.id = m.conversation_id "
             "where m.role = 'bot' and m.type in ('answer', 'clarify', 'handoff') and m.ts >= ? and m.ts <= ?")
    rows = db.execute(turns, window).fetchall()
    r.questions = len(rows)
    answered = sum(1 for _, kind in rows if kind == "answer")
    asked = {cid for cid, _ in rows}
    answered_conversations = {cid for cid, kind in rows if kind == "answer"}
    ticketed = {row[0] for row in db.execute(
        "select conversation_id from tickets where created >= ? and created <= ?", window).fetchall()}
    r.conversations = len(asked | ticketed)
    r.tickets = len(ticketed)
    r.answer_rate = _rate(answered, r.questions)
    r.handoff_rate = _rate(len(ticketed), r.conversations)
    r.deflection_rate = _rate(len(answered_conversations - ticketed), r.conversations)

    r.articles = article_stats(db, since, until)
    read = sorted((a for a in r.articles if a.views), key=lambda a: a.views, reverse=True)
    median_views = read[len(read) // 2].views if read else 0
    r.to_update = [a for a in read if a.views >= median_views and a.down >= 2 and (a.helpful or 0) < 0.5][:limit]
    reasons: dict[str, int] = {}
    for a in r.articles:
        for reason, n in a.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + n
    r.down_reasons = dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    r.daily = daily_stats(db, now, period_days)
    return r


def daily_stats(db: Database, now: dt.datetime, period_days: int) -> list[DayStats]:
    """Searches, chat questions and tickets per UTC day for the ``period_days`` days up to ``now``, oldest first."""
    today = now.astimezone(dt.timezone.utc).date()
    days = [(today - dt.timedelta(days=i)).isoformat() for i in range(period_days - 1, -1, -1)]
    window = [days[0], days[-1] + "T99"]  # whole days: stored times are ISO strings, "T99" sorts after any time
    counts: dict[str, dict[str, int]] = {d: {} for d in days}

    def add(name: str, sql: str) -> None:
        for day, n in db.execute(sql, window).fetchall():
            if day in counts:
                counts[day][name] = int(n)

    add("searches", "select substr(ts, 1, 10), count(*) from query_events where channel != 'chat' "
                    "and ts >= ? and ts <= ? group by 1")
    add("no_confident", "select substr(ts, 1, 10), count(*) from query_events where channel != 'chat' "
                        "and not answered and ts >= ? and ts <= ? group by 1")
    add("questions", "select substr(ts, 1, 10), count(*) from messages where role = 'bot' "
                     "and type in ('answer', 'clarify', 'handoff') and ts >= ? and ts <= ? group by 1")
    add("answered", "select substr(ts, 1, 10), count(*) from messages where role = 'bot' and type = 'answer' "
                    "and ts >= ? and ts <= ? group by 1")
    add("tickets", "select substr(created, 1, 10), count(*) from tickets where created >= ? and created <= ? group by 1")
    fields = ("searches", "no_confident", "questions", "answered", "tickets")
    return [DayStats(day, *(counts[day].get(f, 0) for f in fields)) for day in days]


def article_stats(db: Database, since: str, until: str) -> list[ArticleStats]:
    """Views and votes per published article, most helpful first (articles without votes last)."""
    views = dict(db.execute("select article_slug, count(*) from article_views where ts >= ? and ts <= ? "
                            "group by article_slug", [since, until]).fetchall())
    votes: dict[str, dict[str, Any]] = {}
    for slug, vote, reason in db.execute(
        "select article_slug, vote, reason from article_feedback where ts >= ? and ts <= ?", [since, until]
    ).fetchall():
        entry = votes.setdefault(slug, {"up": 0, "down": 0, "reasons": {}})
        entry[vote] = entry.get(vote, 0) + 1
        if vote == "down" and reason:
            entry["reasons"][reason] = entry["reasons"].get(reason, 0) + 1
    stats = [
        ArticleStats(row["slug"], row["title"], views.get(row["slug"], 0), votes.get(row["slug"], {}).get("up", 0),
                     votes.get(row["slug"], {}).get("down", 0), votes.get(row["slug"], {}).get("reasons", {}))
        for row in db.query("select slug, title from articles order by title")
    ]
    return sorted(stats, key=lambda a: (a.helpful is None, -(a.helpful or 0), -a.views))
