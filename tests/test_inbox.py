"""The durable inbox on a real SQLite file: put-if-new, claims, lanes, leases, retries, resume."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.contracts import Button, Citation, Option, Reply
from bot.db import make_engine
from bot.inbox import MAX_ATTEMPTS, Inbox, InboxWorker, reply_from_dict, reply_to_dict
from bot.models import InboxEvent


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
