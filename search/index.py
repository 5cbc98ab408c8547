"""The FAISS vector index, saved beside a manifest that says what built it.

Saving is atomic: the vectors go to a new file named by build id, then ``index.json`` (the manifest,
which names that file) is replaced in one ``os.replace``. A build killed halfway leaves the old
manifest pointing at the old vectors.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

MANIFEST = "index.json"
FORMAT_VERSION = 1


class IndexNotFoundError(Exception):
    """There is no index in the data folder yet."""


class IndexMismatchError(Exception):
    """The saved index was built with another model or dimension than the one configured."""


@dataclass
class VectorIndex:
    """Normalized vectors in FAISS; row ``i`` is chunk ``chunk_ids[i]``. Inner product = cosine similarity."""

    model: str
    dims: int
    chunk_ids: list[str]
    hashes: list[str]
    faiss_index: faiss.Index
    built_at: str = ""
    build_id: str = ""
    kind: str = "flat"
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def build(
        cls, vectors: np.ndarray, chunk_ids: list[str], hashes: list[str], model: str, hnsw_threshold: int = 50_000
    ) -> VectorIndex:
        """Exact search for small indexes; HNSW past ``hnsw_threshold`` rows, where exact gets slow.

        ``vectors`` is (rows, dims), L2-normalized; an empty index still needs its dims: shape (0, dims).
        """
        if vectors.ndim != 2 or len(vectors) != len(chunk_ids) or len(chunk_ids) != len(hashes):
            raise ValueError("vectors must be (rows, dims) with one chunk id and one hash per row")
        dims = int(vectors.shape[1])
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(vectors) > hnsw_threshold:
            hnsw = faiss.IndexHNSWFlat(dims, 32, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = 80
            hnsw.hnsw.efSearch = 64
            index: faiss.Index = hnsw
            kind = "hnsw"
        else:
            index = faiss.IndexFlatIP(dims)
            kind = "flat"
        if len(vectors):
            index.add(vectors)
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        return cls(model, dims, list(chunk_ids), list(hashes), index, now, uuid.uuid4().hex[:12], kind)

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) for each query row; rows are -1 where there are fewer than ``k`` vectors."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dims)
        k = max(1, min(k, len(self)))
        if not len(self):
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        # One OpenMP thread for a few queries (this calling thread only): waking FAISS's thread team
        # after the embedding ran costs more than the search itself (10k chunks: 8.4 ms instead of
        # 2.9 ms a query on the 2-core machine, issue 7). Batches of queries use every core.
        faiss.omp_set_num_threads(1 if len(queries) < 8 else os.cpu_count() or 1)
        return self.faiss_index.search(queries, k)

    def vectors(self) -> np.ndarray:
        """All stored vectors, in row order."""
        if not len(self):
            return np.zeros((0, self.dims), dtype=np.float32)
        return self.faiss_index.reconstruct_n(0, len(self))

    def manifest(self) -> dict[str, object]:
        return {
            "format": FORMAT_VERSION,
            "model": self.model,
            "dims": self.dims,
            "kind": self.kind,
            "count": len(self),
            "built_at": self.built_at,
            "build_id": self.build_id,
            "vectors_file": f"vectors-{self.build_id}.faiss",
            "chunk_ids": self.chunk_ids,
            "hashes": self.hashes,
            **self.extra,
        }

    def save(self, directory: Path) -> Path:
        """Write the vectors, then swap in the manifest; older vector files are removed after the swap."""
        directory.mkdir(parents=True, exist_ok=True)
        manifest = self.manifest()
        vectors_path = directory / str(manifest["vectors_file"])
        faiss.write_index(self.faiss_index, str(vectors_path) + ".tmp")
        os.replace(str(vectors_path) + ".tmp", vectors_path)
        tmp = directory / f"{MANIFEST}.{self.build_id}.tmp"
        tmp.write_text(json.dumps(manifest), encoding="utf-8")
        os.replace(tmp, directory / MANIFEST)
        for old in directory.glob("vectors-*.faiss"):
            if old != vectors_path:
                old.unlink(missing_ok=True)
        return directory / MANIFEST

    @classmethod
    def load(cls, directory: Path, model: str | None = None, dims: int | None = None) -> VectorIndex:
        """Load a saved index; a different ``model`` or ``dims`` than expected is an ``IndexMismatchError``."""
        path = directory / MANIFEST
        if not path.exists():
            raise IndexNotFoundError(f"no index in {directory}: build one with `kb index`")
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if model is not None and manifest["model"] != model:
            raise IndexMismatchError(
                f"the index in {directory} was built with model {manifest['model']!r} but the configured model is "
                f"{model!r}: rebuild it with `kb index`"
            )
        if dims is not None and manifest["dims"] != dims:
            raise IndexMismatchError(
                f"the index in {directory} has {manifest['dims']} dimensions but model {model!r} makes {dims}: "
                "rebuild it with `kb index`"
            )
        index = faiss.read_index(str(directory / manifest["vectors_file"]))
        known = {"format", "model", "dims", "kind", "count", "built_at", "build_id", "vectors_file", "chunk_ids", "hashes"}
        return cls(
            manifest["model"], manifest["dims"], manifest["chunk_ids"], manifest["hashes"], index,
            manifest["built_at"], manifest["build_id"], manifest["kind"],
            {k: v for k, v in manifest.items() if k not in known},
        )


def update_manifest(directory: Path, **fields: object) -> None:
    """Add or replace top-level fields of the saved manifest (e.g. the calibration fitted on this index)."""
    path = directory / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest.update(fields)
    tmp = directory / f"{MANIFEST}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.write_text(json.dumps(manifest), encoding="utf-8")
    os.replace(tmp, path)
