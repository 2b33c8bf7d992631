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
    saver = SqliteSaver(conn)
    saver.setup()
    return saver
