"""Conversation memory between turns: one `ConversationState` row per conversation, as JSON.

The graph is compiled without a LangGraph checkpointer; the service reads this row, passes it
in with the turn's inputs, and rewrites it inside the transaction that records the turn.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import Any

from sqlalchemy import Executable, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col

from bot.models import Conversation, ConversationState
from graph.state import memory_of
from knowledge.models import utcnow

log = logging.getLogger(__name__)


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays that reach the state become plain JSON numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} cannot be stored in conversation memory")


def encode(state: dict[str, Any]) -> str:
    """The memory part of a finished turn's state, as the stored JSON."""
    return json.dumps(memory_of(state), default=_plain, ensure_ascii=False)


def decode(stored: str | None) -> dict[str, Any]:
    """Stored JSON back to graph inputs ({} for a conversation without memory yet)."""
    memory = json.loads(stored) if stored else {}
    if not isinstance(memory, dict):
        raise ValueError("conversation memory is not a JSON object")
    return memory


def load(engine: Engine, conversation_id: int) -> dict[str, Any]:
    """The memory a conversation's next turn resumes from."""
    with engine.connect() as conn:
        stored = conn.execute(
            select(col(ConversationState.state)).where(
                col(ConversationState.conversation_id) == conversation_id
            )
        ).scalar()
    return decode(stored)


def save(conn: Connection, conversation_id: int, state: dict[str, Any]) -> None:
    """Upsert the memory in the caller's transaction (two workers on one new thread both land)."""
    values = {"conversation_id": conversation_id, "state": encode(state), "updated_at": utcnow()}
    conn.execute(_upsert(conn.dialect.name), values)


@cache
def _upsert(dialect: str) -> Executable:
    """The dialect's INSERT … ON CONFLICT DO UPDATE for the memory row, built once."""
    if dialect not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"conversation memory needs SQLite or PostgreSQL, not {dialect}")
    stmt = (sqlite if dialect == "sqlite" else postgresql).insert(ConversationState)
    return stmt.on_conflict_do_update(
        index_elements=["conversation_id"],
        set_={"state": stmt.excluded.state, "updated_at": stmt.excluded.updated_at},
    )


def _stored_text(engine: Engine, conversation_key: str) -> str | None:
    """The stored JSON of a conversation's memory by its key (None before its first turn)."""
    with engine.connect() as conn:
        stored: str | None = conn.execute(
            select(col(ConversationState.state))
            .join(Conversation, col(Conversation.id) == col(ConversationState.conversation_id))
            .where(col(Conversation.key) == conversation_key)
        ).scalar()
    return stored


def stored_bytes(engine: Engine, conversation_key: str) -> int:
    """Bytes a conversation's memory occupies (0 before its first turn)."""
    return len((_stored_text(engine, conversation_key) or "").encode())


def load_by_key(engine: Engine, conversation_key: str) -> dict[str, Any]:
    """The stored memory of a conversation by its key ({} when it has none)."""
    return decode(_stored_text(engine, conversation_key))
