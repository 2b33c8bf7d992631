"""Fixtures: one sample-loaded app for the package, a fake Discord API per test, a harness."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest

from bot.discord.client import DeskhandBot
from tests.conftest import copy_app
from tests.discord import payloads as P
from tests.discord.fake_api import FakeDiscord

IDS = P.Ids()
GUILD = IDS.next()
APP_ID = IDS.next()
BOT = P.user(IDS.next(), "Deskhand", bot=True)
STAFF_ROLE, ADMIN_ROLE = IDS.next(), IDS.next()
HELP, GENERAL, FORUM, STAFF, STAFF_FORUM = (IDS.next() for _ in range(5))
OWNER = IDS.next()
SETTLE_S = 600.0  # a bound on waiting for the bot to go quiet, never a speed target


@pytest.fixture(scope="session")
def dapp(sample_template, tmp_path_factory, embedder):
    """A sample-loaded app configured for Discord: help channel, staff channel, roles, guild."""
    return copy_app(
        sample_template,
        tmp_path_factory.mktemp("discord") / "home",
        embedder,
        discord_escalation_channel=STAFF,
        discord_help_channels=HELP,
        discord_guilds=GUILD,
        discord_staff_roles="Staff",
        discord_admin_roles=ADMIN_ROLE,
    )


class Harness:
    """Drives a real DeskhandBot with raw gateway payloads against the fake HTTP API."""

    _tokens = itertools.count(1)

    def __init__(self, app: Any, fake: FakeDiscord) -> None:
        self.app = app
        self.fake = fake
        self.ids = IDS
        self.guild_id = GUILD
        self.app_id = APP_ID
        self.bot_user = BOT
        self.channels = {
            "help": P.text_channel(HELP, GUILD, "help", 1),
            "general": P.text_channel(GENERAL, GUILD, "general", 2),
            "forum": P.forum_channel(FORUM, GUILD, "questions", 3),
            "staff": P.text_channel(STAFF, GUILD, "support-staff", 4),
            "staff_forum": P.forum_channel(STAFF_FORUM, GUILD, "staff-tickets", 5),
        }
        for channel in self.channels.values():
            fake.add_channel(channel)
        self.roles = [P.role(STAFF_ROLE, "Staff", "0", 2), P.role(ADMIN_ROLE, "Admin", "0", 3)]
        self.bots: list[DeskhandBot] = []

    def user(self, name: str) -> dict[str, Any]:
        """A fresh member."""
        return P.user(self.ids.next(), name)

    async def start_bot(self) -> DeskhandBot:
        """A new client (as after a restart): login, setup_hook, GUILD_CREATE into the cache."""
        bot = DeskhandBot(self.app, outbox_interval_s=None)
        self.bots.append(bot)
        await bot.login("fake-token")
        guild = P.guild(GUILD, list(self.channels.values()), self.roles, OWNER)
        bot._connection.parse_guild_create(guild)
        return bot

    def say(
        self,
        bot: DeskhandBot,
        channel_id: str,
        author: dict[str, Any],
        content: str,
        *,
        mention: bool = False,
        roles: list[str] | None = None,
        mid: str | None = None,
    ) -> dict[str, Any]:
        """Dispatch MESSAGE_CREATE through discord.py's parser."""
        if mention:
            content = f"<@{BOT['id']}> {content}"
        data = P.message(
            mid or self.ids.next(),
            channel_id,
            GUILD,
            author,
            content,
            mentions=[BOT] if mention else [],
            roles=roles,
        )
        bot._connection.parse_message_create(data)
        return data

    def open_forum_post(
        self, bot: DeskhandBot, forum_id: str, author: dict[str, Any], title: str, content: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """THREAD_CREATE then the starter MESSAGE_CREATE, as Discord sends for a forum post."""
        tid = self.ids.next()
        thread = P.thread(tid, GUILD, forum_id, author["id"], title)
        thread["newly_created"] = True
        self.fake.add_channel(thread)
        bot._connection.parse_thread_create(thread)
        msg = self.say(bot, tid, author, content, mid=tid)
        return thread, msg

    def add_thread(self, bot: DeskhandBot, thread: dict[str, Any]) -> None:
        """THREAD_CREATE for a thread the bot opened (Discord sends it over the gateway too)."""
        bot._connection.parse_thread_create(thread)

    def press(
        self,
        bot: DeskhandBot,
        msg: dict[str, Any],
        custom_id: str,
        author: dict[str, Any],
        *,
        roles: list[str] | None = None,
        permissions: str = P.EVERYONE_PERMS,
    ) -> str:
        """Press a button on a message the fake recorded; returns the interaction token."""
        channel = self.fake.channels[msg["channel_id"]]
        token = f"tok-{next(self._tokens)}"
        self.fake.interaction_messages[token] = msg["id"]
        data = P.button_press(
            self.ids.next(),
            token,
            APP_ID,
            GUILD,
            channel,
            author,
            msg,
            custom_id,
            roles=roles,
            permissions=permissions,
        )
        bot._connection.parse_interaction_create(data)
        return token

    def slash(
        self,
        bot: DeskhandBot,
        channel_id: str,
        author: dict[str, Any],
        text: str,
        *,
        roles: list[str] | None = None,
        permissions: str = P.EVERYONE_PERMS,
    ) -> str:
        """Run `/deskhand <text>`; returns the interaction token."""
        token = f"tok-{next(self._tokens)}"
        cmd = next(
            c for c in self.fake.find("PUT", rf"/applications/{APP_ID}/guilds/{GUILD}/commands")
        ).json[0]
        data = P.slash_command(
            self.ids.next(),
            token,
            APP_ID,
            GUILD,
            self.fake.channels[channel_id],
            author,
            cmd.get("id", self.ids.next()),
            text,
            roles=roles,
            permissions=permissions,
        )
        bot._connection.parse_interaction_create(data)
        return token

    async def settle(self, bot: DeskhandBot) -> None:
        """Wait until every handler task has finished and the inbox workers have drained.

        Bounded by time (SETTLE_S), not by a count of rounds: on a loaded machine a busy bot
        takes more rounds, and only a bot that never goes quiet should fail a test.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_S
        while loop.time() < deadline:
            await self._settle_tasks(bot, deadline)
            if bot.inbox.worker.running:
                left = max(1.0, deadline - loop.time())
                assert await bot.inbox.wait_idle(left), "the inbox never drained"
            await asyncio.sleep(0)
            if not self._busy(bot) and (
                not bot.inbox.worker.running or await bot.inbox.wait_idle(0.05)
            ):
                return
        raise AssertionError(f"bot never settled within {SETTLE_S:.0f} s")

    def _busy(self, bot: DeskhandBot) -> bool:
        current = asyncio.current_task()
        return any(
            t is not current
            and not t.done()
            and (t in bot.inflight or t.get_name().startswith(("discord", "CommandTree")))
            for t in asyncio.all_tasks()
        )

    async def _settle_tasks(self, bot: DeskhandBot, deadline: float | None = None) -> None:
        """Wait until every event handler, button and command task has finished."""
        current = asyncio.current_task()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_S if deadline is None else deadline
        while loop.time() < deadline:
            pending = [
                t
                for t in asyncio.all_tasks()
                if t is not current
                and not t.done()
                and (t in bot.inflight or t.get_name().startswith(("discord", "CommandTree")))
            ]
            if not pending:
                await asyncio.sleep(0)
                if not any(t in bot.inflight for t in asyncio.all_tasks() if not t.done()):
                    return
                continue
            await asyncio.wait(pending, timeout=max(0.1, deadline - loop.time()))
        raise AssertionError(f"handler tasks never finished within {SETTLE_S:.0f} s")

    def explain(self, bot: DeskhandBot, msg: dict[str, Any]) -> str:
        """What became of a message: its inbox event, its recorded turn and decision, the last
        API calls. Put in assertion messages, so a rare failure says where the message stopped."""
        from sqlmodel import Session, select

        from bot.inbox import Inbox
        from bot.models import Conversation, Decision, Message

        event = Inbox(self.app.engine).find("discord", f"msg:{msg['id']}")
        parts = [
            "inbox: none"
            if event is None
            else f"inbox: {event.status} attempts={event.attempts} owner={event.owner or '-'} "
            f"mine={event.owner == bot.inbox.worker.owner} next={event.next_attempt_at} "
            f"error={event.error or '-'}"
        ]
        with Session(self.app.engine) as session:
            turn = session.exec(
                select(Message).where(Message.platform_message_id == str(msg["id"]))
            ).first()
            if turn is None:
                parts.append("turn: not recorded")
            else:
                conv = session.get(Conversation, turn.conversation_id)
                decisions = session.exec(
                    select(Decision).where(Decision.conversation_id == turn.conversation_id)
                ).all()
                parts.append(
                    f"turn: conversation {conv.key if conv else '?'} "
                    f"status={conv.status if conv else '?'} "
                    f"routes={[(d.route, d.reasons) for d in decisions]}"
                )
        parts.append(f"worker running={bot.inbox.worker.running}")
        parts.append("calls: " + ", ".join(f"{c.method} {c.path}" for c in self.fake.calls[-8:]))
        return "; ".join(parts)

    def components(self, call_json: dict[str, Any]) -> list[dict[str, Any]]:
        """Flattened components (buttons) of a sent message."""
        rows = (call_json or {}).get("components") or []
        return [c for row in rows for c in row.get("components", [])]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A fake Discord API on loopback, with discord.py pointed at it."""
    server = FakeDiscord(IDS, BOT, APP_ID)
    await server.start()
    old = discord.http.Route.BASE
    discord.http.Route.BASE = server.base
    try:
        yield server
    finally:
        discord.http.Route.BASE = old
        await server.stop()


@pytest.fixture
async def harness(dapp, fake) -> AsyncIterator[Harness]:
    """The harness; closes every bot it started."""
    h = Harness(dapp, fake)
    try:
        yield h
    finally:
        for bot in h.bots:
            await bot.close()
