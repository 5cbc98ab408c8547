"""The ONNX Runtime embedder: same vectors as torch, one export per model, and torch when it cannot match."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from search.embed import SentenceEmbedder
from search.onnx_embed import (
    META_FILE, PARITY_TEXTS, ExportInfo, OnnxEmbedder, OnnxExportError, export_dir, make_embedder, model_key,
    read_export,
)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "1_Pooling" / "config.json").write_text("{}")
    return folder


def test_the_export_key_follows_the_model_files(model_dir: Path, tmp_path: Path):
    key = model_key(str(model_dir))
    assert key == model_key(str(model_dir))
    (model_dir / "model.safetensors").write_bytes(b"retrained weights")
    assert model_key(str(model_dir)) != key
    other = tmp_path / "other"
    other.mkdir()
    assert model_key(str(other)) != model_key(str(model_dir))
    cache = tmp_path / "onnx"
    assert export_dir(cache, "org/My Model", str(model_dir)) == cache / f"org_My_Model-{model_key(str(model_dir))}"


@pytest.mark.parametrize("inference, kind, strict", [
    ("torch", SentenceEmbedder, None), ("auto", OnnxEmbedder, False), ("onnx", OnnxEmbedder, True),
])
def test_make_embedder_follows_the_setting(tmp_path: Path, inference, kind, strict):
    embedder = make_embedder("all-MiniLM-L6-v2", 32, inference=inference, cache_dir=tmp_path, threads=2)
    assert type(embedder) is kind
    assert (embedder.model_name, embedder.batch_size) == ("all-MiniLM-L6-v2", 32)
    if strict is not None:
        assert (embedder.strict, embedder.threads, embedder.cache_dir) == (strict, 2, tmp_path)


def test_an_unknown_inference_is_an_error(tmp_path: Path):
    with pytest.raises(ValueError, match="use auto, onnx or torch"):
        make_embedder("all-MiniLM-L6-v2", inference="tensorrt", cache_dir=tmp_path)


def _record_failed_export(cache: Path, source: Path) -> Path:
    folder = export_dir(cache, "my-model", str(source))
    folder.mkdir(parents=True)
    info = ExportInfo("my-model", "k", False, "cosine to the torch embedding 0.950000 < 0.9999", 0.95, 64, 128, 0,
                      "[PAD]", ("input_ids", "attention_mask"), 1.0, "2026-01-01T00:00:00")
    (folder / META_FILE).write_text(json.dumps(asdict(info)))
    return folder


def test_a_model_that_does_not_match_falls_back_to_torch_with_a_log_line(model_dir, tmp_path, monkeypatch, caplog):
    folder = _record_failed_export(tmp_path / "onnx", model_dir)
    torch_calls: list[int] = []

    def torch_encode(self: SentenceEmbedder, texts: Sequence[str]) -> np.ndarray:
        torch_calls.append(len(texts))
        return np.ones((len(texts), 64), dtype=np.float32)

    monkeypatch.setattr(SentenceEmbedder, "encode", torch_encode)
    embedder = OnnxEmbedder("my-model", source=str(model_dir), cache_dir=tmp_path / "onnx")
    with caplog.at_level(logging.WARNING, logger="kb.search"):
        assert embedder.encode(["hello", "world"]).shape == (2, 64)
    assert torch_calls == [2]
    assert embedder.uses_torch
    assert embedder.describe() == {"runtime": "torch", "model": "my-model"}
    assert [r.getMessage() for r in caplog.records] == [
        f"embedding with torch: ONNX Runtime cannot run my-model the same way (cosine to the torch embedding "
        f"0.950000 < 0.9999; delete {folder} to export again)"
    ]


def test_a_child_that_cannot_export_leaves_the_export_to_this_process(model_dir, tmp_path, monkeypatch, caplog):
    # Without torch imported, the export runs in a child process; this model cannot load there.
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    loaded: list[str] = []
    monkeypatch.setattr(SentenceEmbedder, "_load", lambda self: loaded.append(self.model_name) or "the torch model")

    def export_here(model: str, name: str, folder: Path) -> ExportInfo:
        assert (model, name) == ("the torch model", "my-model")
        found = read_export(_record_failed_export(tmp_path / "onnx", model_dir))
        assert found is not None and folder == export_dir(tmp_path / "onnx", "my-model", str(model_dir))
        return found

    monkeypatch.setattr("search.onnx_embed.export_model", export_here)
    embedder = OnnxEmbedder("my-model", source=str(model_dir), cache_dir=tmp_path / "onnx")
    with caplog.at_level(logging.WARNING, logger="kb.search"):
        assert embedder.uses_torch
    assert loaded == ["my-model"]
    child = caplog.records[0].getMessage()
    assert child.startswith("exporting my-model in a child process failed (") and str(model_dir) in child  # the child's error
    assert child.endswith("): exporting in this process")


def test_strict_onnx_refuses_a_model_that_does_not_match(model_dir, tmp_path):
    _record_failed_export(tmp_path / "onnx", model_dir)
    embedder = OnnxEmbedder("my-model", source=str(model_dir), cache_dir=tmp_path / "onnx", strict=True)
    with pytest.raises(OnnxExportError, match=r"cosine to the torch embedding 0.950000 < 0.9999.*KB_INFERENCE=torch"):
        embedder.encode(["hello"])


def test_derived_models_share_the_settings_and_are_made_once(tmp_path):
    embedder = OnnxEmbedder("base", 16, cache_dir=tmp_path, threads=2, parallel=3, strict=True)
    tuned = embedder.derive("base+tuned-1", "/data/models/1")
    assert (tuned.model_name, tuned.source, tuned.batch_size, tuned.threads, tuned.parallel, tuned.strict) == (
        "base+tuned-1", "/data/models/1", 16, 2, 3, True)
    assert embedder.derive("base+tuned-1", "/data/models/1") is tuned


@pytest.mark.slow
def test_onnx_vectors_match_torch(real_embedder, tmp_path):
    texts = [*PARITY_TEXTS, "how do I get a refund for my annual plan", "x", "Wi-Fi 6 ça marche? ¿Qué tal?"]
    onnx = OnnxEmbedder(real_embedder.model_name, cache_dir=tmp_path / "onnx", strict=True)
    expected = real_embedder.encode(texts)
    together = onnx.encode(texts)
    alone = np.vstack([onnx.encode([t]) for t in texts])
    assert together.dtype == np.float32 and together.shape == expected.shape
    assert (together * expected).sum(axis=1).min() >= 0.9999
    assert (alone * expected).sum(axis=1).min() >= 0.9999
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    info = onnx.describe()
    assert (info["runtime"], info["ok"], info["dims"], info["max_seq_length"]) == ("onnx", True, 384, 256)
    assert info["min_cosine"] >= 0.9999

    # Many texts: passes of similar length, long ones a few at a time, on parallel threads or one
    # after another, rows back in input order; torch is never loaded for them (indexing, the gap worker).
    many = [f"question {i} " + "about billing " * (i % 7) + "and a long passage " * 60 * (i % 13 == 0)
            for i in range(150)]
    expected_many = real_embedder.encode(many)
    for parallel in (1, 2):
        bulk = OnnxEmbedder(real_embedder.model_name, batch_size=16, cache_dir=tmp_path / "onnx", parallel=parallel)
        np.testing.assert_allclose(bulk.encode(many), expected_many, atol=1e-4)
        assert bulk._model is None

    # A second embedder (a restart) loads the export instead of redoing it.
    folder = next((tmp_path / "onnx").iterdir())
    stamp = os.stat(folder / "model.onnx").st_mtime_ns
    again = OnnxEmbedder(real_embedder.model_name, cache_dir=tmp_path / "onnx")
    np.testing.assert_allclose(again.encode(texts), together, atol=1e-6)
    assert os.stat(folder / "model.onnx").st_mtime_ns == stamp
    assert read_export(folder) == onnx.info


@pytest.mark.slow
def test_a_first_start_exports_in_a_child_and_never_imports_torch(real_embedder, tmp_path):
    texts = ["how do I get a refund for my annual plan", "my board is not detected"]
    script = (
        "import sys, numpy as np\n"
        "from pathlib import Path\n"
        "from search.onnx_embed import OnnxEmbedder\n"
        "embedder = OnnxEmbedder('all-MiniLM-L6-v2', cache_dir=Path(sys.argv[1]), strict=True)\n"
        "np.save(sys.argv[2], embedder.encode(sys.argv[3:]))\n"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules, embedder._model is None)\n"
    )
    # A data folder given relative to the server's working directory, as KB_DATA_DIR=data is.
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run([sys.executable, "-c", script, "onnx", "v.npy", *texts],
                            cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False", "True"]
    assert read_export(next((tmp_path / "onnx").iterdir())).ok  # type: ignore[union-attr]
    np.testing.assert_allclose(np.load(tmp_path / "v.npy"), real_embedder.encode(texts), atol=1e-4)


@pytest.mark.slow
def test_int8_queries_stay_close_to_float32_and_articles_stay_float32(real_embedder, tmp_path, caplog):
    from search.embed import encode_queries
    from search.onnx_embed import INT8_FILE, INT8_META_FILE

    texts = ["how do I get a refund for my annual plan", "my board is not detected", "cancel subscription"]
    exact = OnnxEmbedder(real_embedder.model_name, cache_dir=tmp_path / "onnx", strict=True)
    fast = OnnxEmbedder(real_embedder.model_name, cache_dir=tmp_path / "onnx", strict=True, query_int8=True)
    queries = encode_queries(fast, texts)
    cosines = (queries * exact.encode(texts)).sum(axis=1)
    assert queries.dtype == np.float32 and 0.97 <= cosines.min() < 0.99999  # close, but really the int8 model
    np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(fast.encode(texts), exact.encode(texts), atol=1e-6)  # articles: float32
    np.testing.assert_allclose(encode_queries(exact, texts), exact.encode(texts), atol=1e-6)  # off: float32
    assert fast.describe()["queries"] == "int8" and exact.describe()["queries"] == "float32"
    folder = next((tmp_path / "onnx").iterdir())
    record = json.loads((folder / INT8_META_FILE).read_text())
    assert record["ok"] and record["min_cosine"] >= 0.97 and (folder / INT8_FILE).exists()

    # A model whose int8 copy fails the check keeps float32 queries, says why once, and does not retry.
    (folder / INT8_FILE).unlink()
    (folder / INT8_META_FILE).write_text(json.dumps({"ok": False, "reason": "cosine 0.9 < 0.97", "min_cosine": 0.9}))
    with caplog.at_level(logging.WARNING, logger="kb.search"):
        again = OnnxEmbedder(real_embedder.model_name, cache_dir=tmp_path / "onnx", query_int8=True)
        np.testing.assert_allclose(encode_queries(again, texts), exact.encode(texts), atol=1e-6)
    assert "queries run in float32" in caplog.text and "cosine 0.9 < 0.97" in caplog.text
    assert not (folder / INT8_FILE).exists()
