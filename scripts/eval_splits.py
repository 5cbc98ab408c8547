"""Write the dev splits used to tune answer quality, from the train files in ``../shared/data/eval``.

    python scripts/eval_splits.py OUT_DIR [--seed 0]

The held-out test sets are never read. Where a data set has no validation split one is carved here:

- ``banking77``: a stratified 10 % of ``banking77-train.csv`` becomes ``banking77-dev-val.csv``; the
  other 90 % is ``banking77-dev-train.csv`` (build the KB from it with and without ``--shots 10``).
- ``hint3-{v1,v2}-{domain}``: HINT3's train files have no out-of-scope rows, yet its test sets are
  half out of scope. So a quarter of the labels are held out whole (their questions become ``oos``:
  the knowledge base has no article for them), and a stratified 20 % of the rest is the in-scope part.
- ``clinc150`` has its own ``clinc150-val.csv`` and is not written here.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.evalset import OUT_OF_SCOPE, LabelledQuestion, read_questions  # noqa: E402

EVAL = ROOT.parent / "shared" / "data" / "eval"


def write_csv(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def stratified(
    questions: list[LabelledQuestion], fraction: float, rng: random.Random
) -> tuple[list[LabelledQuestion], list[LabelledQuestion]]:
    """(train, val): ``fraction`` of each label's questions (at least one, never all) go to val."""
    by_label: dict[str, list[LabelledQuestion]] = defaultdict(list)
    for q in questions:
        by_label[q.label].append(q)
    train, val = [], []
    for label in sorted(by_label):
        rows = by_label[label][:]
        rng.shuffle(rows)
        n = min(len(rows) - 1, max(1, round(len(rows) * fraction))) if len(rows) > 1 else 0
        val += rows[:n]
        train += rows[n:]
    return train, val


def split_banking(out: Path, seed: int) -> None:
    train, val = stratified(read_questions(EVAL / "banking77-train.csv"), 0.1, random.Random(seed))
    write_csv(out / "banking77-dev-train.csv", [(q.text, q.label) for q in train])
    write_csv(out / "banking77-dev-val.csv", [(q.text, q.label) for q in val])


def split_hint3(out: Path, name: str, seed: int) -> None:
    rng = random.Random(seed)
    questions = read_questions(EVAL / f"{name}-train.csv")
    labels = sorted({q.label for q in questions})
    held_out = set(rng.sample(labels, max(1, len(labels) // 4)))
    kept = [q for q in questions if q.label not in held_out]
    train, val = stratified(kept, 0.2, rng)
    oos = [(q.text, OUT_OF_SCOPE) for q in questions if q.label in held_out]
    write_csv(out / f"{name}-dev-train.csv", [(q.text, q.label) for q in train])
    write_csv(out / f"{name}-dev-val.csv", [(q.text, q.label) for q in val] + oos)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not EVAL.is_dir():
        sys.exit(f"error: {EVAL} is missing: the dev data lives in ../shared/data/eval")
    args.out.mkdir(parents=True, exist_ok=True)
    split_banking(args.out, args.seed)
    for version in ("v1", "v2"):
        for domain in ("sofmattress", "curekart", "powerplay11"):
            split_hint3(args.out, f"hint3-{version}-{domain}", args.seed)
    print(f"dev splits written to {args.out}")


if __name__ == "__main__":
    main()
