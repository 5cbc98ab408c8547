"""The chatbot with the real packaged model on the bundled help center, at the shipped thresholds."""

from pathlib import Path

import pytest

from bot.chat import Bot
from search.indexer import index_articles
from search.searcher import Searcher

pytestmark = pytest.mark.slow
BUNDLED = Path(__file__).parent.parent / "articles"


@pytest.fixture(scope="module")
def bot(tmp_path_factory, real_embedder):
    data = tmp_path_factory.mktemp("data")
    index_articles(BUNDLED, data, real_embedder)
    searcher = Searcher.load(data, real_embedder)
    yield Bot(lambda: searcher, data / "kb.db")
    searcher.close()


@pytest.mark.parametrize(
    ("question", "slug"),
    [
        ("I forgot my password", "reset-your-password"),
        ("how do I get my money back?", "request-a-refund"),
        ("how can I watch lessons offline on my phone", "download-courses-for-offline-viewing"),
        ("where do I find my certificate after finishing a course", "get-your-certificate"),
        ("how do I add people to my team", "invite-team-members"),
    ],
)
def test_in_scope_questions_are_answered_with_the_right_article(bot, question, slug):
    reply = bot.reply(question)
    assert (reply.type, reply.articles[0].slug) == ("answer", slug)


@pytest.mark.parametrize("question", ["what's the weather in Paris", "who won the football game last night",
                                      "recommend a good pizza place near me"])
def test_off_topic_questions_are_handed_off(bot, question):
    reply = bot.reply(question)
    assert reply.type == "handoff" and reply.handoff["reason"] == "low_confidence"


def test_a_follow_up_stays_on_the_topic(bot):
    first = bot.reply("how do I download lessons to watch offline")
    follow = bot.reply("and on android?", session_id=first.session_id)
    assert follow.articles and follow.articles[0].slug in {"download-courses-for-offline-viewing",
                                                           "downloads-not-working", "install-the-mobile-app"}
