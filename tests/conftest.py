"""Shared fixtures: a deterministic fake embedder, a fresh database, the fixture articles, an indexed data folder."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from kb.storage import open_db

FIXTURES = Path(__file__).parent / "fixtures" / "articles"
ROOT = Path(__file__).parent.parent
SHARED = ROOT.parent / "shared"


class FakeEmbedder:
    """Hashed bag of words in 64 dimensions, normalized: texts that share words score high."""

    model_name = "fake-bow-64"
    dims = 64

    def __init__(self) -> None:
        self.calls: list[int] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                bucket = int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dims
                out[row, bucket] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0
        return out


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def db():
    database = open_db(None)
    yield database
    database.close()


@pytest.fixture
def articles_dir(tmp_path: Path) -> Path:
    """A writable copy of tests/fixtures/articles."""
    target = tmp_path / "articles"
    shutil.copytree(FIXTURES, target)
    return target


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def indexed(articles_dir: Path, data_dir: Path, fake_embedder: FakeEmbedder):
    from search.indexer import index_articles

    report = index_articles(articles_dir, data_dir, fake_embedder)
    return report


@pytest.fixture(scope="session")
def real_embedder():
    from search.embed import SentenceEmbedder

    return SentenceEmbedder("all-MiniLM-L6-v2")


# The website. Fixture vector scores of unrelated words stay below 0.45 (hashed-bag collisions
# give up to ~0.4), while a shared word scores 0.5 or more.
WEB_MIN_SCORE = 0.45


def web_settings(articles: Path, data: Path, **overrides: object):
    from kb.settings import Settings

    options: dict[str, object] = {"articles_dir": articles, "data_dir": data, "watch": False,
                                  "search_min_score": WEB_MIN_SCORE, "base_url": "https://help.example"}
    options.update(overrides)
    return Settings(_env_file=None, **options)  # type: ignore[call-arg]


@pytest.fixture
def client(articles_dir: Path, data_dir: Path, fake_embedder: FakeEmbedder):
    """The website over a writable copy of the fixture articles (one app per test)."""
    from fastapi.testclient import TestClient

    from web.app import create_app

    with TestClient(create_app(web_settings(articles_dir, data_dir), embedder=fake_embedder)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    """One website per test module, for tests that only read (much faster than one per test)."""
    from fastapi.testclient import TestClient

    from web.app import create_app

    root = tmp_path_factory.mktemp("site")
    shutil.copytree(FIXTURES, root / "articles")
    app = create_app(web_settings(root / "articles", root / "data"), embedder=FakeEmbedder())
    with TestClient(app) as test_client:
        yield test_client
