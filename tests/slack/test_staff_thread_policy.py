"""Slack staff threads: only staff speak for staff, and staff text reaches members escaped."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.audit import recent_audit
from bot.models import Message
from tests.slack.conftest import STAFF_CHANNEL, Harness, unique
from tests.slack.test_flows import as_message, escalate, posts

EVIL = "<!channel> refunds are here: <https://evil.example/login|help.example/refunds>"


def staff_says(h: Harness, user: str, text: str, card_ts: str) -> None:
    h.event(h.message_event(text, STAFF_CHANNEL, user=user, thread_ts=card_ts))
    h.idle()


def test_a_non_staff_reply_in_the_staff_thread_is_not_relayed(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    ts, ticket, card = escalate(h, channel, user)
    before = len(posts(h, channel, ts))
    staff_says(h, "UBYSTANDER", EVIL, card.response["ts"])
    assert len(posts(h, channel, ts)) == before  # nothing reached the member
    ticket = h.deskhand.desk.get(ticket.id)
    assert ticket.status == "open" and not ticket.claimed_by
    with Session(h.deskhand.engine) as s:
        roles = s.exec(
            select(Message.role).where(Message.conversation_id == ticket.conversation_id)
        ).all()
    assert "staff" not in roles and "note" not in roles  # never a KB candidate
    note = h.fake.of("chat.postEphemeral")[-1].params
    assert note["user"] == "UBYSTANDER" and "not sent" in note["text"]
    refused = [e for e in recent_audit(h.deskhand.engine, 50) if e.action == "refused"]
    assert any(e.target == f"staff_reply:ticket:{ticket.id}" for e in refused)


def test_staff_text_is_escaped_for_the_member(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    ts, ticket, card = escalate(h, channel, user)
    staff_says(h, "USTAFF", EVIL, card.response["ts"])
    relayed = posts(h, channel, ts)[-1].params["text"]
    assert "<!channel>" not in relayed and "<https://evil" not in relayed
    assert "help.example/refunds (https://evil.example/login)" in relayed
    assert "<" not in relayed.replace("&lt;", "")
    assert h.deskhand.desk.get(ticket.id).status == "claimed"


def test_claim_tells_the_member_and_non_staff_presses_are_refused(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    ts, ticket, card = escalate(h, channel, user)
    h.press("deskhand:claim", str(ticket.id), user, STAFF_CHANNEL, as_message(card))
    h.idle()
    assert h.fake.of("chat.postEphemeral")[-1].params["user"] == user
    assert h.deskhand.desk.get(ticket.id).status == "open"
    h.press("deskhand:claim", str(ticket.id), "USTAFF", STAFF_CHANNEL, as_message(card))
    h.idle()
    told = posts(h, channel, ts)[-1].params["text"]
    assert "Sam Staff" in told and "picked this up" in told


def test_a_usergroup_grant_makes_its_members_staff(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    group, member_of_group = unique("S0GRP"), unique("UGRP")
    h.fake.add_usergroup(group, [member_of_group])
    grant = f"access grant staff <!subteam^{group}|@support>"
    assert h.dispatch(h.command_body(grant, user="UADMIN")).status == 200
    h.idle()
    try:
        ts, ticket, card = escalate(h, channel, user)
        staff_says(h, member_of_group, "On it, one moment.", card.response["ts"])
        assert posts(h, channel, ts)[-1].params["text"] == "On it, one moment."
        asked = [c.params.get("usergroup") for c in h.fake.of("usergroups.users.list")]
        assert group in asked
        before = len(posts(h, channel, ts))
        staff_says(h, "UNOTINGROUP", "I am not staff", card.response["ts"])
        assert len(posts(h, channel, ts)) == before
    finally:
        granted = h.deskhand.settings.get("staff_users") or []
        h.deskhand.settings.set("staff_users", [g for g in granted if group not in g], actor="test")
