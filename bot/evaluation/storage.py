"""Storage growth: how many checkpoint bytes a conversation costs as it gets longer."""

from __future__ import annotations

import sqlite3
from typing import Any

from bot.contracts import IncomingMessage, Member


def thread_checkpoint_bytes(saver: Any, thread_id: str) -> int:
    """Bytes a thread's checkpoints and pending writes occupy (SQLite saver; 0 otherwise)."""
    conn = getattr(saver, "conn", None)
    if not isinstance(conn, sqlite3.Connection):
        return 0
    with saver.lock:
        (ckpt,) = conn.execute(
            "SELECT COALESCE(SUM(LENGTH(checkpoint) + LENGTH(metadata)), 0) FROM checkpoints"
            " WHERE thread_id = ?",
            (thread_id,),
        ).fetchone()
        (writes,) = conn.execute(
            "SELECT COALESCE(SUM(LENGTH(value)), 0) FROM writes WHERE thread_id = ?",
            (thread_id,),
        ).fetchone()
    return int(ckpt) + int(writes)


def answerable(app: Any, questions: list[str], want: int = 12) -> list[str]:
    """Questions the bot answers (not escalates), probed one per fresh thread."""
    found: list[str] = []
    for i, text in enumerate(questions):
        msg = IncomingMessage("bench", "probe", f"probe-{i}", f"p{i}", text, Member(f"p{i}"))
        if app.service.handle(msg).route == "answer":
            found.append(text)
        if len(found) >= want:
            break
    return found


def checkpoint_growth(
    app: Any, questions: list[str], messages: int = 120, marks: tuple[int, ...] = ()
) -> dict[str, Any]:
    """Send `messages` answerable questions into ONE thread; checkpoint bytes at each mark."""
    texts = answerable(app, questions)
    if not texts:
        return {"error": "no answerable question in the sample"}
    marks = marks or (messages // 4, messages // 2, messages)
    key, sizes, routes = "bench:growth:T", {}, {}
    for i in range(messages):
        msg = IncomingMessage("bench", "growth", "T", f"g{i}", texts[i % len(texts)], Member("g"))
        route = app.service.handle(msg).route
        routes[route] = routes.get(route, 0) + 1
        if i + 1 in marks:
            sizes[i + 1] = thread_checkpoint_bytes(app.checkpointer, key)
    return {
        "messages": messages,
        "routes": routes,
        "bytes_at": sizes,
        "bytes_per_message": round(sizes[messages] / messages, 1),
    }
