"""Escalations are a recorded state machine: a crash at any step is finished, never doubled."""

from __future__ import annotations

from sqlmodel import Session, col, delete, select

from bot.contracts import IncomingMessage, Member
from bot.escalation import repair
from bot.models import EscalationStep, OutboxItem, Ticket
from bot.slack import deliver_pending
from bot.slack.delivery import UNMAPPED_NOTE
from knowledge.models import utcnow
from tests.slack.conftest import STAFF_CHANNEL, Harness, new_ts, unique
from tests.slack.test_flows import escalate, posts

HUMAN_Q = "I want to talk to a person"


def make_due(h: Harness) -> None:
    """Let every waiting item go now (instead of waiting out its backoff)."""
    with Session(h.deskhand.engine) as s:
        for item in s.exec(select(OutboxItem).where(OutboxItem.status == "pending")):
            item.next_attempt_at = utcnow()
            s.add(item)
        s.commit()


def drain(h: Harness, rounds: int = 30) -> None:
    """Run the retry loop until nothing is left (or `rounds` passes)."""
    for _ in range(rounds):
        make_due(h)
        deliver_pending(h.deskhand, h.adapter.client, h.adapter)
        if not h.deskhand.outbox.pending("slack"):
            return


def cards_for(h: Harness, ticket_id: int) -> list:
    return [
        c
        for c in posts(h, STAFF_CHANNEL)
        if c.response.get("ok") and f"Escalation #{ticket_id}" in c.params.get("text", "")
    ]


def steps(h: Harness, ticket_id: int) -> set[str]:
    return set(h.deskhand.escalations.steps(ticket_id))


def test_every_step_of_an_escalation_is_recorded(harness: Harness) -> None:
    h = harness
    ts, ticket, card = escalate(h, unique("C"), unique("U"))
    assert steps(h, ticket.id) == {
        "decided",
        "card_intent",
        "card_recorded",
        "transcript_posted",
        "member_told",
    }
    assert card.params["metadata"]["event_payload"] == {"ticket_id": ticket.id}
    assert ticket.id not in h.deskhand.escalations.unfinished("slack", older_than_s=0)


def test_a_crash_after_the_decision_is_finished_at_start_up(harness: Harness) -> None:
    """Killed right after the ticket was written: repair posts one card and tells the member."""
    h, channel, user = harness, unique("C"), unique("U")
    drain(h)
    ts = new_ts()
    msg = IncomingMessage("slack", channel, ts, ts, HUMAN_Q, Member(user, "Ann"), mentioned=True)
    reply = h.deskhand.service.handle(msg)  # the adapter never got to deliver it
    assert reply.route == "escalate" and reply.ticket_id
    assert steps(h, reply.ticket_id) == {"decided"}
    report = repair(h.deskhand, "slack", older_than_s=0)
    assert reply.ticket_id in report["escalations_requeued"]
    assert repair(h.deskhand, "slack", older_than_s=0)["escalations_requeued"] == []  # once
    drain(h)
    assert len(cards_for(h, reply.ticket_id)) == 1
    told = [c for c in posts(h, channel, ts) if c.response.get("ok")]
    assert len(told) == 1 and told[0].params["text"]
    assert reply.ticket_id not in h.deskhand.escalations.unfinished("slack", older_than_s=0)


def forget_card(h: Harness, ticket_id: int) -> None:
    """The database as a kill -9 leaves it after Slack accepted the card, before it was recorded."""
    with Session(h.deskhand.engine) as s:
        ticket = s.get(Ticket, ticket_id)
        ticket.staff_thread_id = ""
        s.add(ticket)
        s.exec(
            delete(EscalationStep).where(
                col(EscalationStep.ticket_id) == ticket_id,
                col(EscalationStep.step).in_(["card_recorded", "transcript_posted", "member_told"]),
            )
        )
        s.commit()


def test_a_card_slack_accepted_but_the_bot_never_recorded_is_found_not_reposted(
    harness: Harness,
) -> None:
    h, channel = harness, unique("C")
    ts, ticket, card = escalate(h, channel, unique("U"))
    drain(h)
    forget_card(h, ticket.id)
    report = repair(h.deskhand, "slack", older_than_s=0)
    assert ticket.id in report["escalations_requeued"]
    drain(h)
    assert len(cards_for(h, ticket.id)) == 1  # found by its marker, not posted again
    assert h.deskhand.desk.get(ticket.id).staff_thread_id == card.response["ts"]
    assert steps(h, ticket.id) >= {"card_recorded", "transcript_posted", "member_told"}


def test_a_staff_reply_in_an_unrecorded_card_thread_is_still_relayed(harness: Harness) -> None:
    h, channel = harness, unique("C")
    ts, ticket, card = escalate(h, channel, unique("U"))
    forget_card(h, ticket.id)
    h.event(h.message_event("Try clearing your cache.", STAFF_CHANNEL, user="USTAFF",
                            thread_ts=card.response["ts"]))  # fmt: skip
    h.idle()
    relayed = [c.params["text"] for c in posts(h, channel, ts) if c.response.get("ok")]
    assert relayed[-1] == "Try clearing your cache."
    assert h.deskhand.desk.get(ticket.id).staff_thread_id == card.response["ts"]


def test_a_reply_in_a_bot_thread_with_no_ticket_is_reported_not_dropped(harness: Harness) -> None:
    h = harness
    stray = h.adapter.post(STAFF_CHANNEL, "Deskhand status note")  # a bot message, not a card
    h.event(h.message_event("replying here by mistake", STAFF_CHANNEL, user="USTAFF",
                            thread_ts=stray["ts"]))  # fmt: skip
    h.idle()
    notes = [c.params["text"] for c in posts(h, STAFF_CHANNEL, stray["ts"])]
    assert notes == [UNMAPPED_NOTE]
    # a staff member's own thread (not the bot's) is ordinary chat and left alone
    own = new_ts()
    h.fake.history.setdefault(STAFF_CHANNEL, []).append({"ts": own, "user": "USTAFF", "text": "x"})
    h.event(h.message_event("chatting", STAFF_CHANNEL, user="USTAFF", thread_ts=own))
    h.idle()
    assert posts(h, STAFF_CHANNEL, own) == []


def test_relays_reach_the_member_in_order_through_a_flaky_web_api(harness: Harness) -> None:
    """Every other chat.postMessage fails: the member still sees B1, B2, B3, B4, each once."""
    h, channel = harness, unique("C")
    ts, ticket, card = escalate(h, channel, unique("U"))
    drain(h)
    h.fake.flaky("chat.postMessage", every=2)
    try:
        for n in range(1, 5):
            h.event(h.message_event(f"B{n}", STAFF_CHANNEL, user="USTAFF",
                                    thread_ts=card.response["ts"]))  # fmt: skip
            h.idle()
        drain(h)
    finally:
        h.fake.flaky("chat.postMessage", every=0)
    delivered = [
        c.params["text"]
        for c in posts(h, channel, ts)
        if c.response.get("ok") and c.params["text"].startswith("B")
    ]
    assert delivered == ["B1", "B2", "B3", "B4"]
    assert len(h.fake.of("chat.postMessage")) > 4  # the failures really happened


def test_a_new_answer_waits_behind_parked_ones_in_its_thread(harness: Harness) -> None:
    h, channel = harness, unique("C")
    root = new_ts()
    h.fake.fail("chat.postMessage", "internal_error", times=1, channel=channel)
    assert not h.adapter.post_or_park(channel, "first", root)
    assert not h.adapter.post_or_park(channel, "second", root)
    assert h.adapter.post_or_park(channel, "elsewhere", new_ts())  # other threads flow
    assert not h.adapter.post_or_park(channel, "third", root)  # the API works, but it waits
    drain(h)
    sent = [c.params["text"] for c in posts(h, channel, root) if c.response.get("ok")]
    assert sent == ["first", "second", "third"]


def test_a_dead_item_is_announced_in_the_staff_channel(harness: Harness) -> None:
    from bot.outbox import MAX_ATTEMPTS

    h, channel = harness, unique("C")
    drain(h)
    h.fake.fail("chat.postMessage", "channel_not_found", times=MAX_ATTEMPTS, channel=channel)
    assert not h.adapter.post_or_park(channel, "lost cause", new_ts())
    for _ in range(MAX_ATTEMPTS):
        make_due(h)
        deliver_pending(h.deskhand, h.adapter.client, h.adapter)
    [dead] = h.deskhand.outbox.items(status="dead")[-1:]
    assert dead.kind == "post" and dead.attempts == MAX_ATTEMPTS
    alerts = [
        c.params["text"] for c in posts(h, STAFF_CHANNEL) if f"#{dead.id}" in c.params["text"]
    ]
    assert len(alerts) == 1 and "gave up" in alerts[0] and "channel_not_found" in alerts[0]
    assert f"/deskhand outbox retry {dead.id}" in alerts[0]
