"""Shadow mode's other half: staff answering a member in a shadow channel are recorded, not answered.

In shadow mode the bot drafts for staff while people answer members. A staff reply in the member's
thread is the human decision the bot's draft is later compared with (bot.improve.shadow), so it is
stored on the conversation and never run through the graph as if it were a member's question.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.contracts import IncomingMessage, Member, Reply, stored_copy
from bot.models import Conversation, Message

# Message.kind of a staff reply written straight into a shadow channel's thread.
SHADOW_REPLY_KIND = "shadow_reply"

StaffCheck = Callable[[str, Member], bool]


def record_shadow_reply(
    engine: Engine, msg: IncomingMessage, shadow: bool, is_staff: StaffCheck
) -> Reply | None:
    """Record a staff member's reply in a shadow thread they did not start; None if it is not one."""
    if not shadow or not is_staff(msg.platform, msg.member):
        return None
    with Session(engine) as session:
        conv = session.exec(
            select(Conversation).where(Conversation.key == msg.conversation_key)
        ).first()
        if conv is None or conv.member_id == msg.member.user_id:
            return None  # staff asking a question of their own: an ordinary conversation
        session.add(
            Message(
                conversation_id=conv.id or 0,
                role="staff",
                author_id=msg.member.user_id,
                author_name=msg.member.display_name,
                text=stored_copy(msg.text),
                kind=SHADOW_REPLY_KIND,
                platform_message_id=msg.message_id,
            )
        )
        try:
            session.commit()
        except IntegrityError:  # the same platform message recorded by another worker
            session.rollback()
        return Reply(route="ignore", text="", conversation_id=conv.id, shadow=True)
