"""Hygiene finds near-duplicates, stale pages and likely contradictions, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from knowledge.hygiene import find_contradictions, find_near_duplicates, find_stale
from knowledge.models import Article


def test_hygiene_reports(kb):
    a = kb.add_article(
        "How long do refunds take?", "Refunds are paid back within 14 days of the request."
    )
    b = kb.add_article(
        "How long does a refund take?", "Refunds are paid back within 30 days of the request."
    )
    c = kb.add_article(
        "How do I reset my password?", "Use the Forgot password link on the sign-in page."
    )
    d = kb.add_article(
        "How can I reset my password?", "Use the Forgot password link on the sign-in page."
    )
    kb.add_article("Do you ship to Canada?", "Yes, we ship to Canada in 5 days.")

    dupes = {(x.a, x.b) for x in find_near_duplicates(kb, threshold=0.92)}
    assert (c.id, d.id) in dupes and (a.id, b.id) in dupes
    assert all(x.similarity >= 0.92 for x in find_near_duplicates(kb))
    assert len(dupes) == 2

    contradictions = find_contradictions(kb)
    assert [(x.a, x.b) for x in contradictions] == [(a.id, b.id)]
    assert "14" in contradictions[0].reason and "30" in contradictions[0].reason

    assert find_stale(kb, days=180) == []
    with Session(kb.engine) as s:
        art = s.get(Article, c.id)
        art.updated_at = datetime.now(UTC) - timedelta(days=400)
        s.add(art)
        s.commit()
    stale = find_stale(kb, days=180)
    assert [(x.article_id, x.days_old >= 399) for x in stale] == [(c.id, True)]
