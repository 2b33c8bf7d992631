"""Rebuild the reply the service recorded for a platform message, when a crash cut in before it
was delivered (and before the inbox kept a copy): better a plain answer than none."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.contracts import Reply
from bot.models import Conversation, Decision, Message, Ticket


def recorded_reply(engine: Engine, conversation_key: str, message_id: str) -> Reply | None:
    """The stored reply to one member message (text, route, ticket), or None if there is none."""
    if not message_id:
        return None
    with Session(engine) as session:
        conv = session.exec(
            select(Conversation).where(Conversation.key == conversation_key)
        ).first()
        if conv is None:
            return None
        member = session.exec(
            select(Message)
            .where(Message.conversation_id == conv.id, Message.role == "member")
            .where(Message.platform_message_id == message_id)
        ).first()
        if member is None:
            return None
        ticket = session.exec(
            select(Ticket).where(Ticket.conversation_id == conv.id).order_by(col(Ticket.id).desc())
        ).first()
        decision = session.exec(select(Decision).where(Decision.message_id == member.id)).first()
        if decision is None:  # recorded while a person had the thread: it was a relay
            return Reply(route="relay", text="", relay_text=member.text, conversation_id=conv.id,
                         ticket_id=ticket.id if ticket else None)  # fmt: skip
        bot = session.exec(
            select(Message)
            .where(Message.conversation_id == conv.id, Message.role == "bot")
            .where(col(Message.id) > member.id)
            .order_by(col(Message.id))
        ).first()
    from bot.service import ANSWER_BUTTONS

    route = decision.route if decision.route in ("answer", "clarify", "escalate") else "answer"
    reply = Reply(
        route=route,  # type: ignore[arg-type]
        text=bot.text if bot else "",
        conversation_id=conv.id,
        decision_id=decision.id,
        issue_type=decision.issue_type,
        confidence=decision.confidence,
        shadow=decision.shadow,
        ticket_id=ticket.id if (route == "escalate" and ticket) else None,
    )
    reply.buttons = list(ANSWER_BUTTONS) if route == "answer" else [ANSWER_BUTTONS[2]]
    return reply


def resume_reply(
    engine: Engine, event: Any, conversation_key: str, message_id: str
) -> Reply | None:
    """What to deliver for an inbox event whose message is already recorded, on any platform.

    A first attempt means the message was recorded by an earlier event (a repeat): nothing. A
    resumed attempt (the process died after recording) delivers the reply saved on the event,
    or failing that the one rebuilt from the record.
    """
    if event is None or event.attempts <= 1:
        return None
    if event.result:
        from bot.inbox import reply_from_dict

        return reply_from_dict(json.loads(event.result))
    return recorded_reply(engine, conversation_key, message_id)
