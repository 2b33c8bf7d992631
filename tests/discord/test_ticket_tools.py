"""Staff ticket tools on Discord: transfer and reopen reach the HTTP fake as real posts."""

from __future__ import annotations

from sqlmodel import Session

from bot.models import Ticket
from tests.discord.test_escalation import escalate
from tests.discord.test_members import only_member_pings


def _ticket(harness, ticket_id: int) -> Ticket:
    with Session(harness.app.engine) as s:
        return s.get(Ticket, ticket_id)


async def test_transfer_reposts_the_card_and_tells_both_threads(harness):
    bot = await harness.start_bot()
    ivy, member_thread, ticket = await escalate(harness, bot, "Tara")
    old_thread = _ticket(harness, ticket.id).staff_thread_id
    forum = harness.channels["staff_forum"]["id"]
    kim = harness.user("Kim")
    n_member = len(harness.fake.posts_to(member_thread))

    harness.slash(
        bot,
        harness.channels["staff"]["id"],
        kim,
        f"ticket {ticket.id} transfer <#{forum}>",
        roles=[harness.roles[0]["id"]],
    )
    await harness.settle(bot)

    # The card is a new post in the target forum, and the ticket follows it there.
    posts = harness.fake.find("POST", rf"/channels/{forum}/threads")
    assert len(posts) == 1
    assert posts[0].json["message"]["embeds"][0]["title"].startswith(f"Ticket #{ticket.id}")
    moved = _ticket(harness, ticket.id)
    assert (moved.staff_channel_id, moved.staff_thread_id) == (forum, posts[0].response["id"])
    assert moved.status == "open" and moved.claimed_by == ""
    # The old staff thread is told, without pinging anyone.
    note = harness.fake.posts_to(old_thread)[-1]
    assert f"Ticket #{ticket.id} was transferred to support by Kim" in note.json["content"]
    assert note.json["allowed_mentions"]["parse"] == []
    # The member is told in their thread, pinging only them.
    told = harness.fake.posts_to(member_thread)[n_member:]
    assert len(told) == 1 and "passed your question to the support team" in told[0].content
    only_member_pings(told[0], ivy["id"])
    assert not harness.app.outbox.pending("discord")


async def test_issue_type_fix_redraws_the_card_and_notes_it_in_the_staff_thread(harness):
    bot = await harness.start_bot()
    _, _, ticket = await escalate(harness, bot, "Vic")
    staff, thread = harness.channels["staff"]["id"], _ticket(harness, ticket.id).staff_thread_id
    harness.slash(
        bot, staff, harness.user("Kim"), f"ticket {ticket.id} type bug_report",
        roles=[harness.roles[0]["id"]],
    )  # fmt: skip
    await harness.settle(bot)
    assert "to bug_report by Kim" in harness.fake.posts_to(thread)[-1].json["content"]
    edit = harness.fake.find("PATCH", rf"/channels/{staff}/messages/{thread}")[-1]
    issue = next(f["value"] for f in edit.json["embeds"][0]["fields"] if f["name"] == "Issue type")
    assert "bug_report" in issue


async def test_member_writing_after_resolution_reopens_the_same_ticket(harness):
    bot = await harness.start_bot()
    ivy, member_thread, ticket = await escalate(harness, bot, "Uma")
    staff_thread = _ticket(harness, ticket.id).staff_thread_id
    harness.add_thread(bot, harness.fake.channels[staff_thread])
    harness.app.desk.resolve(ticket.id, "42")
    n_member = len(harness.fake.posts_to(member_thread))

    harness.say(bot, member_thread, ivy, "Sorry, it stopped working again")
    await harness.settle(bot)
    relayed = harness.fake.posts_to(staff_thread)[-1]
    assert f"(reopened ticket #{ticket.id}) Sorry, it stopped working again" in relayed.content
    assert _ticket(harness, ticket.id).status == "claimed"
    await bot.deliver_pending()  # the retry loop's pass: the member notice
    told = harness.fake.posts_to(member_thread)[n_member:]
    assert len(told) == 1 and f"reopened your ticket #{ticket.id}" in told[0].content
    only_member_pings(told[0], ivy["id"])
    staff = harness.channels["staff"]["id"]
    redraw = harness.fake.find("PATCH", rf"/channels/{staff}/messages/{staff_thread}")[-1]
    buttons = [c["custom_id"] for row in redraw.json["components"] for c in row["components"]]
    assert f"deskhand:resolve:{ticket.id}" in buttons
