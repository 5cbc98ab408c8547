"""Fine-tuning: batching without false negatives (fast), and a real tuning run on a tiny knowledge base (slow)."""

import json
import random

import pytest

from search.tune import (
    TunedModel, TuneError, embed_for_training, freeze_bottom, length_groups, make_batches, plan_steps, questions_hash,
    trainable, tune_model,
)


def test_batches_never_hold_two_pairs_of_one_article():
    groups = [[f"g{g} q{i}" for i in range(3 + g % 4)] for g in range(10)]
    batches = make_batches(groups, 4, 30, random.Random(1))
    assert len(batches) == 30 and all(len(b) == 4 for b in batches)
    for batch in batches:
        owners = [a.split()[0] for a, _ in batch]
        assert len(set(owners)) == len(owners)
        assert all(a != p and a.split()[0] == p.split()[0] for a, p in batch)
    anchors = [a for b in batches[:8] for a, _ in b]  # the first 32 anchors cover the 34 texts almost once
    assert len(set(anchors)) >= 28


def test_plan_steps_and_trainable_groups():
    assert plan_steps(640, 64, 1.0, 5, 100) == 10
    assert plan_steps(64, 64, 1.0, 20, 100) == 20  # small: raised to the minimum
    assert plan_steps(64000, 64, 1.0, 5, 100) == 100
    assert trainable([["a", "b"], ["c"], ["d", "d"], ["e", "f", "e"]]) == [["a", "b"], ["e", "f"]]
    assert questions_hash([["a", "b"], ["c", "d"]]) == questions_hash([["d", "c"], ["b", "a"]])


def test_length_groups_cover_every_position_once_shortest_first():
    lengths = [5, 1, 9, 3, 7, 2, 8]
    runs = length_groups(lengths, 3)
    assert [len(r) for r in runs] == [3, 3, 1]
    assert sorted(i for r in runs for i in r) == list(range(7))
    flat = [lengths[i] for r in runs for i in r]
    assert flat == sorted(lengths)


def test_budget_groups_fill_runs_up_to_the_size_and_the_padded_budget():
    from search.embed import budget_groups

    lengths = [50, 1200, 40, 1100, 60, 30, 900, 45]
    runs = budget_groups(lengths, 3, 2500)
    assert sorted(i for r in runs for i in r) == list(range(8))
    assert [lengths[i] for r in runs for i in r] == sorted(lengths)  # shortest first
    assert all(len(r) <= 3 and len(r) * max(lengths[i] for i in r) <= 2500 for r in runs)
    assert [len(r) for r in runs] == [3, 2, 2, 1]  # short texts fill a run; long ones go two at a time
    assert budget_groups([5000, 10], 4, 1000) == [[1], [0]]  # a text over the budget still gets a run


@pytest.mark.slow
def test_training_embeddings_in_length_runs_equal_one_padded_pass(real_embedder):
    import torch

    model = real_embedder._load()
    texts = ["hi", "How do I reset my password?", "refund", "Why was my card payment declined twice at the "
             "same shop yesterday evening even though I have money?", "cancel plan", "change my email address"]
    with torch.no_grad():
        whole = model(model.preprocess(texts))["sentence_embedding"]
        runs = embed_for_training(model, texts, micro_batch=2)
    assert runs.shape == whole.shape
    assert torch.allclose(runs, whole, atol=1e-5)


@pytest.mark.slow
def test_tune_then_index_and_search_use_the_tuned_model(tmp_path, real_embedder):
    from bot.build import BuildOptions, build_knowledge_base
    from search.embed import SentenceEmbedder
    from search.index import IndexMismatchError
    from search.indexer import index_articles
    from search.searcher import Searcher

    articles = tmp_path / "kb"
    articles.mkdir()
    topics = {"card-arrival": ["my card has not arrived", "where is my new card", "card still not delivered",
                               "when will the card come"],
              "change-pin": ["how do I change my pin", "reset the pin of my card", "new pin number please",
                             "forgot my pin code"],
              "exchange-rate": ["what exchange rate do you use", "is the currency rate fair", "conversion rate for euros",
                                "how much for dollars to pounds"]}
    for slug, questions in topics.items():
        lines = "\n".join(f"  - {q}" for q in questions)
        (articles / f"{slug}.md").write_text(f"---\ntitle: {slug.replace('-', ' ')}\nquestions:\n{lines}\n---\nText.\n")
    data = tmp_path / "data"
    options = BuildOptions(tune_min_questions=10, tune_min_steps=3, calibration_min_questions=10)
    report = build_knowledge_base(articles, data, real_embedder, options)
    tuned = TunedModel.load(data)
    assert report.tuned == tuned and tuned.steps == 5 and tuned.questions == 15  # 12 questions + 3 titles, batch 3
    assert (data / tuned.path / "model.safetensors").exists()
    manifest = json.loads((data / "index" / "index.json").read_text())
    assert manifest["model"] == tuned.name == f"all-MiniLM-L6-v2+tuned-{tuned.path.split('/')[-1]}"
    assert manifest["base_model"] == "all-MiniLM-L6-v2" and manifest["tuned_model"]["questions_hash"]

    # The configured base model resolves to the tuned one, for search and for the next index run.
    searcher = Searcher.load(data, SentenceEmbedder("all-MiniLM-L6-v2"))
    assert searcher.embedder.model_name == tuned.name
    assert searcher.search("my card never came", k=1)[0].slug == "card-arrival"
    searcher.close()
    assert index_articles(articles, data, real_embedder).embedded == 0
    # Unchanged questions: the next build does not tune again.
    assert build_knowledge_base(articles, data, real_embedder, options).tuned is None

    (data / "tuned.json").unlink()
    with pytest.raises(IndexMismatchError, match="kb index"):
        Searcher.load(data, SentenceEmbedder("all-MiniLM-L6-v2"))


@pytest.mark.slow
def test_frozen_layers_stay_as_the_base_model_has_them(tmp_path, real_embedder):
    import torch
    from sentence_transformers import SentenceTransformer

    from search.embed import resolve_model

    groups = [["card arrival", "my card has not arrived", "where is my new card"],
              ["change pin", "how do I change my pin", "forgot my pin code"],
              ["exchange rate", "what exchange rate do you use", "conversion rate for euros"]]
    tuned = tune_model(resolve_model("all-MiniLM-L6-v2"), "all-MiniLM-L6-v2", groups, tmp_path, min_steps=3,
                       learning_rate=1e-3, frozen_layers=3)
    assert tuned.frozen_layers == 3 and tuned.steps == 3
    base = real_embedder._load()[0].auto_model.state_dict()
    after = SentenceTransformer(str(tmp_path / tuned.path), device="cpu")[0].auto_model.state_dict()
    changed = {".".join(name.split(".")[:3 if name.startswith("encoder") else 1])
               for name, weights in after.items() if not torch.equal(weights, base[name])}
    # The token embeddings and the first two encoder layers are the base model's; the layers above trained.
    assert not changed & {"embeddings", "encoder.layer.0", "encoder.layer.1"}
    assert {f"encoder.layer.{i}" for i in range(2, 6)} <= changed


def test_freezing_a_model_whose_layers_are_unknown_says_what_to_set():
    class Unknown:
        auto_model = object()

    with pytest.raises(TuneError, match="cannot find the embedding and encoder layers of object: set KB_TUNE_FROZEN_LAYERS=0"):
        freeze_bottom([Unknown()], 2)
    assert freeze_bottom([Unknown()], 0) == 0
