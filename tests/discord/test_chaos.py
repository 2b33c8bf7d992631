"""Chaos: a real `deskhand run discord` process, fed by the fake gateway, killed mid-stream.

The process is killed with -9 (or stopped with SIGTERM) once the first answer is out, then
started again on the same data dir. The gateway then sends the whole stream again (a stricter
test than Discord, which would not redeliver): every message the dead process had stored is
resumed, the others are stored now, and each is answered exactly once, in per-thread order.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, create_engine, select

from bot.models import Conversation, InboxEvent, Message
from tests.discord import conftest as C
from tests.discord import payloads as P
from tests.discord.fake_gateway import FakeGateway

ROOT = Path(__file__).resolve().parents[2]
THREADS, PER_THREAD = 6, 3  # 18 messages: small and bounded
QUESTIONS = (
    "How do I reset my password?",
    "How do I export my workspace data?",
    "And what about two-factor authentication codes?",
)
# `deskhand run discord` itself, with discord.py pointed at the fakes (REST base, gateway URL).
LAUNCH = (
    "import sys, yarl, discord.gateway, discord.http; "
    "discord.http.Route.BASE = sys.argv[1]; "
    "discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2]); "
    "from bot.cli import main; sys.exit(main(['run', 'discord']))"
)
BOUND_S = 180.0  # generous bound for a process start on a loaded machine (not a speed target)


class BotProcess:
    """`deskhand run discord` as a subprocess on one data dir, restartable."""

    def __init__(self, home: Path, fake: FakeGateway, log: Path) -> None:
        self.home, self.fake, self.log = home, fake, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1",
            "DESKHAND_HOME": str(self.home),
            "DISCORD_TOKEN": "fake-token",
            "DISCORD_HELP_CHANNELS": C.FORUM,
            "DISCORD_ESCALATION_CHANNEL": C.STAFF,
            "DISCORD_GUILDS": C.GUILD,
            "DESKHAND_INBOX_LEASE_S": "3",
            "DESKHAND_STOP_GRACE_S": "5",
        }
        for key in ("DESKHAND_DATABASE_URL", "DESKHAND_LLM", "DESKHAND_CONFIG"):
            env.pop(key, None)
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, self.fake.base, self.fake.gateway_url],
            cwd=self.home.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    async def stop(self, sig: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return await asyncio.to_thread(self.proc.wait, 60)  # a bound on shutdown, not a target

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


async def until(check: Callable[[], bool], what: str, bot: BotProcess) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND_S
    while not check():
        assert bot.proc is not None and bot.proc.poll() is None, bot.tail()
        assert loop.time() < deadline, f"{what}: {bot.tail()}"
        await asyncio.sleep(0.1)


def plan_threads() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """THREADS forum posts by different members, PER_THREAD messages each (ids increasing)."""
    out = []
    for n in range(THREADS):
        author = P.user(C.IDS.next(), f"Member {n}")
        tid = C.IDS.next()
        thread = {**P.thread(tid, C.GUILD, C.FORUM, author["id"], f"Question {n}")}
        thread["newly_created"] = True
        sent = [
            P.message(tid if k == 0 else C.IDS.next(), tid, C.GUILD, author, QUESTIONS[k])
            for k in range(PER_THREAD)
        ]
        out.append((thread, sent))
    return out


async def send_stream(fake: FakeGateway, plan: list[tuple[dict[str, Any], list[dict]]]) -> None:
    """Round by round, as members would type: every thread's k-th message, then the next k."""
    for k in range(PER_THREAD):
        for thread, sent in plan:
            if k == 0:
                assert await fake.dispatch("THREAD_CREATE", thread)
            assert await fake.dispatch("MESSAGE_CREATE", sent[k])


def stored(home: Path) -> tuple[dict[str, list[str]], set[str]]:
    """Member messages per conversation key in handling order; message keys in the inbox."""
    engine = create_engine(f"sqlite:///{home / 'deskhand.sqlite'}")
    with Session(engine) as session:
        rows = session.exec(
            select(Conversation.key, Message.platform_message_id)
            .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
            .where(Message.role == "member", Conversation.channel_id == C.FORUM)
            .order_by(col(Message.id))
        ).all()
        keys = set(
            session.exec(select(InboxEvent.event_key).where(InboxEvent.platform == "discord"))
        )
    engine.dispose()
    out: dict[str, list[str]] = {}
    for key, mid in rows:
        out.setdefault(key, []).append(mid)
    return out, keys


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
async def test_accepted_messages_survive_a_killed_discord_process(
    sample_template: Path, tmp_path: Path, sig: int
) -> None:
    home = tmp_path / "home"
    shutil.copytree(sample_template, home)
    channels = [
        P.text_channel(C.HELP, C.GUILD, "help", 1),
        P.forum_channel(C.FORUM, C.GUILD, "questions", 3),
        P.text_channel(C.STAFF, C.GUILD, "support-staff", 4),
    ]
    roles = [P.role(C.STAFF_ROLE, "Staff", "0", 2), P.role(C.ADMIN_ROLE, "Admin", "0", 3)]
    fake = FakeGateway(C.IDS, C.BOT, C.APP_ID, P.guild(C.GUILD, channels, roles, C.OWNER))
    await fake.start()
    for channel in channels:
        fake.add_channel(channel)
    plan = plan_threads()
    for thread, _ in plan:
        fake.add_channel(thread)
    thread_ids = [thread["id"] for thread, _ in plan]

    def answered() -> dict[str, int]:  # replies that appeared in each member's thread
        return {tid: len(fake.created_in(tid)) for tid in thread_ids}

    bot = BotProcess(home, fake, tmp_path / "bot.log")
    bot.start()
    try:
        await fake.wait_session(1, BOUND_S)
        await send_stream(fake, plan)
        await until(lambda: sum(answered().values()) >= 1, "no first answer", bot)
        code = await bot.stop(sig)
        if sig == signal.SIGTERM:
            assert code == 0, bot.tail()
        _, accepted = stored(home)
        assert accepted, "the first process stored what it received"

        bot.start()  # same data dir: resumes what was accepted but not finished
        await fake.wait_session(2, BOUND_S)
        await send_stream(fake, plan)  # the whole stream again: repeats must be no-ops
        done = THREADS * PER_THREAD
        await until(lambda: sum(answered().values()) >= done, "not every message answered", bot)
        await asyncio.sleep(1.5)  # anything answered twice would show up now
    finally:
        if bot.proc is not None and bot.proc.poll() is None:
            await bot.stop(signal.SIGTERM)
        await fake.stop()
    assert answered() == dict.fromkeys(thread_ids, PER_THREAD), (answered(), bot.tail())
    recorded, keys = stored(home)
    for thread, sent in plan:
        ids = [m["id"] for m in sent]
        assert recorded[f"discord:{C.FORUM}:{thread['id']}"] == ids  # once each, in order sent
        assert {f"msg:{i}" for i in ids} <= keys
