"""Retrieval quality gate on a CovidFAQ slice (real data, real MiniLM, real LanceDB)."""

from __future__ import annotations

from knowledge.evaluation import evaluate_faq
from knowledge.hygiene import find_near_duplicates


def test_covidfaq_slice_quality(kb, covidfaq):
    report = evaluate_faq(kb, covidfaq / "faq.jsonl", covidfaq / "queries.jsonl", limit=200)
    # Measured on this slice: MRR 0.76, hit@1 0.62, hit@5 0.97 (all 1,387: 0.757 / 0.62 / 0.965).
    assert report.queries == 200
    assert report.mrr >= 0.72, report.as_dict()
    assert report.hit_at[1] >= 0.56, report.as_dict()
    assert report.hit_at[5] >= 0.92, report.as_dict()
    # right answers score high in absolute terms (the graph routes on these thresholds)
    assert report.score_correct["p50"] >= 0.70, report.as_dict()
    # importing the same FAQ again changes nothing
    again = evaluate_faq(kb, covidfaq / "faq.jsonl", covidfaq / "queries.jsonl", limit=20)
    assert len(kb.list()) == 68 and again.queries == 20
    # CovidFAQ has two articles sharing one answer (ids 22 and 23)
    titles = {(d.a_title, d.b_title) for d in find_near_duplicates(kb)}
    assert any("Covid19 cases" in a and "Covid19 cases" in b for a, b in titles)
