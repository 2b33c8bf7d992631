"""Escalation as a recorded state machine, so a crash mid-handoff is finished, never forgotten.

decided → card_intent → card_recorded → transcript_posted → member_told. `decided` is written in
the transaction that opens the ticket; each later step right after it happened. A start-up repair
pass re-queues every escalation that stopped half-way into the outbox, where the platform's
delivery finishes exactly the missing steps.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.models import EscalationStep, Message, OutboxItem, Ticket
from bot.outbox import Outbox, staff_key
from knowledge.models import utcnow

if TYPE_CHECKING:  # bot.app imports the core modules
    from bot.app import Deskhand

log = logging.getLogger(__name__)
STEPS = ("decided", "card_intent", "card_recorded", "transcript_posted", "member_told")
FINAL_STEPS = ("card_recorded", "transcript_posted", "member_told")
CARD_EVENT = "deskhand_card"  # Slack message metadata event type that marks a context card
REPAIR_AFTER_S = 120.0  # younger escalations may still be in progress in another process


def record_decided(session: Session, ticket: Ticket) -> None:
    """Write the first step inside the transaction that opens the ticket."""
    session.add(EscalationStep(ticket_id=ticket.id or 0, platform=ticket.platform, step="decided"))


def card_metadata(ticket_id: int) -> dict[str, Any]:
    """The marker posted with a card, so a card Slack accepted can be found again."""
    return {"event_type": CARD_EVENT, "event_payload": {"ticket_id": ticket_id}}


def ticket_of_metadata(metadata: dict[str, Any] | None) -> int | None:
    """The ticket id a card marker names, or None for any other message."""
    if not metadata or metadata.get("event_type") != CARD_EVENT:
        return None
    try:
        return int((metadata.get("event_payload") or {})["ticket_id"])
    except (KeyError, TypeError, ValueError):
        return None


def card_goes_first(ticket: Ticket) -> bool:
    """True when a relay into a ticket's staff thread must bring the card up first.

    The card starts the staff thread. A relay that overtook it (the member's next message,
    handled by another worker before the escalating one posted the card) would otherwise park
    at the head of the thread's ordered outbox, with the card queued behind a relay that can
    never go before it. Every front-end delivers such a relay by first doing the card steps not
    yet recorded (each runs once), then the relay.
    """
    return not ticket.staff_thread_id


class EscalationSteps:
    """Reads and writes the steps of escalations."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, ticket_id: int, step: str, platform: str = "", **detail: Any) -> bool:
        """Record a step once; False if it was already recorded (a retry or a repair)."""
        if step not in STEPS:
            raise ValueError(f"unknown escalation step {step!r}")
        with Session(self.engine) as session:
            session.add(
                EscalationStep(
                    ticket_id=ticket_id,
                    platform=platform,
                    step=step,
                    detail=json.dumps(detail, default=str),
                )
            )
            try:
                session.commit()
                return True
            except IntegrityError:
                session.rollback()
                return False

    def steps(self, ticket_id: int) -> dict[str, dict[str, Any]]:
        """Recorded steps of one ticket with their details."""
        with Session(self.engine) as session:
            rows = session.exec(select(EscalationStep).where(EscalationStep.ticket_id == ticket_id))
            return {row.step: json.loads(row.detail or "{}") for row in rows}

    def unfinished(self, platform: str, older_than_s: float = REPAIR_AFTER_S) -> list[int]:
        """Tickets whose escalation was decided but stopped before its last step."""
        cutoff = utcnow() - timedelta(seconds=older_than_s)
        with Session(self.engine) as session:
            decided = set(
                session.exec(
                    select(EscalationStep.ticket_id)
                    .where(EscalationStep.platform == platform, EscalationStep.step == "decided")
                    .where(col(EscalationStep.created_at) <= cutoff)
                )
            )
            finished = session.exec(
                select(EscalationStep.ticket_id, EscalationStep.step).where(
                    col(EscalationStep.ticket_id).in_(decided),
                    col(EscalationStep.step).in_(FINAL_STEPS),
                )
            )
            done: dict[int, int] = {}
            for ticket_id, _ in finished:
                done[ticket_id] = done.get(ticket_id, 0) + 1
        return sorted(tid for tid in decided if done.get(tid, 0) < len(FINAL_STEPS))


def member_notice(engine: Engine, ticket: Ticket) -> str:
    """What the bot told (or must tell) the member when it handed over: its reply that turn."""
    with Session(engine) as session:
        stmt = (
            select(Message.text)
            .where(Message.conversation_id == ticket.conversation_id, Message.role == "bot")
            .where(col(Message.created_at) <= ticket.created_at + timedelta(seconds=5))
            .order_by(col(Message.id).desc())
        )
        text = session.exec(stmt).first()
    return text or "I've passed this to the team; a person will reply here."


def repair(app: Deskhand, platform: str, older_than_s: float = REPAIR_AFTER_S) -> dict[str, Any]:
    """Re-queue every half-done escalation of a platform into the outbox; report what it did.

    Runs when an adapter starts and from `deskhand repair`. Relays need no pass of their own:
    each is written to the outbox before it is sent, so one cut short by a crash is retried when
    its lease runs out.
    """
    outbox: Outbox = app.outbox
    steps = EscalationSteps(app.engine)
    queued = []
    with Session(app.engine) as session:
        waiting = {
            json.loads(item.payload or "{}").get("ticket_id")
            for item in session.exec(
                select(OutboxItem).where(
                    OutboxItem.platform == platform,
                    OutboxItem.status == "pending",
                    OutboxItem.kind == "escalation_card",
                )
            )
        }
    for ticket_id in steps.unfinished(platform, older_than_s):
        if ticket_id in waiting:
            continue
        outbox.put(
            platform,
            "escalation_card",
            {"ticket_id": ticket_id, "resume": True},
            thread_key=staff_key(ticket_id),
        )
        queued.append(ticket_id)
    in_flight = [
        item.id
        for item in outbox.pending(platform)
        if item.kind.startswith("relay") and item.attempts == 0
    ]
    if queued:
        log.warning(
            "repair: %d half-done %s escalations re-queued: %s", len(queued), platform, queued
        )
    return {"platform": platform, "escalations_requeued": queued, "relays_waiting": in_flight}


def is_staff_channel(app: Deskhand, platform: str, channel: str) -> bool:
    """The configured escalation channel, or any channel a ticket's card was routed to."""
    return bool(app.policy.is_staff_channel(platform, channel))
