"""Discord staff threads: only staff speak for staff, and staff text reaches members defused."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.audit import recent_audit
from bot.models import Message
from tests.discord.test_escalation import escalate

EVIL = "@everyone refunds are here: [help.example/refunds](https://evil.example/login)"


async def test_a_non_staff_reply_in_the_staff_thread_is_not_relayed(harness):
    bot = await harness.start_bot()
    ivy, member_thread, ticket = await escalate(harness, bot, "Nia")
    staff_thread = harness.app.desk.get(ticket.id).staff_thread_id
    harness.add_thread(bot, harness.fake.channels[staff_thread])
    before = len(harness.fake.posts_to(member_thread))
    harness.say(bot, staff_thread, harness.user("Rando"), EVIL)  # no Staff role
    await harness.settle(bot)
    assert len(harness.fake.posts_to(member_thread)) == before
    ticket = harness.app.desk.get(ticket.id)
    assert ticket.status == "open" and not ticket.claimed_by
    with Session(harness.app.engine) as s:
        roles = s.exec(
            select(Message.role).where(Message.conversation_id == ticket.conversation_id)
        ).all()
    assert "staff" not in roles
    refused = [e for e in recent_audit(harness.app.engine, 50) if e.action == "refused"]
    assert any(e.target == f"staff_reply:ticket:{ticket.id}" for e in refused)


async def test_staff_text_cannot_ping_or_disguise_a_link_and_claim_is_told(harness):
    bot = await harness.start_bot()
    ivy, member_thread, ticket = await escalate(harness, bot, "Oli")
    staff_thread = harness.app.desk.get(ticket.id).staff_thread_id
    harness.add_thread(bot, harness.fake.channels[staff_thread])
    kim = harness.user("Kim")
    harness.say(bot, staff_thread, kim, EVIL, roles=[harness.roles[0]["id"]])
    await harness.settle(bot)
    relayed = harness.fake.posts_to(member_thread)[-1].content
    assert "@everyone" not in relayed and "](https://evil" not in relayed
    assert "help.example/refunds (https://evil.example/login)" in relayed
    assert relayed.startswith("**Kim (staff):**")
    card_msg = harness.fake.posts_to(harness.channels["staff"]["id"])[0].response
    harness.press(bot, card_msg, f"deskhand:claim:{ticket.id}", kim, roles=[harness.roles[0]["id"]])
    await harness.settle(bot)
    told = harness.fake.posts_to(member_thread)[-1].content
    assert "Kim" in told and "picked this up" in told  # the member hears it on Discord too
