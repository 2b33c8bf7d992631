"""Repeat contact: a member back about a problem an earlier thread left unresolved or disputed.

Answered-and-quiet questions never count: asking the same kind of question again is not a repeat
unless the earlier thread is still with staff (escalated), the member pressed *Not helpful* there,
or came back in that thread about the same issue after the answer (the answer did not settle it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col

from bot.models import Conversation, Decision, Feedback, Message
from graph.turns import TurnKind
from knowledge.models import utcnow

OPEN_STATUSES = (
    "answered",
    "escalated",
)  # resolved (confirmed, staff) and open threads never count


def prior_unresolved(engine: Engine, conv: Conversation, window_days: int) -> dict[str, str]:
    """Issue type -> why it counts, over this member's other threads updated in the window."""
    since = utcnow() - timedelta(days=max(int(window_days), 0))
    with engine.connect() as conn:  # Core: these small reads cost more in ORM sessions than in SQL
        rows = conn.execute(
            select(
                col(Conversation.id),
                col(Conversation.issue_type),
                col(Conversation.status),
                col(Conversation.updated_at),
            ).where(
                col(Conversation.member_id) == conv.member_id,
                col(Conversation.platform) == conv.platform,
                col(Conversation.id) != conv.id,
                col(Conversation.issue_type) != "",
                col(Conversation.status).in_(OPEN_STATUSES),
                col(Conversation.updated_at) >= since,
            )
        ).all()
        if not rows:
            return {}
        ids = [row[0] for row in rows]
        disputed = set(
            conn.execute(
                select(col(Feedback.conversation_id)).where(
                    col(Feedback.conversation_id).in_(ids), col(Feedback.kind) == "not_helpful"
                )
            ).scalars()
        )
        answered = [row[0] for row in rows if row[2] == "answered" and row[0] is not None]
        followed_up = _followed_up(conn, answered)
    found: dict[str, str] = {}
    for conv_id, issue, status, updated in sorted(rows, key=lambda r: r[3], reverse=True):
        if issue in found:
            continue
        if conv_id in disputed:
            why = "marked Not helpful"
        elif status == "escalated":
            why = "still with staff"
        elif (conv_id, issue) in followed_up:
            why = "came back in that thread after the answer"
        else:
            continue
        found[issue] = f"earlier thread #{conv_id} about {issue}, {_ago(updated)}: {why}"
    return found


def _followed_up(conn: Connection, conv_ids: list[int]) -> set[tuple[int, str]]:
    """(conversation, issue) pairs where the member typed again on that issue after an answer."""
    if not conv_ids:
        return set()
    rows = conn.execute(
        select(
            col(Decision.conversation_id),
            col(Decision.route),
            col(Decision.issue_type),
            col(Message.kind),
        )
        .join(Message, col(Message.id) == col(Decision.message_id))
        .where(col(Decision.conversation_id).in_(conv_ids))
        .order_by(col(Decision.id))
    ).all()
    answered: set[tuple[int, str]] = set()
    again: set[tuple[int, str]] = set()
    for conv_id, route, issue, kind in rows:
        if (conv_id, issue) in answered and kind == TurnKind.TEXT.value:
            again.add((conv_id, issue))
        if route == "answer":
            answered.add((conv_id, issue))
    return again


def _ago(when: datetime) -> str:
    """'today', '1 day ago', 'N days ago'."""
    if when.tzinfo is None:
        days = (utcnow().replace(tzinfo=None) - when).days
    else:
        days = (utcnow() - when).days
    return "today" if days <= 0 else f"{days} day{'s' if days > 1 else ''} ago"
