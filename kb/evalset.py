"""Labelled question sets (CSV ``text,label``) and knowledge bases built from them for evaluation."""

from __future__ import annotations

import csv
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml
from slugify import slugify

OUT_OF_SCOPE = "oos"


class EvalSetError(ValueError):
    """A CSV that is not ``text,label``; the message names the file and line."""


@dataclass(frozen=True)
class LabelledQuestion:
    text: str
    label: str
    line: int


def read_questions(path: Path) -> list[LabelledQuestion]:
    """Rows of a ``text,label`` CSV; blank rows are skipped, anything else malformed is an error."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise EvalSetError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"text", "label"} <= set(reader.fieldnames):
            raise EvalSetError(f"{path}:1: the header must have 'text' and 'label' columns, got {reader.fieldnames}")
        rows = []
        for row in reader:
            text, label = (row.get("text") or "").strip(), (row.get("label") or "").strip()
            if not text and not label:
                continue
            if not text or not label:
                raise EvalSetError(f"{path}:{reader.line_num}: a row needs both text and label")
            rows.append(LabelledQuestion(text, label, reader.line_num))
    if not rows:
        raise EvalSetError(f"{path}: no questions")
    return rows


def readable_label(label: str) -> str:
    """"card_arrival" -> "Card arrival"; "getting_spare_card" -> "Getting spare card"."""
    words = re.sub(r"[_\-]+", " ", label).strip()
    return words[:1].upper() + words[1:]


def build_kb(train: Path, out_dir: Path, shots: int | None = None, seed: int = 0) -> int:
    """Write one Markdown article per label of ``train`` into ``out_dir``; returns the number written.

    ``id`` is the label exactly, ``questions`` are the label's texts (all, or ``shots`` picked with
    ``seed``). Out-of-scope rows are skipped: they are what the help center cannot answer.
    """
    by_label: dict[str, list[str]] = defaultdict(list)
    for q in read_questions(train):
        if q.label != OUT_OF_SCOPE:
            by_label[q.label].append(q.text)
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for label in sorted(by_label):
        texts = list(dict.fromkeys(by_label[label]))
        if shots is not None and shots < len(texts):
            texts = rng.sample(texts, shots)
        title = readable_label(label)
        slug = slugify(label) or f"label-{len(used)}"
        while slug in used:
            slug += "-x"
        used.add(slug)
        meta = {"id": label, "title": title, "slug": slug, "questions": texts}
        body = f"This article answers questions about {title.lower()}.\n"
        (out_dir / f"{slug}.md").write_text(
            "---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) + "---\n" + body, encoding="utf-8"
        )
    return len(by_label)
