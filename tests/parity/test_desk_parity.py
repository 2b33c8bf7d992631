"""The same desk scenarios with the same outcomes on Slack, Discord and the console."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.models import Feedback, Message

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
