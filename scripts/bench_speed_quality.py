"""Answer quality per inference runtime: the same knowledge base asked through torch, ONNX Runtime and int8 ONNX.

    python scripts/bench_speed_quality.py --articles KB_DIR --queries VAL.csv [--tune] [--work DIR]
    # e.g. kb eval build-kb ../shared/data/eval/clinc150-train.csv /tmp/clinc-kb --shots 10, then
    #      --articles /tmp/clinc-kb --queries ../shared/data/eval/clinc150-val.csv

``kb eval run`` fine-tunes for at most ``KB_TUNE_MAX_SECONDS``, so on a busy machine two runs train for
different numbers of steps and differ for that reason alone. Here the knowledge base is built once
with torch (fine-tuned with ``--tune``, else the base model), then copied and asked the same questions
through each runtime exactly as ``kb eval run`` asks them (``Bot.reply``, ranking by ``Searcher.search``).
The copies re-index with their own runtime (the tuned model is exported too) and self-calibrate again.
int8 is ONNX Runtime's dynamic quantization of the exported model (``quantize_dynamic``, QInt8 weights),
used for the index and the queries alike. Also prints each runtime's cosine to torch on the queries.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bot.build import build_knowledge_base  # noqa: E402
from bot.chat import Bot, Thresholds  # noqa: E402
from bot.confidence import Calibration  # noqa: E402
from bot.evaluate import article_for_label, expected_slugs, report_for, run_queries  # noqa: E402
from kb.catalog import load_catalog  # noqa: E402
from kb.cli import build_options  # noqa: E402
from kb.evalset import OUT_OF_SCOPE, read_questions  # noqa: E402
from kb.settings import load_settings  # noqa: E402
from search.embed import SentenceEmbedder, resolve_model  # noqa: E402
from search.onnx_embed import ONNX_DIR, ExportInfo, OnnxEmbedder, _Runtime, export_dir, read_export  # noqa: E402
from search.searcher import Searcher  # noqa: E402


class Int8Embedder(OnnxEmbedder):
    """The ONNX export, dynamically quantized to int8 weights (no parity requirement: that is what is measured)."""

    def _open(self):  # type: ignore[no-untyped-def]
        from onnxruntime.quantization import QuantType, quantize_dynamic

        runtime, info, reason = super()._open()
        if runtime is None:
            return runtime, info, reason
        fp32 = export_dir(self.cache_dir, self.model_name, self.source or resolve_model(self.model_name))
        folder = fp32.parent / (fp32.name + "-int8")
        if not (folder / "model.onnx").exists():
            shutil.copytree(fp32, folder, dirs_exist_ok=True)
            quantize_dynamic(str(fp32 / "model.onnx"), str(folder / "model.onnx"), weight_type=QuantType.QInt8)
        info = read_export(folder)
        assert isinstance(info, ExportInfo)
        return _Runtime(folder, info, self.threads), info, ""

    def derive(self, model_name: str, source: str) -> OnnxEmbedder:
        key = (model_name, source)
        if key not in self._derived:
            self._derived[key] = Int8Embedder(model_name, self.batch_size, source, cache_dir=self.cache_dir)
        return self._derived[key]


def evaluate(articles: Path, data: Path, embedder: object, questions: list, expected: list) -> dict[str, object]:  # type: ignore[type-arg]
    settings = load_settings()
    options = build_options(settings)
    started = time.perf_counter()
    build = build_knowledge_base(articles, data, embedder, options)  # type: ignore[arg-type]
    build_s = time.perf_counter() - started
    searcher = Searcher.load(data, embedder, keyword_weight=settings.keyword_weight)  # type: ignore[arg-type]
    bot = Bot(lambda: searcher, data / "kb.db", calibration=Calibration.load(data),
              thresholds=Thresholds(settings.answer_threshold, settings.clarify_threshold, settings.ambiguity_margin,
                                    settings.max_message_chars))
    outcomes = run_queries(bot, searcher, [q.text for q in questions], expected)
    report = report_for(outcomes, build)
    report["build_s"] = round(build_s, 1)
    report["query_model"] = searcher.embedder.model_name
    report["vectors"] = searcher.embedder.encode([q.text for q in questions[:500]])
    searcher.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--tune", action="store_true", help="Fine-tune once (KB_TUNE_* settings) and share the model.")
    parser.add_argument("--runtimes", default="torch,onnx,int8")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="kb-quality-"))
    settings = load_settings(auto_tune=args.tune)
    questions = read_questions(args.queries)
    catalog = load_catalog(args.articles)
    mapping = article_for_label([(a.slug, a.external_id) for a in catalog.published])
    expected = expected_slugs([(q.label, q.line) for q in questions], mapping, OUT_OF_SCOPE)

    base = work / "built"
    if not (base / "index").exists():
        # Fine-tuning (when asked) happens here, once; the copies below reuse its model.
        build_knowledge_base(args.articles, base, SentenceEmbedder(settings.model, settings.embed_batch_size),
                             build_options(settings))
    results: dict[str, dict[str, object]] = {}
    for runtime in args.runtimes.split(","):
        data = work / runtime
        shutil.rmtree(data, ignore_errors=True)
        shutil.copytree(base, data, ignore=shutil.ignore_patterns("index", "kb.db*", ONNX_DIR))
        if runtime == "torch":
            embedder: object = SentenceEmbedder(settings.model, settings.embed_batch_size)
        elif runtime == "onnx":
            embedder = OnnxEmbedder(settings.model, settings.embed_batch_size, cache_dir=data / ONNX_DIR, strict=True)
        else:
            embedder = Int8Embedder(settings.model, settings.embed_batch_size, cache_dir=data / ONNX_DIR)
        results[runtime] = evaluate(args.articles, data, embedder, questions, expected)
        print(f"{runtime}: {json.dumps({k: v for k, v in results[runtime].items() if k != 'vectors'})}", flush=True)

    reference = results.get("torch", {}).get("vectors")
    print("\n| runtime | query model | top-1 | MRR@10 | answered right | answered | handed off (oos) "
          "| overall accuracy | answer precision | cosine to torch: min / mean |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for runtime, r in results.items():
        cos = ""
        if reference is not None:
            sims = (np.asarray(r["vectors"]) * np.asarray(reference)).sum(axis=1)
            cos = f"{sims.min():.4f} / {sims.mean():.4f}"
        inside, oos = r["in_scope"], r["oos"]
        print(f"| {runtime} | {r['query_model']} | {inside['top1']:.3f} | {inside['mrr10']:.3f} | "  # type: ignore[index]
              f"{inside['answered_right']:.3f} | {inside['answered']:.3f} | {oos['handed_off']:.3f} | "  # type: ignore[index]
              f"{r['overall_accuracy']:.3f} | {r['answer_precision']:.3f} | {cos} |")


if __name__ == "__main__":
    main()
