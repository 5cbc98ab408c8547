import datetime as dt
from pathlib import Path

import pytest

from kb.parse import ArticleParseError, parse_article, readable_title
from tests.conftest import FIXTURES


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_front_matter_fields_and_folder_defaults():
    article = parse_article(FIXTURES / "account/sign-in/reset-password.md", FIXTURES)
    assert article.slug == "reset-password"
    assert article.title == "Reset your password"
    assert (article.category, article.section) == ("account", "sign-in")
    assert article.section_title == "Sign in"
    assert article.tags == ("password", "sign-in")
    assert article.questions == ("I forgot my password", "my password does not work")
    assert article.updated == dt.date(2026, 10, 1)
    assert article.position == 1
    assert article.redirect_from == ("forgot-password",)
    assert article.draft is False


def test_sections_split_at_h2_with_stable_anchors_and_lines():
    article = parse_article(FIXTURES / "account/sign-in/reset-password.md", FIXTURES)
    assert [(s.anchor, s.heading, s.level) for s in article.sections] == [
        ("", "Reset your password", 0),
        ("reset-it-from-the-sign-in-page", "Reset it from the sign-in page", 2),
        ("the-reset-email-never-arrived", "The reset email never arrived", 2),
    ]
    assert article.sections[1].text == (
        "Open the sign-in page and choose Forgot password. Enter your email address; we send a reset link."
    )
    lines = (FIXTURES / "account/sign-in/reset-password.md").read_text().splitlines()
    assert lines[article.sections[1].line - 1] == "## Reset it from the sign-in page"


def test_internal_links_are_found_with_lines():
    article = parse_article(FIXTURES / "account/sign-in/reset-password.md", FIXTURES)
    [link] = article.links
    assert (link.slug, link.fragment) == ("change-email", "steps")
    lines = (FIXTURES / "account/sign-in/reset-password.md").read_text().splitlines()
    assert "change-email#steps" in lines[link.line - 1]


def test_front_matter_overrides_folders_and_mtime_default(tmp_path):
    path = write(tmp_path, "x/y/Some File.md", "---\ntitle: T\nslug: Custom Slug\ncategory: Billing & Plans\n---\nBody\n")
    article = parse_article(path, tmp_path)
    assert (article.slug, article.category, article.category_title) == ("custom-slug", "billing-plans", "Billing & Plans")
    assert article.updated == dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.timezone.utc).date()


def test_repeated_headings_get_unique_anchors(tmp_path):
    path = write(tmp_path, "a/b.md", "---\ntitle: T\n---\n## Steps\nOne\n## Steps\nTwo\n### Notes\nThree\n")
    assert [s.anchor for s in parse_article(path, tmp_path).sections] == ["steps", "steps-2", "notes"]


@pytest.mark.parametrize(
    ("content", "message", "line"),
    [
        ("---\ndescription: no title\n---\nBody\n", "front matter has no 'title'", 2),
        ("---\ntitle: ok\ntags: [a, b\n---\nBody\n", "front matter is not valid YAML", 3),
        ("Just text, no front matter\n", "no front matter", 1),
        ("", "file is empty", None),
        ("---\ntitle: T\nupdated: yesterday\n---\n", "'updated' must be a date", 3),
        ("---\ntitle: T\nposition: first\n---\n", "'position' must be a whole number", 3),
        ("---\ntitle: T\ndraft: maybe\n---\n", "'draft' must be true or false", 3),
        ("---\n- a\n- b\n---\n", "must be a mapping", 2),
    ],
)
def test_bad_files_name_the_problem_and_line(tmp_path, content, message, line):
    path = write(tmp_path, "c/bad.md", content)
    with pytest.raises(ArticleParseError) as info:
        parse_article(path, tmp_path)
    assert message in info.value.message
    assert info.value.line == line
    assert str(path) in str(info.value)


def test_binary_and_non_utf8_files(tmp_path):
    binary = write(tmp_path, "c/image.md", b"\x89PNG\x00\x00\x01")
    latin = write(tmp_path, "c/latin.md", "---\ntitle: Caf\xe9\n---\n".encode("latin-1"))
    with pytest.raises(ArticleParseError, match="binary"):
        parse_article(binary, tmp_path)
    with pytest.raises(ArticleParseError, match="UTF-8") as info:
        parse_article(latin, tmp_path)
    assert info.value.line == 2


@pytest.mark.parametrize(("folder", "title"), [("account-and-sign-in", "Account and sign in"),
                                               ("Store Support", "Store Support"), ("billing", "Billing")])
def test_readable_title(folder, title):
    assert readable_title(folder) == title
