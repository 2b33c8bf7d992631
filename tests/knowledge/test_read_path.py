"""The search snapshot in the home: same results as LanceDB, never stale, never a traceback (#14)."""

from __future__ import annotations

import logging
import shutil

import pytest

from knowledge.models import Article
from knowledge.read_path import ARTICLE_TABLE, TABLE_DIR, ReadPathIndex, sqlite_article_versions
from knowledge.search import HybridRetriever
from knowledge.snapshot import SnapshotFile, lance_table_version
from knowledge.store import article_versions

QUERIES = [
    "how do I reset my password",
    "reset password",
    "refund after 20 days",
    "can I export my data to CSV?",
    "two factor backup codes lost",
    "dark mode",
    "Slack integration stopped posting",
    "cancel my plan",
    "[red]weird[/red] invoice [/b]",
    "Passwort zurücksetzen ß naïve café",
    "the",
    "zzzz qqqq",
]


def reader(app) -> ReadPathIndex:
    """A read-only command's view of the app's home (what `kb search` and `ask` build)."""
    engine = app.engine
    return ReadPathIndex(
        app.config.lance_path,
        app.embedder,
        SnapshotFile(app.config.snapshot_path),
        lambda: article_versions(engine),
    )


def results(index, app, text: str) -> list[tuple[int, str, float, float, float]]:
    """Top hits of one query, with the app's own query adapter, as comparable tuples."""
    retriever = HybridRetriever(index, app.embedder)
    retriever.adapter = app.kb.retriever.adapter
    return [
        (h.article_id, h.chunk_id, h.score, h.vector_score, h.text_score)
        for h in retriever.search(text, k=8)
    ]


def assert_same(left, right) -> None:
    assert [(a, c) for a, c, *_ in left] == [(a, c) for a, c, *_ in right]
    for hit_l, hit_r in zip(left, right, strict=True):
        assert hit_l[2:] == pytest.approx(hit_r[2:], abs=1e-6)


def test_the_snapshot_gives_the_lancedb_paths_hits_and_scores_on_the_sample_kb(app):
    read = reader(app)
    assert read.snapshot() is not None  # written by the sample import
    for text in QUERIES + [a.title for a in app.kb.list()]:
        assert_same(results(read, app, text), results(app.index, app, text))
    assert read.article_state() == app.index.article_state()
    centroids, lance_centroids = read.article_centroids(), app.index.article_centroids()
    assert centroids.keys() == lance_centroids.keys()
    for aid, vec in centroids.items():
        assert vec.tolist() == pytest.approx(lance_centroids[aid].tolist(), abs=1e-6)
    first = app.kb.list()[0].id
    assert read.chunks_of(first) == app.index.chunks_of(first)
    assert read._lance is None  # LanceDB was never opened


def test_the_file_is_keyed_by_the_tables_own_version(app):
    table_version = app.index._open().version
    assert lance_table_version(app.config.lance_path / TABLE_DIR) == table_version
    assert reader(app).snapshot().version == table_version


def test_an_edit_rewrites_the_snapshot_and_is_visible_at_once(app):
    read = reader(app)
    article = next(a for a in app.kb.list() if a.title == "Reset your password")
    assert read.snapshot() is not None
    app.kb.edit_article(article.id, body="Ask the quokka at the front desk for a new password.")
    snap = read.snapshot()
    assert snap is not None and snap.article_versions()[article.id] == article.version + 1
    top = HybridRetriever(read, app.embedder).search("quokka front desk", k=1)[0]
    assert top.article_id == article.id and "quokka" in top.text
    assert read._lance is None


def test_a_stale_snapshot_is_not_used_and_the_edit_is_visible(app, tmp_path):
    path = app.config.snapshot_path
    shutil.copy(path, tmp_path / "old.npz")
    article = next(a for a in app.kb.list() if a.title == "Reset your password")
    app.kb.edit_article(article.id, body="Ask the quokka at the front desk for a new password.")
    shutil.copy(tmp_path / "old.npz", path)  # as if the writer had died before rewriting it
    read = reader(app)
    assert read.snapshot() is None
    top = HybridRetriever(read, app.embedder).search("quokka front desk", k=1)[0]
    assert top.article_id == article.id and "quokka" in top.text
    assert read._lance is not None  # LanceDB answered, and rewrote the file
    assert reader(app).snapshot().article_versions()[article.id] == article.version + 1


def test_a_snapshot_from_another_sql_state_is_not_used(app):
    read = reader(app)
    assert read.snapshot() is not None
    article = app.kb.list()[0]
    with app.engine.begin() as conn:  # SQL moved on without the index (e.g. another process)
        conn.exec_driver_sql("UPDATE article SET version = version + 5 WHERE id = ?", (article.id,))
    assert read.snapshot() is None  # the parsed copy is checked again on every read
    assert reader(app).snapshot() is None  # and a fresh reader does not take the file


def test_a_damaged_snapshot_is_one_warning_and_the_index_answers(app, caplog):
    expected = results(app.index, app, "how do I reset my password")
    app.config.snapshot_path.write_bytes(b"PK\x03\x04 this is not a snapshot")
    read = reader(app)
    with caplog.at_level(logging.WARNING, logger="knowledge"):
        got = results(read, app, "how do I reset my password")
    assert_same(got, expected)
    damaged = [r for r in caplog.records if "damaged" in r.getMessage()]
    assert len(damaged) == 1 and damaged[0].exc_info is None
    assert "\n" not in damaged[0].getMessage()
    assert reader(app).snapshot() is not None  # rewritten from LanceDB


def test_a_failed_index_write_leaves_no_snapshot_behind(app, monkeypatch):
    article = app.kb.list()[0]

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(app.index, "_rows", broken)
    with pytest.raises(OSError):
        app.index.upsert_article(article)
    assert app.config.snapshot_path.exists()  # nothing was written: the file still holds
    monkeypatch.undo()
    table = app.index._open()
    monkeypatch.setattr(table, "add", broken)
    with pytest.raises(OSError):
        app.index.upsert_article(article)
    assert not app.config.snapshot_path.exists()  # the table changed half-way: readers use it


def test_kb_search_reads_the_same_versions_with_sqlite3_as_with_sqlalchemy(app):
    assert Article.__tablename__ == ARTICLE_TABLE
    read = sqlite_article_versions(app.config.sqlite_path)
    assert read() == article_versions(app.engine) and len(read()) == len(app.kb.list())
    article = app.kb.list()[0]
    app.kb.edit_article(article.id, body=article.body + " Edited.")
    assert read()[article.id] == article.version + 1


def test_a_table_too_big_for_the_file_gets_none_and_lancedb_answers(app):
    app.index.snapshot_max_rows = 1
    article = next(a for a in app.kb.list() if a.title == "Reset your password")
    app.kb.edit_article(article.id, body="Ask the quokka at the front desk for a new password.")
    assert not app.config.snapshot_path.exists()
    read = reader(app)
    top = HybridRetriever(read, app.embedder).search("quokka front desk", k=1)[0]
    assert top.article_id == article.id and read._lance is not None
