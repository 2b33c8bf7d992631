"""Agent assist in the staff thread: the suggested reply, Send as is, Ignore, and edited replies."""

from __future__ import annotations

import json

from sqlmodel import Session

from bot.models import Ticket
from tests.discord.test_escalation import escalate
from tests.discord.test_members import custom_ids, only_member_pings


def extra_of(harness, ticket_id: int) -> dict:
    with Session(harness.app.engine) as s:
        return json.loads(s.get(Ticket, ticket_id).extra or "{}")


async def escalate_with_suggestion(harness, bot, name: str):
    """Escalate; returns (member, member thread, ticket, staff thread id, suggestion call)."""
    member, member_thread, ticket = await escalate(harness, bot, name)
    with Session(harness.app.engine) as s:
        staff_thread = s.get(Ticket, ticket.id).staff_thread_id
    harness.add_thread(bot, harness.fake.channels[staff_thread])
    posts = harness.fake.posts_to(staff_thread)
    suggestion = next(p for p in posts if "Suggested reply (not sent yet)" in p.content)
    return member, member_thread, ticket, staff_thread, suggestion


async def test_escalation_posts_a_suggested_reply_with_sources_and_buttons(harness):
    bot = await harness.start_bot()
    _, _, ticket, _, suggestion = await escalate_with_suggestion(harness, bot, "Una")
    draft = extra_of(harness, ticket.id)["suggested_reply"]
    assert draft["text"] and draft["text"] in suggestion.content
    assert custom_ids(harness, suggestion) == [
        f"deskhand:assist_send:{ticket.id}",
        f"deskhand:assist_ignore:{ticket.id}",
    ]
    assert suggestion.json["allowed_mentions"]["parse"] == []
    if draft["citations"]:
        embed = suggestion.json["embeds"][0]
        assert embed["title"] == "Sources"
        assert any(c["url"] in embed["description"] for c in draft["citations"] if c["url"])


async def test_send_as_is_relays_the_draft_and_records_sent(harness):
    bot = await harness.start_bot()
    member, member_thread, ticket, _, suggestion = await escalate_with_suggestion(
        harness, bot, "Vic"
    )
    text = extra_of(harness, ticket.id)["suggested_reply"]["text"]
    kim = harness.user("Kim")

    # only staff may press it
    token = harness.press(
        bot, suggestion.response, f"deskhand:assist_send:{ticket.id}", harness.user("Rando")
    )
    await harness.settle(bot)
    cb = harness.fake.find("POST", rf"/interactions/\d+/{token}/callback")[0]
    assert cb.json["type"] == 4 and cb.json["data"]["flags"] & 64
    assert "assist" not in extra_of(harness, ticket.id)

    n = len(harness.fake.posts_to(member_thread))
    token = harness.press(
        bot,
        suggestion.response,
        f"deskhand:assist_send:{ticket.id}",
        kim,
        roles=[harness.roles[0]["id"]],
    )
    await harness.settle(bot)
    sent = harness.fake.posts_to(member_thread)[n:]
    assert "\n".join(p.content for p in sent).startswith("**Kim (staff):** ")
    assert text.split("\n")[0] in sent[0].content
    for post in sent:
        only_member_pings(post, member["id"])
    extra = extra_of(harness, ticket.id)
    assert extra["assist"]["used"] == "sent" and extra["assist"]["staff_id"] == kim["id"]
    edit = harness.fake.find("PATCH", rf"/webhooks/{harness.app_id}/{token}/messages/@original")
    assert f"sent to the member by <@{kim['id']}>" in edit[-1].json["content"]
    assert edit[-1].json["components"] == []
    assert edit[-1].json["allowed_mentions"]["parse"] == []
    with Session(harness.app.engine) as s:
        assert s.get(Ticket, ticket.id).status == "claimed"


async def test_ignore_records_ignored_and_sends_nothing(harness):
    bot = await harness.start_bot()
    _, member_thread, ticket, _, suggestion = await escalate_with_suggestion(harness, bot, "Wes")
    n = len(harness.fake.posts_to(member_thread))
    bot2 = await harness.start_bot()  # the persistent button works after a restart
    token = harness.press(
        bot2,
        suggestion.response,
        f"deskhand:assist_ignore:{ticket.id}",
        harness.user("Kim"),
        roles=[harness.roles[0]["id"]],
    )
    await harness.settle(bot2)
    assert len(harness.fake.posts_to(member_thread)) == n
    assert extra_of(harness, ticket.id)["assist"]["used"] == "ignored"
    edit = harness.fake.find("PATCH", rf"/webhooks/{harness.app_id}/{token}/messages/@original")
    assert "ignored by" in edit[-1].json["content"] and edit[-1].json["components"] == []


async def test_manual_reply_reusing_the_draft_records_edited(harness):
    bot = await harness.start_bot()
    _, member_thread, ticket, staff_thread, _ = await escalate_with_suggestion(harness, bot, "Xia")
    text = extra_of(harness, ticket.id)["suggested_reply"]["text"]
    kim = harness.user("Kim")
    harness.say(
        bot, staff_thread, kim, "// checking the account first", roles=[harness.roles[0]["id"]]
    )  # a note: not a reply
    await harness.settle(bot)
    assert "assist" not in extra_of(harness, ticket.id)

    reply = f"Hi Xia! {text}"
    harness.say(bot, staff_thread, kim, reply, roles=[harness.roles[0]["id"]])
    await harness.settle(bot)
    assert harness.fake.posts_to(member_thread)[-1].content.startswith("**Kim (staff):** Hi Xia!")
    assert extra_of(harness, ticket.id)["assist"]["used"] == "edited"


async def test_a_failing_draft_never_blocks_the_card(harness, monkeypatch):
    def boom(app, ticket_id):
        raise RuntimeError("model down")

    monkeypatch.setattr("bot.llm.assist.suggest_reply", boom)
    bot = await harness.start_bot()
    _, _, ticket = await escalate(harness, bot, "Yan")
    with Session(harness.app.engine) as s:
        staff_thread = s.get(Ticket, ticket.id).staff_thread_id
    assert staff_thread
    assert not any("Suggested reply" in p.content for p in harness.fake.posts_to(staff_thread))
    assert harness.fake.posts_to(harness.channels["staff"]["id"])[-1].json["embeds"]
