"""Turn StackFAQ (../shared/data/stackfaq) into help-center articles with real bodies and a queries CSV.

    python scripts/stackfaq_to_kb.py OUT_DIR [--questions N]
    kb eval run --articles OUT_DIR/articles --queries OUT_DIR/queries.csv

Each of the 125 threads becomes one article: ``title`` = the StackExchange question, body = its
answers (one ``##`` section each), ``id`` = ``faq-<n>``. Its 10 human paraphrases are the queries.
With ``--questions N`` the first N paraphrases go into the article's ``questions:`` front matter
instead (the file orders them in two groups of five) and only the others are queries.
"""

from __future__ import annotations

import argparse
import csv
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "data" / "stackfaq" / "stackExchange-FAQ.xml"


def clean(text: str | None) -> str:
    return " ".join((text or "").split())


def convert(source: Path, out: Path, questions: int = 0) -> tuple[int, int]:
    """Write ``out/articles/*.md`` and ``out/queries.csv``; returns (articles, queries)."""
    threads = ET.parse(source).getroot().findall("qapair")
    articles = out / "articles"
    articles.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str]] = []
    for n, thread in enumerate(threads, start=1):
        label = f"faq-{n}"
        # "*" separates the two groups of five paraphrases; it is not a question.
        paraphrases = [clean(r.text) for r in thread.findall("rephr") if clean(r.text) not in ("", "*")]
        answers = [clean(a.text) for a in thread.findall("answer") if clean(a.text)]
        meta: dict[str, object] = {"id": label, "title": clean(thread.findtext("question")), "slug": label}
        if questions:
            meta["questions"] = paraphrases[:questions]
        body = "\n\n".join(f"## Answer {i}\n\n{text}" for i, text in enumerate(answers, start=1))
        (articles / f"{label}.md").write_text(
            "---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) + "---\n" + body + "\n", encoding="utf-8"
        )
        rows += [(p, label) for p in paraphrases[questions:]]
    with (out / "queries.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return len(threads), len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--questions", type=int, default=0, help="paraphrases per thread used as article questions")
    parser.add_argument("--source", type=Path, default=SOURCE)
    args = parser.parse_args()
    if not args.source.exists():
        sys.exit(f"error: {args.source} is missing: StackFAQ lives in ../shared/data/stackfaq")
    try:
        articles, queries = convert(args.source, args.out, args.questions)
    except ET.ParseError as exc:
        sys.exit(f"error: {args.source}: not valid XML: {exc}")
    print(f"{articles} articles in {args.out / 'articles'}, {queries} queries in {args.out / 'queries.csv'}")


if __name__ == "__main__":
    main()
