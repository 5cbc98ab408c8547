import json

from typer.testing import CliRunner

from kb import cli
from kb.cli import app

runner = CliRunner()


def test_check_passes_on_good_articles(articles_dir):
    result = runner.invoke(app, ["check", "--articles", str(articles_dir)])
    assert result.exit_code == 0, result.output
    assert "6 articles, 5 categories and sections: 0 errors, 0 warnings" in result.output


def test_check_names_file_and_line_and_fails(articles_dir):
    (articles_dir / "billing" / "bad.md").write_text("---\ntitle: ok\ndescription: [x\n---\n")
    result = runner.invoke(app, ["check", "--articles", str(articles_dir)])
    assert result.exit_code == 1
    assert f"{articles_dir / 'billing' / 'bad.md'}:3: error: front matter is not valid YAML" in result.output


def test_check_on_a_missing_folder(tmp_path):
    result = runner.invoke(app, ["check", "--articles", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_index_then_search(articles_dir, data_dir, fake_embedder, monkeypatch):
    monkeypatch.setattr(cli, "build_embedder", lambda settings: fake_embedder)
    result = runner.invoke(app, ["index", "--articles", str(articles_dir), "--data", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "Indexed 5 articles (1 drafts skipped)" in result.output and "0 removed, 0 problems" in result.output
    result = runner.invoke(app, ["search", "can I get my money back", "--json", "--data", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["slug"] == "refunds"
    result = runner.invoke(app, ["search", "  ", "--data", str(data_dir)])
    assert result.exit_code == 1 and "empty" in result.output


def test_search_without_an_index_says_what_to_do(tmp_path, fake_embedder, monkeypatch):
    monkeypatch.setattr(cli, "build_embedder", lambda settings: fake_embedder)
    result = runner.invoke(app, ["search", "hello", "--data", str(tmp_path)])
    assert result.exit_code == 1
    assert "kb index" in result.output


def test_bad_setting_names_the_variable(monkeypatch, articles_dir):
    monkeypatch.setenv("KB_SEARCH_LIMIT", "lots")
    result = runner.invoke(app, ["check", "--articles", str(articles_dir)])
    assert result.exit_code == 1
    assert "KB_SEARCH_LIMIT" in result.output
