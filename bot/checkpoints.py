"""The LangGraph checkpointer: SQLite next to the data by default, Postgres when the DB is Postgres."""

from __future__ import annotations

import sqlite3
from typing import Any

from bot.config import Config


def make_checkpointer(config: Config) -> Any:
    """Conversations survive restarts: pick a durable saver for the configured database."""
    url = config.db_url
    if url.startswith(("postgresql", "postgres")):
        try:
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg import Connection
        except ImportError as exc:  # pragma: no cover - depends on the optional extra
            raise RuntimeError(
                "Postgres checkpoints need the extra: pip install 'deskhand[postgres]'"
            ) from exc
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        conn = Connection.connect(dsn, autocommit=True, prepare_threshold=0)
        saver = PostgresSaver(conn)
        saver.setup()
        return saver
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(str(config.checkpoint_path), check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    saver = SqliteSaver(conn)
    saver.setup()
    return saver
