"""Discord through the durable inbox: stored before handling, resumed after a crash, never doubled.

Real discord.py parsing of raw gateway payloads, a real DeskhandBot over the fake HTTP API, real
SQLite. The crash is a BaseException raised where the reply would be posted: like kill -9, nothing
after it runs and nothing is settled (the event keeps its lease, the worker thread is gone).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot.discord import member
from bot.models import Conversation, InboxEvent, Message
from tests.conftest import copy_app
from tests.discord import conftest as C
from tests.discord.conftest import Harness

THREADS, PER_THREAD = 4, 3
QUESTIONS = (
    "How do I reset my password?",
    "How do I export my workspace data?",
    "And what about two-factor authentication codes?",
)
DISCORD = {
    "discord_escalation_channel": C.STAFF,
    "discord_help_channels": C.HELP,
    "discord_guilds": C.GUILD,
    "discord_staff_roles": "Staff",
    "discord_admin_roles": C.ADMIN_ROLE,
}


class Crash(BaseException):
    """The process dies here: no except clause of the bot's catches it."""


@pytest.fixture
def home_app(sample_template: Path, tmp_path: Path, embedder: Any) -> Any:
    """A Discord-configured app on its own data dir (the restart opens a second one on it)."""
    app = copy_app(sample_template, tmp_path / "home", embedder, **DISCORD)
    app.settings.update_channel("discord", C.FORUM, "test", enabled=True)
    return app


def reopen(app: Any, embedder: Any) -> Any:
    """A second Deskhand on the same data dir: what the next process start sees."""
    from bot.app import Deskhand
    from bot.config import Config

    return Deskhand(Config(home=app.config.home, **DISCORD), embedder=embedder)


def post_threads(h: Harness, bot: Any) -> list[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """THREADS forum posts, each with PER_THREAD messages by its member, sent back to back."""
    out = []
    for n in range(THREADS):
        author = h.user(f"Member {n}")
        thread, first = h.open_forum_post(bot, C.FORUM, author, f"Question {n}", QUESTIONS[0])
        sent = [first]
        for question in QUESTIONS[1:PER_THREAD]:
            sent.append(h.say(bot, thread["id"], author, question))
        out.append((thread["id"], author, sent))
    return out


def member_rows(app: Any, thread_ids: list[str]) -> dict[str, list[str]]:
    """Recorded member messages per thread, in the order they were handled."""
    keys = {f"discord:{C.FORUM}:{tid}": tid for tid in thread_ids}
    with Session(app.engine) as session:
        rows = session.exec(
            select(Conversation.key, Message.platform_message_id)
            .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
            .where(Message.role == "member", col(Conversation.key).in_(list(keys)))
            .order_by(col(Message.id))
        ).all()
    out: dict[str, list[str]] = {tid: [] for tid in thread_ids}
    for key, mid in rows:
        out[keys[key]].append(mid)
    return out


def answers(h: Harness, thread_id: str) -> int:
    """Replies that appeared in a member's thread (a nonce repeat creates none, as on Discord)."""
    return len(h.fake.created_in(thread_id))


async def test_accepted_messages_survive_a_crash_and_are_answered_once_in_order(
    home_app: Any, fake: Any, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESKHAND_INBOX_LEASE_S", "3")  # a dead claim is free again after 3 s
    crashed = threading.Event()
    deliveries: list[int] = []
    real_deliver = member.deliver_reply

    async def deliver_then_die(*args: Any, **kwargs: Any) -> None:
        deliveries.append(1)
        if len(deliveries) >= 3:  # two replies went out, then the process is killed
            crashed.set()
        if crashed.is_set():
            raise Crash
        await real_deliver(*args, **kwargs)

    quiet = threading.excepthook
    monkeypatch.setattr(
        threading,
        "excepthook",
        lambda a: None if a.exc_type is Crash else quiet(a),  # a dying worker is expected here
    )
    monkeypatch.setattr(member, "deliver_reply", deliver_then_die)

    first = Harness(home_app, fake)
    bot = await first.start_bot()
    threads = post_threads(first, bot)
    await first._settle_tasks(bot)  # every listener has stored its message
    with Session(home_app.engine) as session:
        stored = session.exec(select(InboxEvent).where(InboxEvent.platform == "discord")).all()
    assert len(stored) == THREADS * PER_THREAD  # all accepted before any was answered
    assert {e.kind for e in stored} == {"message"}
    deadline = asyncio.get_running_loop().time() + 120
    while any(t.is_alive() for t in bot.inbox.worker._threads[:-1]):  # the workers die one by one
        assert asyncio.get_running_loop().time() < deadline, "the crash never stopped the workers"
        await asyncio.sleep(0.05)
    await bot.close()  # the client is torn down with work accepted but not finished
    first.bots.remove(bot)
    thread_ids = [tid for tid, _, _ in threads]
    before = {tid: answers(first, tid) for tid in thread_ids}
    assert sum(before.values()) == 2
    with Session(home_app.engine) as session:
        unfinished = session.exec(
            select(InboxEvent).where(col(InboxEvent.status).in_(["received", "processing"]))
        ).all()
    assert len(unfinished) == THREADS * PER_THREAD - 2
    assert any(e.status == "processing" for e in unfinished)  # claims left by the dead workers

    monkeypatch.setattr(member, "deliver_reply", real_deliver)
    restarted = Harness(reopen(home_app, embedder), fake)
    bot2 = await restarted.start_bot()
    try:
        await restarted.settle(bot2)
        for tid, author, sent in threads:  # gateway replays after the restart: no-ops
            for data in sent:
                restarted.say(bot2, tid, author, data["content"], mid=data["id"])
        await restarted.settle(bot2)
    finally:
        await bot2.close()
        restarted.bots.clear()

    for tid in thread_ids:
        assert answers(restarted, tid) == PER_THREAD, (tid, before[tid])  # exactly once each
    recorded = member_rows(restarted.app, thread_ids)
    for tid, _, sent in threads:
        assert recorded[tid] == [m["id"] for m in sent]  # stored once, in the order sent
    with Session(restarted.app.engine) as session:
        statuses = session.exec(select(InboxEvent.status)).all()
    assert set(statuses) == {"done"}


async def test_two_processes_fed_the_same_gateway_events_answer_each_once(
    home_app: Any, fake: Any, embedder: Any
) -> None:
    """Two clients on one database (a doubled deployment): the inbox key decides, not timing."""
    one = Harness(home_app, fake)
    two = Harness(reopen(home_app, embedder), fake)
    first, second = await one.start_bot(), await two.start_bot()
    try:
        threads = post_threads(one, first)
        for tid, _, sent in threads:
            two.add_thread(second, fake.channels[tid])
            for data in sent:
                second._connection.parse_message_create(data)
        await asyncio.gather(one.settle(first), two.settle(second))
    finally:
        for harness, bot in ((one, first), (two, second)):
            await bot.close()
            harness.bots.clear()
    thread_ids = [tid for tid, _, _ in threads]
    assert [answers(one, tid) for tid in thread_ids] == [PER_THREAD] * THREADS
    recorded = member_rows(home_app, thread_ids)
    assert [len(set(r)) for r in recorded.values()] == [PER_THREAD] * THREADS
    assert [len(r) for r in recorded.values()] == [PER_THREAD] * THREADS


async def test_a_button_press_is_stored_then_deferred_then_handled(harness: Harness) -> None:
    bot = await harness.start_bot()
    who = harness.user("Ivy")
    msg = harness.say(bot, harness.channels["help"]["id"], who, QUESTIONS[0])
    await harness.settle(bot)
    answer = harness.fake.posts_to(msg["id"])[-1]
    helpful = next(
        c["custom_id"] for c in harness.components(answer.json) if ":helpful:" in c["custom_id"]
    )
    token = harness.press(bot, answer.response, helpful, who)
    await harness.settle(bot)
    callback = harness.fake.find("POST", rf"/interactions/(\d+)/{token}/callback")
    assert [c.json["type"] for c in callback] == [6]  # deferred once, by the listener
    interaction_id = callback[0].path.split("/")[2]
    with Session(harness.app.engine) as session:
        event = session.exec(
            select(InboxEvent).where(InboxEvent.event_key == f"interaction:{interaction_id}")
        ).one()
    assert event.kind == "button" and event.status == "done"
    assert event.lane == f"{harness.channels['help']['id']}:{msg['id']}"
    thanks = harness.fake.find("POST", rf"/webhooks/{harness.app_id}/{token}")
    assert len(thanks) == 1 and "glad" in thanks[0].json["content"].lower()


async def test_member_text_is_redacted_in_the_inbox_and_ids_are_not(harness: Harness) -> None:
    bot = await harness.start_bot()
    card = "4111 1111 1111 1111"
    msg = harness.say(bot, harness.channels["help"]["id"], harness.user("Jo"), f"card {card}")
    await harness.settle(bot)
    with Session(harness.app.engine) as session:
        event = session.exec(
            select(InboxEvent).where(InboxEvent.event_key == f"msg:{msg['id']}")
        ).one()
    assert card not in event.payload and "[card ending 1111]" in event.payload
    assert f'"id": "{msg["id"]}"' in event.payload and msg["author"]["id"] in event.payload


async def test_a_burst_of_presses_is_stored_and_deferred_once_each(harness: Harness) -> None:
    """Figures for the README (printed, not asserted): time from INTERACTION_CREATE to the defer.

    DESKHAND_PRESS_N presses (default 40), DESKHAND_PRESS_GAP_S apart (default 0: all at once).
    """
    n = int(os.environ.get("DESKHAND_PRESS_N") or 40)
    gap = float(os.environ.get("DESKHAND_PRESS_GAP_S") or 0)
    bot = await harness.start_bot()
    who = harness.user("Kai")
    msg = harness.say(bot, harness.channels["help"]["id"], who, QUESTIONS[0])
    await harness.settle(bot)
    answer = harness.fake.posts_to(msg["id"])[-1]
    helpful = next(
        c["custom_id"] for c in harness.components(answer.json) if ":helpful:" in c["custom_id"]
    )
    deferred_at: dict[str, float] = {}
    callback = harness.fake._callback

    def timed(body: dict[str, Any], iid: str, token: str) -> dict[str, Any]:
        deferred_at[token] = time.perf_counter()
        return callback(body, iid, token)

    harness.fake._callback = timed  # type: ignore[method-assign]
    pressed: dict[str, float] = {}
    for i in range(n):  # n members press at once (the owner's press is handled, others refused)
        started = time.perf_counter()
        pressed[harness.press(bot, answer.response, helpful, harness.user(f"P{i}"))] = started
        if gap:
            await asyncio.sleep(gap)
    await harness.settle(bot)
    waits = sorted((deferred_at[t] - pressed[t]) * 1000 for t in pressed)
    figures = {
        "presses": n,
        "gap_s": gap,
        "p50_ms": round(statistics.median(waits)),
        "p95_ms": round(waits[int(0.95 * (len(waits) - 1))]),
        "max_ms": round(waits[-1]),
    }
    print("\ndiscord press defer figures:", json.dumps(figures))  # a figure, not an assertion
    assert set(deferred_at) == set(pressed)  # every press acknowledged
    for token in pressed:
        calls = harness.fake.find("POST", rf"/interactions/\d+/{token}/callback")
        assert [c.json["type"] for c in calls] == [6]  # once, as a deferred update
    with Session(harness.app.engine) as session:
        stored = session.exec(
            select(InboxEvent.status).where(
                InboxEvent.kind == "button",
                InboxEvent.lane == f"{harness.channels['help']['id']}:{msg['id']}",
            )  # fmt: skip
        ).all()
    assert stored.count("done") >= n
