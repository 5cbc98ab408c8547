import pytest

from kb.render import heading_anchors, internal_link_target, render_body, sanitize, to_text


def test_script_and_event_handlers_are_removed():
    html = render_body('Hi <script>alert(1)</script><img src="x.png" onerror="alert(2)"> <a href="javascript:alert(3)">x</a>')
    assert "<script" not in html and "alert(1)" not in html
    assert "onerror" not in html and "javascript:" not in html
    assert '<img src="x.png">' in html


def test_tables_and_heading_ids():
    html = render_body("## Plans & prices\n\n| Plan | Price |\n|:--|--:|\n| Plus | 15 |\n\n### Notes\n\nText\n")
    assert '<h2 id="plans-prices">Plans &amp; prices</h2>' in html
    assert '<h3 id="notes">Notes</h3>' in html
    assert "<table>" in html and '<td style="text-align:right">15</td>' in html


def test_links_between_articles_resolve_by_slug_and_old_slug():
    resolve = {"reset-password": "reset-password", "forgot-password": "reset-password"}
    html = render_body(
        "[a](reset-password) [b](../x/forgot-password.md#steps) [c](https://example.com/x) [d](missing)", resolve
    )
    assert 'href="/articles/reset-password"' in html
    assert 'href="/articles/reset-password#steps"' in html
    assert 'href="https://example.com/x"' in html
    assert 'href="missing"' in html


@pytest.mark.parametrize(
    ("href", "target"),
    [("reset-password", ("reset-password", "")), ("Reset-Password.md#a", ("reset-password", "a")),
     ("/articles/x", None), ("#top", None), ("mailto:a@b.c", None), ("https://x.y/z", None)],
)
def test_internal_link_target(href, target):
    assert internal_link_target(href) == target


def test_heading_anchors_are_unique_and_never_empty():
    assert heading_anchors(["Steps", "Steps", "???", "Étape un"]) == ["steps", "steps-2", "section-3", "etape-un"]


def test_to_text_strips_markup_and_script_content():
    assert to_text("**Bold** and [link](x)\n\n<script>var a=1</script>\n\n- one\n- two") == "Bold and link one two"


def test_sanitize_keeps_structure():
    assert sanitize('<div class="x"><p>Hi</p></div>') == "<div><p>Hi</p></div>"
