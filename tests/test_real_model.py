"""The real packaged model on the bundled help center: rankings a customer would expect."""

from pathlib import Path

import numpy as np
import pytest

from search.indexer import index_articles
from search.searcher import Searcher

pytestmark = pytest.mark.slow
BUNDLED = Path(__file__).parent.parent / "articles"


@pytest.fixture(scope="module")
def bundled_searcher(tmp_path_factory, real_embedder):
    data = tmp_path_factory.mktemp("data")
    index_articles(BUNDLED, data, real_embedder)
    searcher = Searcher.load(data, real_embedder)
    yield searcher
    searcher.close()


@pytest.mark.parametrize(
    ("query", "slug"),
    [
        ("I forgot my password", "reset-your-password"),
        ("reset password", "reset-your-password"),
        ("pasword reset", "reset-your-password"),  # typo
        ("how do i get my money back", "request-a-refund"),
        ("watch lessons on a plane with no internet", "download-courses-for-offline-viewing"),
        ("I want to stop my subscription", "cancel-your-subscription"),
        ("connect okta to our company account", "set-up-single-sign-on"),
        ("the video is just a black screen", "videos-wont-play"),
        ("make the lessons play faster", "change-playback-speed-and-captions"),
    ],
)
def test_the_right_article_comes_first(bundled_searcher, query, slug):
    assert bundled_searcher.search(query, k=3)[0].slug == slug


def test_a_paraphrase_finds_the_sign_in_help(bundled_searcher):
    slugs = [h.slug for h in bundled_searcher.search("I can't get into my account", k=3)]
    assert {"reset-your-password", "locked-out-of-your-account"} & set(slugs)


def test_off_topic_questions_score_low(bundled_searcher):
    on_topic = bundled_searcher.search("I forgot my password", k=1)[0]
    off_topic = bundled_searcher.search("what's the weather in Paris", k=1)[0]
    assert off_topic.vector_score < 0.4 < on_topic.vector_score


def test_the_model_loads_from_the_package_offline(real_embedder):
    vectors = real_embedder.encode(["hello"])
    assert vectors.shape == (1, 384)
    assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-4


def test_torch_embeds_many_texts_in_passes_with_the_rows_in_order(real_embedder):
    # Short and long texts mixed: passes of similar length (long passages a few at a time) give
    # each text the vector it gets alone, in the order asked.
    texts = [f"question {i} " + "about billing " * (i % 5) + "and a long passage " * 50 * (i % 9 == 0)
             for i in range(40)]
    together = real_embedder.encode(texts)
    alone = np.vstack([real_embedder.encode([t]) for t in texts])
    assert together.shape == (40, 384) and together.dtype == np.float32
    assert (together * alone).sum(axis=1).min() >= 0.9999
