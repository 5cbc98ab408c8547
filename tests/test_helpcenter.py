"""Read-side queries behind the pages: categories, articles, redirects, popular, sitemap."""

import datetime as dt

import pytest

from kb import helpcenter
from kb.helpcenter import ArticleMovedError, NotFoundError, TocEntry
from kb.storage import open_db


@pytest.fixture
def kb_db(indexed, data_dir):
    database = open_db(data_dir / "kb.db")
    yield database
    database.close()


def test_categories_sections_and_articles_in_order(kb_db):
    tree = [(c.slug, c.title, c.article_count, [(s.slug, [a.slug for a in s.articles]) for s in c.sections],
             [a.slug for a in c.articles]) for c in helpcenter.list_categories(kb_db)]
    assert tree == [
        ("account", "Account and sign-in", 2, [("sign-in", ["reset-password", "change-email"])], []),
        ("billing", "Billing", 2, [("payments", ["plans", "refunds"])], []),
        ("getting-started", "Getting started", 1, [], ["welcome"]),
    ]


def test_position_zero_sorts_after_positioned_articles(kb_db):
    kb_db["articles"].update("reset-password", {"position": 0})
    section = helpcenter.get_section(kb_db, "account", "sign-in")[1]
    assert [a.slug for a in section.articles] == ["change-email", "reset-password"]


def test_get_article_with_toc(kb_db):
    article = helpcenter.get_article(kb_db, "reset-password")
    assert article.summary == helpcenter.ArticleSummary(
        slug="reset-password", title="Reset your password",
        description="Get back into your account when you forgot your password.", category="account",
        category_title="Account and sign-in", section="sign-in", section_title="Sign in",
        updated=dt.date(2026, 10, 1), reading_minutes=1, position=1,
    )
    assert article.toc == (
        TocEntry("reset-it-from-the-sign-in-page", "Reset it from the sign-in page", 2),
        TocEntry("the-reset-email-never-arrived", "The reset email never arrived", 2),
    )


def test_toc_reads_h2_and_h3_with_inline_markup():
    html = '<h2 id="a">Use <code>kb</code> &amp; more</h2><p>x</p><h3 id="b">Sub</h3><h4 id="c">No</h4>'
    assert helpcenter.table_of_contents(html) == (TocEntry("a", "Use kb & more", 2), TocEntry("b", "Sub", 3))


def test_missing_and_moved_articles(kb_db):
    with pytest.raises(ArticleMovedError) as moved:
        helpcenter.get_article(kb_db, "forgot-password")
    assert (moved.value.old_slug, moved.value.new_slug) == ("forgot-password", "reset-password")
    for slug in ("nope", "roadmap"):  # a draft is as missing as a slug nobody wrote
        with pytest.raises(NotFoundError, match=f"there is no article '{slug}'"):
            helpcenter.get_article(kb_db, slug)
    with pytest.raises(NotFoundError, match="category 'account' has no section 'nope'"):
        helpcenter.get_section(kb_db, "account", "nope")


def test_popular_articles_by_distinct_sessions_then_spread_over_categories(kb_db):
    assert [a.slug for a in helpcenter.popular_articles(kb_db, limit=4)] == [
        "reset-password", "plans", "welcome", "change-email"]
    kb_db["article_views"].insert_all([
        {"article_slug": "refunds", "ts": dt.datetime.now(dt.timezone.utc).isoformat(), "session_id": s}
        for s in ("a", "b", "b")
    ] + [{"article_slug": "welcome", "ts": "2020-01-01T00:00:00+00:00", "session_id": s} for s in "cdef"])
    # Old views do not count; two sessions beat none.
    assert [a.slug for a in helpcenter.popular_articles(kb_db, limit=3)] == ["refunds", "reset-password", "plans"]


def test_sitemap_entries_have_the_latest_change(kb_db):
    entries = {e.path: e.lastmod for e in helpcenter.sitemap_entries(kb_db)}
    assert entries["/articles/reset-password"] == dt.date(2026, 10, 1)
    assert entries["/categories/account"] == max(entries["/articles/reset-password"], entries["/articles/change-email"])
    assert len(entries) == 11
