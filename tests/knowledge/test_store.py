"""KnowledgeBase: every change is searchable at once, history and revert, reindex, repair, review."""

from __future__ import annotations

import pytest

from knowledge.errors import KnowledgeError
from knowledge.index import fts_query
from tests.knowledge.conftest import build_kb

REFUND = "Refunds are issued within 14 days to the original payment method."
PASSWORD = "Open Settings, choose Security, then click Reset password and follow the email link."
EXPORT = "Go to Settings > Data and press Export; you receive a ZIP archive with CSV files."


def _seed(kb):
    a = kb.add_article("How do I get a refund?", REFUND, topic="billing", tags=["money"])
    b = kb.add_article("How do I reset my password?", PASSWORD, topic="account")
    c = kb.add_article("How can I export my data?", EXPORT, topic="account")
    return a, b, c


def _top(kb, text):
    hits = kb.search(text, k=3)
    assert hits, f"no hits for {text!r}"
    return hits[0]


def test_add_edit_remove_are_visible_to_the_next_search(kb):
    a, b, c = _seed(kb)
    assert _top(kb, "I forgot my password").article_id == b.id
    assert _top(kb, "money back please").article_id == a.id

    kb.edit_article(
        c.id, actor="ana", title="Where is the dark mode toggle?", body="Settings > Theme > Dark."
    )
    hit = _top(kb, "enable dark mode")
    assert hit.article_id == c.id and hit.title == "Where is the dark mode toggle?"
    assert "Theme" in hit.text and hit.chunk_id == f"{c.id}:2:1"
    assert all("export" not in h.text.lower() for h in kb.search("export ZIP CSV archive", k=5))

    kb.remove_article(b.id, actor="ana")
    assert all(h.article_id != b.id for h in kb.search("reset password", k=5))
    with pytest.raises(KnowledgeError, match="no article"):
        kb.get(b.id)


def test_hits_are_one_per_article_sorted_with_scores_in_unit_range(kb):
    _seed(kb)
    kb.add_article(
        "Refund policy", "## Eligibility\n\n" + REFUND * 20 + "\n\n## Exceptions\n\n" + REFUND * 20
    )
    hits = kb.search("refund", k=5)
    ids = [h.article_id for h in hits]
    assert len(ids) == len(set(ids)) == 4
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for h in hits:
        assert 0.0 <= h.score <= 1.0 and 0.0 <= h.vector_score <= 1.0 and 0.0 <= h.text_score < 1.0
    assert hits[0].title in ("How do I get a refund?", "Refund policy")
    # a relevant answer outranks clearly unrelated text in absolute score, not just in order
    unrelated = kb.search("what is the boiling point of tungsten", k=1)[0]
    assert hits[0].score > unrelated.score + 0.2


def test_history_and_revert(kb):
    a, _, _ = _seed(kb)
    kb.edit_article(a.id, actor="bo", body="Refunds take 30 days.")
    kb.edit_article(a.id, actor="bo", topic="payments")
    same = kb.edit_article(a.id, actor="bo", topic="payments")  # no change, no new version
    assert same.version == 3
    reverted = kb.revert(a.id, 1, actor="cy")
    assert reverted.version == 4 and reverted.body == REFUND and reverted.topic == "billing"
    history = kb.history(a.id)
    assert [(v.version, v.action, v.edited_by) for v in history] == [
        (1, "create", ""),
        (2, "edit", "bo"),
        (3, "edit", "bo"),
        (4, "revert", "cy"),
    ]
    assert "14 days" in _top(kb, "how long do refunds take").text
    kb.remove_article(a.id, actor="cy")
    assert kb.history(a.id)[-1].action == "remove"
    with pytest.raises(KnowledgeError, match="no version 9"):
        kb.revert(a.id, 9, actor="cy")


def test_bad_arguments_raise_knowledge_errors(kb):
    a, _, _ = _seed(kb)
    for call, message in [
        (lambda: kb.get(999), "no article with id 999"),
        (lambda: kb.edit_article(999, actor="x", title="t"), "no article"),
        (lambda: kb.edit_article(a.id, actor="x", colour="red"), "cannot edit colour"),
        (lambda: kb.edit_article(a.id, actor="x", body="   "), "body .* is empty"),
        (lambda: kb.add_article("", "body"), "title is empty"),
        (lambda: kb.add_article("Title", 42), "body must be text"),
        (lambda: kb.remove_article(999), "no article"),
        (lambda: kb.history(999), "no article"),
        (lambda: kb.approve_candidate(999, actor="x"), "no candidate"),
    ]:
        with pytest.raises(KnowledgeError, match=message):
            call()
    assert kb.get(a.id).version == 1  # failed edits left nothing behind


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        "x" * 40_000,
        "refund " * 6_000,
        "😀🔥🙏",
        '"unterminated quote',
        "it's \"mixed\" 'quotes' AND OR NOT ( ) [ ] { } ^ ~ * ? : \\ /",
        "'; DROP TABLE chunks; --",
        "article_id = 1 OR 1=1",
        "\x00\x01 control chars \u200b",
        "ﬁ ligature café naïve 東京",
    ],
)
def test_weird_queries_never_raise(kb, query):
    _seed(kb)
    hits = kb.search(query, k=3)
    assert len(hits) <= 3
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert kb.index.search_text(query, 5) is not None
    assert kb.index.count() == 6  # the table is untouched


def test_fts_query_sanitiser_keeps_words_only():
    assert fts_query('it\'s "x" AND (y)') == "it s x AND y"
    assert fts_query("😀") == ""
    assert len(fts_query("word " * 10_000).split()) == 64


def test_empty_knowledge_base_is_graceful(kb):
    assert kb.search("anything", k=5) == []
    assert kb.index.count() == 0
    assert kb.index.article_versions() == {}
    assert kb.index.search_text("anything") == []
    assert kb.repair() == {"missing": 0, "stale": 0, "orphans": 0, "rebuilt": 0}
    assert kb.reindex() == 0
    assert kb.search("anything") == []


def test_reindex_rebuilds_from_sql(kb):
    a, b, c = _seed(kb)
    kb.index._db.drop_table("chunks")
    kb.index._table = None
    assert kb.search("reset password") == []
    seen = []
    chunks = kb.reindex(progress=lambda done, total: seen.append((done, total)))
    assert chunks == 6 and seen[0] == (0, 3) and seen[-1] == (3, 3)
    assert _top(kb, "reset password").article_id == b.id
    assert kb.index.article_versions() == {a.id: 1, b.id: 1, c.id: 1}


def test_repair_fixes_only_the_drift(kb, tmp_path, embedder):
    a, b, c = _seed(kb)
    d = kb.add_article("Do you have an API?", "Yes, a REST API with tokens under Settings > API.")
    table = kb.index._open()
    table.delete(f"article_id = {b.id}")  # missing
    table.delete(f"chunk_id = '{c.id}:1:1'")  # partial
    kb.edit_article(d.id, actor="x", body="Yes: REST and webhooks.")
    table.update(where=f"article_id = {d.id}", values={"version": 1})  # stale
    orphan = table.to_arrow().slice(0, 1).to_pylist()[0]
    table.add([{**orphan, "article_id": 4242, "chunk_id": "4242:1:1"}])  # orphan

    assert all(h.article_id != b.id for h in kb.search("reset password", k=5))
    counts = kb.repair()
    assert counts == {"missing": 1, "stale": 2, "orphans": 1, "rebuilt": 0}
    assert kb.index.article_versions() == {a.id: 1, b.id: 1, c.id: 1, d.id: 2}
    assert _top(kb, "reset password").article_id == b.id
    assert kb.repair() == {"missing": 0, "stale": 0, "orphans": 0, "rebuilt": 0}

    # a second process opening the same data dir sees the same, repaired state
    again = build_kb(tmp_path / "home", embedder)
    assert again.repair()["missing"] == 0
    assert _top(again, "reset password").article_id == b.id


def test_candidates_approve_and_reject(kb):
    c1 = kb.add_candidate(
        "Can I pay by invoice?",
        "Yes, on the Business plan.",
        ticket_id=7,
        staff_id="U1",
        topic="billing",
    )
    c2 = kb.add_candidate("Is there a Linux app?", "Not yet.", ticket_id=8, staff_id="U2")
    assert [c.id for c in kb.list_candidates()] == [c1.id, c2.id]

    art = kb.approve_candidate(c1.id, actor="lead", title="Paying by invoice")
    assert art.title == "Paying by invoice" and art.body == "Yes, on the Business plan."
    assert art.topic == "billing" and art.source == f"candidate:{c1.id}" and art.owner == "U1"
    assert _top(kb, "can we pay with an invoice").article_id == art.id

    rejected = kb.reject_candidate(c2.id, actor="lead")
    assert rejected.status == "rejected" and rejected.reviewed_by == "lead"
    assert kb.list_candidates() == []
    statuses = {c.id: (c.status, c.article_id) for c in kb.list_candidates(status=None)}
    assert statuses == {c1.id: ("approved", art.id), c2.id: ("rejected", None)}
    with pytest.raises(KnowledgeError, match="already approved"):
        kb.approve_candidate(c1.id, actor="lead")
    with pytest.raises(KnowledgeError, match="already rejected"):
        kb.reject_candidate(c2.id, actor="lead")
    with pytest.raises(KnowledgeError, match="question and an answer"):
        kb.add_candidate("  ", "answer")
    assert len(kb.list()) == 1


def test_an_approval_that_fails_midway_publishes_nothing_and_a_retry_publishes_once(kb):
    """The article and the approval commit together: a crash between them cannot leave an
    article published while its candidate is still pending (a second approve would publish
    it twice)."""
    from sqlalchemy import text

    cand = kb.add_candidate("Can I pay by invoice?", "Yes, on the Business plan.", staff_id="U1")
    with kb.engine.begin() as conn:  # the database refuses the last write of the approval
        conn.execute(
            text(
                "CREATE TRIGGER refuse_link BEFORE UPDATE OF article_id ON kbcandidate "
                "BEGIN SELECT RAISE(ABORT, 'disk went away'); END"
            )
        )
    with pytest.raises(Exception, match="disk went away"):
        kb.approve_candidate(cand.id, actor="lead")
    assert kb.list() == []
    assert [c.status for c in kb.list_candidates(status=None)] == ["pending"]

    with kb.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_link"))
    art = kb.approve_candidate(cand.id, actor="lead")
    assert [a.id for a in kb.list()] == [art.id]
    assert [(c.status, c.article_id) for c in kb.list_candidates(status=None)] == [
        ("approved", art.id)
    ]


def test_two_admins_approving_one_candidate_at_once_publish_it_once(kb):
    from concurrent.futures import ThreadPoolExecutor

    cand = kb.add_candidate("Is there a Linux app?", "Not yet.", staff_id="U2")

    def approve(actor: str) -> str:
        try:
            kb.approve_candidate(cand.id, actor=actor)
        except KnowledgeError as exc:
            return str(exc)
        return "published"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(approve, ["ana", "ben"]))
    assert outcomes[-1] == "published"
    assert outcomes[0] != "published" and str(cand.id) in outcomes[0]
    assert len(kb.list()) == 1
