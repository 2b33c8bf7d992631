"""Databases from older versions gain the columns added since, without losing rows."""

from __future__ import annotations

import sqlite3

from sqlmodel import Session, select

from bot.db import make_engine
from bot.models import Message


def test_old_message_table_gains_kind_and_keeps_its_rows(tmp_path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE message (id INTEGER PRIMARY KEY, conversation_id INTEGER NOT NULL,"
            " role VARCHAR NOT NULL, author_id VARCHAR NOT NULL, author_name VARCHAR NOT NULL,"
            " text VARCHAR NOT NULL, platform_message_id VARCHAR NOT NULL,"
            " created_at DATETIME NOT NULL)"
        )
        conn.execute(
            "INSERT INTO message VALUES (1, 7, 'member', 'u1', 'Ana', 'my invoice is wrong', 'm1',"
            " '2026-01-01 10:00:00')"
        )
    for _ in range(2):  # idempotent: a second start changes nothing
        engine = make_engine(f"sqlite:///{path}")
        with Session(engine) as session:
            rows = session.exec(select(Message)).all()
        engine.dispose()
        assert [(m.text, m.kind) for m in rows] == [("my invoice is wrong", "text")]
