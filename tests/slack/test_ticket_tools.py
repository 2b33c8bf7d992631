"""Staff ticket tools on Slack: transfer and reopen reach the Web API fake as the right calls."""

from __future__ import annotations

from bot.slack.delivery import deliver_pending
from tests.slack.conftest import STAFF_CHANNEL, Harness, new_ts, unique
from tests.slack.test_flows import as_message, escalate, posts


def command(h: Harness, text: str, user: str = "USTAFF") -> None:
    assert h.dispatch(h.command_body(text, user=user, channel=STAFF_CHANNEL)).status == 200
    h.idle()


def test_transfer_reposts_the_card_and_old_thread_stops_relaying(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    ts, ticket, card = escalate(h, channel, user)
    old_ts, target = card.response["ts"], unique("CBILL")
    h.press("deskhand:claim", str(ticket.id), "USTAFF", STAFF_CHANNEL, as_message(card))
    h.idle()
    command(h, f"ticket {ticket.id} transfer <#{target}|billing-staff>")

    answer = h.fake.of("response_url")[-1].params
    assert "Ticket transferred" in str(answer["blocks"])
    new_card = [c for c in posts(h, target) if "Escalation #" in c.params.get("text", "")]
    assert len(new_card) == 1
    assert new_card[0].params["metadata"]["event_payload"]["ticket_id"] == ticket.id
    moved = h.deskhand.desk.get(ticket.id)
    assert (moved.staff_channel_id, moved.staff_thread_id) == (target, new_card[0].response["ts"])
    assert moved.status == "open" and moved.claimed_by == ""
    new_ts_ = new_card[0].response["ts"]
    assert "Transcript" in posts(h, target, new_ts_)[0].params["text"]  # context travels too
    old_note = posts(h, STAFF_CHANNEL, old_ts)[-1].params["text"]
    assert f"Ticket #{ticket.id} was transferred to {ticket.team} by Sam Staff" in old_note
    member_note = posts(h, channel, ts)[-1].params["text"]
    assert f"passed your question to the {ticket.team} team" in member_note
    # Staff replies now relay from the new thread only.
    h.event(h.message_event("New team here, checking.", target, user="USTAFF", thread_ts=new_ts_))
    h.idle()
    assert posts(h, channel, ts)[-1].params["text"] == "New team here, checking."
    h.event(h.message_event("old thread reply", STAFF_CHANNEL, user="USTAFF", thread_ts=old_ts))
    h.idle()
    assert posts(h, channel, ts)[-1].params["text"] != "old thread reply"
    assert "not* relayed" in posts(h, STAFF_CHANNEL, old_ts)[-1].params["text"]
    assert h.deskhand.desk.get(ticket.id).staff_thread_id == new_ts_  # not pulled back


def test_reopen_relays_to_the_same_staff_thread_and_tells_the_member(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    ts, ticket, card = escalate(h, channel, user)
    card_ts = card.response["ts"]
    h.press("deskhand:resolve", str(ticket.id), "USTAFF", STAFF_CHANNEL, as_message(card))
    h.idle()
    assert h.deskhand.desk.get(ticket.id).status == "resolved"
    h.event(h.message_event("It is broken again", channel, user=user, ts=new_ts(), thread_ts=ts))
    h.idle()
    to_staff = posts(h, STAFF_CHANNEL, card_ts)[-1].params["text"]
    assert f"(reopened ticket #{ticket.id}) It is broken again" in to_staff
    assert h.deskhand.desk.get(ticket.id).status == "claimed"
    deliver_pending(h.deskhand, h.adapter.client, h.adapter)  # the retry loop's next pass
    told = posts(h, channel, ts)[-1].params["text"]
    assert f"reopened your ticket #{ticket.id}" in told
    # The card is redrawn: claimed again, so Resolve and Hand back are back on it.
    card_update = [c for c in h.fake.of("chat.update") if c.params["ts"] == card_ts][-1]
    actions = [e["action_id"] for b in card_update.params["blocks"] if b["type"] == "actions"
               for e in b["elements"]]  # fmt: skip
    assert "deskhand:resolve" in actions and "deskhand:handback" in actions
