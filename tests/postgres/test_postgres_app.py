"""The real app on a real PostgreSQL server: tables and conversation memory both in Postgres."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

from sqlalchemy import text as sql
from sqlmodel import Session, select

from admin_commands import Caller, run_command
from bot.contracts import IncomingMessage, Member, Reply
from bot.conversation_state import load_by_key
from bot.models import Conversation, Decision, Feedback, Message, Ticket
from bot.stats import compute_stats
from knowledge.models import utcnow
from tests.postgres.conftest import close_app

_ids = itertools.count()
ADMIN = Caller("slack", "UADMIN", "Ada", channel_id="CHELP")
PLAN = "can I add more seats to my plan"  # sample: medium confidence → clarify at defaults


def ask(app, text: str, thread: str | None = None, user: str | None = None) -> Reply:
    n = next(_ids)
    msg = IncomingMessage(
        platform="slack",
        channel_id="CHELP",
        thread_id=thread or f"pg-{n}",
        message_id=f"pg-m{n}",
        text=text,
        member=Member(user or f"UPG{n}", "Ana"),
        mentioned=True,
    )
    return app.service.handle(msg)


def state_of(app, key: str) -> dict:
    return load_by_key(app.engine, key)


def assert_on_postgres(app) -> None:
    """Guard: every assertion below is about Postgres, never a silent SQLite fallback."""
    assert app.engine.dialect.name == "postgresql"
    assert not (app.config.home_path / "deskhand.sqlite").exists()
    assert not (app.config.home_path / "checkpoints.sqlite").exists()


def test_sample_loads_into_a_fresh_database(postgres_server, pg_sample_template) -> None:
    """The template was built by a plain Deskhand on an empty database: look at what it made."""
    import psycopg

    url = postgres_server.url(pg_sample_template.dbname)
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
        articles = conn.execute("SELECT count(*), max(id) FROM article").fetchone()
        issue_types = conn.execute("SELECT count(*) FROM issuetype").fetchone()[0]
    assert {"conversation", "decision", "ticket", "setting", "article", "issuetype"} <= tables
    assert "conversationstate" in tables and "checkpoints" not in tables  # no LangGraph saver
    assert articles[0] > 5 and articles[1] == articles[0]  # serial ids from the sequence
    assert issue_types > 3
    assert not list(pg_sample_template.home.glob("*.sqlite"))


def test_member_question_is_answered(pg_deployment) -> None:
    app = pg_deployment.start()
    assert_on_postgres(app)
    reply = ask(app, "I forgot my password and can't log in, how do I reset it?")
    assert reply.route == "answer", reply.reasons
    assert reply.citations and "password" in reply.citations[0].title.lower()
    with Session(app.engine) as s:
        decision = s.get(Decision, reply.decision_id)
        assert decision.route == "answer" and json.loads(decision.reasons) == reply.reasons
        conv = s.get(Conversation, reply.conversation_id)
        assert conv.status == "answered"
        # timestamps come back as the UTC wall-clock time, whatever the server's zone is
        assert abs(conv.created_at.replace(tzinfo=None) - utcnow().replace(tzinfo=None)) < (
            timedelta(minutes=5)
        )
    assert state_of(app, f"slack:CHELP:{conv.thread_id}")["transcript"]
    with app.engine.connect() as db:  # the memory lives in the same Postgres database
        count = db.execute(
            sql("SELECT count(*) FROM conversationstate WHERE conversation_id = :id"),
            {"id": conv.id},
        ).scalar_one()
    assert count == 1


def test_clarify_answered_after_a_restart_continues_the_conversation(pg_deployment) -> None:
    first_app = pg_deployment.start()
    assert_on_postgres(first_app)
    first = ask(first_app, PLAN, thread="pg-restart", user="UR1")
    assert first.route == "clarify", first.reasons
    key = "slack:CHELP:pg-restart"
    before = state_of(first_app, key)["transcript"]
    assert before
    close_app(first_app)  # the process goes away; only Postgres and the data dir remain

    second_app = pg_deployment.start()
    assert_on_postgres(second_app)
    assert state_of(second_app, key)["transcript"] == before
    pick = first.options[0]
    reply = second_app.service.handle_action(key, "option", pick.value, Member("UR1"), "slack")
    assert reply.route == "answer", reply.reasons
    assert reply.conversation_id == first.conversation_id
    assert reply.citations[0].title == pick.label
    after = state_of(second_app, key)["transcript"]
    assert len(after) > len(before) and after[: len(before)] == before
    with Session(second_app.engine) as s:
        routes = [
            d.route
            for d in s.exec(
                select(Decision)
                .where(Decision.conversation_id == first.conversation_id)
                .order_by(Decision.id)
            )
        ]
    assert routes == ["clarify", "answer"]


def test_escalation_staff_loop_and_rating(pg_deployment) -> None:
    app = pg_deployment.start()
    reply = ask(app, "please get me a person, my invoice looks wrong", thread="pg-desk", user="M1")
    assert reply.route == "escalate" and reply.ticket_id
    ticket = app.desk.get(reply.ticket_id)
    assert ticket.status == "open" and json.loads(ticket.member)["display_name"] == "Ana"
    assert json.loads(ticket.transcript)[0]["role"] == "member"

    relay = ask(app, "it's invoice 1234", thread="pg-desk", user="M1")
    assert relay.route == "relay" and relay.ticket_id == reply.ticket_id

    desk = app.desk
    claimed = desk.claim(reply.ticket_id, "S1")
    assert claimed.status == "claimed" and claimed.claimed_by == "S1"
    assert desk.staff_message(reply.ticket_id, "S1", "Sam", "// checking stripe").internal
    public = desk.staff_message(
        reply.ticket_id, "S1", "Sam", "Your invoice double-counted one seat; we refunded it."
    )
    assert not public.internal and public.member_thread_id == "pg-desk"
    resolved = desk.resolve(reply.ticket_id, "S1")
    assert resolved.status == "resolved" and resolved.resolved_at is not None
    assert resolved.first_staff_reply_at >= resolved.created_at
    candidates = app.kb.list_candidates()
    assert candidates and "double-counted" in candidates[0].answer
    rating = desk.record_rating(reply.ticket_id, 5, "M1")
    assert rating.id and rating.rating == 5
    with Session(app.engine) as s:
        roles = [
            m.role
            for m in s.exec(select(Message).where(Message.conversation_id == reply.conversation_id))
        ]
        ratings = list(s.exec(select(Feedback).where(Feedback.ticket_id == reply.ticket_id)))
        assert s.get(Conversation, reply.conversation_id).status == "resolved"
        assert s.get(Ticket, reply.ticket_id).resolved_by == "S1"
    assert roles.count("note") == 1 and roles.count("staff") == 1 and roles.count("member") == 2
    assert [(f.kind, f.rating) for f in ratings] == [("rating", 5)]


def test_admin_setting_is_seen_by_the_next_message(pg_deployment) -> None:
    app = pg_deployment.start(slack_admin_users="UADMIN")
    assert ask(app, PLAN).route == "clarify"
    before = app.settings.thresholds()["answer"]  # self-calibrated at import
    result = run_command(app, ADMIN, "threshold set answer 0.5 clarify 0.3")
    assert result.ok, result.text
    assert dict(result.fields)["answer"] == f"{before:.2f} → 0.50"
    assert ask(app, PLAN).route == "answer"
    assert app.settings.thresholds()["clarify"] == 0.3
    audit = run_command(app, ADMIN, "audit")
    assert audit.ok and "thresholds" in json.dumps(audit.table or audit.text)
    # ...and survives a restart
    close_app(app)
    again = pg_deployment.start(slack_admin_users="UADMIN")
    assert again.settings.thresholds()["answer"] == 0.5


def test_stats(pg_deployment) -> None:
    app = pg_deployment.start(slack_admin_users="UADMIN", slack_staff_users="USTAFF")
    a = ask(app, "How do I reset my password?", thread="pg-st-a", user="UA")
    assert a.route == "answer"
    app.service.handle_action("slack:CHELP:pg-st-a", "helpful", "", Member("UA"), "slack")
    assert ask(app, PLAN, user="UC").route == "clarify"
    d = ask(app, "I want to talk to a human", user="UD")
    assert d.route == "escalate"
    app.desk.staff_message(d.ticket_id, "USTAFF", "Sam", "Hi! I can help with that.")
    app.desk.resolve(d.ticket_id, "USTAFF")
    app.desk.record_rating(d.ticket_id, 4, "UD")

    stats = compute_stats(app.engine, days=7)
    assert (stats["questions"], stats["answered"], stats["clarified"], stats["escalated"]) == (
        3,
        1,
        1,
        1,
    )
    assert stats["resolution"] == {"confirmed": 2, "assumed": 0, "unresolved": 1}
    assert stats["csat"] == {"ratings": 1, "mean": 4.0, "pct_4_5": 100.0}
    assert stats["tickets"] == 1
    assert 0 <= stats["median_first_reply_s"] < 300
    assert 0 <= stats["median_resolution_s"] < 300
    # the window is honoured in UTC: nothing from "tomorrow", everything from "today"
    assert compute_stats(app.engine, days=1, now=utcnow() - timedelta(days=1))["questions"] == 0
    by_issue = compute_stats(app.engine, days=1, by="issue-type")
    assert sum(g["questions"] for g in by_issue["groups"].values()) == 3

    result = run_command(app, Caller("slack", "USTAFF", "Sam"), "stats 7d")
    assert result.ok, result.text
    assert dict(result.fields)["Questions"] == "3"
    assert result.image_png and result.image_png.startswith(b"\x89PNG")


def test_bad_inputs_get_a_safe_reply_and_are_stored(pg_deployment) -> None:
    from tests.test_service import BAD_INPUTS

    app = pg_deployment.start()
    for name, text in BAD_INPUTS:
        reply = ask(app, text, thread=f"pg-bad-{name}")
        assert reply.route in ("answer", "clarify", "escalate", "decline"), name
        assert "internal_error" not in reply.reasons, name
        with Session(app.engine) as s:
            stored = s.exec(
                select(Message).where(
                    Message.conversation_id == reply.conversation_id, Message.role == "member"
                )
            ).one()
        assert len(stored.text) == len(text), name
    # NUL never reaches Postgres (text and JSONB reject it): not from a member, nor from staff
    msg = IncomingMessage(
        "slack", "CHELP", "pg-nul", "pg-nul-1", "a\x00 human please", Member("UN", "N\x00o")
    )
    reply = app.service.handle(msg)
    assert reply.route == "escalate" and "internal_error" not in reply.reasons
    relay = app.desk.staff_message(reply.ticket_id, "S1", "S\x00am", "on it\x00 now")
    assert relay.text == "on it  now" and relay.staff_name == "S am"
    assert app.desk.transcript(reply.ticket_id)[-1]["text"] == "on it  now"


def test_bot_recovers_when_the_database_server_restarts(postgres_server, pg_deployment) -> None:
    app = pg_deployment.start()
    assert ask(app, "How do I reset my password?", thread="pg-up-1").route == "answer"
    postgres_server.restart()  # every open connection is cut, as on a failover or server upgrade
    reply = ask(app, "How do I reset my password?", thread="pg-up-2")
    assert reply.route == "answer", reply.reasons
    assert state_of(app, "slack:CHELP:pg-up-2")["transcript"]


def test_libpq_style_url_means_psycopg(pg_deployment) -> None:
    """DESKHAND_DATABASE_URL=postgres://... (as hosting providers hand it out) works too."""
    pg_deployment.url = pg_deployment.url.replace("postgresql+psycopg://", "postgres://")
    app = pg_deployment.start()
    assert_on_postgres(app)
    assert app.engine.dialect.driver == "psycopg"
    assert ask(app, "How do I reset my password?").route == "answer"
