"""The durable inbox on a real SQLite file: put-if-new, claims, lanes, leases, retries, resume."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.contracts import Button, Citation, Option, Reply
from bot.db import make_engine
from bot.inbox import MAX_ATTEMPTS, Handback, Inbox, InboxWorker, reply_from_dict, reply_to_dict
from bot.models import MESSAGE_PLATFORM_ID_INDEX, InboxEvent, Message
from knowledge.models import utcnow


@pytest.fixture
def inbox(tmp_path: Path) -> Inbox:
    return Inbox(make_engine(f"sqlite:///{tmp_path / 'inbox.sqlite'}"))


def test_put_is_once_per_platform_and_key(inbox: Inbox) -> None:
    assert inbox.put("slack", "msg:C1:1.0", "message", {"n": 1}, lane="C1:1.0")
    assert not inbox.put("slack", "msg:C1:1.0", "message", {"n": 2}, lane="C1:1.0")
    assert inbox.put("discord", "msg:C1:1.0", "message", {"n": 3})
    [event] = inbox.claim("slack")
    assert event.payload == '{"n": 1}' and event.status == "processing" and event.attempts == 1


def test_two_inboxes_on_one_database_never_claim_one_event_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    first, second = Inbox(make_engine(url)), Inbox(make_engine(url))
    for i in range(60):
        assert first.put("slack", f"k{i}", "message", {"i": i})
    claimed: list[int] = []
    lock = threading.Lock()

    def drain(inbox: Inbox, owner: str) -> None:
        while batch := inbox.claim("slack", owner, limit=3):
            with lock:
                claimed.extend(e.id or 0 for e in batch)
            for event in batch:
                inbox.done(event.id or 0)

    threads = [threading.Thread(target=drain, args=(ib, f"w{n}")) for n, ib in
               enumerate([first, second, first, second])]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 60


def test_a_lane_runs_in_order_and_other_lanes_are_not_held_up(inbox: Inbox) -> None:
    inbox.put("slack", "a1", "message", {}, lane="A")
    inbox.put("slack", "a2", "message", {}, lane="A")
    inbox.put("slack", "b1", "message", {}, lane="B")
    inbox.put("slack", "free", "command", {})
    first = inbox.claim("slack", limit=10)
    assert [e.event_key for e in first] == ["a1", "b1", "free"]  # a2 waits for a1
    assert inbox.claim("slack") == []
    inbox.failed(first[0].id or 0, "boom")  # a1 waits for a retry: a2 must still wait
    assert inbox.claim("slack") == []
    inbox.done(first[0].id or 0)
    assert [e.event_key for e in inbox.claim("slack")] == ["a2"]


def test_an_expired_lease_is_claimed_again_and_a_live_one_is_not(inbox: Inbox) -> None:
    inbox.put("slack", "k", "message", {})
    [event] = inbox.claim("slack", "dead-process", lease_s=60)
    assert inbox.claim("slack", "other") == []
    with Session(inbox.engine) as session:  # the lease runs out (the claimer was killed)
        session.execute(update(InboxEvent).values(lease_until=event.created_at))
        session.commit()
    [again] = inbox.claim("slack", "other")
    assert again.id == event.id and again.attempts == 2 and again.owner == "other"


def test_failures_back_off_and_finally_die(inbox: Inbox) -> None:
    inbox.put("slack", "poison", "message", {})
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with Session(inbox.engine) as session:  # make the retry due now
            session.execute(update(InboxEvent).values(next_attempt_at=InboxEvent.created_at))
            session.commit()
        [event] = inbox.claim("slack")
        assert event.attempts == attempt
        inbox.failed(event.id or 0, "ValueError: bad payload")
    row = inbox.get(event.id or 0)
    assert row is not None and row.status == "dead" and "bad payload" in row.error
    assert inbox.open_count("slack") == 0


def test_release_hands_events_back_at_once(inbox: Inbox) -> None:
    inbox.put("slack", "k", "message", {})
    [event] = inbox.claim("slack", lease_s=600)
    inbox.release([event.id or 0])
    [again] = inbox.claim("slack")
    assert again.id == event.id


def test_worker_resumes_what_a_stopped_worker_left(inbox: Inbox) -> None:
    handled: list[str] = []
    gate = threading.Event()

    def slow(event: InboxEvent) -> None:
        gate.wait(30)  # stuck, like a process about to be killed
        handled.append(event.event_key)

    for i in range(3):
        inbox.put("slack", f"k{i}", "message", {}, lane="L")
    first = InboxWorker(inbox, "slack", slow, workers=1, poll_s=0.05).start()
    deadline = time.monotonic() + 10
    while inbox.open_count("slack") == 3 and not first._inflight and time.monotonic() < deadline:
        time.sleep(0.01)
    released = first.stop(timeout=0.2)  # k0 is stuck in the handler: handed back
    assert released == 1
    done: list[str] = []
    worker = InboxWorker(inbox, "slack", lambda e: done.append(e.event_key), workers=2,
                         poll_s=0.05).start()  # fmt: skip
    assert worker.wait_idle(30)
    worker.stop(5)
    gate.set()
    assert done == ["k0", "k1", "k2"]  # resumed, in lane order
    with Session(inbox.engine) as session:
        statuses = session.exec(select(InboxEvent.status).where(col(InboxEvent.id) > 0)).all()
    assert set(statuses) == {"done"}


def test_a_handler_error_is_retried_not_lost(inbox: Inbox) -> None:
    calls: list[int] = []

    def flaky(event: InboxEvent) -> None:
        calls.append(event.attempts)
        if event.attempts == 1:
            raise RuntimeError("platform hiccup")

    inbox.put("slack", "k", "message", {})
    worker = InboxWorker(inbox, "slack", flaky, workers=1, poll_s=0.05).start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # until the failure is recorded
            row = inbox.get(1)
            if row is not None and row.status == "received" and row.attempts == 1:
                break
            time.sleep(0.01)
        with Session(inbox.engine) as session:  # skip the backoff wait
            session.execute(update(InboxEvent).values(next_attempt_at=InboxEvent.created_at))
            session.commit()
        worker.notify()
        assert worker.wait_idle(30)
    finally:
        worker.stop(5)
    assert calls == [1, 2]


def test_a_reply_survives_the_round_trip() -> None:
    reply = Reply(
        route="answer",
        text="Reset it from Settings.",
        conversation_id=3,
        citations=[Citation("Reset", "https://x/1", 7, 0.9)],
        options=[Option("A", "a")],
        buttons=[Button("helpful", "Helpful")],
        ticket_id=None,
    )
    assert reply_from_dict(reply_to_dict(reply)) == reply


def test_an_inline_event_is_stored_claimed_and_resumed_only_when_its_owner_dies(
    inbox: Inbox,
) -> None:
    event_id = inbox.insert("discord", "interaction:1", "command", {"text": "stats"},
                            owner="listener")  # fmt: skip
    assert event_id is not None
    assert inbox.insert("discord", "interaction:1", "command", {}, owner="other") is None
    assert inbox.claim("discord", "worker") == []  # the listener is doing it now
    with Session(inbox.engine) as session:  # the listener's process dies: its lease runs out
        session.execute(update(InboxEvent).values(lease_until=InboxEvent.created_at))
        session.commit()
    [resumed] = inbox.claim("discord", "worker")
    assert resumed.id == event_id and resumed.attempts == 2


def test_text_keys_redact_only_the_member_text(inbox: Inbox) -> None:
    snowflake = "1577948486144389120"  # a Discord id a card-number detector could take for a card
    data = {"id": snowflake, "content": "my card is 4111 1111 1111 1111", "author": {"id": "4"}}
    inbox.insert("discord", "msg:1", "message", data, text_keys=("content",))
    [event] = inbox.claim("discord")
    assert snowflake in event.payload and "4111 1111" not in event.payload
    assert "[card ending 1111]" in event.payload


def test_a_handed_back_event_is_not_counted_as_a_failure(inbox: Inbox) -> None:
    seen: list[int] = []

    def closing(event: InboxEvent) -> None:
        seen.append(event.attempts)
        if len(seen) == 1:
            raise Handback("client closed")

    inbox.put("discord", "k", "message", {})
    worker = InboxWorker(inbox, "discord", closing, workers=1, poll_s=0.05).start()
    try:
        assert worker.wait_idle(30)
    finally:
        worker.stop(5)
    row = inbox.get(1)
    assert seen == [1, 2] and row is not None and row.status == "done" and row.error == ""


def test_finished_events_are_purged_after_the_retention(
    inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("old-done", "new-done", "old-dead", "old-open"):
        inbox.put("slack", key, "message", {})
    old = utcnow() - timedelta(days=8)
    with Session(inbox.engine) as session:
        for key, status, stamp in (("old-done", "done", old), ("new-done", "done", utcnow()),
                                   ("old-dead", "dead", old), ("old-open", "received", old)):  # fmt: skip
            session.execute(
                update(InboxEvent)
                .where(InboxEvent.event_key == key)
                .values(status=status, updated_at=stamp)
            )
        session.commit()
    monkeypatch.setenv("DESKHAND_INBOX_RETENTION_DAYS", "0")
    assert inbox.purge_finished() == 0  # 0 keeps everything
    monkeypatch.setenv("DESKHAND_INBOX_RETENTION_DAYS", "7")
    assert inbox.purge_finished() == 1
    with Session(inbox.engine) as session:
        left = sorted(session.exec(select(InboxEvent.event_key)).all())
    assert left == ["new-done", "old-dead", "old-open"]
    assert not inbox.put("slack", "new-done", "message", {})  # still a no-op within retention


def test_one_platform_message_is_recorded_once_per_thread(inbox: Inbox) -> None:
    engine = inbox.engine
    with Session(engine) as session:
        session.add(Message(conversation_id=1, role="member", text="a", platform_message_id="m1"))
        session.add(Message(conversation_id=1, role="bot", text="reply"))
        session.add(Message(conversation_id=1, role="bot", text="another reply"))  # no id: free
        session.add(Message(conversation_id=2, role="member", text="a", platform_message_id="m1"))
        session.commit()
    with Session(engine) as session, pytest.raises(IntegrityError):
        session.add(Message(conversation_id=1, role="member", text="a", platform_message_id="m1"))
        session.commit()


def test_an_old_database_with_repeated_ids_gets_the_unique_index(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    make_engine(f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as conn:  # as before the index: the same message stored twice
        conn.execute(f"DROP INDEX {MESSAGE_PLATFORM_ID_INDEX}")
        for text in ("first", "again"):
            conn.execute(
                "INSERT INTO message (conversation_id, role, author_id, author_name, text, kind,"
                " platform_message_id, created_at) VALUES (3, 'member', 'u', 'U', ?, 'text',"
                " 'm9', '2026-01-01')",
                (text,),
            )
    engine = make_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        rows = session.exec(select(Message.text, Message.platform_message_id)).all()
    assert sorted(rows) == [("again", ""), ("first", "m9")]  # nothing lost, the first keeps the id
    with Session(engine) as session, pytest.raises(IntegrityError):
        session.add(Message(conversation_id=3, role="member", text="x", platform_message_id="m9"))
        session.commit()
