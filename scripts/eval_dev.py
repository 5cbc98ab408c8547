"""Run ``kb eval`` on every dev set and print the BENCHMARKS.md table.

    python scripts/eval_dev.py OUT_DIR [--only clinc,banking77-10 ...] [--env KB_AUTO_TUNE=false ...]

Writes the dev splits (``scripts/eval_splits.py``), builds each knowledge base with
``kb eval build-kb`` and measures it with ``kb eval run`` (the product's own command, with its
default settings unless ``--env`` changes one for an ablation). JSON reports land in OUT_DIR.
Dev data only: the held-out test sets are never read.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "data" / "eval"
KB = [sys.executable, "-m", "kb.cli"]


def configs(splits: Path, out: Path) -> dict[str, tuple[list[str], Path, Path]]:
    """name -> (build-kb arguments, articles folder, queries CSV)."""
    found: dict[str, tuple[list[str], Path, Path]] = {
        "clinc150": ([str(EVAL / "clinc150-train.csv")], out / "kb-clinc150", EVAL / "clinc150-val.csv"),
        "banking77-10": ([str(splits / "banking77-dev-train.csv"), "--shots", "10"], out / "kb-banking77-10",
                         splits / "banking77-dev-val.csv"),
        "banking77-full": ([str(splits / "banking77-dev-train.csv")], out / "kb-banking77-full",
                           splits / "banking77-dev-val.csv"),
    }
    for version in ("v1", "v2"):
        for domain in ("sofmattress", "curekart", "powerplay11"):
            name = f"hint3-{version}-{domain}"
            found[name] = ([str(splits / f"{name}-dev-train.csv")], out / f"kb-{name}", splits / f"{name}-dev-val.csv")
    return found


def run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"error: {' '.join(command)} failed:\n{result.stderr or result.stdout}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--only", default="", help="comma-separated names (default: all)")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the kb commands (ablations)")
    parser.add_argument("--tag", default="default", help="name of this run in the JSON file names")
    args = parser.parse_args()
    if not EVAL.is_dir():
        sys.exit(f"error: {EVAL} is missing: the dev data lives in ../shared/data/eval")
    env = {**os.environ, **dict(item.split("=", 1) for item in args.env)}
    splits = args.out / "splits"
    run([sys.executable, str(ROOT / "scripts" / "eval_splits.py"), str(splits)], env)
    wanted = [n for n in args.only.split(",") if n]
    rows = []
    for name, (build_args, articles, queries) in configs(splits, args.out).items():
        if wanted and name not in wanted:
            continue
        if not articles.exists():
            run([*KB, "eval", "build-kb", *build_args, str(articles)], env)
        report_path = args.out / f"{args.tag}-{name}.json"
        started = time.perf_counter()
        run([*KB, "eval", "run", "--articles", str(articles), "--queries", str(queries), "--json", str(report_path)], env)
        report = json.loads(report_path.read_text())
        report["wall_seconds"] = round(time.perf_counter() - started, 1)
        report_path.write_text(json.dumps(report, indent=2))
        inside, outside = report["in_scope"], report["oos"]
        rows.append(
            f"| {name} | {inside['n']} / {outside['n']} | {inside['top1']:.3f} | {inside['mrr10']:.3f} | "
            f"{inside['answered_right']:.3f} | {inside['clarified']:.3f} | {outside['handed_off']:.3f} | "
            f"{report['answer_precision']:.3f} | {report['overall_accuracy']:.3f} | {report['wall_seconds']:.0f} s |"
        )
        print(rows[-1], flush=True)
    print("\n| set | in scope / oos | top-1 | MRR@10 | in-scope answered right | clarified | oos handed off | "
          "answer precision | overall accuracy | time |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
