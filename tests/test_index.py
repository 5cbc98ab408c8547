import json

import numpy as np
import pytest

from search.index import IndexMismatchError, IndexNotFoundError, VectorIndex


def random_unit(n: int, dims: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dims)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def build(n=300, dims=32, **kw) -> VectorIndex:
    vectors = random_unit(n, dims)
    return VectorIndex.build(vectors, [f"c{i}" for i in range(n)], [f"h{i}" for i in range(n)], "m", **kw)


def test_flat_search_matches_numpy_brute_force():
    index = build()
    queries = random_unit(10, 32, seed=1)
    scores, rows = index.search(queries, 5)
    expected = np.argsort(-(queries @ index.vectors().T), axis=1)[:, :5]
    assert index.kind == "flat"
    assert rows.tolist() == expected.tolist()
    assert np.allclose(scores, np.take_along_axis(queries @ index.vectors().T, expected, axis=1), atol=1e-5)


def test_hnsw_past_the_threshold_has_high_recall():
    index = build(n=2000, hnsw_threshold=1000)
    queries = random_unit(50, 32, seed=2)
    _, rows = index.search(queries, 10)
    exact = np.argsort(-(queries @ index.vectors().T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows.tolist(), exact.tolist())])
    assert index.kind == "hnsw"
    assert recall >= 0.9


def test_save_and_load_round_trip(tmp_path):
    index = build()
    index.save(tmp_path)
    loaded = VectorIndex.load(tmp_path, model="m", dims=32)
    assert (loaded.chunk_ids, loaded.hashes, loaded.build_id) == (index.chunk_ids, index.hashes, index.build_id)
    assert np.allclose(loaded.vectors(), index.vectors())
    manifest = json.loads((tmp_path / "index.json").read_text())
    assert {"model": "m", "dims": 32, "count": 300, "kind": "flat"}.items() <= manifest.items()
    assert manifest["built_at"]


def test_a_new_save_replaces_the_old_vectors_file(tmp_path):
    build().save(tmp_path)
    second = build(n=10)
    second.save(tmp_path)
    assert [p.name for p in tmp_path.glob("vectors-*.faiss")] == [f"vectors-{second.build_id}.faiss"]
    assert len(VectorIndex.load(tmp_path)) == 10


def test_a_failed_save_leaves_the_previous_index_in_use(tmp_path, monkeypatch):
    first = build(n=20)
    first.save(tmp_path)

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr("search.index.faiss.write_index", crash)
    with pytest.raises(OSError):
        build(n=5).save(tmp_path)
    assert VectorIndex.load(tmp_path).build_id == first.build_id
    assert len(VectorIndex.load(tmp_path)) == 20


def test_mismatched_model_or_dims_says_to_reindex(tmp_path):
    build().save(tmp_path)
    with pytest.raises(IndexMismatchError, match="built with model 'm'.*rebuild it with `kb index`"):
        VectorIndex.load(tmp_path, model="other")
    with pytest.raises(IndexMismatchError, match="32 dimensions.*`kb index`"):
        VectorIndex.load(tmp_path, model="m", dims=384)


def test_missing_index(tmp_path):
    with pytest.raises(IndexNotFoundError, match="kb index"):
        VectorIndex.load(tmp_path / "nothing")


def test_empty_index_searches_to_nothing():
    index = VectorIndex.build(np.zeros((0, 8), np.float32), [], [], "m")
    scores, rows = index.search(random_unit(1, 8), 5)
    assert rows.shape == (1, 0)
