"""The in-memory BM25 must score exactly like the LanceDB full-text index it stands in for."""

from __future__ import annotations

import json

import pytest

from knowledge.bm25 import Bm25, analyse
from knowledge.index import LanceIndex


def test_analysis_folds_case_accents_and_stems():
    assert analyse("Refunds REFUNDED café, naïve-résumé!") == [
        "refund",
        "refund",
        "cafe",
        "naiv",
        "resum",
    ]
    assert analyse("a" * 41 + " ok") == ["ok"]  # over-long tokens are dropped, like tantivy
    assert analyse("") == [] and analyse("¿?!…") == []


def test_rare_terms_weigh_more_and_scores_sort():
    bm = Bm25([analyse(t) for t in ["refund policy", "refund window and refund form", "login"]])
    hits = bm.search("refund form", k=5)
    assert [row for row, _ in hits] == [1, 0]
    assert hits[0][1] > hits[1][1] > 0
    assert bm.search("nothing matches", k=5) == [] and bm.search("refund", k=0) == []
    assert len(bm.search("refund", k=1)) == 1


def test_empty_corpus_is_graceful():
    assert Bm25([]).search("anything", k=3) == []


def test_scores_match_lancedb_full_text_index(kb, covidfaq, tmp_path):
    from knowledge.ingest import import_path

    import_path(kb, covidfaq / "faq.jsonl")
    in_memory = kb.index
    on_disk = LanceIndex(in_memory.path, in_memory.embedder, cache_max_rows=0)  # no snapshot
    queries = [
        json.loads(line)["text"]
        for line in (covidfaq / "queries.jsonl").read_text().splitlines()[:60]
    ]
    compared = 0
    for query in queries + ["Can my DOG catch it??", "vaccines", "wash hands soap"]:
        ours = {r["chunk_id"]: r["bm25"] for r in in_memory.search_text(query, 500)}
        lance = {r["chunk_id"]: r["bm25"] for r in on_disk.search_text(query, 500)}
        assert set(ours) == set(lance), query  # every match (no cut-off, so ties cannot differ)
        for chunk_id, score in lance.items():
            assert ours[chunk_id] == pytest.approx(score, rel=1e-4)
            compared += 1
    assert compared > 500


def test_edits_are_searchable_at_once(kb):
    art = kb.add_article("Shipping times", "Parcels arrive in three days.", topic="orders")
    assert kb.index.search_text("parcels", 5)[0]["article_id"] == art.id
    kb.edit_article(art.id, body="Deliveries arrive in three days.", actor="t")
    assert kb.index.search_text("parcels", 5) == []
    assert kb.index.search_text("deliveries", 5)[0]["article_id"] == art.id
