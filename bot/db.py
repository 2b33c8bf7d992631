"""Database engine and schema upkeep (SQLite by default, any SQLAlchemy URL otherwise)."""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import Any

from sqlalchemy import Insert, event, insert, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel, create_engine

import bot.models  # noqa: F401  (registers tables)
import knowledge.models  # noqa: F401


def sqlalchemy_url(url: str) -> str:
    """libpq-style postgres:// and postgresql:// URLs mean psycopg 3, the driver the extra installs."""
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


def make_engine(url: str) -> Engine:
    """Create an engine and the tables; SQLite gets WAL so adapters and CLI can share it."""
    url = sqlalchemy_url(url)
    is_sqlite = url.startswith("sqlite")
    engine = create_engine(
        url, connect_args={"check_same_thread": False} if is_sqlite else {}, pool_pre_ping=True
    )
    if is_sqlite:

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

    SQLModel.metadata.create_all(engine)
    add_missing_columns(engine)
    clear_duplicate_platform_ids(engine)
    create_missing_indexes(engine)
    return engine


# Columns added to existing tables after their first release: (table, column, SQL definition).
ADDED_COLUMNS = [
    ("message", "kind", "VARCHAR NOT NULL DEFAULT 'text'"),
    ("decision", "bot_version", "VARCHAR NOT NULL DEFAULT ''"),
    ("decision", "member_tier", "VARCHAR NOT NULL DEFAULT ''"),
    ("outboxitem", "thread_key", "VARCHAR NOT NULL DEFAULT ''"),
    ("issuetype", "escalate", "BOOLEAN NOT NULL DEFAULT false"),
    ("decision", "language", "VARCHAR NOT NULL DEFAULT ''"),
    ("decision", "hits", "VARCHAR NOT NULL DEFAULT '[]'"),
    ("decision", "experiment", "VARCHAR NOT NULL DEFAULT ''"),
    ("decision", "arm", "VARCHAR NOT NULL DEFAULT ''"),
    ("kbcandidate", "edits", "INTEGER"),
]


def add_missing_columns(engine: Engine) -> None:
    """Give databases created by older versions the columns added since (idempotent)."""
    inspector = inspect(engine)
    for table, column, definition in ADDED_COLUMNS:
        present = {c["name"] for c in inspector.get_columns(table)}
        if column not in present:
            with engine.begin() as conn:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {definition}"))


def clear_duplicate_platform_ids(engine: Engine) -> int:
    """Before the unique platform-id index exists, keep each id on its first row only.

    Older versions could record one platform message twice (two processes, a replay); the
    repeats keep their text but lose the id, so the unique index can be created. Idempotent.
    """
    from bot.models import MESSAGE_PLATFORM_ID_INDEX

    if MESSAGE_PLATFORM_ID_INDEX in {i["name"] for i in inspect(engine).get_indexes("message")}:
        return 0
    with engine.begin() as conn:
        cleared = conn.execute(
            text(
                "UPDATE message SET platform_message_id = '' WHERE platform_message_id != '' "
                "AND id NOT IN (SELECT MIN(id) FROM message WHERE platform_message_id != '' "
                "GROUP BY conversation_id, platform_message_id)"
            )
        ).rowcount
    if cleared:
        logging.getLogger(__name__).warning(
            "%d repeated platform message ids cleared before adding their unique index", cleared
        )
    return int(cleared or 0)


def create_missing_indexes(engine: Engine) -> None:
    """create_all never adds an index to an existing table: create any the models declare."""
    with engine.begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for index in table.indexes:
                index.create(conn, checkfirst=True)


def new_row(model: type[SQLModel], **values: Any) -> dict[str, Any]:
    """A Core INSERT's values for `model`: the given ones plus each field's default.

    The hot path inserts without building ORM objects (no validation, no unit-of-work flush);
    a primary key left None is omitted so the database assigns it.
    """
    row: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name in values:
            row[name] = values[name]
        elif not field.is_required():
            default = field.get_default(call_default_factory=True)
            if default is not None or name != "id":
                row[name] = default
    return row


@cache
def _insert_of(model: type[SQLModel]) -> Insert:
    """One INSERT statement per table, built once: executions reuse its compiled form."""
    return insert(model)


def insert_row(conn: Connection, model: type[SQLModel], **values: Any) -> int:
    """Insert one row of `model` with Core (defaults filled in) and return its primary key."""
    key = conn.execute(_insert_of(model), new_row(model, **values)).inserted_primary_key
    assert key is not None
    return int(key[0])
