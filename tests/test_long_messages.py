"""A message longer than what is stored is kept cut with a visible note, never silently."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.contracts import MAX_STORED_CHARS, IncomingMessage, Member
from bot.models import Message


def test_a_one_megabyte_message_is_stored_cut_with_a_note(app) -> None:
    text = "my export fails " + "x" * 1_000_000
    reply = app.service.handle(
        IncomingMessage("console", "help", "long-1", "", text, Member("long", "Lo"))
    )
    assert reply.route
    with Session(app.engine) as session:
        stored = session.exec(
            select(Message.text).where(Message.role == "member", Message.author_id == "long")
        ).one()
    assert stored.startswith("my export fails xxx")
    assert stored[:MAX_STORED_CHARS] == text[:MAX_STORED_CHARS]
    assert stored.endswith(f"[… {len(text) - MAX_STORED_CHARS:,} more characters not stored]")
