"""One set of desk scenarios, three front-ends: Slack (signed requests + Web API fake), Discord
(gateway payloads + HTTP fake) and the console. Each front exposes the same small driver."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from rich.console import Console
from slack_sdk import WebClient

from bot.console import ConsoleSession
from bot.contracts import Member
from tests.discord.conftest import APP_ID, BOT, IDS, dapp  # noqa: F401  (fixture)
from tests.discord.conftest import Harness as DiscordHarness
from tests.discord.fake_api import FakeDiscord
from tests.discord.test_escalation import escalate as discord_escalate
from tests.slack.conftest import STAFF_CHANNEL, slack_deskhand, unique  # noqa: F401  (fixture)
from tests.slack.conftest import Harness as SlackHarness
from tests.slack.fake_slack import FakeSlack
from tests.slack.test_flows import as_message, posts
from tests.slack.test_flows import escalate as slack_escalate

FRONTS = ("slack", "discord", "console")


class SlackFront:
    """Slack through Bolt with signed requests; the member thread is read from the fake's calls."""

    name = "slack"
    evil = "<!channel> refunds: <https://evil.example/login|help.example/refunds>"

    def __init__(self, h: SlackHarness) -> None:
        self.h, self.app = h, h.deskhand
        self.channel, self.member = unique("C"), unique("U")

    async def escalate(self) -> int:
        self.ts, ticket, self.card = slack_escalate(self.h, self.channel, self.member)
        self.ticket_id = int(ticket.id)
        return self.ticket_id

    def member_texts(self) -> list[str]:
        return [c.params.get("text", "") for c in posts(self.h, self.channel, self.ts)]

    async def staff_says(self, text: str, staff: bool = True) -> None:
        user = "USTAFF" if staff else "UBYSTANDER"
        thread = self.card.response["ts"]
        self.h.event(self.h.message_event(text, STAFF_CHANNEL, user=user, thread_ts=thread))
        self.h.idle()

    async def press(self, action: str, staff: bool = True) -> None:
        user = "USTAFF" if staff else "UBYSTANDER"
        message = as_message(self.card)
        self.h.press(f"deskhand:{action}", str(self.ticket_id), user, STAFF_CHANNEL, message)
        self.h.idle()

    async def rate(self, rating: int, member: bool = True) -> None:
        prompt = [c for c in posts(self.h, self.channel, self.ts) if c.params.get("blocks")][-1]
        user = self.member if member else "USTRANGER"
        value = f"{self.ticket_id}:{rating}"
        self.h.press(f"deskhand:rate:{rating}", value, user, self.channel, as_message(prompt))
        self.h.idle()


class DiscordFront:
    """Discord through discord.py's parser with raw gateway payloads and the HTTP fake."""

    name = "discord"
    evil = "@everyone refunds: [help.example/refunds](https://evil.example/login)"

    def __init__(self, h: DiscordHarness) -> None:
        self.h, self.app = h, h.app

    async def escalate(self) -> int:
        self.bot = await self.h.start_bot()
        self.ivy, self.member_thread, ticket = await discord_escalate(self.h, self.bot, "Pat")
        self.ticket_id = int(ticket.id)
        staff_thread = self.app.desk.get(self.ticket_id).staff_thread_id
        self.staff_thread = staff_thread
        self.h.add_thread(self.bot, self.h.fake.channels[staff_thread])
        self.kim, self.rando = self.h.user("Kim"), self.h.user("Rando")
        self.staff_roles = [self.h.roles[0]["id"]]
        return self.ticket_id

    def member_texts(self) -> list[str]:
        return [c.content or "" for c in self.h.fake.posts_to(self.member_thread)]

    async def staff_says(self, text: str, staff: bool = True) -> None:
        who, roles = (self.kim, self.staff_roles) if staff else (self.rando, None)
        self.h.say(self.bot, self.staff_thread, who, text, roles=roles)
        await self.h.settle(self.bot)

    async def press(self, action: str, staff: bool = True) -> None:
        card = self.h.fake.posts_to(self.h.channels["staff"]["id"])[0].response
        who, roles = (self.kim, self.staff_roles) if staff else (self.rando, None)
        self.h.press(self.bot, card, f"deskhand:{action}:{self.ticket_id}", who, roles=roles)
        await self.h.settle(self.bot)

    async def rate(self, rating: int, member: bool = True) -> None:
        prompt = self.h.fake.posts_to(self.member_thread)[-1].response
        who = self.ivy if member else self.rando
        self.h.press(self.bot, prompt, f"deskhand:rate:{self.ticket_id}:{rating}", who)
        await self.h.settle(self.bot)


class ConsoleFront:
    """The terminal demo: #help and a simulated #staff in one ConsoleSession."""

    name = "console"
    evil = "@everyone refunds: [help.example/refunds](https://evil.example/login)"

    def __init__(self, app: Any) -> None:
        self.app = app
        member = Member(unique("console-member-"), "You")
        self.session = ConsoleSession(app, Console(file=io.StringIO(), width=200), member)
        self.session.thread = unique("t")  # the shared app already has threads t1, t2, …

    async def escalate(self) -> int:
        self.session.ask("I want to talk to a person")
        assert self.session.ticket_id
        self.ticket_id = int(self.session.ticket_id)
        return self.ticket_id

    def member_texts(self) -> list[str]:
        return list(self.session.member_thread)

    async def staff_says(self, text: str, staff: bool = True) -> None:
        self.session.staff_say(text, as_visitor=not staff)

    async def press(self, action: str, staff: bool = True) -> None:
        self.session.staff_action(action, as_visitor=not staff)

    async def rate(self, rating: int, member: bool = True) -> None:
        self.session.rate(rating, as_visitor=not member)


@pytest.fixture(params=FRONTS)
async def front(request, slack_deskhand, dapp, shared_app) -> AsyncIterator[Any]:  # noqa: F811
    """The same driver over each front-end."""
    if request.param == "slack":
        fake = FakeSlack().start()
        fake.add_user("USTAFF", "Sam Staff")
        from bot.slack import build_slack_app

        slack_deskhand.config.slack_api_url = fake.api_url
        client = WebClient(token="xoxb-test", base_url=fake.api_url)
        h = SlackHarness(
            slack_deskhand, build_slack_app(slack_deskhand, client, verify_token=False), fake
        )
        try:
            yield SlackFront(h)
        finally:
            h.adapter.wait_idle(60)
            h.adapter.stop(5)
            fake.stop()
    elif request.param == "discord":
        server = FakeDiscord(IDS, BOT, APP_ID)
        await server.start()
        old = discord.http.Route.BASE
        discord.http.Route.BASE = server.base
        h = DiscordHarness(dapp, server)
        try:
            yield DiscordFront(h)
        finally:
            for bot in h.bots:
                await bot.close()
            discord.http.Route.BASE = old
            await server.stop()
    else:
        yield ConsoleFront(shared_app)
