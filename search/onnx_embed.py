"""The configured sentence-transformers model run by ONNX Runtime: exported once, cached, checked against torch.

The export (``torch.onnx.export`` of the whole sentence-transformers pipeline: transformer and
pooling) happens on first use, in a child process unless torch is loaded here already
(``export_in_child``), and lands in ``cache_dir/<model>-<key>/``, where ``key`` identifies the
model's files; so no start, the first included, brings torch into a server. Each export is checked
on sample texts against the torch embedding (cosine >= ``PARITY_MIN_COSINE``, alone and padded in
a batch); a model that does not match is recorded as such and embedded by torch instead.

Measured on the 2-core target machine (issue 7): one query in 1.5-3.5 ms instead of 8-15 ms with
torch on one thread, with the same vectors.

Queries can also run an int8 copy of the export (``query_int8``; ONNX Runtime's dynamic
quantization, per-channel weights): about twice as fast again on one core. Only queries use it: the
articles stay embedded in float32, so turning it on or off never needs a re-index, and a query's
vector stays within cosine ``INT8_MIN_COSINE`` of the float32 one (checked once, like the export).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from search.embed import PASS_CHARS, SentenceEmbedder, budget_groups, resolve_model

log = logging.getLogger("kb.search")

PARITY_MIN_COSINE = 0.9999
# Bump when the export or the runtime inputs change: older exports are then redone.
EXPORT_VERSION = 1
OPSET = 17
ONNX_DIR = "onnx"  # in the data folder: one export per model
MODEL_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
INT8_META_FILE = "int8.json"
INT8_MIN_COSINE = 0.97
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "export.json"
# A short query, a long passage past the model's token limit, accents and CJK, emoji, stray spaces:
# the tokenizer and the padded-batch path must agree with sentence-transformers on all of them.
PARITY_TEXTS = (
    "hi",
    "How do I reset my password?",
    "  my board is not detected by the computer  ",
    "Rückerstattung für mein Jahresabo — geht das? café naïve 日本語 🙂",
    "Upload failed: avrdude: stk500_recv(): programmer is not responding (COM3)",
    " ".join(["The invoice lists every payment of the year, with taxes and the billing address."] * 40),
)


class OnnxExportError(RuntimeError):
    """The model could not be exported to ONNX, or the export does not match torch."""


@dataclass(frozen=True)
class ExportInfo:
    """What ``export.json`` records about one export."""

    model: str
    key: str
    ok: bool
    reason: str
    min_cosine: float
    dims: int
    max_seq_length: int
    pad_id: int
    pad_token: str
    inputs: tuple[str, ...]
    seconds: float
    exported_at: str


def model_key(source: str) -> str:
    """Identity of a model folder's files (names, sizes, modification times) and of the export code.

    A retrained or replaced model gets a new key, so its export is redone; hashing file metadata
    instead of the ~90 MB of weights keeps a cold start cheap.
    """
    digest = hashlib.sha256(f"v{EXPORT_VERSION}:opset{OPSET}".encode())
    root = Path(source)
    if root.is_dir():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    else:
        digest.update(source.encode())
    return digest.hexdigest()[:16]


def export_dir(cache_dir: Path, model_name: str, source: str) -> Path:
    """The folder for ``model_name``'s export: one per model name and file identity."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model_name).strip("_")[:60] or "model"
    return cache_dir / f"{safe}-{model_key(source)}"


def read_export(folder: Path) -> ExportInfo | None:
    path = folder / META_FILE
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    data["inputs"] = tuple(data["inputs"])
    return ExportInfo(**data)


def export_model(model: Any, model_name: str, folder: Path) -> ExportInfo:
    """Export a loaded ``SentenceTransformer`` into ``folder`` and check it against torch.

    Writes ``model.onnx``, ``tokenizer.json`` and ``export.json`` into a temporary folder that is
    renamed into place, so a crash or a second process exporting at the same time never leaves a
    half-written export behind. A failed parity check is recorded too (``ok`` false), so later
    starts go straight to torch instead of exporting again.
    """
    import torch

    started = time.perf_counter()
    tmp = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir(parents=True)
    try:
        sample = model.preprocess(["hello world", "a slightly longer sample sentence"])
        names = tuple(k for k, v in sample.items() if isinstance(v, torch.Tensor))
        tokenizer = model.tokenizer.backend_tokenizer
        info: dict[str, Any] = dict(
            model=model_name, key=folder.name.rsplit("-", 1)[-1], ok=False, reason="", min_cosine=0.0,
            dims=int(model.get_embedding_dimension()), max_seq_length=int(model.max_seq_length),
            pad_id=int(model.tokenizer.pad_token_id or 0), pad_token=str(model.tokenizer.pad_token or "[PAD]"),
            inputs=names, seconds=0.0, exported_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )
        try:
            # Tracing warns about Python conditions it records (fine for this pipeline: the parity
            # check below covers other shapes); the warnings would be errors under pytest's settings.
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    _pipeline(model, names).eval(), tuple(sample[n] for n in names), str(tmp / MODEL_FILE),
                    input_names=list(names), output_names=["embedding"],
                    dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "embedding": {0: "batch"}},
                    opset_version=OPSET, dynamo=False,
                )
            tokenizer.save(str(tmp / TOKENIZER_FILE))
            runtime = _Runtime(tmp, ExportInfo(**info), threads=1)  # type: ignore[arg-type]
            expected = model.encode(
                list(PARITY_TEXTS), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
            cosine = parity(runtime, expected)
            info.update(min_cosine=cosine, ok=cosine >= PARITY_MIN_COSINE)
            if cosine < PARITY_MIN_COSINE:
                info["reason"] = f"cosine to the torch embedding {cosine:.6f} < {PARITY_MIN_COSINE}"
        except ImportError:  # onnx or onnxruntime missing: not the model's fault, so nothing is recorded
            raise
        except Exception as exc:  # noqa: BLE001 - any export problem means "use torch", recorded with its cause
            info["reason"] = f"export failed: {type(exc).__name__}: {exc}"[:500]
        info["seconds"] = round(time.perf_counter() - started, 2)
        (tmp / META_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
        try:
            os.replace(tmp, folder)
        except OSError:  # another process finished the same export first: use theirs
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    found = read_export(folder)
    assert found is not None
    return found


EXIT_IMPORT_ERROR = 3  # export_in_child's child: onnx / onnxruntime / sentence-transformers missing


def export_in_child(model_name: str, source: str, folder: Path) -> ExportInfo | None:
    """``export_model`` in a fresh Python process, so torch never enters this one.

    A server's first start exports its model; done in the server's own process, torch and the
    torch model stayed in its memory until it restarted (a first start served at 746 MB instead of
    ~300 MB, issue 7). Returns None when the child could not finish (logged with its last words):
    the caller then exports in process. A missing onnx or onnxruntime is an ``ImportError`` here too.
    """
    root = str(Path(__file__).resolve().parents[1])  # the child imports this same code, from there
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
    if Path(source).exists():  # paths as this process sees them: the child runs in ``root``
        source = str(Path(source).resolve())
    folder = folder.resolve()
    result = subprocess.run(
        [sys.executable, "-m", "search.onnx_embed", model_name, source, str(folder)],
        env=env, cwd=root, capture_output=True, text=True, check=False,
    )
    found = read_export(folder)
    if result.returncode == EXIT_IMPORT_ERROR:
        raise ImportError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "onnx is missing")
    if result.returncode != 0 or found is None:
        lines = result.stderr.strip().splitlines()
        last = lines[-1] if lines else f"exit code {result.returncode}"  # the exception, after its traceback
        log.warning("exporting %s in a child process failed (%s): exporting in this process", model_name, last)
        return None
    return found


def _export_main(argv: Sequence[str]) -> int:
    """``python -m search.onnx_embed MODEL SOURCE FOLDER``: the child of ``export_in_child``."""
    model_name, source, folder = argv
    try:
        model = SentenceEmbedder(model_name, source=source)._load()
        export_model(model, model_name, Path(folder))
    except ImportError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_IMPORT_ERROR
    return 0


def parity(runtime: _Runtime, expected: np.ndarray) -> float:
    """Lowest cosine between ``expected`` (torch) and the runtime's vectors, each text alone and all in one batch."""
    alone = np.vstack([runtime.run([text]) for text in PARITY_TEXTS])
    batched = runtime.run(list(PARITY_TEXTS))
    return float(min((alone * expected).sum(axis=1).min(), (batched * expected).sum(axis=1).min()))


def _pipeline(model: Any, names: tuple[str, ...]) -> Any:
    """A torch module over the whole sentence-transformers pipeline: tensors in, the pooled embedding out."""
    import torch

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            # Positional inputs: torch.onnx.export (TorchScript tracing) names them in this order.
            return self.model(dict(zip(names, tensors)))["sentence_embedding"]

    return Pipeline()


def quantize_export(folder: Path, fp32: _Runtime) -> tuple[Path | None, str]:
    """The int8 copy of ``folder``'s export, made once and checked against ``fp32``: (path, "") or (None, why not).

    The result, good or not, is recorded in ``int8.json`` so later starts do not quantize again.
    """
    meta, target = folder / INT8_META_FILE, folder / INT8_FILE
    if not meta.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        record: dict[str, Any] = {"ok": False, "reason": "", "min_cosine": 0.0}
        tmp = folder / f".{INT8_FILE}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            quantize_dynamic(str(folder / MODEL_FILE), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
            quantized = _Runtime(folder, fp32.info, threads=1, model_file=tmp.name)
            cosine = float(min((np.vstack([quantized.run([t]) for t in PARITY_TEXTS])
                                * np.vstack([fp32.run([t]) for t in PARITY_TEXTS])).sum(axis=1)))
            record.update(min_cosine=round(cosine, 6), ok=cosine >= INT8_MIN_COSINE)
            if record["ok"]:
                os.replace(tmp, target)
            else:
                record["reason"] = f"cosine to the float32 query vector {cosine:.4f} < {INT8_MIN_COSINE}"
        except Exception as exc:  # noqa: BLE001 - any problem means "queries stay float32", recorded with its cause
            record["reason"] = f"quantization failed: {type(exc).__name__}: {exc}"[:500]
        finally:
            tmp.unlink(missing_ok=True)
        meta.write_text(json.dumps(record, indent=2), encoding="utf-8")
    record = json.loads(meta.read_text(encoding="utf-8"))
    if not record.get("ok") or not target.exists():
        return None, f"{record.get('reason') or 'the int8 model is missing'}; delete {meta} to try again"
    return target, ""


class _Runtime:
    """One ONNX Runtime session and its tokenizer."""

    def __init__(self, folder: Path, info: ExportInfo, threads: int, model_file: str = MODEL_FILE) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Spinning worker threads burn the CPU that other requests need; on a busy 2-core machine
        # two spinning threads made one query 13 ms instead of 4.6 ms.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.info = info
        self.session = ort.InferenceSession(str(folder / model_file), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self.tokenizer.enable_truncation(info.max_seq_length)
        self.tokenizer.enable_padding(pad_id=info.pad_id, pad_token=info.pad_token)
        self.inputs = info.inputs

    def run(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalized float32 vectors for ``texts`` in one forward pass (padded to the longest)."""
        encodings = self.tokenizer.encode_batch(list(texts))
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        feed = {name: np.asarray(columns[name], dtype=np.int64) for name in self.inputs}
        vectors = self.session.run(None, feed)[0].astype(np.float32, copy=False)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


class OnnxEmbedder(SentenceEmbedder):
    """A ``SentenceEmbedder`` whose forward passes run in ONNX Runtime; torch only exports (once).

    ``threads`` is the intra-op threads of one forward pass; large inputs (indexing) go in passes of
    similar length and at most ``PASS_CHARS``, ``parallel`` at once on their own threads (by default
    as many as the cores leave room for: one pass on every core runs alone). With ``query_int8``,
    ``encode_queries`` runs the int8 copy of the export (see the module's notes); ``encode`` always
    runs float32. With ``strict`` a model that cannot be
    exported or does not match torch raises ``OnnxExportError``; otherwise it is logged and torch
    embeds instead. It stays a ``SentenceEmbedder`` so ``kb tune`` can fine-tune the same model.

    >>> embedder = OnnxEmbedder("all-MiniLM-L6-v2", cache_dir=Path("data/onnx"))
    >>> embedder.encode(["I forgot my password"]).shape
    (1, 384)
    """

    def __init__(
        self,
        model_name: str,
        batch_size: int = 64,
        source: str | None = None,
        *,
        cache_dir: Path,
        threads: int = 1,
        parallel: int = 0,
        strict: bool = False,
        query_int8: bool = False,
    ) -> None:
        super().__init__(model_name, batch_size, source)
        self.cache_dir = cache_dir
        self.query_int8 = query_int8
        self.query_runtime: _Runtime | None = None
        self.threads = threads
        self.parallel = parallel or max(1, (os.cpu_count() or 1) // max(1, threads))
        self.strict = strict
        self.runtime: _Runtime | None = None
        self.info: ExportInfo | None = None
        self._ready = False
        self._ready_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._derived: dict[tuple[str, str], OnnxEmbedder] = {}

    def derive(self, model_name: str, source: str) -> OnnxEmbedder:
        """The same runtime settings for another model (``kb tune``'s fine-tuned one), made once per model."""
        key = (model_name, source)
        with self._ready_lock:
            if key not in self._derived:
                self._derived[key] = OnnxEmbedder(
                    model_name, self.batch_size, source, cache_dir=self.cache_dir, threads=self.threads,
                    parallel=self.parallel, strict=self.strict, query_int8=self.query_int8,
                )
            return self._derived[key]

    def _prepare(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            try:
                self.runtime, self.info, reason = self._open()
            except ImportError as exc:  # onnxruntime or tokenizers missing: torch still works
                reason = f"{exc}: install onnxruntime and onnx to enable it"
            if self.runtime is not None and self.info is not None:
                self._dims = self.info.dims
                if self.query_int8:
                    self.query_runtime = self._open_int8(self.runtime)
            elif self.strict:
                raise OnnxExportError(
                    f"cannot run {self.model_name!r} in ONNX Runtime: {reason} (set KB_INFERENCE=torch or auto)"
                )
            else:
                log.warning("embedding with torch: ONNX Runtime cannot run %s the same way (%s)", self.model_name, reason)
            self._ready = True

    def _open(self) -> tuple[_Runtime | None, ExportInfo | None, str]:
        source = self.source or resolve_model(self.model_name)
        folder = export_dir(self.cache_dir, self.model_name, source)
        info = read_export(folder)
        if info is None:
            log.info("exporting %s to ONNX in %s (once per model)", self.model_name, folder)
            folder.parent.mkdir(parents=True, exist_ok=True)
            info = None if "torch" in sys.modules else export_in_child(self.model_name, source, folder)
            if info is None:  # torch is here already (kb tune, a test), or the child failed: export here
                info = export_model(super()._load(), self.model_name, folder)
                if info.ok:
                    self._model = None  # the torch model was only needed to export: free its memory
        if not info.ok:
            return None, info, f"{info.reason}; delete {folder} to export again"
        return _Runtime(folder, info, self.threads), info, ""

    def _open_int8(self, fp32: _Runtime) -> _Runtime | None:
        folder = export_dir(self.cache_dir, self.model_name, self.source or resolve_model(self.model_name))
        try:
            path, reason = quantize_export(folder, fp32)
        except ImportError as exc:
            path, reason = None, f"{exc}: install onnxruntime with its quantization tools"
        if path is None:
            log.warning("queries run in float32: no int8 model for %s (%s)", self.model_name, reason)
            return None
        return _Runtime(folder, fp32.info, self.threads, model_file=path.name)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for search queries: the int8 model when ``query_int8`` (and it passed its check), else ``encode``."""
        self._prepare()
        if self.query_runtime is not None:
            return self._run(self.query_runtime, texts)
        return self.encode(texts)

    @property
    def uses_torch(self) -> bool:
        """True when torch embeds (the model could not be exported, or does not match)."""
        self._prepare()
        return self.runtime is None

    @property
    def dims(self) -> int:  # type: ignore[override]
        self._prepare()
        if self.runtime is not None:
            assert self._dims is not None
            return self._dims
        return super().dims

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self._prepare()
        if self.runtime is None:
            return super().encode(texts)
        return self._run(self.runtime, texts)

    def _run(self, runtime: _Runtime, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        # Similar lengths share a forward pass (little padding), and long passages go a few at a time.
        batches = budget_groups([len(t) for t in texts], self.batch_size, PASS_CHARS)
        if len(batches) == 1:
            return runtime.run(texts)
        out = np.empty((len(texts), self.dims), dtype=np.float32)

        def run(rows: list[int]) -> None:
            out[rows] = runtime.run([texts[i] for i in rows])

        if self.parallel > 1:
            # Forward passes on separate threads (ORT releases the GIL) use every core when one
            # pass has fewer threads than there are cores; one session serves them all.
            list(self._passes().map(run, batches))
        else:
            for rows in batches:
                run(rows)
        return out

    def _passes(self) -> ThreadPoolExecutor:
        """The threads of parallel passes, made once: indexing and the gap worker may both embed at once."""
        with self._ready_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="kb-onnx")
            return self._pool

    def describe(self) -> dict[str, Any]:
        """What runs the model (for logs and benchmarks)."""
        self._prepare()
        if self.info is None or self.runtime is None:
            return {"runtime": "torch", "model": self.model_name}
        return {"runtime": "onnx", "queries": "int8" if self.query_runtime else "float32", **asdict(self.info)}


def make_embedder(
    model_name: str, batch_size: int = 64, *, inference: str = "auto", cache_dir: Path, threads: int = 1,
    query_int8: bool = False,
) -> SentenceEmbedder:
    """The embedder for ``KB_INFERENCE``: ``torch``, ``onnx`` (an error when it cannot run) or ``auto``.

    ``auto`` uses ONNX Runtime when the export matches torch, else torch, with a log line saying why.
    ``query_int8`` (``KB_QUERY_INT8``) embeds queries with the int8 copy of the ONNX export.
    """
    if inference == "torch":
        return SentenceEmbedder(model_name, batch_size)
    if inference not in ("auto", "onnx"):
        raise ValueError(f"unknown inference {inference!r}: use auto, onnx or torch")
    return OnnxEmbedder(model_name, batch_size, cache_dir=cache_dir, threads=threads, strict=inference == "onnx",
                        query_int8=query_int8)


if __name__ == "__main__":
    sys.exit(_export_main(sys.argv[1:]))
