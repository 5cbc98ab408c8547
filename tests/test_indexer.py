import os
import signal
import subprocess
import sys
import textwrap

from search.index import VectorIndex
from search.indexer import index_articles
from kb.storage import open_db


def test_first_run_embeds_everything_and_stores_it(indexed, data_dir):
    assert (indexed.articles, indexed.drafts, indexed.reused, indexed.removed, indexed.problems) == (5, 1, 0, [], [])
    assert indexed.embedded == indexed.chunks > 0
    db = open_db(data_dir / "kb.db")
    assert sorted(r["slug"] for r in db.query("select slug from articles")) == [
        "change-email", "plans", "refunds", "reset-password", "welcome"]
    assert db["chunks"].count == indexed.chunks
    assert db["redirects"].get("forgot-password")["slug"] == "reset-password"
    html = db["articles"].get("welcome")["html"]
    assert "<script" not in html and "onclick" not in html and "Learning paths group courses." in html
    link = db["articles"].get("reset-password")["html"]
    assert 'href="/articles/change-email#steps"' in link
    assert len(VectorIndex.load(data_dir / "index")) == indexed.chunks


def test_second_run_embeds_nothing(indexed, articles_dir, data_dir, fake_embedder):
    fake_embedder.calls.clear()
    report = index_articles(articles_dir, data_dir, fake_embedder)
    assert (report.embedded, report.reused, report.changed) == (0, report.chunks, [])
    assert fake_embedder.calls == []


def test_an_edit_re_embeds_only_the_changed_chunks(indexed, articles_dir, data_dir, fake_embedder):
    path = articles_dir / "billing/payments/plans.md"
    path.write_text(path.read_text().replace("120 dollars a year", "100 dollars a year"))
    report = index_articles(articles_dir, data_dir, fake_embedder)
    assert report.changed == ["plans"]
    assert report.embedded == 1  # the intro section; title, questions and summary are unchanged
    db = open_db(data_dir / "kb.db")
    assert "100 dollars" in db["chunks"].get("plans#intro")["text"]


def test_deleted_articles_are_removed(indexed, articles_dir, data_dir, fake_embedder):
    (articles_dir / "billing/payments/refunds.md").unlink()
    report = index_articles(articles_dir, data_dir, fake_embedder)
    assert report.removed == ["refunds"]
    db = open_db(data_dir / "kb.db")
    assert db.execute("select count(*) from chunks where article_slug = 'refunds'").fetchone()[0] == 0
    assert not any(c.startswith("refunds") for c in VectorIndex.load(data_dir / "index").chunk_ids)
    assert db.execute("select count(*) from embeddings where content_hash not in "
                      "(select content_hash from chunks)").fetchone()[0] == 0


def test_broken_files_are_reported_and_everything_else_indexed(articles_dir, data_dir, fake_embedder):
    (articles_dir / "empty.md").write_text("")
    (articles_dir / "binary.md").write_bytes(b"\x00\x01\x02")
    report = index_articles(articles_dir, data_dir, fake_embedder)
    assert report.articles == 5
    assert sorted(p.path.name for p in report.problems) == ["binary.md", "empty.md"]


def test_a_build_that_fails_halfway_keeps_the_previous_index(indexed, articles_dir, data_dir, fake_embedder):
    before = VectorIndex.load(data_dir / "index")
    (articles_dir / "new.md").write_text("---\ntitle: Brand new\n---\nFresh text about gift cards.\n")

    class Exploding(type(fake_embedder)):
        def encode(self, texts):
            raise RuntimeError("model crashed")

    try:
        index_articles(articles_dir, data_dir, Exploding())
    except RuntimeError:
        pass
    after = VectorIndex.load(data_dir / "index")
    assert after.build_id == before.build_id
    assert open_db(data_dir / "kb.db")["articles"].count == 5


def test_a_killed_build_keeps_the_previous_index(indexed, articles_dir, data_dir, tmp_path):
    """Kill -9 a build in the middle of embedding; the old index still loads and matches the database."""
    before = VectorIndex.load(data_dir / "index")
    for i in range(30):
        (articles_dir / f"extra-{i}.md").write_text(f"---\ntitle: Extra {i}\n---\nBody {i} words here.\n")
    script = tmp_path / "slow_build.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(os.getcwd())!r})
        from tests.conftest import FakeEmbedder
        from search.indexer import index_articles

        class Slow(FakeEmbedder):
            def encode(self, texts):
                print("embedding", flush=True)
                time.sleep(30)
                return super().encode(texts)

        index_articles(__import__("pathlib").Path({str(articles_dir)!r}), __import__("pathlib").Path({str(data_dir)!r}),
                       Slow(), batch_size=4)
    """))
    with subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout.readline().strip() == "embedding"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    after = VectorIndex.load(data_dir / "index")
    assert after.build_id == before.build_id
    db = open_db(data_dir / "kb.db")
    assert db["chunks"].count == len(after.chunk_ids)


def test_two_processes_indexing_one_data_folder_take_turns(articles_dir, data_dir):
    # Each server worker re-indexes after an edit; the second finds the first one's vectors stored.
    import threading
    import time

    from tests.conftest import FakeEmbedder

    class SlowEmbedder(FakeEmbedder):
        def encode(self, texts):
            time.sleep(0.2)
            return super().encode(texts)

    reports = []
    threads = [threading.Thread(target=lambda: reports.append(index_articles(articles_dir, data_dir, SlowEmbedder())))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first, second = sorted(reports, key=lambda r: -r.embedded)
    assert first.embedded == first.chunks > 0 and second.embedded == 0 and second.reused == second.chunks
    assert (data_dir / ".index.lock").exists()
