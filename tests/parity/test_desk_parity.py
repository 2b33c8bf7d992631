"""The same desk scenarios with the same outcomes on Slack, Discord and the console."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from bot.contracts import Member
from bot.improve.gaps import gaps_report
from bot.models import AuditEntry, Feedback, Message, Ticket
from knowledge.models import KbCandidate
from tests.admin.conftest import ask
from tests.improve.conftest import CRYPTO, STAFF_ANSWER
from tests.slack.conftest import unique

SAFE_LINK = "help.example/refunds (https://evil.example/login)"


def roles_stored(app, ticket_id: int) -> list[str]:
    conv = app.desk.get(ticket_id).conversation_id
    with Session(app.engine) as session:
        return list(session.exec(select(Message.role).where(Message.conversation_id == conv)))


def ratings(app, ticket_id: int) -> list[int]:
    with Session(app.engine) as session:
        stmt = select(Feedback.rating).where(Feedback.ticket_id == ticket_id)
        return [int(r) for r in session.exec(stmt) if r is not None]


async def test_a_non_staff_reply_is_ignored(front) -> None:
    ticket_id = await front.escalate()
    before = front.member_texts()
    await front.staff_says(front.evil, staff=False)
    assert front.member_texts() == before
    ticket = front.app.desk.get(ticket_id)
    assert ticket.status == "open" and not ticket.claimed_by
    assert "staff" not in roles_stored(front.app, ticket_id)


async def test_staff_text_is_relayed_without_pings_or_disguised_links(front) -> None:
    ticket_id = await front.escalate()
    await front.staff_says(front.evil)
    relayed = front.member_texts()[-1]
    assert SAFE_LINK in relayed
    for raw in ("<!channel>", "@everyone", "](https://evil", "<https://evil"):
        assert raw not in relayed
    assert front.app.desk.get(ticket_id).status == "claimed"  # a staff reply claims


async def test_an_internal_note_stays_with_staff(front) -> None:
    ticket_id = await front.escalate()
    before = front.member_texts()
    await front.staff_says("// repeat refunder, check the account")
    assert front.member_texts() == before
    assert "note" in roles_stored(front.app, ticket_id)


async def test_claim_is_refused_to_non_staff_and_told_to_the_member(front) -> None:
    ticket_id = await front.escalate()
    before = front.member_texts()
    await front.press("claim", staff=False)
    assert front.app.desk.get(ticket_id).status == "open"
    assert front.member_texts() == before
    await front.press("claim")
    assert front.app.desk.get(ticket_id).status == "claimed"
    assert "picked this up" in front.member_texts()[-1]


async def test_resolve_asks_the_member_to_rate_once(front) -> None:
    ticket_id = await front.escalate()
    await front.staff_says("Reset it from Settings, then Security.")
    await front.press("resolve")
    assert front.app.desk.get(ticket_id).status == "resolved"
    assert "How did we do?" in front.member_texts()[-1]
    await front.rate(2, member=False)
    await front.rate(4)
    await front.rate(5)
    assert ratings(front.app, ticket_id) == [4]
    assert any(c == "staff" for c in roles_stored(front.app, ticket_id))


async def test_hand_back_tells_the_member(front) -> None:
    ticket_id = await front.escalate()
    await front.press("handback")
    assert front.app.desk.get(ticket_id).status == "handed_back"
    assert "handed this conversation back" in front.member_texts()[-1]


def refusals(app, target: str) -> list[str]:
    """Who was refused (audited) on a target such as 'button:helpful'."""
    with Session(app.engine) as session:
        stmt = select(AuditEntry.actor).where(
            AuditEntry.action == "refused", AuditEntry.target == target
        )
        return list(session.exec(stmt))


def feedback_kinds(front) -> list[str]:
    with Session(front.app.engine) as session:
        stmt = select(Feedback.kind).where(Feedback.user_id == front.member_id)
        return list(session.exec(stmt))


def assist_used(app, ticket_id: int) -> str:
    extra = json.loads(app.desk.get(ticket_id).extra or "{}")
    return str((extra.get("assist") or {}).get("used") or "")


async def test_transfer_reposts_the_card_tells_both_threads_and_the_old_one_goes_quiet(
    front,
) -> None:
    ticket_id = await front.escalate()
    await front.press("claim")
    old = front.staff_thread()
    team, target = unique("team-"), front.team_channel()
    routes = front.app.settings.get("routes") or {}
    front.app.settings.set("routes", {**routes, team: {front.name: target}})
    await front.command(f"ticket {ticket_id} transfer {team}")

    ticket = front.app.desk.get(ticket_id)
    assert (ticket.team, ticket.status, ticket.claimed_by) == (team, "open", "")
    assert ticket.staff_channel_id == target and ticket.staff_thread_id not in ("", old[1])
    assert front.cards_in(target) == [ticket_id]  # the card is re-posted at the team's route
    assert f"transferred to {team}" in front.staff_thread_texts(old)[-1]
    assert f"passed your question to the {team} team" in front.member_texts()[-1]
    told = front.member_texts()
    await front.staff_says("still here in the old thread", where=old)
    assert front.member_texts() == told  # the old thread stops relaying
    await front.staff_says("The new team has it now.")
    assert "The new team has it now." in front.member_texts()[-1]


async def test_a_member_writing_after_resolution_reopens_the_same_ticket(front) -> None:
    ticket_id = await front.escalate()
    await front.press("claim")
    await front.press("resolve")
    assert front.card_redraws()[-1] == set()  # a resolved card has no desk buttons
    redraws = len(front.card_redraws())
    await front.member_says("It broke again this morning")

    ticket = front.app.desk.get(ticket_id)
    assert (ticket.status, ticket.claimed_by) == ("claimed", front.staff_id)  # back to its owner
    with Session(front.app.engine) as session:
        same = session.exec(select(Ticket).where(Ticket.conversation_id == ticket.conversation_id))
        assert len(same.all()) == 1  # the same ticket, not a new one
    assert f"reopened your ticket #{ticket_id}" in front.member_texts()[-1]
    relayed = front.staff_thread_texts(front.staff_thread())
    assert any(f"(reopened ticket #{ticket_id}) It broke again" in t for t in relayed)
    assert len(front.card_redraws()) > redraws
    assert {"resolve", "handback"} <= front.card_redraws()[-1]  # the card is redrawn


async def test_member_buttons_belong_to_the_member_who_asked(front) -> None:
    await front.ask("How do I reset my password?")
    refused_before = len(refusals(front.app, "button:helpful"))
    await front.member_press("helpful", member=False)
    assert len(refusals(front.app, "button:helpful")) == refused_before + 1  # audited
    assert feedback_kinds(front) == []
    await front.member_press("helpful")
    assert feedback_kinds(front) == ["helpful"]


async def test_a_drafted_reply_is_sent_once(front) -> None:
    ticket_id = await front.escalate()
    before = front.member_texts()
    await front.assist("send", staff=False)
    assert front.member_texts() == before and assist_used(front.app, ticket_id) == ""
    await front.assist("send")
    assert len(front.member_texts()) == len(before) + 1
    assert assist_used(front.app, ticket_id) == "sent"
    sent = front.member_texts()
    await front.assist("send")
    await front.assist("ignore")
    assert front.member_texts() == sent and assist_used(front.app, ticket_id) == "sent"


async def test_a_drafted_reply_is_ignored_once(front) -> None:
    ticket_id = await front.escalate()
    before = front.member_texts()
    await front.assist("ignore")
    assert assist_used(front.app, ticket_id) == "ignored"
    await front.assist("send")
    assert front.member_texts() == before and assist_used(front.app, ticket_id) == "ignored"


def seed_gap(app) -> set[int]:
    """Members ask about paying in crypto, press Not helpful, get a person, and staff answer."""
    seeded = set()
    for question in CRYPTO:
        user = unique("UCRYPTO")
        reply = ask(app, question, user=user)
        key = app.service.conversation(reply.conversation_id).key
        app.service.handle_action(key, "not_helpful", "", Member(user), "slack")
        if app.desk.open_ticket_for(reply.conversation_id) is None:
            app.service.handle_action(key, "human", "", Member(user), "slack")
        ticket = app.desk.open_ticket_for(reply.conversation_id)
        assert ticket is not None, reply
        app.desk.staff_message(ticket.id, "USTAFF", "Sam", STAFF_ANSWER)
        app.desk.resolve(ticket.id, "USTAFF")
        seeded.add(reply.conversation_id)
    return seeded


def pending_candidates(app) -> list[KbCandidate]:
    with Session(app.engine) as session:
        stmt = select(KbCandidate).where(KbCandidate.status == "pending")
        return list(session.exec(stmt.order_by(KbCandidate.id)))


async def test_gaps_draft_button_an_admin_press_drafts_once_and_a_non_admin_press_is_refused(
    front,
) -> None:
    seeded = seed_gap(front.app)
    await front.command("gaps --days 1")
    report = gaps_report(front.app.kb, days=1, embedder=front.app.embedder)
    cluster = next(c for c in report.clusters if seeded <= set(c.conversation_ids))
    shown = front.command_buttons()
    label, line = next((lbl, ln) for lbl, ln in shown if ln.endswith(f"--key {cluster.key}"))
    assert label == f"Draft article: gap {cluster.number}"
    assert line.startswith(f"gaps draft {cluster.number} --days 1 ")  # the window listed

    before, refused = pending_candidates(front.app), len(refusals(front.app, "gaps draft"))
    await front.press_command_button(line, staff=False)
    assert "Only staff and admins can run `gaps draft`" in front.command_answer()
    assert pending_candidates(front.app) == before
    assert len(refusals(front.app, "gaps draft")) == refused + 1  # audited like a typed refusal

    await front.press_command_button(line)
    assert "Article drafted" in front.command_answer()
    new = pending_candidates(front.app)[len(before) :]
    assert len(new) == 1  # one press, one candidate
    assert "We don't accept bitcoin" in new[0].answer
    assert f"kb approve {new[0].id}" in front.command_answer()
    await front.press_command_button(line)  # pressed again: the pending draft, not a second one
    assert f"candidate **#{new[0].id}** is waiting for review" in front.command_answer()
    assert pending_candidates(front.app)[len(before) :] == new
    await front.command(f"kb reject {new[0].id}")  # reviewed (the next front shares this app)
    assert front.app.kb.list_candidates("rejected")[-1].id == new[0].id
