"""The micro-batcher: concurrent callers share forward passes and each gets its own row, or the error."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from search.batcher import BatchingEmbedder
from tests.conftest import FakeEmbedder


class SlowEmbedder(FakeEmbedder):
    """The fake embedder, slow enough that concurrent callers pile up in the queue; fails on "boom"."""

    def __init__(self, delay: float = 0.02) -> None:
        super().__init__()
        self.delay = delay
        self.threads: set[str] = set()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        if any("boom" in t for t in texts):
            raise RuntimeError("the model failed")
        return super().encode(texts)


def run_concurrently(embedder: BatchingEmbedder, texts: list[str]) -> dict[str, np.ndarray | BaseException]:
    results: dict[str, np.ndarray | BaseException] = {}
    start = threading.Barrier(len(texts))

    def call(text: str) -> None:
        start.wait()
        try:
            results[text] = embedder.encode_queries([text])
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            results[text] = exc

    threads = [threading.Thread(target=call, args=(t,)) for t in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_each_concurrent_caller_gets_its_own_vector():
    inner = SlowEmbedder()
    batcher = BatchingEmbedder(inner, max_batch=8, max_wait=0.002)
    texts = [f"question number {i} about refunds" for i in range(40)]
    results = run_concurrently(batcher, texts)
    expected = FakeEmbedder().encode(texts)
    for i, text in enumerate(texts):
        assert results[text].shape == (1, 64)  # type: ignore[union-attr]
        np.testing.assert_array_equal(results[text][0], expected[i])  # type: ignore[index]
    assert max(inner.calls) > 1  # some callers shared a forward pass
    assert max(inner.calls) <= 8  # and no pass was larger than max_batch
    assert sum(inner.calls) == 40
    assert inner.threads == {"kb-embed-batcher"}
    assert (batcher.batches, batcher.batched) == (len(inner.calls), 40)
    batcher.close()


def test_an_error_reaches_every_caller_of_that_batch_and_the_worker_lives_on():
    inner = SlowEmbedder(delay=0.05)
    batcher = BatchingEmbedder(inner, max_batch=64, max_wait=0.01)
    texts = ["boom"] + [f"fine question {i}" for i in range(7)]
    results = run_concurrently(batcher, texts)
    failed = [t for t, r in results.items() if isinstance(r, BaseException)]
    assert "boom" in failed
    assert all(str(results[t]) == "the model failed" for t in failed)
    assert all(isinstance(r, np.ndarray) for t, r in results.items() if t not in failed)
    np.testing.assert_array_equal(batcher.encode_queries(["after the error"]), FakeEmbedder().encode(["after the error"]))
    batcher.close()


def test_rows_come_back_in_order_for_a_small_multi_text_call():
    batcher = BatchingEmbedder(FakeEmbedder(), max_batch=8)
    texts = ["reset password", "refund", "cancel my plan"]
    np.testing.assert_array_equal(batcher.encode_queries(texts), FakeEmbedder().encode(texts))
    batcher.close()


@pytest.mark.parametrize("max_batch, texts", [(1, 1), (8, 5), (8, 64)])
def test_large_calls_and_batching_off_go_straight_to_the_model(max_batch, texts):
    inner = SlowEmbedder(delay=0)
    batcher = BatchingEmbedder(inner, max_batch=max_batch)
    batcher.encode_queries([f"chunk {i}" for i in range(texts)])
    assert inner.threads == {threading.current_thread().name}
    assert batcher._worker is None


def test_after_close_calls_still_work_without_the_worker():
    inner = SlowEmbedder(delay=0)
    batcher = BatchingEmbedder(inner)
    batcher.encode_queries(["one"])
    batcher.close()
    assert not batcher._worker.is_alive()
    assert batcher.encode_queries(["two"]).shape == (1, 64)


def test_articles_never_wait_in_the_query_queue():
    inner = SlowEmbedder(delay=0)
    batcher = BatchingEmbedder(inner, max_batch=32)
    batcher.encode(["one short article"])
    assert inner.threads == {threading.current_thread().name}
    assert batcher._worker is None


def test_it_is_an_embedder_over_the_wrapped_one():
    inner = FakeEmbedder()
    batcher = BatchingEmbedder(inner)
    assert (batcher.model_name, batcher.dims, batcher.calls) == ("fake-bow-64", 64, inner.calls)
    with pytest.raises(ValueError, match="max_batch"):
        BatchingEmbedder(inner, max_batch=0)


def test_derived_models_are_batched_and_made_once():
    class Derivable(FakeEmbedder):
        def derive(self, name: str, source: str) -> FakeEmbedder:
            derived = FakeEmbedder()
            derived.model_name = name
            return derived

    batcher = BatchingEmbedder(Derivable(), max_batch=16)
    tuned = batcher.derive("fake+tuned-1", "/models/1")
    assert isinstance(tuned, BatchingEmbedder)
    assert (tuned.model_name, tuned.max_batch) == ("fake+tuned-1", 16)
    assert batcher.derive("fake+tuned-1", "/models/1") is tuned
    batcher.close()


def test_concurrent_searches_through_the_batcher_match_one_by_one(indexed, data_dir, fake_embedder):
    from search.searcher import Searcher

    queries = ["how much does it cost", "can I get my money back", "reset my password", "cancel the plan"] * 4
    queries = [f"{q} {i}" for i, q in enumerate(queries)]
    alone = Searcher.load(data_dir, fake_embedder)
    expected = {q: alone.search(q, k=3) for q in queries}
    batcher = BatchingEmbedder(SlowEmbedder(delay=0.01), max_batch=8)
    shared = Searcher.load(data_dir, batcher)
    found: dict[str, object] = {}
    start = threading.Barrier(len(queries))

    def search(query: str) -> None:
        start.wait()
        found[query] = shared.search(query, k=3)

    threads = [threading.Thread(target=search, args=(q,)) for q in queries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert found == expected
    assert max(batcher.inner.calls) > 1
    alone.close()
    batcher.close()
