"""Conversation memory: one bounded row per conversation, written with the turn's record."""

from __future__ import annotations

import sqlite3

from sqlalchemy import event
from sqlmodel import Session, select

from bot.contracts import IncomingMessage, Member
from bot.conversation_state import load_by_key
from bot.evaluation.bench import sample_questions
from bot.evaluation.storage import state_growth, thread_state_bytes
from bot.models import Conversation, ConversationState
from graph.state import TRANSCRIPT_WINDOW, recent_turns


def message(thread: str, i: int, text: str = "how do I export my data?") -> IncomingMessage:
    return IncomingMessage("cli", "c", thread, f"{thread}-m{i}", text, Member("u"))


def test_the_transcript_in_graph_state_is_a_window():
    turns = [{"role": "member", "text": str(i)} for i in range(TRANSCRIPT_WINDOW + 5)]
    kept = recent_turns(turns[:10], turns[10:])
    assert len(kept) == TRANSCRIPT_WINDOW and kept[-1]["text"] == turns[-1]["text"]


def test_memory_bytes_of_one_thread_stay_bounded(app):
    growth = state_growth(app, sample_questions(), messages=60, marks=(15, 60))
    assert growth["routes"] == {"answer": 60}  # every message really went through the graph
    small, large = growth["bytes_at"][15], growth["bytes_at"][60]
    assert small > 0
    # 4x the messages: an unbounded transcript would be ~4x; the window keeps it under 2x
    assert large / small < 2.0, growth


def test_one_row_per_conversation_holding_the_last_window_of_turns(app):
    for i in range(TRANSCRIPT_WINDOW // 2 + 3):  # member + bot entry per message: past the window
        app.service.handle(message("window", i))
    key = "cli:c:window"
    with Session(app.engine) as session:
        conv = session.exec(select(Conversation).where(Conversation.key == key)).one()
        rows = session.exec(
            select(ConversationState).where(ConversationState.conversation_id == conv.id)
        ).all()
    assert len(rows) == 1  # rewritten each turn: nothing to prune
    transcript = load_by_key(app.engine, key)["transcript"]
    assert len(transcript) == TRANSCRIPT_WINDOW
    assert transcript[-2]["text"] == "how do I export my data?" and transcript[-1]["role"] == "bot"
    assert thread_state_bytes(app, key) > 0


def test_no_checkpointer_and_the_memory_is_written_in_the_turns_own_transaction(app):
    app.service.handle(message("tx", 0))  # the conversation exists: the next turn updates it
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement.split()[0].upper() + " " + statement.lower())

    def committed(conn) -> None:  # type: ignore[no-untyped-def]
        statements.append("COMMIT")

    event.listen(app.engine, "before_cursor_execute", seen)
    event.listen(app.engine, "commit", committed)
    try:
        reply = app.service.handle(message("tx", 1, "how do I reset my password?"))
    finally:
        event.remove(app.engine, "before_cursor_execute", seen)
        event.remove(app.engine, "commit", committed)
    assert reply.route == "answer"
    assert app.graph.checkpointer is None
    assert not app.config.checkpoint_path.exists()
    writes = [i for i, s in enumerate(statements) if s.startswith(("INSERT", "UPDATE", "COMMIT"))]
    turn = [statements[i].split()[0] for i in writes]
    assert turn.count("COMMIT") == 1, turn  # messages, decision, status and memory: one commit
    memory = next(i for i, s in enumerate(statements) if "insert into conversationstate" in s)
    decision = next(i for i, s in enumerate(statements) if "insert into decision" in s)
    commit = statements.index("COMMIT")
    assert decision < memory < commit
    # A message that needs nothing new costs a fixed, small number of statements
    assert len([s for s in statements if s != "COMMIT"]) <= 20, statements


def test_a_failed_turn_keeps_the_memory_it_had(app):
    first = app.service.handle(message("keep", 0))
    before = load_by_key(app.engine, "cli:c:keep")

    def broken():  # type: ignore[no-untyped-def]
        raise RuntimeError("deps unavailable")

    working, app.service.deps_factory = app.service.deps_factory, broken
    try:
        failed = app.service.handle(message("keep", 1, "and how do I reset my password?"))
    finally:
        app.service.deps_factory = working
    assert failed.route == "escalate" and failed.reasons == ["internal_error"]
    assert failed.conversation_id == first.conversation_id
    assert load_by_key(app.engine, "cli:c:keep") == before


def test_legacy_checkpoints_move_into_the_database_at_start_up(app, embedder):
    from langgraph.checkpoint.sqlite import SqliteSaver

    from bot.app import Deskhand
    from graph.builder import build_graph

    app.service.handle(message("legacy", 0))
    key = "cli:c:legacy"
    memory = load_by_key(app.engine, key)
    with Session(app.engine) as session:  # as an older version left it: memory only in the saver
        session.delete(session.exec(select(ConversationState)).one())
        session.commit()
    saver = SqliteSaver(sqlite3.connect(str(app.config.checkpoint_path), check_same_thread=False))
    legacy = build_graph(saver)
    legacy.update_state({"configurable": {"thread_id": key}}, memory)
    legacy.update_state({"configurable": {"thread_id": "cli:c:gone"}}, memory)  # no conversation
    saver.conn.close()
    app.engine.dispose()

    upgraded = Deskhand(app.config, embedder=embedder)
    assert load_by_key(upgraded.engine, key) == memory
    assert not app.config.checkpoint_path.exists()  # no member text left outside the database
    again = upgraded.service.handle(message("legacy", 1))
    assert len(load_by_key(upgraded.engine, key)["transcript"]) == len(memory["transcript"]) + 2
    assert again.conversation_id is not None
    upgraded.engine.dispose()
