"""DeskService: staff replies, card buttons, drafts and ratings as neutral outcomes."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from bot.audit import recent_audit
from bot.desk_service import HANDED_BACK
from bot.llm.assist import suggest_reply
from bot.models import Message
from bot.policy import Actor
from tests.desk.conftest import MEMBER, bystander, escalate, staff


def messages(app, ticket_id: int) -> list[tuple[str, str]]:
    conv = app.desk.get(ticket_id).conversation_id
    with Session(app.engine) as session:
        rows = session.exec(select(Message).where(Message.conversation_id == conv))
        return [(m.role, m.text) for m in rows]


def test_a_non_staff_reply_is_ignored_not_relayed_not_claiming_not_a_candidate(staffed_app) -> None:
    app = staffed_app
    ticket_id = escalate(staffed_app)
    out = app.desk_service.staff_reply(bystander(), ticket_id, "Click <https://evil.example|here>")
    assert out.refused and out.to_member == [] and out.staff_mark == "ignored"
    assert out.private_note  # the adapter may tell the writer privately
    ticket = app.desk.get(ticket_id)
    assert ticket.status == "open" and not ticket.claimed_by
    assert not [m for m in messages(app, ticket_id) if m[0] in ("staff", "note")]
    app.desk_service.press(staff(), ticket_id, "resolve")
    assert app.kb.list_candidates() == []
    refused = [e for e in recent_audit(app.engine, 20) if e.action == "refused"]
    assert refused and refused[0].target == f"staff_reply:ticket:{ticket_id}"


def test_a_staff_reply_is_relayed_safely_and_claims(staffed_app) -> None:
    app = staffed_app
    ticket_id = escalate(staffed_app)
    raw = "<!channel> see [help.example/refunds](https://evil.example/login)"
    out = app.desk_service.staff_reply(staff(), ticket_id, raw)
    assert out.ok and out.staff_mark == "relayed" and out.refresh_card
    (post,) = out.to_member
    assert post.kind == "relay" and post.staff_name == "Sam Staff"
    assert "help.example/refunds (https://evil.example/login)" in post.text
    assert "<!channel>" not in post.text and "@channel" not in post.text
    assert out.member_user_id == MEMBER and out.member_thread_id
    assert app.desk.get(ticket_id).status == "claimed"


def test_an_internal_note_stays_with_staff(staffed_app) -> None:
    app = staffed_app
    ticket_id = escalate(staffed_app)
    out = app.desk_service.staff_reply(staff(), ticket_id, "// repeat refunder")
    assert out.ok and out.staff_mark == "note" and out.to_member == []
    assert ("note", "// repeat refunder") in messages(app, ticket_id)


def test_claim_tells_the_member_who_picked_it_up(staffed_app) -> None:
    app = staffed_app
    ticket_id = escalate(staffed_app)
    out = app.desk_service.press(staff(), ticket_id, "claim")
    assert out.ok and out.refresh_card and out.status == "claimed"
    assert [p.kind for p in out.to_member] == ["claimed"]
    assert "Sam Staff" in out.to_member[0].text


def test_card_buttons_refuse_non_staff_and_change_nothing(staffed_app) -> None:
    app = staffed_app
    ticket_id = escalate(staffed_app)
    for action in ("claim", "resolve", "handback"):
        out = app.desk_service.press(bystander(), ticket_id, action)
        assert out.refused and "staff" in out.private_note.lower()
    assert app.desk.get(ticket_id).status == "open"
    targets = {e.target for e in recent_audit(app.engine, 20) if e.action == "refused"}
    assert {"button:claim", "button:resolve", "button:handback"} <= targets


def test_resolve_asks_for_a_rating_once_and_only_from_the_member(staffed_app) -> None:
    app = staffed_app
    ticket_id = escalate(staffed_app)
    app.desk_service.staff_reply(staff(), ticket_id, "Reset it from Settings > Security.")
    out = app.desk_service.press(staff(), ticket_id, "resolve")
    assert out.ok and out.rating_prompt and out.status == "resolved"
    stranger = app.desk_service.rate(Actor("slack", "USTRANGER"), ticket_id, 1)
    assert stranger.refused and app.desk_service.rating_of(ticket_id) is None
    first = app.desk_service.rate(Actor("slack", MEMBER), ticket_id, 5)
    assert first.ok and first.buttons_done == "Thanks for rating us 5/5."
    again = app.desk_service.rate(Actor("slack", MEMBER), ticket_id, 1)
    assert again.refused and app.desk_service.rating_of(ticket_id) == 5


def test_hand_back_tells_the_member(staffed_app) -> None:
    app = staffed_app
    ticket_id = escalate(staffed_app)
    out = app.desk_service.press(staff(), ticket_id, "handback")
    assert out.ok and [p.text for p in out.to_member] == [HANDED_BACK]


def test_a_draft_is_used_once_whoever_presses_first(staffed_app) -> None:
    app = staffed_app
    ticket_id = escalate(staffed_app)
    draft = suggest_reply(app, ticket_id)["text"]
    assert draft
    refused = app.desk_service.assist(bystander(), ticket_id, "send")
    assert refused.refused and refused.to_member == []
    sent = app.desk_service.assist(staff(), ticket_id, "send")
    assert sent.ok and sent.buttons_done == "sent" and sent.to_member[0].kind == "relay"
    again = app.desk_service.assist(staff("UADMIN", "Ada Admin"), ticket_id, "ignore")
    assert again.refused and again.private_note == "This suggestion was already marked sent."
    extra = json.loads(app.desk.get(ticket_id).extra)
    assert extra["assist"]["used"] == "sent"


def test_an_own_reply_after_a_draft_counts_as_the_draft_being_used(staffed_app) -> None:
    app = staffed_app
    ticket_id = escalate(staffed_app)
    assert suggest_reply(app, ticket_id)["text"]
    app.desk_service.staff_reply(staff(), ticket_id, "Something entirely different, sorry.")
    late = app.desk_service.assist(staff(), ticket_id, "send")
    assert late.refused and "already marked" in late.private_note


def test_member_buttons_are_the_askers_only(staffed_app) -> None:
    app = staffed_app
    assert app.desk_service.refusal(Actor("slack", MEMBER), "human", MEMBER) is None
    other = app.desk_service.refusal(staff(), "not_helpful", MEMBER)
    assert other is not None and other.refused and other.private_note
