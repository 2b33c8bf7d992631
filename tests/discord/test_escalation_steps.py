"""Discord escalations are recorded step by step, repaired after a crash, and relays stay in order."""

from __future__ import annotations

from sqlmodel import Session, col, delete, select

from bot.contracts import IncomingMessage, Member
from bot.discord.delivery import deliver_pending
from bot.discord.staff import UNMAPPED_NOTE
from bot.escalation import repair
from bot.models import EscalationStep, OutboxItem, Ticket
from knowledge.models import utcnow
from tests.discord import payloads as P
from tests.discord.test_escalation import HUMAN_Q, escalate


def make_due(app) -> None:
    with Session(app.engine) as s:
        for item in s.exec(select(OutboxItem).where(OutboxItem.status == "pending")):
            item.next_attempt_at = utcnow()
            s.add(item)
        s.commit()


async def drain(app, bot, rounds: int = 30) -> None:
    for _ in range(rounds):
        make_due(app)
        await deliver_pending(bot)
        if not app.outbox.pending("discord"):
            return


def escalate_undelivered(harness, thread_id: int, member: Member):
    """The core decides and records an escalation; the adapter has delivered nothing of it yet."""
    help_channel = harness.channels["help"]["id"]
    msg = IncomingMessage(
        "discord", help_channel, thread_id, thread_id, HUMAN_Q, member, mentioned=True
    )
    reply = harness.app.service.handle(msg)
    assert reply.route == "escalate" and reply.ticket_id
    return reply


async def finish_for_the_next_test(harness, bot, ticket_id: int) -> None:
    """These tests skip the adapter's own delivery; tell the member so the app they share with
    later tests holds no half-done escalation for a new bot's start-up repair to pick up."""
    repair(harness.app, "discord", older_than_s=0)
    await drain(harness.app, bot)
    assert ticket_id not in harness.app.escalations.unfinished("discord", older_than_s=0)


def ok_posts(harness, channel_id) -> list[str]:
    return [c.content for c in harness.fake.posts_to(channel_id) if c.response is not None]


async def test_escalation_steps_are_recorded_card_first(harness):
    bot = await harness.start_bot()
    ivy, member_thread, ticket = await escalate(harness, bot)
    assert set(harness.app.escalations.steps(ticket.id)) == {
        "decided",
        "card_intent",
        "card_recorded",
        "transcript_posted",
        "member_told",
    }
    staff = harness.channels["staff"]["id"]
    sends = harness.fake.message_sends()
    card_at = next(i for i, c in enumerate(sends) if c.path == f"/channels/{staff}/messages")
    told_at = next(
        i for i, c in enumerate(sends) if c.path == f"/channels/{member_thread}/messages"
    )
    assert card_at < told_at  # decided → card posted → card recorded → member told


async def test_a_crash_after_the_decision_is_finished_by_repair(harness):
    bot = await harness.start_bot()
    await drain(harness.app, bot)
    help_channel = harness.channels["help"]["id"]
    thread_id = harness.ids.next()
    harness.fake.add_channel(P.thread(thread_id, harness.guild_id, help_channel, "1", "q"))
    reply = escalate_undelivered(harness, thread_id, Member("77", "Uma"))  # then killed
    assert set(harness.app.escalations.steps(reply.ticket_id)) == {"decided"}
    report = repair(harness.app, "discord", older_than_s=0)
    assert report["escalations_requeued"] == [reply.ticket_id]
    await drain(harness.app, bot)
    staff = harness.channels["staff"]["id"]
    cards = [
        c
        for c in harness.fake.posts_to(staff)
        if c.json.get("embeds") and f"#{reply.ticket_id}" in str(c.json["embeds"][0])
    ]
    assert len(cards) == 1
    assert len(ok_posts(harness, thread_id)) == 1  # the member is told once
    assert reply.ticket_id not in harness.app.escalations.unfinished("discord", older_than_s=0)


async def test_staff_reply_in_an_unrecorded_card_thread_is_recovered_and_relayed(harness):
    bot = await harness.start_bot()
    ivy, member_thread, ticket = await escalate(harness, bot, "Pat")
    with Session(harness.app.engine) as s:
        t = s.get(Ticket, ticket.id)
        staff_thread = t.staff_thread_id
        t.staff_thread_id = ""  # as a kill -9 between creating the thread and recording it
        s.add(t)
        s.exec(
            delete(EscalationStep).where(
                col(EscalationStep.ticket_id) == ticket.id,
                col(EscalationStep.step) == "card_recorded",
            )
        )
        s.commit()
    harness.add_thread(bot, harness.fake.channels[staff_thread])
    harness.say(
        bot,
        staff_thread,
        harness.user("Kim"),
        "Try the reset link again",
        roles=[harness.roles[0]["id"]],
    )
    await harness.settle(bot)
    assert ok_posts(harness, member_thread)[-1] == "**Kim (staff):** Try the reset link again"
    assert harness.app.desk.get(ticket.id).staff_thread_id == staff_thread


async def test_a_message_in_a_bot_thread_with_no_ticket_is_reported(harness):
    bot = await harness.start_bot()
    staff = harness.channels["staff"]["id"]
    stray = harness.ids.next()
    thread = P.thread(stray, harness.guild_id, staff, harness.bot_user["id"], "old notes")
    harness.fake.add_channel(thread)
    harness.add_thread(bot, thread)
    harness.say(bot, stray, harness.user("Kim"), "is anyone reading this?")
    await harness.settle(bot)
    assert ok_posts(harness, stray) == [UNMAPPED_NOTE]


async def test_relays_reach_the_member_in_order_through_a_flaky_api(harness):
    """Every other send to the member's thread is rate limited for 2 minutes: B1..B4 in order."""
    bot = await harness.start_bot()
    ivy, member_thread, ticket = await escalate(harness, bot, "Ria")
    staff_thread = harness.app.desk.get(ticket.id).staff_thread_id
    harness.add_thread(bot, harness.fake.channels[staff_thread])
    await drain(harness.app, bot)
    harness.fake.flaky("POST", rf"/channels/{member_thread}/messages", 429, 2, retry_after=120)
    kim = harness.user("Kim")
    try:
        for n in range(1, 5):
            harness.say(bot, staff_thread, kim, f"B{n}", roles=[harness.roles[0]["id"]])
            await harness.settle(bot)
        await drain(harness.app, bot)
    finally:
        harness.fake.flaky("POST", "", 0, every=0)
    relayed = [c for c in ok_posts(harness, member_thread) if c.startswith("**Kim")]
    assert relayed == [f"**Kim (staff):** B{n}" for n in range(1, 5)]
    assert len(harness.fake.posts_to(member_thread)) > len(relayed)  # failures really happened


async def test_a_dead_item_alerts_the_staff_channel(harness):
    from bot.outbox import MAX_ATTEMPTS

    bot = await harness.start_bot()
    await drain(harness.app, bot)
    item = harness.app.outbox.put("discord", "post", {"channel_id": "1", "content": "x"}, "e")
    for _ in range(MAX_ATTEMPTS):
        harness.app.outbox.failed(item.id, "403 Forbidden (error code: 50001): Missing Access", 0)
    await drain(harness.app, bot)
    staff = harness.channels["staff"]["id"]
    alerts = [c for c in ok_posts(harness, staff) if f"outbox item #{item.id}" in c]
    assert len(alerts) == 1 and "Missing Access" in alerts[0]


async def test_a_relay_that_overtakes_its_card_brings_the_card_up_first(harness):
    """The flood's race on Discord, made certain: the member's next message is relayed before the
    worker that escalated posted the card. The card goes first, once, and the relay follows it.

    (In a flood the overtaking message comes from another channel and joins the ticket; here it
    is the member's next message in their own thread, which the core relays without running the
    graph, so the setup cannot take another route.)"""
    from bot.discord import staff as discord_staff

    bot = await harness.start_bot()
    await drain(harness.app, bot)
    help_channel = harness.channels["help"]["id"]
    rae = harness.user("Rae")
    thread_id = harness.ids.next()
    thread = P.thread(thread_id, harness.guild_id, help_channel, rae["id"], "q")
    harness.fake.add_channel(thread)
    harness.add_thread(bot, thread)
    escalated = escalate_undelivered(harness, thread_id, Member(rae["id"], "Rae"))
    harness.say(bot, thread_id, rae, "a person please, it's urgent")
    await harness.settle(bot)

    staff = harness.channels["staff"]["id"]
    ticket = harness.app.desk.get(escalated.ticket_id)
    cards = [c for c in harness.fake.posts_to(staff)
             if c.json.get("embeds") and f"#{escalated.ticket_id}" in str(c.json["embeds"][0])]  # fmt: skip
    assert len(cards) == 1, "the relay brought its card up"
    assert ticket.staff_thread_id
    relayed = [c for c in harness.fake.posts_to(ticket.staff_thread_id)
               if c.response is not None and "it's urgent" in c.content]  # fmt: skip
    assert len(relayed) == 1
    sends = harness.fake.message_sends()
    assert sends.index(cards[0]) < sends.index(relayed[0])
    assert not [i for i in harness.app.outbox.pending("discord")
                if i.thread_key == f"ticket:{escalated.ticket_id}:staff"]  # fmt: skip
    # the escalating worker now delivers: the card is already up, nothing is posted twice
    await discord_staff.open_escalation(bot, escalated.ticket_id)
    await drain(harness.app, bot)
    again = [c for c in harness.fake.posts_to(staff)
             if c.json.get("embeds") and f"#{escalated.ticket_id}" in str(c.json["embeds"][0])]  # fmt: skip
    assert len(again) == 1
    assert len([c for c in harness.fake.posts_to(ticket.staff_thread_id)
                if "it's urgent" in c.content]) == 1  # fmt: skip
    await finish_for_the_next_test(harness, bot, escalated.ticket_id)


async def test_an_escalating_worker_that_waited_behind_the_relay_posts_no_second_card(harness):
    """Both at once: the relay takes the staff thread's lock first and brings the card up; the
    escalating worker, queued on the same lock, must see that card and not post another."""
    import asyncio

    from bot.contracts import Reply
    from bot.discord import staff as discord_staff
    from bot.discord.delivery import thread_lock
    from bot.outbox import staff_key

    bot = await harness.start_bot()
    await drain(harness.app, bot)
    help_channel = harness.channels["help"]["id"]
    thread_id = harness.ids.next()
    harness.fake.add_channel(P.thread(thread_id, harness.guild_id, help_channel, "78", "q"))
    escalated = escalate_undelivered(harness, thread_id, Member("78", "Sol"))
    tid = escalated.ticket_id
    lock = thread_lock(bot, staff_key(tid))

    async def queued(n: int) -> None:
        for _ in range(10_000):
            if len(lock._waiters or ()) >= n:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{n} waiters never queued on the staff thread's lock")

    await lock.acquire()
    relay = asyncio.create_task(discord_staff.relay_member_to_staff(
        bot, Reply(route="relay", text="", relay_text="still there?", ticket_id=tid), "Sol"))  # fmt: skip
    await queued(1)
    card = asyncio.create_task(discord_staff.open_escalation(bot, tid))
    await queued(2)
    lock.release()
    await asyncio.wait_for(asyncio.gather(relay, card), 120)

    staff = harness.channels["staff"]["id"]
    cards = [c for c in harness.fake.posts_to(staff)
             if c.json.get("embeds") and f"#{tid}" in str(c.json["embeds"][0])]  # fmt: skip
    assert len(cards) == 1
    thread = harness.app.desk.get(tid).staff_thread_id
    assert [c.content for c in harness.fake.posts_to(thread) if "still there?" in c.content]
    await finish_for_the_next_test(harness, bot, tid)
