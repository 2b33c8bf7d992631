"""Chaos: a real `deskhand run slack --http` process killed (-9) or stopped (SIGTERM) mid-burst.

Senders behave like Slack: an event that got no 200 is sent again with X-Slack-Retry-Num until it
is acked. After the restart, every acked event must be stored and answered exactly once, and the
messages of each thread handled in the order they were sent.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, create_engine, select

from bot.inbox import OPEN
from bot.models import Conversation, InboxEvent, Message, OutboxItem
from tests.slack.conftest import HELP_CHANNEL, SECRET, STAFF_CHANNEL, Harness, sign
from tests.slack.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]
THREADS, PER_THREAD = 16, 3  # 48 events per run: small and bounded; the 300 burst is a benchmark
QUESTION = "how do I reset my password?"
# Bounds on waiting for a condition, never speed targets: a loaded machine (2 cores, several
# suites at once) may be slow, and a test that waits on conditions only fails if one never holds.
BOUND_S = 600.0


def wait_for(condition: Callable[[], bool], what: str, bound_s: float = BOUND_S) -> None:
    """Poll until `condition()` holds; fail (saying what never happened) after `bound_s`."""
    deadline = time.monotonic() + bound_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {bound_s:.0f} s")
        time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BotProcess:
    """`deskhand run slack --http` as a subprocess on one data dir, restartable."""

    def __init__(self, home: Path, fake: FakeSlack, log: Path) -> None:
        self.home, self.fake, self.log = home, fake, log
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def start(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1",
            "DESKHAND_HOME": str(self.home),
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_API_URL": self.fake.api_url,
            "SLACK_HELP_CHANNELS": HELP_CHANNEL,
            "SLACK_ESCALATION_CHANNEL": STAFF_CHANNEL,
            # A claim that dies with a -9'd process is free again after this; long enough that
            # a live worker's heartbeat (every third of it) renews in time on a loaded machine,
            # so no second worker takes an event still being answered.
            "DESKHAND_INBOX_LEASE_S": "20",
            # SIGTERM: work in flight finishes (the stop returns as soon as it has); an answer
            # cut off past the grace would be the documented repeat window, not this test.
            "DESKHAND_STOP_GRACE_S": "120",
        }
        for key in ("DESKHAND_DATABASE_URL", "DESKHAND_LLM", "DESKHAND_CONFIG"):
            env.pop(key, None)
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "slack", "--http", "--port", str(self.port)],
            cwd=self.home.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + BOUND_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(
                    self.url.replace("/slack/events", "/healthz"), timeout=2
                ):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        raise AssertionError("the bot did not start: " + self.log.read_text()[-3000:])

    def kill(self, sig: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=BOUND_S)  # a bound on shutdown, not a speed target


class Sender:
    """Slack's side: each thread's events in order, each resent until it gets a 200."""

    def __init__(self, bot: BotProcess, harness_like: Harness) -> None:
        self.bot, self.h = bot, harness_like
        self.acked: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def send_thread(self, n: int) -> None:
        root = f"{1_700_000_000 + n}.000100"
        for k in range(PER_THREAD):
            ts = root if k == 0 else f"{1_700_000_000 + n}.{100 + k:06d}"
            event = self.h.message_event(QUESTION, HELP_CHANNEL, user=f"UCHAOS{n:03d}", ts=ts,
                                         thread_ts=None if k == 0 else root)  # fmt: skip
            body = self.h.event_body(event, event_id=f"EvChaos{n:03d}{k}")
            retry = 0
            while not self.stop.is_set():
                headers = {"Content-Type": "application/json", **sign(body)}
                if retry:
                    headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "timeout"}
                request = urllib.request.Request(
                    self.bot.url, body.encode(), headers, method="POST"
                )
                try:
                    with urllib.request.urlopen(request, timeout=3) as response:
                        if response.status == 200:
                            with self.lock:
                                self.acked.append(ts)
                            break
                except (urllib.error.URLError, OSError, ConnectionError):
                    pass
                retry += 1
                time.sleep(0.2)

    def acked_count(self) -> int:
        with self.lock:
            return len(self.acked)


def _open_work(home: Path) -> tuple[int, int]:
    """Slack inbox events not finished and outbox items not delivered, as the bot's store says."""
    engine = create_engine(f"sqlite:///{home / 'deskhand.sqlite'}")
    try:
        with Session(engine) as session:
            events = session.exec(
                select(InboxEvent.id).where(
                    InboxEvent.platform == "slack", col(InboxEvent.status).in_(OPEN)
                )
            ).all()
            items = session.exec(
                select(OutboxItem.id).where(
                    OutboxItem.platform == "slack", OutboxItem.status == "pending"
                )
            ).all()
    finally:
        engine.dispose()
    return len(events), len(items)


@pytest.fixture
def chaos_home(sample_template: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(sample_template, home)
    return home


@pytest.fixture
def fake_server() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


def _stored(home: Path) -> dict[str, list[tuple[int, str]]]:
    """Member messages per conversation key: (row id, platform ts), in insertion order."""
    engine = create_engine(f"sqlite:///{home / 'deskhand.sqlite'}")
    with Session(engine) as session:
        rows = session.exec(
            select(Conversation.key, Message.id, Message.platform_message_id)
            .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
            .where(Message.role == "member", Conversation.channel_id == HELP_CHANNEL)
            .order_by(col(Message.id))
        ).all()
    engine.dispose()
    out: dict[str, list[tuple[int, str]]] = {}
    for key, row_id, ts in rows:
        out.setdefault(key, []).append((row_id or 0, ts))
    return out


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_acked_events_survive_a_killed_process(
    chaos_home: Path, fake_server: FakeSlack, tmp_path: Path, sig: int, shared_app: Any
) -> None:
    bot = BotProcess(chaos_home, fake_server, tmp_path / "bot.log")
    bot.start()
    sender = Sender(bot, Harness(shared_app, None, fake_server))  # type: ignore[arg-type]
    workers = [threading.Thread(target=sender.send_thread, args=(n,)) for n in range(THREADS)]
    for worker in workers:
        worker.start()
    try:
        # mid-burst: the first event of every thread acked, the rest still coming
        wait_for(lambda: sender.acked_count() >= THREADS, f"{THREADS} events were not acked")
        acked_before = sender.acked_count()
        code = bot.kill(sig)
        if sig == signal.SIGTERM:
            assert code == 0, bot.log.read_text()[-3000:]
        bot.start()  # same data dir: resumes what was acked but not finished
        wait_for(lambda: not any(w.is_alive() for w in workers), "the senders did not finish")
        assert sender.acked_count() == THREADS * PER_THREAD
        assert acked_before >= THREADS
        # everything acked is done: no inbox event open, no reply parked; an answer sent twice
        # would have been sent by now (only inbox work and outbox retries post answers)
        wait_for(lambda: _open_work(chaos_home) == (0, 0), "the inbox and outbox did not drain")
    finally:
        sender.stop.set()
        if bot.proc and bot.proc.poll() is None:
            bot.kill(signal.SIGTERM)
    answered = [c for c in fake_server.of("chat.postMessage")
                if c.params.get("channel") == HELP_CHANNEL]  # fmt: skip
    per_thread: dict[str, int] = {}
    for call in answered:
        per_thread[call.params["thread_ts"]] = per_thread.get(call.params["thread_ts"], 0) + 1
    log_tail = bot.log.read_text()[-2000:]
    assert len(per_thread) == THREADS, log_tail
    assert set(per_thread.values()) == {PER_THREAD}, (per_thread, log_tail)  # exactly once each
    stored = _stored(chaos_home)
    assert len(stored) == THREADS
    for key, rows in stored.items():
        stamps = [ts for _, ts in rows]
        assert len(stamps) == PER_THREAD and len(set(stamps)) == PER_THREAD, key  # stored once
        assert stamps == sorted(stamps), key  # handled in the order they were sent
