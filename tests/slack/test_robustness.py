"""Slack API failures: retried where Slack says so, parked in the outbox, re-delivered later."""

from __future__ import annotations

import json

from bot.slack import deliver_pending
from tests.slack.conftest import STAFF_CHANNEL, Harness, unique
from tests.slack.test_flows import PASSWORD_Q, as_message, ask, buttons, posts


def test_rate_limit_is_retried_by_the_client(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    h.fake.fail("chat.postMessage", "ratelimited", times=1)
    ts, _ = ask(h, PASSWORD_Q, channel, user)
    attempts = posts(h, channel, ts)
    assert len(attempts) == 2  # one 429, one success (Retry-After honoured by slack_sdk)
    assert attempts[0].response["error"] == "ratelimited" and attempts[1].response["ok"]


def test_failed_card_and_relays_are_parked_then_redelivered(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    deliver_pending(h.deskhand, h.adapter.client)  # start from an empty queue
    pending_before = h.deskhand.outbox.pending_count("slack")
    ts, key = ask(h, PASSWORD_Q, channel, user)
    answer = posts(h, channel, ts)[-1]
    h.fake.fail("chat.postMessage", "channel_not_found", times=1, channel=STAFF_CHANNEL)
    h.press("deskhand:human", key, user, channel, as_message(answer))
    h.idle()
    assert h.deskhand.outbox.pending_count("slack") == pending_before + 1
    ticket = h.deskhand.desk.list_tickets()[0]
    assert ticket.member_channel_id == channel and not ticket.staff_thread_id
    # The member keeps writing; with no staff thread yet, the relay waits in the outbox too.
    h.event(h.message_event("any news?", channel, user=user, thread_ts=ts))
    h.idle()
    assert h.deskhand.outbox.pending_count("slack") == pending_before + 2
    # The retry loop delivers the card (with transcript) and then the relay, in order.
    counts = deliver_pending(h.deskhand, h.adapter.client, h.adapter)
    assert counts["delivered"] >= 2
    assert h.deskhand.outbox.pending_count("slack") == pending_before
    card = [c for c in posts(h, STAFF_CHANNEL) if "Escalation #" in c.params.get("text", "")][-1]
    card_ts = card.response["ts"]
    assert h.deskhand.desk.get(ticket.id).staff_thread_id == card_ts
    thread = [c.params["text"] for c in posts(h, STAFF_CHANNEL, card_ts)]
    assert "Transcript" in thread[0] and "any news?" in thread[-1]
    assert buttons(card)


def test_failed_staff_relay_is_redelivered(harness: Harness) -> None:
    from tests.slack.test_flows import escalate

    h, channel, user = harness, unique("C"), unique("U")
    ts, ticket, card = escalate(h, channel, user)
    deliver_pending(h.deskhand, h.adapter.client)
    h.fake.fail("chat.postMessage", "not_in_channel", times=1)
    h.event(h.message_event("Fixed on our side, try again.", STAFF_CHANNEL, user="USTAFF",
                            thread_ts=card.response["ts"]))  # fmt: skip
    h.idle()
    item = h.deskhand.outbox.pending("slack")[-1]
    assert item.kind == "relay_to_member" and item.last_error == "not_in_channel"
    deliver_pending(h.deskhand, h.adapter.client, h.adapter)
    delivered = [c for c in posts(h, channel, ts) if c.response.get("ok")][-1]
    assert delivered.params["text"] == "Fixed on our side, try again."
    assert delivered.params["username"] == "Sam Staff (staff)"
    assert json.loads(item.payload)["channel"] == channel


def test_a_failed_desk_notice_and_card_redraw_are_kept_and_redelivered(harness: Harness) -> None:
    from bot.desk_outcome import OUTCOME_KIND
    from tests.slack.test_flows import escalate

    h, channel, user = harness, unique("C"), unique("U")
    ts, ticket, card = escalate(h, channel, user)
    deliver_pending(h.deskhand, h.adapter.client)
    h.fake.fail("chat.postMessage", "internal_error", times=1, channel=channel)
    h.fake.fail("chat.update", "internal_error", times=1)
    h.press("deskhand:claim", str(ticket.id), "USTAFF", STAFF_CHANNEL, as_message(card))
    h.idle()
    assert h.deskhand.desk.get(ticket.id).status == "claimed"
    kept = [i for i in h.deskhand.outbox.pending("slack") if i.kind == OUTCOME_KIND]
    assert {json.loads(i.payload)["ticket_id"] for i in kept} == {ticket.id} and len(kept) == 2
    deliver_pending(h.deskhand, h.adapter.client, h.adapter)
    told = [c for c in posts(h, channel, ts) if c.response.get("ok")][-1]
    assert "picked this up" in told.params["text"]
    redraw = [c for c in h.fake.of("chat.update") if c.params["ts"] == card.response["ts"]][-1]
    assert redraw.response.get("ok") and "deskhand:resolve" in json.dumps(redraw.params["blocks"])
    assert not [i for i in h.deskhand.outbox.pending("slack") if i.kind == OUTCOME_KIND]
