"""Fine-tune the embedding model on the knowledge base's own questions (``kb tune``).

Each article's questions are the ways customers ask for it; pairs of questions of one article are
positives and every other article in the batch is a negative (in-batch negatives, the
MultipleNegativesRankingLoss of sentence-transformers). Batches never hold two pairs of the same
article, so no "negative" is really a positive. A plain torch loop does the training: it needs
nothing beyond sentence-transformers itself (its Trainer pulls in ``datasets`` and ``accelerate``).

The model is saved under ``data_dir/models/<id>`` and named ``<base>+tuned-<id>``; the index
manifest records it (``search.embed.embedder_for_index`` loads it back).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from search.embed import Embedder, SentenceEmbedder, length_groups

MODELS_DIR = "models"
TUNED_FILE = "tuned.json"  # in the data folder: which tuned model is current


class TuneError(ValueError):
    """The knowledge base cannot be tuned on (too few questions); the message says what to add."""


@dataclass(frozen=True)
class TunedModel:
    """A fine-tuned model in the data folder and what it was trained on."""

    name: str  # "<base>+tuned-<id>": the model name in the manifest and the embeddings cache
    base: str
    path: str  # relative to the data folder
    questions_hash: str
    articles: int
    questions: int
    steps: int
    epochs: float
    seconds: float
    trained_at: str
    # Questions kept out of training so self-calibration can ask them as new questions (bot.calibrate).
    held_out: tuple[str, ...] = ()
    frozen_layers: int = 0  # bottom layers kept fixed (``freeze_bottom``)

    @classmethod
    def load(cls, data_dir: Path) -> TunedModel | None:
        path = data_dir / TUNED_FILE
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        data["held_out"] = tuple(data.get("held_out", ()))
        return cls(**data)

    def save(self, data_dir: Path) -> None:
        tmp = data_dir / f"{TUNED_FILE}.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        tmp.replace(data_dir / TUNED_FILE)


def questions_hash(groups: Sequence[Sequence[str]]) -> str:
    """Identity of the training data: the same questions give the same hash, in any article order."""
    canonical = sorted(json.dumps(sorted(g)) for g in groups)
    return hashlib.sha256("\n".join(canonical).encode("utf-8")).hexdigest()[:16]


def trainable(groups: Sequence[Sequence[str]]) -> list[list[str]]:
    """The groups that can make a pair (two distinct texts or more)."""
    return [list(dict.fromkeys(g)) for g in groups if len(set(g)) >= 2]


def split_held_out(groups: Sequence[Sequence[str]], fraction: float, seed: int = 0) -> tuple[list[list[str]], list[str]]:
    """(groups to train on, texts held out): ``fraction`` of each group's questions, never its first text.

    The first text of a group is its title; groups with fewer than four questions keep them all.
    """
    rng = random.Random(seed)
    kept, held = [], []
    for group in groups:
        title, questions = list(group[:1]), list(dict.fromkeys(group[1:]))
        n = int(len(questions) * fraction) if len(questions) >= 4 else 0
        out = set(rng.sample(questions, n)) if n else set()
        held += [q for q in questions if q in out]
        kept.append(title + [q for q in questions if q not in out])
    return kept, held


def make_batches(groups: Sequence[Sequence[str]], batch_size: int, steps: int, rng: random.Random) -> list[list[tuple[str, str]]]:
    """``steps`` batches of (anchor, positive) pairs, at most one pair per group in a batch.

    Anchors cycle through every text of every group (an epoch is one pass); each positive is another
    text of the same group, drawn at random.
    """
    order = [(g, i) for g, texts in enumerate(groups) for i in range(len(texts))]
    batches: list[list[tuple[str, str]]] = []
    queue: list[tuple[int, int]] = []
    while len(batches) < steps:
        if len(queue) < batch_size * 2:
            fresh = order[:]
            rng.shuffle(fresh)
            queue += fresh
        batch: list[tuple[str, str]] = []
        seen: set[int] = set()
        rest: list[tuple[int, int]] = []
        for g, i in queue:
            if len(batch) < batch_size and g not in seen:
                seen.add(g)
                texts = groups[g]
                j = rng.randrange(len(texts) - 1)
                batch.append((texts[i], texts[j if j < i else j + 1]))
            else:
                rest.append((g, i))
        queue = rest
        batches.append(batch)
    return batches


def plan_steps(n_texts: int, batch_size: int, epochs: float, min_steps: int, max_steps: int) -> int:
    """Steps for ``epochs`` passes over the texts, raised to ``min_steps`` for small knowledge bases."""
    per_epoch = max(1, -(-n_texts // batch_size))
    return max(1, min(max_steps, max(min_steps, round(per_epoch * epochs))))


def embed_for_training(model: Any, texts: Sequence[str], micro_batch: int = 16) -> Any:
    """The texts' sentence embeddings with gradients, in ``texts`` order.

    Forward passes run over length-sorted runs of ``micro_batch`` texts, so short questions are not
    padded to the longest one in the batch. Padding is masked out of attention and mean pooling, so
    the embeddings (and the loss) are those of one padded pass; the work is not. A step of 64 pairs
    on the 2-core target: BANKING77 questions (13 tokens median, 98 at most) 7.4 s -> 4.3 s, CLINC150
    3.4 s -> 2.5 s (runs of 8: 3.8 s and 2.8 s; of 32: 4.7 s and 2.5 s).
    """
    import torch

    lengths = [len(t) for t in texts]  # characters: a cheap, monotone enough proxy for tokens
    parts, order = [], []
    for run in length_groups(lengths, micro_batch):
        parts.append(model(model.preprocess([texts[i] for i in run]))["sentence_embedding"])
        order += run
    return torch.cat(parts)[torch.argsort(torch.tensor(order))]  # back to the order of ``texts``


def freeze_bottom(model: Any, layers: int) -> int:
    """Keep the ``layers`` bottom layers of ``model``'s transformer fixed (the token embeddings count as the
    first): they get no gradients, so backward stops above them. Returns the parameters left frozen.

    Measured on the 2-core target, a step of 64 CLINC150 pairs: 2.95 s training everything, 2.68 s with
    the token embeddings fixed (half the weights, and the optimizer's work on them), 2.1 s with two
    layers more; BANKING77's longer questions 4.45 s and 4.4 s. ``kb eval`` held with the embeddings
    fixed and lost 0.5-1.3 points of answers with two layers more (BENCHMARKS.md, issue 6), so the
    shipped setting is 1. Raises ``TuneError`` for a model whose layers cannot be found.
    """
    if layers <= 0:
        return 0
    network = getattr(model[0], "auto_model", None)
    embeddings = getattr(network, "embeddings", None)
    encoder = getattr(getattr(network, "encoder", None), "layer", None)
    if embeddings is None or encoder is None:
        raise TuneError(
            f"cannot find the embedding and encoder layers of {type(network).__name__}: set KB_TUNE_FROZEN_LAYERS=0"
        )
    frozen = 0
    for part in [embeddings, *list(encoder)[: layers - 1]]:
        for parameter in part.parameters():
            parameter.requires_grad_(False)
            frozen += parameter.numel()
    return frozen


def tune_model(
    base_source: str,
    base_name: str,
    groups: Sequence[Sequence[str]],
    data_dir: Path,
    *,
    epochs: float = 1.0,
    batch_size: int = 64,
    min_steps: int = 100,
    max_steps: int = 2000,
    max_seconds: float | None = None,
    learning_rate: float = 5e-5,
    scale: float = 20.0,
    seed: int = 0,
    held_out: float = 0.0,
    micro_batch: int = 16,
    frozen_layers: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> TunedModel:
    """Fine-tune ``base_source`` on pairs of texts from the same group; save and record it in ``data_dir``.

    ``groups`` holds one list of texts per article (its title first, then its questions). ``held_out``
    keeps that share of each article's questions out of training (recorded in ``TunedModel.held_out``).
    ``frozen_layers`` bottom layers stay fixed (``freeze_bottom``). Stops early after ``max_seconds`` of
    training. Raises ``TuneError`` when fewer than two groups have a pair.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    digest = questions_hash(trainable(groups))
    train_groups, held = split_held_out(groups, held_out, seed) if held_out else ([list(g) for g in groups], [])
    usable = trainable(train_groups)
    if len(usable) < 2:
        raise TuneError(
            "tuning needs at least two articles with two or more questions each: add `questions:` to the articles"
        )
    n_texts = sum(len(g) for g in usable)
    steps = plan_steps(n_texts, min(batch_size, len(usable)), epochs, min_steps, max_steps)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    batches = make_batches(usable, min(batch_size, len(usable)), steps, rng)

    started = time.perf_counter()
    model = SentenceTransformer(base_source, device="cpu")
    model.train()
    freeze_bottom(model, frozen_layers)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=learning_rate)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    done = 0
    for batch in batches:
        anchors = embed_for_training(model, [a for a, _ in batch], micro_batch)
        positives = embed_for_training(model, [p for _, p in batch], micro_batch)
        scores = torch.nn.functional.normalize(anchors, dim=-1) @ torch.nn.functional.normalize(positives, dim=-1).T
        labels = torch.arange(len(batch))
        # Symmetric: each anchor must pick its positive, and each positive its anchor.
        loss = (torch.nn.functional.cross_entropy(scores * scale, labels)
                + torch.nn.functional.cross_entropy(scores.T * scale, labels)) / 2
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        done += 1
        if progress:
            progress(done, steps)
        if max_seconds is not None and time.perf_counter() - started > max_seconds:
            break
    model.eval()

    model_id = f"{digest[:8]}-{dt.datetime.now(dt.timezone.utc).strftime('%Y%m%d%H%M%S')}"
    relative = f"{MODELS_DIR}/{model_id}"
    target = data_dir / relative
    tmp = data_dir / MODELS_DIR / f".{model_id}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save(str(tmp))
    tmp.replace(target)
    tuned = TunedModel(
        name=f"{base_name}+tuned-{model_id}", base=base_name, path=relative, questions_hash=digest,
        articles=len(usable), questions=n_texts, steps=done, epochs=round(done * len(batches[0]) / n_texts, 2),
        seconds=round(time.perf_counter() - started, 1),
        trained_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), held_out=tuple(held),
        frozen_layers=frozen_layers,
    )
    return tuned


def remove_other_models(data_dir: Path, keep: TunedModel | None) -> None:
    """Delete tuned models in ``data_dir`` other than ``keep`` (each is ~90 MB)."""
    folder = data_dir / MODELS_DIR
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if keep is None or path.name != Path(keep.path).name:
            shutil.rmtree(path, ignore_errors=True)


@lru_cache(maxsize=4)
def _tuned_embedder(path: str, name: str, batch_size: int) -> SentenceEmbedder:
    return SentenceEmbedder(name, batch_size, source=path)


def tuned_embedder(data_dir: Path, embedder: Embedder) -> Embedder:
    """The model ``kb tune`` fine-tuned from ``embedder``'s model for this data folder, else ``embedder``.

    Indexing and search both go through this, so a tuned model is used as soon as it exists, and
    changing ``KB_MODEL`` falls back to the base model (and a full re-index) on its own.
    """
    tuned = TunedModel.load(data_dir)
    if tuned is None or tuned.base != embedder.model_name or not (data_dir / tuned.path).is_dir():
        return embedder
    derive = getattr(embedder, "derive", None)
    if callable(derive):  # the ONNX embedder exports the tuned model too, and keeps its runtime settings (issue 7)
        return cast(Embedder, derive(tuned.name, str((data_dir / tuned.path).resolve())))
    batch_size = int(getattr(embedder, "batch_size", 64))
    return _tuned_embedder(str((data_dir / tuned.path).resolve()), tuned.name, batch_size)  # type: ignore[return-value]
