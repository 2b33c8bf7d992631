"""The LangGraph checkpointer: SQLite next to the data by default, Postgres when the DB is Postgres."""

from __future__ import annotations

import re
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
            from psycopg_pool import ConnectionPool
        except ImportError as exc:  # pragma: no cover - depends on the optional extra
            raise RuntimeError(
                "Postgres checkpoints need the extra: pip install 'deskhand[postgres]'"
            ) from exc
        dsn = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)  # libpq form
        Connection.connect(dsn).close()  # a wrong URL fails now, with the server's own error
        # A pool that checks each connection before use, not one long-lived connection: after a
        # server restart or a dropped idle connection, the next message reconnects instead of
        # failing until the bot is restarted. The saver serialises its queries, so one suffices.
        pool = ConnectionPool(
            dsn,
            min_size=1,
            max_size=2,
            kwargs={"autocommit": True, "prepare_threshold": 0},
            check=ConnectionPool.check_connection,
            open=True,
        )
        saver = PostgresSaver(pool)  # type: ignore[arg-type]
        saver.setup()
        return saver
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(str(config.checkpoint_path), check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    sqlite_saver = SqliteSaver(conn)
    sqlite_saver.setup()
    return sqlite_saver


KEEP_CHECKPOINTS = 2  # per thread: the latest state (and its parent) is all a turn resumes from


def prune_thread(saver: Any, thread_id: str, keep: int = KEEP_CHECKPOINTS) -> int:
    """Delete all but the newest `keep` checkpoints of a thread (SQLite); returns rows deleted.

    Conversations resume from the latest checkpoint only, so older ones are dead weight. On
    Postgres, the windowed transcript alone keeps growth linear.
    """
    conn, lock = getattr(saver, "conn", None), getattr(saver, "lock", None)
    if not isinstance(conn, sqlite3.Connection) or lock is None:
        return 0
    with lock:
        keep_ids = [
            row[0]
            for row in conn.execute(
                "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''"
                " ORDER BY checkpoint_id DESC LIMIT ?",
                (thread_id, keep),
            )
        ]
        if len(keep_ids) < keep:
            return 0
        oldest = min(keep_ids)
        deleted = conn.execute(
            "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id < ?",
            (thread_id, oldest),
        ).rowcount
        conn.execute(
            "DELETE FROM writes WHERE thread_id = ? AND checkpoint_id < ?", (thread_id, oldest)
        )
        conn.commit()
        return deleted
