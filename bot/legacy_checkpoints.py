"""One-time move of conversation memory from LangGraph's checkpointer into ConversationState.

Versions before issue 14 kept each thread's graph state in LangGraph checkpoints (a SQLite file
next to the data, or PostgresSaver tables). At start-up the latest state of every thread that
has no stored memory yet is copied over, then the old checkpoints are deleted, so conversations
under way resume after the upgrade and no member text is left where erasure no longer looks.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import conversation_state
from bot.config import Config
from bot.models import Conversation, ConversationState

log = logging.getLogger(__name__)
BATCH = 500


def migrate_legacy_checkpoints(config: Config, engine: Engine) -> int:
    """Copy old checkpoints into ConversationState and delete them; returns threads moved."""
    if engine.dialect.name == "postgresql":
        return _migrate_postgres(engine)
    path = config.checkpoint_path
    if not path.exists():
        return 0
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        try:
            threads = [
                row[0]
                for row in conn.execute(
                    "SELECT DISTINCT thread_id FROM checkpoints WHERE checkpoint_ns = ''"
                )
            ]
        except sqlite3.OperationalError:  # an empty file: the saver never created its tables
            threads = []
        moved = _copy(SqliteSaver(conn), threads, engine)
    finally:
        conn.close()
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    if moved:
        log.info("moved %d conversations' memory from %s into the database", moved, path)
    return moved


def _migrate_postgres(engine: Engine) -> int:
    """The PostgresSaver tables in the same database: copy, then delete every thread there."""
    if not inspect(engine).has_table("checkpoints"):
        return 0
    with engine.connect() as conn:
        threads = [
            row[0]
            for row in conn.exec_driver_sql(
                "SELECT DISTINCT thread_id FROM checkpoints WHERE checkpoint_ns = ''"
            )
        ]
    if not threads:
        return 0
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg import Connection

    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with Connection.connect(dsn, autocommit=True, prepare_threshold=0) as pg:
        saver = PostgresSaver(pg)  # type: ignore[arg-type]
        moved = _copy(saver, threads, engine)
        for thread in threads:
            saver.delete_thread(thread)
    log.info("moved %d conversations' memory from LangGraph's Postgres tables", moved)
    return moved


def _copy(saver: Any, threads: Iterable[str], engine: Engine) -> int:
    """Each thread's latest checkpointed values, stored for conversations without memory yet."""
    threads = list(threads)
    moved = 0
    with Session(engine) as session:
        for start in range(0, len(threads), BATCH):
            batch = threads[start : start + BATCH]
            ids = dict(
                session.exec(
                    select(Conversation.key, Conversation.id).where(
                        col(Conversation.key).in_(batch)
                    )
                ).all()
            )
            have = set(
                session.exec(
                    select(ConversationState.conversation_id).where(
                        col(ConversationState.conversation_id).in_(list(ids.values()))
                    )
                ).all()
            )
            for key, conv_id in ids.items():
                if conv_id is None or conv_id in have:
                    continue
                latest = saver.get_tuple({"configurable": {"thread_id": key, "checkpoint_ns": ""}})
                if latest is not None:
                    values = latest.checkpoint.get("channel_values") or {}
                    conversation_state.save(session.connection(), conv_id, values)
                    moved += 1
        session.commit()
    return moved
