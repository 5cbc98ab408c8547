"""Micro-batching: concurrent one-query ``encode`` calls share one forward pass.

A web server embeds each request's query on its own thread. ``BatchingEmbedder`` queues those
calls; one worker thread takes everything queued (up to ``max_batch``), runs one forward pass and
hands each caller its own row. When it was busy with the previous batch, it also waits up to
``max_wait`` seconds for stragglers, so batches fill under load; a lone query is never delayed.
Large calls (indexing) skip the queue.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from search.embed import Embedder, encode_queries


class _Request:
    __slots__ = ("text", "vector", "error", "done")

    def __init__(self, text: str) -> None:
        self.text = text
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()


class BatchingEmbedder:
    """Wraps an ``Embedder`` so that concurrent small ``encode`` calls run as one batch.

    Thread-safe. The worker thread starts on first use and is a daemon; ``close()`` stops it.

    >>> embedder = BatchingEmbedder(OnnxEmbedder("all-MiniLM-L6-v2", cache_dir=data / "onnx"), max_batch=32)
    >>> embedder.encode_queries(["I forgot my password"]).shape  # from any number of threads at once
    (1, 384)
    """

    def __init__(self, inner: Embedder, max_batch: int = 32, max_wait: float = 0.001) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.inner = inner
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._queue: deque[_Request] = deque()
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None
        self._closed = False
        self._busy = False  # the last batch had company: under load, wait a little for more
        self._derived: dict[tuple[str, str], BatchingEmbedder] = {}
        self.batches = 0  # forward passes run, and the queries in them (for benchmarks)
        self.batched = 0

    @property
    def model_name(self) -> str:  # type: ignore[override]
        return self.inner.model_name

    @property
    def dims(self) -> int:  # type: ignore[override]
        return self.inner.dims

    def __getattr__(self, name: str) -> Any:
        # ``batch_size``, ``source``, ``describe()`` ... of the wrapped embedder.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def derive(self, model_name: str, source: str) -> BatchingEmbedder:
        """Batching over the wrapped embedder's ``derive`` (``kb tune``'s model): one per model."""
        key = (model_name, source)
        with self._cond:
            if key not in self._derived:
                inner = self.inner.derive(model_name, source)  # type: ignore[attr-defined]
                self._derived[key] = BatchingEmbedder(inner, self.max_batch, self.max_wait)
            return self._derived[key]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Articles and other bulk texts: straight to the wrapped embedder, never queued."""
        return self.inner.encode(texts)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Search queries: queued, so concurrent callers share one forward pass."""
        if self.max_batch == 1 or len(texts) * 2 > self.max_batch or self._closed:
            return encode_queries(self.inner, texts)
        requests = [_Request(text) for text in texts]
        with self._cond:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="kb-embed-batcher", daemon=True)
                self._worker.start()
            self._queue.extend(requests)
            self._cond.notify()
        for request in requests:
            request.done.wait()
            if request.error is not None:
                raise request.error
        return np.vstack([request.vector for request in requests])  # type: ignore[misc]

    def _take(self, batch: list[_Request]) -> None:
        while self._queue and len(batch) < self.max_batch:
            batch.append(self._queue.popleft())

    def _run(self) -> None:
        while True:
            batch: list[_Request] = []
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed and not self._queue:
                    return
                self._take(batch)
                if self._busy and self.max_wait > 0:
                    deadline = time.monotonic() + self.max_wait
                    while len(batch) < self.max_batch:
                        left = deadline - time.monotonic()
                        if left <= 0 or not self._cond.wait(left):
                            break
                        self._take(batch)
                    self._take(batch)
                self._busy = len(batch) > 1
            self._encode(batch)

    def _encode(self, batch: list[_Request]) -> None:
        try:
            vectors = encode_queries(self.inner, [request.text for request in batch])
            if len(vectors) != len(batch):
                raise RuntimeError(f"the embedder returned {len(vectors)} vectors for {len(batch)} texts")
        except BaseException as exc:  # noqa: BLE001 - every waiting caller gets the error, the worker lives on
            for request in batch:
                request.error = exc
                request.done.set()
            return
        self.batches += 1
        self.batched += len(batch)
        for request, vector in zip(batch, vectors):
            request.vector = vector
            request.done.set()

    def close(self) -> None:
        """Finish what is queued, then stop the worker thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=5)
        for derived in self._derived.values():
            derived.close()
