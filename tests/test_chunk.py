from kb.chunk import chunk_article, content_hash, split_text
from kb.parse import parse_article
from tests.conftest import FIXTURES


def test_chunks_are_summary_questions_and_sections():
    article = parse_article(FIXTURES / "account/sign-in/reset-password.md", FIXTURES)
    chunks = chunk_article(article)
    assert [(c.id, c.kind, c.anchor) for c in chunks] == [
        ("reset-password/summary", "summary", ""),
        ("reset-password/q1", "question", ""),
        ("reset-password/q2", "question", ""),
        ("reset-password#intro", "section", ""),
        ("reset-password#reset-it-from-the-sign-in-page", "section", "reset-it-from-the-sign-in-page"),
        ("reset-password#the-reset-email-never-arrived", "section", "the-reset-email-never-arrived"),
    ]
    assert chunks[0].text == (
        "Reset your password\nGet back into your account when you forgot your password.\n"
        "I forgot my password\nmy password does not work"
    )
    assert chunks[4].text.startswith("Reset your password: Reset it from the sign-in page\nOpen the sign-in page")
    assert all(c.content_hash == content_hash(c.text) for c in chunks)


def test_long_sections_are_split_at_sentences():
    text = " ".join(f"Sentence number {i} is here." for i in range(100))
    pieces = split_text(text, 200)
    assert all(len(p) <= 200 for p in pieces)
    assert " ".join(pieces) == text
    assert all(p.endswith(".") for p in pieces)


def test_a_run_on_sentence_is_cut_at_spaces():
    text = "word " * 300
    pieces = split_text(text.strip(), 200)
    assert all(len(p) <= 200 for p in pieces)
    assert " ".join(pieces).split() == text.split()


def test_hash_changes_only_with_text():
    assert content_hash("a") == content_hash("a") != content_hash("b")
