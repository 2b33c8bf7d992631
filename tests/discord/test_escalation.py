"""Escalation: staff card thread, relay both ways, internal notes, claim, resolve, rating."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.models import Feedback, Message, Ticket
from tests.discord import payloads as P
from tests.discord.test_members import custom_ids, only_member_pings

HUMAN_Q = "I want to talk to a person"
STAFF_PERMS = P.EVERYONE_PERMS


async def escalate(harness, bot, name="Ivy"):
    """A member asks for a person in the help channel; returns (member, member thread id, ticket)."""
    ivy = harness.user(name)
    msg = harness.say(bot, harness.channels["help"]["id"], ivy, HUMAN_Q)
    await harness.settle(bot)
    harness.add_thread(bot, harness.fake.channels[msg["id"]])
    with Session(harness.app.engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.member_thread_id == msg["id"])).one()
    return ivy, msg["id"], ticket


async def test_escalation_opens_staff_thread_with_context_card(harness):
    bot = await harness.start_bot()
    ivy, member_thread, ticket = await escalate(harness, bot)
    staff = harness.channels["staff"]["id"]
    notice = harness.fake.posts_to(member_thread)
    assert notice and "person" in notice[-1].content.lower()
    only_member_pings(notice[-1], ivy["id"])

    card = harness.fake.posts_to(staff)
    assert len(card) == 1
    embed = card[0].json["embeds"][0]
    names = {f["name"] for f in embed["fields"]}
    assert {"Member", "Conversation", "Status", "Issue type", "Confidence"} <= names
    assert {"Sentiment / severity", "Why escalated"} <= names
    assert ivy["id"] in next(f["value"] for f in embed["fields"] if f["name"] == "Member")
    assert "discord.com/channels/" in next(
        f["value"] for f in embed["fields"] if f["name"] == "Conversation"
    )
    assert card[0].json["allowed_mentions"]["parse"] == []
    ids = custom_ids(harness, card[0])
    assert ids == [
        f"deskhand:claim:{ticket.id}",
        f"deskhand:resolve:{ticket.id}",
        f"deskhand:handback:{ticket.id}",
    ]
    thread = harness.fake.find(
        "POST", rf"/channels/{staff}/messages/{card[0].response['id']}/threads"
    )
    assert len(thread) == 1
    with Session(harness.app.engine) as s:
        t = s.get(Ticket, ticket.id)
    assert (t.staff_channel_id, t.staff_thread_id) == (staff, thread[0].response["id"])


async def test_relay_both_ways_internal_note_claim_resolve_and_rating(harness):
    bot = await harness.start_bot()
    ivy, member_thread, ticket = await escalate(harness, bot, "Jo")
    staff = harness.channels["staff"]["id"]
    with Session(harness.app.engine) as s:
        staff_thread = s.get(Ticket, ticket.id).staff_thread_id
    harness.add_thread(bot, harness.fake.channels[staff_thread])
    card_msg = harness.fake.posts_to(staff)[0].response

    # member writes while escalated -> staff thread, no bot answer
    n_member = len(harness.fake.posts_to(member_thread))
    harness.say(bot, member_thread, ivy, "It's about order 1234, @everyone please hurry")
    await harness.settle(bot)
    relayed = harness.fake.posts_to(staff_thread)[-1]
    assert relayed.content.startswith("**Jo (member):**") and "order 1234" in relayed.content
    assert relayed.json["allowed_mentions"]["parse"] == []
    assert not relayed.json["allowed_mentions"].get("users")
    assert len(harness.fake.posts_to(member_thread)) == n_member

    # staff reply -> member thread under the staff member's name
    kim = harness.user("Kim")
    harness.say(
        bot, staff_thread, kim, "Hi Jo, I've refunded order 1234.", roles=[harness.roles[0]["id"]]
    )
    await harness.settle(bot)
    to_member = harness.fake.posts_to(member_thread)[-1]
    assert to_member.content == "**Kim (staff):** Hi Jo, I've refunded order 1234."
    only_member_pings(to_member, ivy["id"])

    # internal note stays in the staff thread and is marked
    n_member = len(harness.fake.posts_to(member_thread))
    note = harness.say(
        bot, staff_thread, kim, "// customer is a repeat refunder", roles=[harness.roles[0]["id"]]
    )
    await harness.settle(bot)
    assert len(harness.fake.posts_to(member_thread)) == n_member
    assert harness.fake.find(
        "PUT", rf"/channels/{staff_thread}/messages/{note['id']}/reactions/.+/@me"
    )
    with Session(harness.app.engine) as s:
        roles = s.exec(
            select(Message.role).where(Message.conversation_id == ticket.conversation_id)
        ).all()
    assert "note" in roles and "staff" in roles

    # a member without the Staff role cannot claim
    token = harness.press(bot, card_msg, f"deskhand:claim:{ticket.id}", harness.user("Rando"))
    await harness.settle(bot)
    cb = harness.fake.find("POST", rf"/interactions/\d+/{token}/callback")[0]
    assert cb.json["type"] == 4 and cb.json["data"]["flags"] & 64

    # claim by staff shows the owner on the card
    token = harness.press(
        bot, card_msg, f"deskhand:claim:{ticket.id}", kim, roles=[harness.roles[0]["id"]]
    )
    await harness.settle(bot)
    edit = harness.fake.find("PATCH", rf"/webhooks/{harness.app_id}/{token}/messages/@original")
    status = next(f["value"] for f in edit[-1].json["embeds"][0]["fields"] if f["name"] == "Status")
    assert status == f"Claimed by <@{kim['id']}>"

    # resolve -> card updated, member asked for a rating
    token = harness.press(
        bot, card_msg, f"deskhand:resolve:{ticket.id}", kim, roles=[harness.roles[0]["id"]]
    )
    await harness.settle(bot)
    edit = harness.fake.find("PATCH", rf"/webhooks/{harness.app_id}/{token}/messages/@original")[-1]
    assert edit.json["components"] == []
    with Session(harness.app.engine) as s:
        assert s.get(Ticket, ticket.id).status == "resolved"
    prompt = harness.fake.posts_to(member_thread)[-1]
    assert custom_ids(harness, prompt) == [f"deskhand:rate:{ticket.id}:{n}" for n in range(1, 6)]
    only_member_pings(prompt, ivy["id"])

    # the rating is recorded (and only the member may rate)
    harness.press(bot, prompt.response, f"deskhand:rate:{ticket.id}:1", kim)
    token = harness.press(bot, prompt.response, f"deskhand:rate:{ticket.id}:4", ivy)
    await harness.settle(bot)
    with Session(harness.app.engine) as s:
        ratings = s.exec(select(Feedback.rating).where(Feedback.ticket_id == ticket.id)).all()
    assert ratings == [4]
    done = harness.fake.find("PATCH", rf"/webhooks/{harness.app_id}/{token}/messages/@original")[-1]
    assert "4/5" in done.json["content"]


async def test_hand_back_returns_the_conversation_to_the_bot(harness):
    bot = await harness.start_bot()
    lea, member_thread, ticket = await escalate(harness, bot, "Lea")
    card_msg = harness.fake.posts_to(harness.channels["staff"]["id"])[0].response
    mo = harness.user("Mo")
    bot2 = await harness.start_bot()  # the staff button works on a fresh client too
    bot2._connection.parse_thread_create(harness.fake.channels[member_thread])
    harness.press(
        bot2, card_msg, f"deskhand:handback:{ticket.id}", mo, roles=[harness.roles[0]["id"]]
    )
    await harness.settle(bot2)
    assert "handed this conversation back" in harness.fake.posts_to(member_thread)[-1].content
    n = len(harness.fake.posts_to(member_thread))
    harness.say(bot2, member_thread, lea, "How do I reset my password?")
    await harness.settle(bot2)
    answer = harness.fake.posts_to(member_thread)[n:]
    assert answer and "password" in answer[0].content.lower()


async def test_routed_issue_type_goes_to_a_staff_forum_post(harness):
    bot = await harness.start_bot()
    forum = harness.channels["staff_forum"]["id"]
    harness.app.settings.set("routes", {"": {}, "support": {"discord": forum}})
    try:
        _, _, ticket = await escalate(harness, bot, "Ned")
    finally:
        harness.app.settings.set("routes", {})
    posts = harness.fake.find("POST", rf"/channels/{forum}/threads")
    assert len(posts) == 1
    body = posts[0].json
    assert body["message"]["embeds"][0]["title"].startswith(f"Ticket #{ticket.id}")
    assert len(harness.components(body["message"])) == 3
    with Session(harness.app.engine) as s:
        t = s.get(Ticket, ticket.id)
    assert t.staff_channel_id == forum and t.staff_thread_id == posts[0].response["id"]
