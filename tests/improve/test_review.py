"""`/deskhand trace` and `/deskhand review`: the decision trace, the prioritised queue, root causes."""

from __future__ import annotations

import sqlite3

from sqlmodel import Session, select

from admin_commands import run_command
from bot.db import make_engine
from bot.improve.review import build_queue, cause_counts, sampled
from bot.improve.trace import build_trace
from bot.models import Decision, ReviewTag
from tests.admin.conftest import ADMIN, MEMBER, STAFF, ask
from tests.improve.conftest import escalate_with_staff_answer, not_helpful

PASSWORD_ANSWER = (
    "Open the sign-in page, choose Forgot password, and follow the emailed link within an hour "
    "to set a new password. Reset links expire after one hour."
)


def test_trace_shows_question_retrieval_decision_reply_and_what_followed(app) -> None:
    reply = ask(app, "How do I reset my password?", user="UTRACE")
    assert reply.route == "answer"
    not_helpful(app, reply, "UTRACE")
    trace = build_trace(app.engine, str(reply.conversation_id))
    kinds = [s.kind for s in trace.steps]
    assert kinds[:3] == ["member", "decision", "bot"]
    first = trace.decisions[0]
    assert first.text == "answer"
    assert first.detail["reasons"] == ["confident_match"]
    hits = first.detail["hits"]
    assert len(hits) >= 2 and hits[0]["article_id"] == reply.citations[0].article_id
    assert hits[0]["score"] >= hits[1]["score"]
    assert "feedback" in kinds and "not helpful" in trace.outcome

    result = run_command(app, STAFF, f"trace {reply.conversation_id}")
    assert result.ok, result.text
    assert "How do I reset my password?" in result.text
    assert "Decided `answer`" in result.text and "confident_match" in result.text
    assert f"#{hits[0]['article_id']}" in result.text and f"({hits[0]['score']:.2f})" in result.text
    assert "not helpful" in result.text.lower()


def test_trace_by_ticket_and_unknown_conversation(app) -> None:
    esc = escalate_with_staff_answer(app, "I want to talk to a human", "UT2", "Hi, Sam here.")
    result = run_command(app, STAFF, f"trace ticket:{esc.ticket_id}")
    assert result.ok and f"ticket #{esc.ticket_id} opened" in result.text
    assert "Staff (Sam):** Hi, Sam here." in result.text and "resolved by USTAFF" in result.text
    missing = run_command(app, STAFF, "trace 999999")
    assert not missing.ok and "no conversation `999999`" in missing.text
    assert not run_command(app, MEMBER, f"trace {esc.conversation_id}").ok  # staff only


def test_queue_serves_not_helpful_first_then_could_have_answered_and_tags_count(app) -> None:
    ok = ask(app, "How do I export my data?", user="UQ0")  # answered, no feedback: not queued
    bad = ask(app, "How do I reset my password?", user="UQ1")
    not_helpful(app, bad, "UQ1")
    could = escalate_with_staff_answer(app, "I want to talk to a human", "UQ2", PASSWORD_ANSWER)
    queue = build_queue(app)
    reasons = {i.conversation_id: i.reason for i in queue}
    assert reasons[bad.conversation_id] == "not_helpful"
    assert reasons[could.conversation_id] == "could_have_answered"
    if ok.conversation_id in reasons:  # only ever as a low-margin answer or the random sample
        assert reasons[ok.conversation_id] in ("low_margin", "random")
    assert queue[0].conversation_id == bad.conversation_id

    served = run_command(app, STAFF, "review")
    assert served.ok and f"#{bad.conversation_id}" in served.title
    assert "Not helpful" in served.text and "retrieved:" in served.text
    tagged = run_command(
        app, STAFF, f'review tag {bad.conversation_id} knowledge-outdated "link lifetime changed"'
    )
    assert tagged.ok, tagged.text
    nxt = run_command(app, STAFF, "review")
    assert f"#{could.conversation_id}" in nxt.title
    assert "staff reply matches an article" in nxt.text
    assert run_command(app, STAFF, f"review skip {could.conversation_id}").ok
    assert could.conversation_id not in {i.conversation_id for i in build_queue(app)}

    assert cause_counts(app.engine) == {"knowledge-outdated": 1}  # skips are not causes
    stats = run_command(app, STAFF, "stats")
    assert dict(stats.fields)["Review causes"] == "knowledge-outdated 1"
    summary = run_command(app, STAFF, "review stats")
    assert summary.ok and summary.table[1][0] == "not helpful" and summary.table[1][1] == "1"
    with Session(app.engine) as session:
        row = session.exec(select(ReviewTag).where(ReviewTag.cause != "skipped")).one()
    assert row.queue_reason == "not_helpful" and row.note == "link lifetime changed"
    assert row.reviewer.startswith("slack:USTAFF")


def test_tag_with_a_fix_and_bad_input_store_nothing_wrong(app) -> None:
    reply = ask(app, "How do I reset my password?", user="UF1")
    cid = reply.conversation_id
    article = reply.citations[0].article_id
    bad_cause = run_command(app, STAFF, f"review tag {cid} vibes")
    assert not bad_cause.ok and "knowledge-missing" in bad_cause.text
    bad_route = run_command(app, STAFF, f"review tag {cid} wrong-routing --route maybe")
    assert not bad_route.ok and "--route" in bad_route.text
    bad_article = run_command(app, STAFF, f"review tag {cid} wrong-retrieval --article 99999")
    assert not bad_article.ok
    no_conv = run_command(app, STAFF, "review tag 99999 correct")
    assert not no_conv.ok and "no conversation #99999" in no_conv.text
    with Session(app.engine) as session:
        assert session.exec(select(ReviewTag)).all() == []
    fixed = run_command(app, STAFF, f"review tag {cid} retrieval --article {article}")
    assert fixed.ok and "regression case" in fixed.text
    with Session(app.engine) as session:
        row = session.exec(select(ReviewTag)).one()
    assert row.cause == "wrong-retrieval" and f'"article_id": {article}' in row.fix
    assert run_command(app, ADMIN, "audit").ok
    assert not run_command(app, MEMBER, f"review tag {cid} correct").ok


def test_samples_are_stable_and_near_their_share() -> None:
    picks = [sampled(i, 0.12, "assist") for i in range(20_000)]
    assert picks == [sampled(i, 0.12, "assist") for i in range(20_000)]
    assert 0.11 < sum(picks) / len(picks) < 0.13


def test_an_old_decision_table_gains_hits_and_traces_its_top_article(tmp_path) -> None:
    path = tmp_path / "old.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    engine.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE decision DROP COLUMN hits")
        conn.execute(
            "INSERT INTO conversation (id, key, platform, channel_id, thread_id, member_id,"
            " member_name, status, issue_type, created_at, updated_at) VALUES (1, 'k', 'slack',"
            " 'C', 't', 'U', 'Ann', 'answered', '', '2026-01-01 10:00', '2026-01-01 10:00')"
        )
        conn.execute(
            "INSERT INTO decision (conversation_id, platform, channel_id, route, issue_type,"
            " confidence, retrieval_score, reasons, top_article_id, question, latency_ms,"
            " language, shadow, bot_version, member_tier, created_at) VALUES (1, 'slack', 'C',"
            " 'answer', '', 0.8, 0.77, '[]', 3, 'q', 5, '', 0, '', '', '2026-01-01 10:00')"
        )
    engine = make_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        assert session.exec(select(Decision)).one().hits == "[]"
    trace = build_trace(engine, "1")
    assert trace.decisions[0].detail["hits"] == [
        {"article_id": 3, "title": "(removed)", "score": 0.77}
    ]
    engine.dispose()


def test_queue_on_simulated_weeks_surfaces_the_bad_edit(app) -> None:
    from collections import Counter
    from datetime import timedelta

    from bot.monitoring.facts import load_window
    from bot.monitoring.simulate import Drift, SimConfig, simulate
    from knowledge.models import utcnow

    result = simulate(app.engine, SimConfig(days=14, per_day=60, seed=5, drift=Drift(day=10)))
    # simulated answers carry confidence 0.8: pin a threshold well below it (the self-calibrated
    # one moves with the KB and the query adapter) so none of them is a low-margin answer
    assert run_command(app, ADMIN, "threshold set answer 0.7 clarify 0.45").ok
    queue = build_queue(app, days=15)
    facts = load_window(app.engine, utcnow() - timedelta(days=15), utcnow()).facts
    flagged = {f.id for f in facts if f.not_helpful}
    reasons = [i.reason for i in queue]
    assert {i.conversation_id for i in queue if i.reason == "not_helpful"} == flagged
    assert reasons == sorted(reasons, key=["not_helpful", "random"].index)  # priority order
    rest = len(facts) - len(flagged)
    assert 0.01 < reasons.count("random") / rest < 0.06  # the ~3 % random sample
    after = [i for i in queue if i.reason == "not_helpful" and i.started >= result.drift_at]
    topics = Counter(build_trace(app.engine, str(i.conversation_id)).issue_type for i in after)
    assert topics.most_common(1)[0][0] == result.drift_topic
