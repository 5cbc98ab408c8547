"""Corpora of 1k, 10k and 100k chunks for the speed benchmarks, built from the real text in ../shared/data.

    python scripts/bench_speed_corpus.py 10000 /tmp/corpus-10k    # writes an articles folder, prints its size

Sources, in this order, until the chunk count is reached: the Arduino help center (real articles,
~1,900 chunks), the StackFAQ threads (question, paraphrases, answers), then one article per intent
of the CLINC150, BANKING77 and HINT3 training sets (each question is a chunk). Those give ~32,000
distinct chunks; past that, intent articles of two-question messages ("<q1> Also, <q2>", both
questions of the same intent) fill the 100k corpus, so every chunk is real customer wording.
Queries come from CLINC150's validation set, which is never in a corpus.
"""

from __future__ import annotations

import csv
import html
import random
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.catalog import load_catalog  # noqa: E402
from kb.chunk import chunk_article  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
ARDUINO = SHARED / "helpcenter-arduino" / "content"
STACKFAQ = SHARED / "stackfaq" / "stackExchange-FAQ.xml"
EVAL = SHARED / "eval"
INTENT_SETS = [
    ("clinc", "clinc150-train.csv"), ("banking", "banking77-train.csv"),
    ("hint3-sofmattress", "hint3-v2-sofmattress-train.csv"), ("hint3-curekart", "hint3-v2-curekart-train.csv"),
    ("hint3-powerplay11", "hint3-v2-powerplay11-train.csv"),
]
QUERIES = EVAL / "clinc150-val.csv"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "x"


def _article(title: str, slug: str, questions: list[str], body: str) -> str:
    meta = {"title": title, "slug": slug, "questions": questions}
    return "---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) + "---\n\n" + body + "\n"


def _chunks_of(text: str, questions: list[str]) -> int:
    """Chunks of a generated article: its summary, each distinct question, one body section."""
    return 1 + len(dict.fromkeys(questions)) + 1


def _stackfaq() -> Iterator[tuple[str, str, int]]:
    for n, pair in enumerate(ET.parse(STACKFAQ).getroot().iter("qapair")):
        question = " ".join((pair.findtext("question") or "").split())
        rephrased = [" ".join(html.unescape(r.text or "").split()) for r in pair.iter("rephr")]
        rephrased = [r for r in rephrased if r and r != "*"]
        answers = [" ".join(html.unescape(a.text or "").split()) for a in pair.iter("answer")]
        body = "\n\n".join(f"## Answer {i}\n\n{a}" for i, a in enumerate(answers, start=1) if a)
        slug = f"faq-{n}-{_slug(question)}"
        yield f"stackfaq/{slug}.md", _article(question, slug, rephrased, body), 1 + len(set(rephrased)) + len(answers)


def _intents() -> dict[str, dict[str, list[str]]]:
    groups: dict[str, dict[str, list[str]]] = {}
    for name, file in INTENT_SETS:
        with open(EVAL / file, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                groups.setdefault(name, {}).setdefault(row["label"], []).append(row["text"].strip())
    return groups


def _intent_articles(groups: dict[str, dict[str, list[str]]]) -> Iterator[tuple[str, str, int]]:
    for name, labels in groups.items():
        for label, texts in labels.items():
            title = label.replace("_", " ").strip().capitalize()
            slug = f"{name}-{_slug(label)}"
            body = f"This article answers questions about {title.lower()}."
            yield f"{name}/{slug}.md", _article(title, slug, texts, body), _chunks_of(body, texts)


def _pair_articles(groups: dict[str, dict[str, list[str]]]) -> Iterator[tuple[str, str, int]]:
    rng = random.Random(7)
    for round_ in range(1, 100):
        for name, labels in groups.items():
            for label, texts in labels.items():
                if len(texts) < 2:
                    continue
                order = texts[:]
                rng.shuffle(order)
                pairs = [f"{order[i].rstrip('?.!')}? Also, {order[(i + round_) % len(order)]}" for i in range(len(order))]
                title = f"{label.replace('_', ' ').strip().capitalize()} (follow-up questions {round_})"
                slug = f"{name}-{_slug(label)}-pairs-{round_}"
                body = f"Follow-up questions about {label.replace('_', ' ')}."
                yield f"pairs/{slug}.md", _article(title, slug, pairs, body), _chunks_of(body, pairs)


def arduino_chunks() -> list[tuple[Path, int]]:
    """Each published Arduino article file with its number of chunks, in folder order."""
    catalog = load_catalog(ARDUINO)
    return [(a.path, len(chunk_article(a))) for a in catalog.published]


def build_corpus(target: int, out: Path) -> int:
    """Write an articles folder of about ``target`` chunks into ``out``; returns the chunk count."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(ARDUINO, out / "arduino")
    total = 0
    for path, chunks in arduino_chunks():
        copy = out / "arduino" / path.relative_to(ARDUINO)
        if total >= target:
            copy.unlink()  # category pages (_index.md) stay, articles past the target go
        else:
            total += chunks
    groups = _intents()
    for sources in (_stackfaq(), _intent_articles(groups), _pair_articles(groups)):
        for relative, text, chunks in sources:
            if total >= target:
                return total
            (out / relative).parent.mkdir(parents=True, exist_ok=True)
            (out / relative).write_text(text, encoding="utf-8")
            total += chunks
    return total


def queries(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct customer questions (CLINC150 validation, in scope and out of scope), shuffled."""
    with open(QUERIES, newline="", encoding="utf-8") as f:
        texts = list(dict.fromkeys(row["text"].strip() for row in csv.DictReader(f)))
    random.Random(seed).shuffle(texts)
    if n > len(texts):
        raise SystemExit(f"only {len(texts)} distinct queries in {QUERIES}")
    return texts[:n]


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    count = build_corpus(int(sys.argv[1]), Path(sys.argv[2]))
    print(f"{count} chunks in {sys.argv[2]}")
