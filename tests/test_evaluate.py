"""Answer-quality metrics on tiny hand-made sets, and `kb eval` end to end with the fake embedder."""

import json

import pytest
from typer.testing import CliRunner

from bot.evaluate import (
    EvalError, Outcome, article_for_label, ask_all, expected_slugs, percentile, reciprocal_rank, summarize,
)
from kb import cli
from kb.cli import app

runner = CliRunner()


def test_reciprocal_rank():
    assert reciprocal_rank(["a", "b", "c"], "a") == 1.0
    assert reciprocal_rank(["a", "b", "c"], "c") == pytest.approx(1 / 3)
    assert reciprocal_rank(["a", "b"], "z") == 0.0
    assert reciprocal_rank([f"x{i}" for i in range(10)] + ["a"], "a") == 0.0  # only the first 10 count


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([], 50, 0.0), ([5.0], 99, 5.0), ([1.0, 2.0, 3.0, 4.0], 50, 2.5), ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
    (list(map(float, range(1, 101))), 99, 99.01),
])
def test_percentile(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)


def test_summarize_counts_every_case():
    outcomes = [
        Outcome("a", "answer", "a", ("a", "b"), 10.0),    # in scope, answered right, top-1
        Outcome("a", "clarify", "a", ("b", "a"), 20.0),   # clarified with the right article first: right
        Outcome("b", "answer", "a", ("a", "b"), 30.0),    # answered wrong
        Outcome("b", "handoff", None, ("c", "d"), 40.0),  # handed off; not in the top 10 of... (c, d)
        Outcome(None, "handoff", "a", ("a",), 50.0),      # out of scope, handed off (articles suggested)
        Outcome(None, "answer", "c", ("c",), 60.0),       # out of scope, answered: wrong
    ]
    assert summarize(outcomes) == {
        "n": 6,
        "in_scope": {"n": 4, "top1": 0.25, "mrr10": round((1 + 0.5 + 0.5 + 0) / 4, 4), "answered_right": 0.5,
                     "answered": 0.5, "clarified": 0.25, "handed_off": 0.25, "smalltalk": 0.0},
        "oos": {"n": 2, "handed_off": 0.5, "answered": 0.5, "clarified": 0.0, "precision": 0.5},
        "answer_precision": round(1 / 3, 4),
        "overall_accuracy": 0.5,
        "latency_ms": {"p50": 35.0, "p99": 59.5},
    }


def test_summarize_without_out_of_scope_or_anything():
    report = summarize([Outcome("a", "answer", "a", ("a",))])
    assert report["oos"] == {"n": 0, "handed_off": 0.0, "answered": 0.0, "clarified": 0.0, "precision": 0.0}
    assert report["overall_accuracy"] == 1.0
    assert summarize([])["in_scope"]["top1"] == 0.0


def test_labels_name_articles_by_id_else_slug():
    mapping = article_for_label([("reset-password", "KB-1"), ("refunds", None)])
    assert mapping == {"reset-password": "reset-password", "KB-1": "reset-password", "refunds": "refunds"}
    assert expected_slugs([("KB-1", 2), ("refunds", 3), ("oos", 4)], mapping, "oos") == [
        "reset-password", "refunds", None]
    with pytest.raises(EvalError, match="7: label 'nope' names no article"):
        expected_slugs([("nope", 7)], mapping, "oos")


def test_ask_all_times_each_reply():
    outcomes = ask_all(["q1", "q2"], ["a", None], lambda text: ("answer", "a"), lambda text: ["a", "b"])
    assert [(o.expected, o.reply_type, o.first, o.ranking) for o in outcomes] == [
        ("a", "answer", "a", ("a", "b")), (None, "answer", "a", ("a", "b"))]
    assert all(o.latency_ms >= 0 for o in outcomes)


@pytest.fixture
def queries(tmp_path):
    path = tmp_path / "queries.csv"
    path.write_text(
        "text,label\n"
        "I forgot my password,reset-password\n"
        "can I get my money back,refunds\n"
        "what is the weather in Paris today,oos\n",
        encoding="utf-8",
    )
    return path


def test_eval_run_end_to_end(articles_dir, queries, tmp_path, fake_embedder, monkeypatch):
    monkeypatch.setattr(cli, "build_embedder", lambda settings: fake_embedder)
    monkeypatch.chdir(tmp_path)  # the live data folder (./data) must stay untouched
    out = tmp_path / "report.json"
    result = runner.invoke(app, ["eval", "run", "--articles", str(articles_dir), "--queries", str(queries),
                                 "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "in-scope" in result.output and "out-of-scope" in result.output and "latency p50" in result.output
    report = json.loads(out.read_text())
    assert report["in_scope"]["n"] == 2 and report["oos"]["n"] == 1
    assert report["in_scope"]["top1"] == 1.0 and report["in_scope"]["mrr10"] == 1.0
    assert set(report["latency_ms"]) == {"p50", "p99"}
    assert 0 <= report["overall_accuracy"] <= 1
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(("content", "message"), [
    ("text,label\nI forgot my password,no-such-article\n", "queries.csv:2: label 'no-such-article' names no article"),
    ("question,answer\nx,y\n", "the header must have 'text' and 'label' columns"),
    ("text,label\nonly text,\n", "a row needs both text and label"),
])
def test_eval_run_bad_input_is_one_line_and_exit_1(articles_dir, tmp_path, content, message, fake_embedder,
                                                    monkeypatch):
    monkeypatch.setattr(cli, "build_embedder", lambda settings: fake_embedder)
    path = tmp_path / "queries.csv"
    path.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["eval", "run", "--articles", str(articles_dir), "--queries", str(path)])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())


def test_eval_run_missing_files(articles_dir, tmp_path):
    result = runner.invoke(app, ["eval", "run", "--articles", str(articles_dir), "--queries", str(tmp_path / "no.csv")])
    assert result.exit_code == 1 and "cannot read" in result.output
    (tmp_path / "q.csv").write_text("text,label\nhi,oos\n")
    result = runner.invoke(app, ["eval", "run", "--articles", str(tmp_path / "nope"), "--queries",
                                 str(tmp_path / "q.csv")])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_eval_build_kb(tmp_path):
    train = tmp_path / "train.csv"
    train.write_text("text,label\n" + "".join(f"card question {i},card_arrival\n" for i in range(5))
                     + "what is the meaning of life,oos\nreset my pin please,change_pin\n", encoding="utf-8")
    out = tmp_path / "kb"
    result = runner.invoke(app, ["eval", "build-kb", str(train), str(out), "--shots", "2", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "Wrote 2 articles" in result.output
    from kb.parse import parse_article

    card = parse_article(out / "card-arrival.md", out)
    assert (card.external_id, card.title, len(card.questions)) == ("card_arrival", "Card arrival", 2)
    again = tmp_path / "kb2"
    runner.invoke(app, ["eval", "build-kb", str(train), str(again), "--shots", "2", "--seed", "3"])
    assert parse_article(again / "card-arrival.md", again).questions == card.questions
    assert sorted(p.name for p in out.iterdir()) == ["card-arrival.md", "change-pin.md"]
    result = runner.invoke(app, ["eval", "build-kb", str(tmp_path / "missing.csv"), str(out)])
    assert result.exit_code == 1 and "cannot read" in result.output


def test_eval_run_json_in_a_missing_folder_fails_before_indexing(articles_dir, queries, tmp_path):
    result = runner.invoke(app, ["eval", "run", "--articles", str(articles_dir), "--queries", str(queries),
                                 "--json", str(tmp_path / "no" / "report.json")])
    assert result.exit_code == 1 and "folder does not exist" in result.output
