"""The escalation desk: tickets across both platforms, staff relay, claim, resolve, hand back."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.contracts import storable_text
from bot.escalation import record_decided
from bot.models import Conversation, Feedback, Message, Ticket
from bot.privacy.edge import redact_staff_text
from bot.runtime_settings import SettingsStore
from knowledge.models import utcnow

log = logging.getLogger(__name__)
NOTE_MARKERS = ("//", "!note", "note:", "(internal)")


class DeskError(ValueError):
    """A staff action that cannot be done, with a message fit to show staff."""


@dataclass
class StaffRelay:
    """What to do with a staff message in a ticket thread."""

    ticket_id: int
    internal: bool
    text: str
    platform: str
    member_channel_id: str
    member_thread_id: str
    staff_name: str
    claimed: bool = False  # this message auto-claimed an open ticket
    redacted: bool = False  # secrets were taken out: relay `text`, not the platform original


def is_internal_note(text: str) -> bool:
    """Staff messages starting with a note marker stay in the staff thread."""
    return text.lstrip().lower().startswith(NOTE_MARKERS)


def ticket_view(ticket: Ticket) -> dict[str, Any]:
    """A ticket as plain data for renderers and JSON output."""
    data = ticket.model_dump()
    for key in ("reasons", "transcript", "member", "articles", "extra"):
        data[key] = json.loads(data[key] or "null")
    for key in ("claimed_at", "first_staff_reply_at", "resolved_at", "created_at"):
        data[key] = data[key].isoformat() if data[key] else None
    return data


class EscalationDesk:
    """One desk for Slack and Discord: every state change goes through here."""

    def __init__(self, engine: Engine, kb: Any | None = None) -> None:
        self.engine = engine
        self.kb = kb

    def open_ticket(
        self, session: Session, conv: Conversation, record: dict[str, Any], permalink: str = ""
    ) -> Ticket:
        """Create the ticket for an escalation inside the caller's transaction."""
        ticket = Ticket(
            conversation_id=conv.id or 0,
            platform=conv.platform,
            reasons=json.dumps(record.get("reasons", [])),
            issue_type=record.get("issue_type", ""),
            confidence=float(record.get("confidence", 0.0)),
            severity=record.get("severity", "normal"),
            sentiment=record.get("sentiment", "neutral"),
            summary=record.get("summary", ""),
            question=record.get("question", ""),
            transcript=json.dumps(record.get("transcript", []), default=str),
            member=json.dumps(record.get("member", {})),
            articles=json.dumps(record.get("articles", [])),
            attempted_answer=record.get("attempted_answer", ""),
            team=record.get("team", "support"),
            staff_channel_id=record.get("staff_channel", ""),
            member_channel_id=conv.channel_id,
            member_thread_id=conv.thread_id,
            permalink=permalink,
            extra=json.dumps(
                {
                    k: record[k]
                    for k in (
                        "analysis",
                        "suggested_reply",
                        "language",
                        "language_name",
                        "repeat_of",
                    )
                    if k in record
                }
            ),
        )
        session.add(ticket)
        conv.status = "escalated"
        session.add(conv)
        session.flush()
        record_decided(session, ticket)
        return ticket

    def get(self, ticket_id: int) -> Ticket:
        """Load a ticket or explain that it does not exist."""
        with Session(self.engine) as session:
            ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise DeskError(f"There is no ticket #{ticket_id}.")
        return ticket

    def open_ticket_for(self, conversation_id: int) -> Ticket | None:
        """The unresolved ticket of a conversation, if any."""
        with Session(self.engine) as session:
            stmt = (
                select(Ticket)
                .where(Ticket.conversation_id == conversation_id)
                .where(col(Ticket.status).in_(["open", "claimed"]))
                .order_by(col(Ticket.id).desc())
            )
            return session.exec(stmt).first()

    def attach_staff_thread(
        self, ticket_id: int, channel_id: str, thread_id: str, permalink: str = ""
    ) -> Ticket:
        """Remember where the context card was posted so staff replies can be matched."""
        changes = {"staff_channel_id": channel_id, "staff_thread_id": thread_id}
        if permalink:
            changes["permalink"] = permalink
        return self._update(ticket_id, **changes)

    def find_by_staff_thread(self, platform: str, channel_id: str, thread_id: str) -> Ticket | None:
        """The ticket whose staff thread this is."""
        with Session(self.engine) as session:
            stmt = select(Ticket).where(
                Ticket.platform == platform,
                Ticket.staff_channel_id == channel_id,
                Ticket.staff_thread_id == thread_id,
            )
            return session.exec(stmt).first()

    def list_tickets(self, status: str | None = None, limit: int = 50) -> list[Ticket]:
        """Recent tickets, optionally by status."""
        with Session(self.engine) as session:
            stmt = select(Ticket).order_by(col(Ticket.id).desc()).limit(limit)
            if status:
                stmt = stmt.where(Ticket.status == status)
            return list(session.exec(stmt))

    def claim(self, ticket_id: int, staff_id: str) -> Ticket:
        """Record who owns the ticket."""
        ticket = self.get(ticket_id)
        if ticket.status == "resolved":
            raise DeskError(f"Ticket #{ticket_id} is already resolved.")
        return self._update(ticket_id, status="claimed", claimed_by=staff_id, claimed_at=utcnow())

    def staff_message(
        self, ticket_id: int, staff_id: str, staff_name: str, text: str
    ) -> StaffRelay:
        """Record a staff message; public ones are relayed to the member (and claim if unclaimed)."""
        text, staff_name = storable_text(text), storable_text(staff_name)
        redaction = redact_staff_text(text, SettingsStore(self.engine).get("privacy"))
        text = redaction.text
        ticket = self.get(ticket_id)
        internal = is_internal_note(text)
        claimed = False
        with Session(self.engine) as session:
            fresh = session.get(Ticket, ticket_id)
            assert fresh is not None
            ticket = fresh
            session.add(
                Message(
                    conversation_id=ticket.conversation_id,
                    role="note" if internal else "staff",
                    author_id=staff_id,
                    author_name=staff_name,
                    text=text,
                )
            )
            if not internal:
                ticket.first_staff_reply_at = ticket.first_staff_reply_at or utcnow()
                if ticket.status == "open":
                    claimed = True
                    ticket.status, ticket.claimed_by, ticket.claimed_at = (
                        "claimed",
                        staff_id,
                        utcnow(),
                    )
                session.add(ticket)
            session.commit()
            session.refresh(ticket)
        return StaffRelay(
            ticket_id=ticket_id,
            internal=internal,
            text=text,
            platform=ticket.platform,
            member_channel_id=ticket.member_channel_id,
            member_thread_id=ticket.member_thread_id,
            staff_name=staff_name,
            claimed=claimed,
            redacted=redaction.changed,
        )

    def resolve(self, ticket_id: int, staff_id: str) -> Ticket:
        """Close the ticket and turn the staff answer into a knowledge-base candidate."""
        ticket = self.get(ticket_id)
        if ticket.status == "resolved":
            raise DeskError(f"Ticket #{ticket_id} is already resolved.")
        now = utcnow()
        with Session(self.engine) as session:
            fresh = session.get(Ticket, ticket_id)
            assert fresh is not None
            ticket = fresh
            ticket.status, ticket.resolved_by, ticket.resolved_at = "resolved", staff_id, now
            ticket.claimed_by = ticket.claimed_by or staff_id
            conv = session.get(Conversation, ticket.conversation_id)
            if conv:
                conv.status, conv.updated_at = "resolved", now
                session.add(conv)
            session.add(ticket)
            staff_lines = list(
                session.exec(
                    select(Message.text)
                    .where(
                        Message.conversation_id == ticket.conversation_id, Message.role == "staff"
                    )
                    .order_by(col(Message.id))
                )
            )
            session.commit()
            session.refresh(ticket)
        if staff_lines and self.kb is not None:
            try:
                self.kb.add_candidate(
                    question=ticket.question or "(no question recorded)",
                    answer="\n\n".join(staff_lines),
                    ticket_id=ticket.id,
                    staff_id=staff_id,
                    topic=ticket.issue_type or "general",
                )
            except Exception:  # the ticket is resolved either way; the candidate is a bonus
                log.exception("could not record a KB candidate for ticket #%s", ticket_id)
        return ticket

    def hand_back(self, ticket_id: int, staff_id: str) -> Ticket:
        """Return the conversation to the bot; the member's next message is answered again."""
        ticket = self._update(
            ticket_id, status="handed_back", resolved_by=staff_id, resolved_at=utcnow()
        )
        with Session(self.engine) as session:
            conv = session.get(Conversation, ticket.conversation_id)
            if conv:
                conv.status = "open"
                session.add(conv)
                session.commit()
        return ticket

    def record_rating(self, ticket_id: int, rating: int, user_id: str) -> Feedback:
        """Store the member's 1-5 rating of how the escalation went."""
        if not 1 <= int(rating) <= 5:
            raise DeskError("A rating is a whole number from 1 to 5.")
        ticket = self.get(ticket_id)
        with Session(self.engine) as session:
            fb = Feedback(
                conversation_id=ticket.conversation_id,
                ticket_id=ticket_id,
                kind="rating",
                rating=int(rating),
                user_id=user_id,
            )
            session.add(fb)
            session.commit()
            session.refresh(fb)
        return fb

    def transcript(self, ticket_id: int) -> list[dict[str, Any]]:
        """Every message of the ticket's conversation, oldest first."""
        ticket = self.get(ticket_id)
        with Session(self.engine) as session:
            rows = session.exec(
                select(Message)
                .where(Message.conversation_id == ticket.conversation_id)
                .order_by(col(Message.id))
            )
            return [{"role": m.role, "author": m.author_name, "text": m.text} for m in rows]

    def _update(self, ticket_id: int, **changes: Any) -> Ticket:
        with Session(self.engine) as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None:
                raise DeskError(f"There is no ticket #{ticket_id}.")
            for key, value in changes.items():
                setattr(ticket, key, value)
            session.add(ticket)
            session.commit()
            session.refresh(ticket)
            return ticket


def sentiment_card_text(view: dict[str, Any]) -> str:
    """The LLM sentiment card of a ticket as plain lines ('' when there is none)."""
    card = (view.get("extra") or {}).get("analysis") or {}
    if not card:
        return ""
    lines = [
        f"{card.get('primary_emotion', '?')} · severity {card.get('severity_1_10', '?')}/10"
        f" · relationship risk {card.get('relationship_risk', '?')}"
    ]
    if card.get("key_concerns"):
        lines.append("Concerns: " + "; ".join(str(c) for c in card["key_concerns"][:5]))
    if card.get("recommended_strategy"):
        lines.append(f"Strategy: {card['recommended_strategy']}")
    if card.get("source") == "heuristic":
        lines.append("(estimated from the conversation; the model's card was unavailable)")
    return "\n".join(lines)
