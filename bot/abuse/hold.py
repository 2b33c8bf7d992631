"""What happens to held messages: kept on record, staff told of a flood once, member told once."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.abuse.gate import Held
from bot.contracts import IncomingMessage, Reply, stored_copy
from bot.models import Conversation, Message, Ticket
from bot.outbox import ALERT_KEY, ALERT_KIND, Outbox

log = logging.getLogger(__name__)


def hold(service: Any, msg: IncomingMessage, held: Held) -> Reply:
    """Keep the message without running the graph; flood notes go to staff through the outbox."""
    if held.reason == "blocked":
        log.info("message %s from blocked member %s ignored", msg.message_id, msg.member.user_id)
        return Reply(route="ignore", text="")
    conv = service._conversation(msg)
    with Session(service.engine) as session:
        session.add(
            Message(
                conversation_id=conv.id or 0,
                role="member",
                author_id=msg.member.user_id,
                author_name=msg.member.display_name,
                text=stored_copy(msg.text),
                platform_message_id=msg.message_id,
            )
        )
        try:
            session.commit()
        except IntegrityError:  # recorded (and held) already by another worker
            session.rollback()
            return Reply(route="ignore", text="", conversation_id=conv.id)
    if held.flood_note:
        ticket = open_ticket_of_member(service.engine, msg.platform, msg.member.user_id)
        where = f" Their open ticket: #{ticket.id}." if ticket else ""
        Outbox(service.engine).put(
            msg.platform, ALERT_KIND, {"text": held.flood_note + where}, thread_key=ALERT_KEY
        )
    return Reply(route="ignore", text="", conversation_id=conv.id, private_notice=held.notice)


def open_ticket_of_member(engine: Engine, platform: str, user_id: str) -> Ticket | None:
    """The member's newest unresolved ticket on this platform, in any thread."""
    with Session(engine) as session:
        return session.exec(
            select(Ticket)
            .join(Conversation, col(Conversation.id) == col(Ticket.conversation_id))
            .where(Conversation.member_id == user_id, Conversation.platform == platform)
            .where(col(Ticket.status).in_(["open", "claimed"]))
            .order_by(col(Ticket.id).desc())
        ).first()


def join_open_ticket(session: Session, ticket: Ticket, msg: IncomingMessage, reply: Reply) -> Reply:
    """An escalated member escalating again: add the message to their ticket, not a new card."""
    session.add(
        Message(
            conversation_id=ticket.conversation_id,
            role="member",
            author_id=msg.member.user_id,
            author_name=msg.member.display_name,
            text=stored_copy(msg.text),
        )
    )
    reply.route = "relay"
    reply.relay_text = msg.text
    reply.ticket_id = ticket.id
    reply.private_notice = (
        f"You already have an open request (#{ticket.id}) with the team, so I've added this "
        "message to it. A person will reply in that thread."
    )
    return reply
