"""Agent assist in the staff thread: the drafted reply, Send as is / Ignore, and edited replies."""

from __future__ import annotations

import json
from typing import Any

from bot.slack.text import safe_mrkdwn
from tests.slack.conftest import STAFF_CHANNEL, Harness, unique
from tests.slack.fake_slack import Call
from tests.slack.test_flows import as_message, buttons, escalate, posts


def suggestion_post(h: Harness, card_ts: str) -> Call:
    [call] = [
        c
        for c in posts(h, STAFF_CHANNEL, card_ts)
        if "Suggested reply (not sent yet)" in c.params.get("text", "")
    ]
    return call


def extra(h: Harness, ticket_id: int) -> dict[str, Any]:
    return json.loads(h.deskhand.desk.get(ticket_id).extra or "{}")


def test_escalation_posts_a_suggestion_with_buttons(harness: Harness) -> None:
    h = harness
    _, ticket, card = escalate(h, unique("C"), unique("U"))
    card_ts = card.response["ts"]
    call = suggestion_post(h, card_ts)
    assert call.params["thread_ts"] == card_ts
    assert [(b["action_id"], b["value"]) for b in buttons(call)] == [
        ("deskhand:assist_send", str(ticket.id)),
        ("deskhand:assist_ignore", str(ticket.id)),
    ]
    blocks = json.dumps(call.params["blocks"])
    assert "Suggested reply (not sent yet)" in blocks and "Sources:" in blocks
    assert "<https://help.lumen.example/" in blocks
    draft = extra(h, ticket.id)["suggested_reply"]
    assert draft["text"] and draft["grounded"]
    # Posted after the card and the transcript, in the card's thread.
    thread = posts(h, STAFF_CHANNEL, card_ts)
    assert "Transcript" in thread[0].params["text"] and thread[-1] is call


def test_send_as_is_relays_to_member_and_records_sent(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    ts, ticket, card = escalate(h, channel, user)
    call = suggestion_post(h, card.response["ts"])
    draft = extra(h, ticket.id)["suggested_reply"]["text"]
    # A member cannot press staff buttons.
    h.press("deskhand:assist_send", str(ticket.id), user, STAFF_CHANNEL, as_message(call))
    h.idle()
    assert h.fake.of("chat.postEphemeral")[-1].params["user"] == user
    assert "assist" not in extra(h, ticket.id)
    h.press("deskhand:assist_send", str(ticket.id), "USTAFF", STAFF_CHANNEL, as_message(call))
    h.idle()
    relayed = posts(h, channel, ts)[-1]
    assert relayed.params["text"] == safe_mrkdwn(draft)
    assert relayed.params["username"] == "Sam Staff (staff)"
    assist = extra(h, ticket.id)["assist"]
    assert assist["used"] == "sent" and assist["staff_id"] == "USTAFF"
    [update] = [c for c in h.fake.of("chat.update") if c.params["ts"] == call.response["ts"]]
    assert not buttons(update) and "Sent as is by <@USTAFF>" in json.dumps(update.params["blocks"])
    # A second press does not send it twice.
    before = len(posts(h, channel, ts))
    h.press("deskhand:assist_send", str(ticket.id), "USTAFF", STAFF_CHANNEL, as_message(call))
    h.idle()
    assert len(posts(h, channel, ts)) == before


def test_ignore_records_ignored_and_sends_nothing(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    ts, ticket, card = escalate(h, channel, user)
    call = suggestion_post(h, card.response["ts"])
    before = len(posts(h, channel, ts))
    h.press("deskhand:assist_ignore", str(ticket.id), "USTAFF", STAFF_CHANNEL, as_message(call))
    h.idle()
    assert len(posts(h, channel, ts)) == before
    assert extra(h, ticket.id)["assist"]["used"] == "ignored"
    [update] = [c for c in h.fake.of("chat.update") if c.params["ts"] == call.response["ts"]]
    assert not buttons(update) and "Ignored by <@USTAFF>" in json.dumps(update.params["blocks"])


def test_manual_reply_reusing_the_draft_records_edited(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    ts, ticket, card = escalate(h, channel, user)
    draft = extra(h, ticket.id)["suggested_reply"]["text"]
    reply = "Hi! " + draft + " Let me know if that works."
    h.event(h.message_event(reply, STAFF_CHANNEL, user="USTAFF", thread_ts=card.response["ts"]))
    h.idle()
    assert posts(h, channel, ts)[-1].params["text"] == reply
    assist = extra(h, ticket.id)["assist"]
    assert assist["used"] == "edited" and assist["final_chars"] == len(reply)
    # A second reply does not change the verdict.
    h.event(h.message_event("Anything else?", STAFF_CHANNEL, user="USTAFF",
                            thread_ts=card.response["ts"]))  # fmt: skip
    h.idle()
    assert extra(h, ticket.id)["assist"]["used"] == "edited"


def test_assist_failure_never_blocks_the_card(harness: Harness, monkeypatch: Any) -> None:
    import bot.slack.delivery as delivery

    def boom(app: Any, ticket_id: int) -> dict:
        raise RuntimeError("assist down")

    monkeypatch.setattr(delivery, "suggest_reply", boom)
    h = harness
    _, ticket, card = escalate(h, unique("C"), unique("U"))
    thread = posts(h, STAFF_CHANNEL, card.response["ts"])
    assert thread and "Transcript" in thread[0].params["text"]
    assert not any("Suggested reply" in c.params.get("text", "") for c in thread)
    assert h.deskhand.desk.get(ticket.id).staff_thread_id == card.response["ts"]
