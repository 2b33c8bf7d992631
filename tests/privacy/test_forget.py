"""Erasure: after `forget`, a member's words are in no store; export and purge do what they say."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from admin_commands import Caller, run_command
from bot.models import AuditEntry, Conversation, LlmCall, Ticket
from bot.privacy.erasure import daily_purge, export_member, forget_member
from knowledge.models import KbCandidate
from tests.privacy.conftest import scan_files
from tests.privacy.test_slack_discord_secrets import slack_app
from tests.slack.conftest import STAFF_CHANNEL, new_ts, unique

PHRASE = "my quokka-shaped invoice 7731 vanished"
OTHER = "where is the marmot export button"


def test_forget_leaves_no_trace_in_any_store(
    sample_template, tmp_path, embedder, fake_llm, slack_fake
):
    h = slack_app(sample_template, tmp_path, embedder, fake_llm, slack_fake)
    slack_fake.add_user("UFORGET", "Quentin Quokka")
    try:
        channel, ts = unique("C"), new_ts()
        h.event(
            h.message_event(
                f"<@UBOT> I want to talk to a person: {PHRASE}",
                channel,
                "UFORGET",
                ts,
                kind="app_mention",
            )
        )
        h.idle()
        h.event(h.message_event(f"also {PHRASE} again", channel, "UFORGET", thread_ts=ts))
        h.event(h.message_event(f"<@UBOT> {OTHER}", channel, "UMEMBER", kind="app_mention"))
        h.idle()
        with Session(h.deskhand.engine) as session:
            ticket = session.exec(select(Ticket)).one()
        h.event(
            h.message_event(
                "Found it: credited back today.",
                STAFF_CHANNEL,
                "USTAFF",
                thread_ts=ticket.staff_thread_id,
            )
        )
        h.idle()
        h.deskhand.desk.resolve(ticket.id, "USTAFF")
        with Session(h.deskhand.engine) as session:
            assert session.exec(select(KbCandidate)).all(), "resolving drew a KB candidate"
            assert session.exec(select(LlmCall)).all()
        home = h.deskhand.config.home_path
        assert scan_files(home, [PHRASE]), "the phrase was stored before forget"

        exported = export_member(h.deskhand.engine, "slack:UFORGET")
        assert PHRASE in json.dumps(exported) and OTHER not in json.dumps(exported)

        result = run_command(h.deskhand, Caller("slack", "UADMIN", "Ada"), "forget <@UFORGET>")
        assert result.ok, result.text
        h.deskhand.engine.dispose()
        assert scan_files(home, [PHRASE, "Quentin Quokka"]) == []
        with Session(h.deskhand.engine) as session:
            audit = session.exec(
                select(AuditEntry).where(AuditEntry.action == "forget member")
            ).one()
            assert session.exec(select(KbCandidate)).all() == []
            assert session.exec(select(Ticket)).one().status == "resolved"  # stats keep the row
            others = session.exec(
                select(Conversation).where(Conversation.member_id == "UMEMBER")
            ).all()
        counts = json.loads(audit.after)
        assert counts["messages"] >= 4 and counts["conversation_states"] == 1
        assert counts["kb_candidates"] == 1 and counts["llm_calls"] >= 1
        assert others and scan_files(home, [OTHER]), "other members are untouched"
        assert export_member(h.deskhand.engine, "slack:UFORGET")["messages"] == []
    finally:
        h.adapter.stop(5)


def test_forget_needs_an_admin_and_a_member(app):
    member = Caller("slack", "UNOBODY", "No")
    assert not run_command(app, member, "forget <@U12345678>").ok
    assert forget_member(app.engine, "slack:UNKNOWN")["conversations"] == 0


def test_daily_purge_erases_only_old_conversations_once_a_day(app):
    from datetime import timedelta

    from bot.contracts import IncomingMessage, Member
    from knowledge.models import utcnow

    for thread in ("old", "new"):
        app.service.handle(
            IncomingMessage(
                "console", "C1", thread, f"{thread}-m", f"{thread} {OTHER}", Member("U9")
            )
        )
    with Session(app.engine) as session:
        old = session.exec(select(Conversation).where(Conversation.thread_id == "old")).one()
        old.updated_at = utcnow() - timedelta(days=40)
        session.add(old)
        session.commit()
    app.settings.set("retention_days", 30)
    first = daily_purge(app, now=1e9)
    assert first is not None and first["conversations"] == 1
    assert daily_purge(app, now=1e9 + 3600) is None  # once a day
    app.engine.dispose()
    assert scan_files(app.config.home_path, [f"old {OTHER}"]) == []
    assert scan_files(app.config.home_path, [f"new {OTHER}"])
