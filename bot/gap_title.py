"""Names for gaps without an LLM: a customer question turned into an article title, and c-TF-IDF keywords."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

MAX_TITLE_CHARS = 80

# Question openings that carry no topic: "How do I gift a subscription?" -> "gift a subscription".
_LEADS = re.compile(
    r"^(?:(?:hi|hello|hey)\b[\s,!.]*)?(?:please\s+)?"
    r"(?:"
    r"(?:can|could) you (?:please )?(?:tell|show) me how (?:to|i|we) (?:can )?"
    r"|how (?:do|can|could|should|would|will) (?:i|we|you|one)(?: be able to)?"
    r"|how to"
    r"|(?:is it possible|is there a way|is there any way|any way) to"
    r"|(?:i want|i'd like|i would like|i need|i'm trying|i am trying|i wanna|trying) to"
    r"|(?:can|could|may) (?:i|we)"
    r"|where (?:do|can|should) (?:i|we)"
    r"|(?:is there|are there|do you have|do you offer|do you support|does lumio have|does lumio offer|"
    r"does lumio support|is there any|are there any)(?: an?| any)?"
    r")\s+",
    re.IGNORECASE,
)
_PRONOUNS = {"my": "your", "i": "you", "me": "you", "mine": "yours", "myself": "yourself", "i'm": "you're"}
_PRONOUN = re.compile(r"\b(" + "|".join(re.escape(p) for p in _PRONOUNS) + r")\b", re.IGNORECASE)


def tidy_question(question: str) -> str:
    """A customer's question as a display label: single spaces, capital first letter, "i" as "I"."""
    text = re.sub(r"\bi\b", "I", " ".join(question.split()))
    return text[:1].upper() + text[1:]


def title_from_question(question: str) -> str:
    """An article-style title from a customer question.

    >>> title_from_question("How do I gift a subscription?")
    'Gift a subscription'
    >>> title_from_question("can I share my account with my family")
    'Share your account with your family'
    """
    text = " ".join(question.split()).strip(" ?!.,;:…")
    stripped = _LEADS.sub("", text, count=1).strip(" ?!.,;:…")
    text = stripped or text
    # Help articles speak to the reader: "my account" becomes "your account".
    text = _PRONOUN.sub(lambda m: _PRONOUNS[m.group(1).lower()], text)
    if len(text) > MAX_TITLE_CHARS:
        text = text[:MAX_TITLE_CHARS].rsplit(" ", 1)[0]
    return text[:1].upper() + text[1:]


def title_quality(question: str) -> float:
    """How good a title ``question`` makes: a plain "how do I ..."/"is there ..." ask of a few words is best."""
    text = " ".join(question.split()).strip(" ?!.,;:…")
    score = 1.0 if _LEADS.match(text) and _LEADS.sub("", text, count=1).strip() else 0.0
    words = len(text.split())
    if "," in text or ";" in text:  # two clauses ("..., how?") rarely read as a title
        score -= 1.0
    if words > 8 or words < 2:
        score -= 0.5
    return score


def keywords_by_group(documents: Mapping[int, Sequence[str]], top: int = 4) -> dict[int, list[str]]:
    """The most distinctive words of each group of questions against the other groups (class-based TF-IDF).

    Each group's questions are joined into one document, so a word shared by every gap ("lumio", "app")
    ranks low and a word only one gap uses ("chromecast") ranks high.
    """
    ids = [gap_id for gap_id, texts in documents.items() if texts]
    if not ids:
        return {}
    # scikit-learn is imported here, not at module level, so recording a signal never pays for it.
    from sklearn.feature_extraction.text import TfidfVectorizer

    words = TfidfVectorizer(stop_words="english", ngram_range=(1, 2), token_pattern=r"(?u)\b[^\W\d_]{2,}\b")
    per_question = words.build_analyzer()

    def analyze(questions: Sequence[str]) -> list[str]:
        # Word pairs are taken inside each question, never across the join of two questions.
        return [term for question in questions for term in per_question(question)]

    vectorizer = TfidfVectorizer(analyzer=analyze, sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform([list(documents[gap_id]) for gap_id in ids])
    except ValueError:  # only stop words everywhere: nothing distinctive to say
        return {gap_id: [] for gap_id in ids}
    terms = [str(t) for t in vectorizer.get_feature_names_out()]
    result: dict[int, list[str]] = {}
    for row, gap_id in enumerate(ids):
        weights = matrix.getrow(row).toarray().ravel()
        # Ties go to a phrase ("dark mode" before "dark" and "mode"), which reads better than its words apart.
        order = sorted((i for i in range(len(terms)) if weights[i] > 0),
                       key=lambda i: (-round(float(weights[i]), 6), " " not in terms[i], terms[i]))
        chosen: list[str] = []
        for i in order:
            term = terms[i]
            # Skip a word already inside a chosen phrase (and a phrase that repeats a chosen word).
            if any(set(term.split()) & set(c.split()) for c in chosen):
                continue
            chosen.append(term)
            if len(chosen) == top:
                break
        result[gap_id] = chosen
    return result
