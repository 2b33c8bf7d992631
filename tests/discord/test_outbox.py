"""Failed escalations and relays are parked in the outbox and re-delivered, never dropped."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.discord.delivery import deliver_pending
from bot.models import OutboxItem, Ticket
from tests.discord.test_escalation import HUMAN_Q


def pending(app, kind):
    with Session(app.engine) as s:
        return s.exec(
            select(OutboxItem).where(OutboxItem.kind == kind, OutboxItem.status == "pending")
        ).all()


def make_due(app):
    from knowledge.models import utcnow

    with Session(app.engine) as s:
        for item in s.exec(select(OutboxItem).where(OutboxItem.status == "pending")):
            item.next_attempt_at = utcnow()
            s.add(item)
        s.commit()


async def test_escalation_card_503_goes_to_outbox_then_is_delivered(harness):
    bot = await harness.start_bot()
    staff = harness.channels["staff"]["id"]
    harness.fake.fail("POST", rf"/channels/{staff}/messages", 503)
    ola = harness.user("Ola")
    msg = harness.say(bot, harness.channels["help"]["id"], ola, HUMAN_Q)
    await harness.settle(bot)
    items = pending(harness.app, "escalation_card")
    assert len(items) == 1 and "503" in items[0].last_error
    with Session(harness.app.engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.member_thread_id == msg["id"])).one()
    assert ticket.staff_thread_id == ""

    # the member writes again: the relay waits behind the card
    harness.add_thread(bot, harness.fake.channels[msg["id"]])
    harness.say(bot, msg["id"], ola, "still there?")
    await harness.settle(bot)
    assert len(pending(harness.app, "relay_to_staff")) == 1

    make_due(harness.app)
    assert await deliver_pending(bot) >= 2
    assert not pending(harness.app, "escalation_card") and not pending(
        harness.app, "relay_to_staff"
    )
    with Session(harness.app.engine) as s:
        ticket = s.get(Ticket, ticket.id)
    assert ticket.staff_thread_id
    assert (
        harness.fake.posts_to(ticket.staff_thread_id)[-1].content
        == "**Ola (member):** still there?"
    )


async def test_long_429_is_parked_with_its_retry_after(harness):
    bot = await harness.start_bot()
    thread = harness.ids.next()
    harness.fake.fail("POST", rf"/channels/{thread}/messages", 429, retry_after=120)
    from bot.discord.delivery import post_chunks

    ok = await post_chunks(bot, thread, "**Kim (staff):** hello", mention=1, kind="relay_to_member")
    assert not ok
    [item] = pending(harness.app, "relay_to_member")
    from knowledge.models import utcnow

    assert (item.next_attempt_at - utcnow()).total_seconds() > 60
    make_due(harness.app)
    assert await deliver_pending(bot) >= 1
    assert harness.fake.posts_to(thread)[-1].content == "**Kim (staff):** hello"
    assert harness.fake.posts_to(thread)[-1].json["allowed_mentions"]["users"] == [1]


async def test_short_429_and_a_500_are_retried_by_discord_py(harness):
    bot = await harness.start_bot()
    thread = harness.ids.next()
    harness.fake.fail("POST", rf"/channels/{thread}/messages", 429, retry_after=0.05)
    harness.fake.fail("POST", rf"/channels/{thread}/messages", 500)
    from bot.discord.delivery import post_chunks

    assert await post_chunks(bot, thread, "hello", mention=1)
    assert len(harness.fake.posts_to(thread)) == 3  # 429, 500, then delivered
    assert not pending(harness.app, "post")
