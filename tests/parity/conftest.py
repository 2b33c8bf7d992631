"""One set of desk scenarios, three front-ends: Slack (signed requests + Web API fake), Discord
(gateway payloads + HTTP fake) and the console. Each front exposes the same small driver."""

from __future__ import annotations

import copy
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
from tests.discord.test_members import custom_ids as discord_custom_ids
from tests.slack.conftest import STAFF_CHANNEL, slack_deskhand, unique  # noqa: F401  (fixture)
from tests.slack.conftest import Harness as SlackHarness
from tests.slack.fake_slack import FakeSlack
from tests.slack.test_assist import suggestion_post as slack_suggestion
from tests.slack.test_flows import as_message, buttons, posts
from tests.slack.test_flows import ask as slack_ask
from tests.slack.test_flows import escalate as slack_escalate

FRONTS = ("slack", "discord", "console")


def console_actions(card: Any) -> set[str]:
    """What the console offers on a drawn card: the desk commands its status allows."""
    if not card.workable:
        return set()
    return {"resolve", "handback"} | ({"claim"} if card.status == "open" else set())


class SlackFront:
    """Slack through Bolt with signed requests; the member thread is read from the fake's calls."""

    name = "slack"
    evil = "<!channel> refunds: <https://evil.example/login|help.example/refunds>"
    staff_id = "USTAFF"

    def __init__(self, h: SlackHarness) -> None:
        self.h, self.app = h, h.deskhand
        self.channel, self.member = unique("C"), unique("U")

    async def escalate(self) -> int:
        self.ts, ticket, self.card = slack_escalate(self.h, self.channel, self.member)
        self.ticket_id = int(ticket.id)
        return self.ticket_id

    async def ask(self, text: str) -> None:
        self.ts, _ = slack_ask(self.h, text, self.channel, self.member)

    @property
    def member_id(self) -> str:
        return self.member

    def member_texts(self) -> list[str]:
        return [c.params.get("text", "") for c in posts(self.h, self.channel, self.ts)]

    async def member_says(self, text: str) -> None:
        self.h.event(self.h.message_event(text, self.channel, user=self.member, thread_ts=self.ts))
        self.h.idle()

    async def member_press(self, action: str, member: bool = True) -> None:
        answer = [c for c in posts(self.h, self.channel, self.ts) if buttons(c)][-1]
        button = next(b for b in buttons(answer) if b["action_id"] == f"deskhand:{action}")
        user = self.member if member else "USTRANGER"
        self.h.press(button["action_id"], button["value"], user, self.channel, as_message(answer))
        self.h.idle()

    def staff_thread(self) -> tuple[str, str]:
        ticket = self.app.desk.get(self.ticket_id)
        return ticket.staff_channel_id, ticket.staff_thread_id

    def staff_thread_texts(self, where: tuple[str, str]) -> list[str]:
        return [c.params.get("text", "") for c in posts(self.h, *where)]

    async def staff_says(
        self, text: str, staff: bool = True, where: tuple[str, str] | None = None
    ) -> None:
        user = "USTAFF" if staff else "UBYSTANDER"
        channel, thread = where or self.staff_thread()
        self.h.event(self.h.message_event(text, channel, user=user, thread_ts=thread))
        self.h.idle()

    async def press(self, action: str, staff: bool = True) -> None:
        user = "USTAFF" if staff else "UBYSTANDER"
        message = as_message(self.card)
        self.h.press(f"deskhand:{action}", str(self.ticket_id), user, STAFF_CHANNEL, message)
        self.h.idle()

    async def assist(self, choice: str, staff: bool = True) -> None:
        user = "USTAFF" if staff else "UBYSTANDER"
        draft = slack_suggestion(self.h, self.card.response["ts"])
        action = f"deskhand:assist_{choice}"
        self.h.press(action, str(self.ticket_id), user, STAFF_CHANNEL, as_message(draft))
        self.h.idle()

    async def rate(self, rating: int, member: bool = True) -> None:
        prompt = [c for c in posts(self.h, self.channel, self.ts) if c.params.get("blocks")][-1]
        user = self.member if member else "USTRANGER"
        value = f"{self.ticket_id}:{rating}"
        self.h.press(f"deskhand:rate:{rating}", value, user, self.channel, as_message(prompt))
        self.h.idle()

    def team_channel(self) -> str:
        return unique("CTEAM")

    async def command(self, text: str) -> None:
        body = self.h.command_body(text, user="USTAFF", channel=STAFF_CHANNEL)
        assert self.h.dispatch(body).status == 200
        self.h.idle()

    def _answers(self) -> list[Any]:
        """What commands and presses answered through their response_url, oldest first."""
        return self.h.fake.of("response_url")

    def command_buttons(self) -> list[tuple[str, str]]:
        """(label, command line) of the buttons under the last command answer with buttons."""
        self.buttoned = next(c for c in reversed(self._answers()) if buttons(c))
        return [(b["text"]["text"], b["value"]) for b in buttons(self.buttoned)]

    async def press_command_button(self, line: str, staff: bool = True) -> None:
        button = next(b for b in buttons(self.buttoned) if b["value"] == line)
        message = {  # an ephemeral answer, as Slack puts it in the action payload
            "type": "message",
            "ts": f"{unique('')}.000100",
            "text": self.buttoned.params.get("text", ""),
            "blocks": self.buttoned.params.get("blocks") or [],
        }
        user = "USTAFF" if staff else "UBYSTANDER"
        self.h.press(button["action_id"], button["value"], user, STAFF_CHANNEL, message)
        self.h.idle()

    def command_answer(self) -> str:
        """The text of the last answer (a press answers in a new message, the list stays)."""
        answer = self._answers()[-1]
        assert answer.params.get("replace_original") is False or answer is self.buttoned
        return str(answer.params.get("text", ""))

    def cards_in(self, channel: str) -> list[int]:
        """Tickets whose card was posted in a channel."""
        return [
            int(c.params["metadata"]["event_payload"]["ticket_id"])
            for c in posts(self.h, channel)
            if "Escalation #" in c.params.get("text", "")
        ]

    def card_redraws(self) -> list[set[str]]:
        """The desk buttons each redraw of this ticket's first card offered."""
        card_ts = self.card.response["ts"]
        return [
            {b["action_id"].split(":")[1] for b in buttons(c)}
            for c in self.h.fake.of("chat.update")
            if c.params.get("ts") == card_ts
        ]


class DiscordFront:
    """Discord through discord.py's parser with raw gateway payloads and the HTTP fake."""

    name = "discord"
    evil = "@everyone refunds: [help.example/refunds](https://evil.example/login)"

    def __init__(self, h: DiscordHarness) -> None:
        self.h, self.app = h, h.app

    async def _start(self) -> None:
        self.bot = await self.h.start_bot()
        self.kim, self.rando = self.h.user("Kim"), self.h.user("Rando")
        self.staff_id = str(self.kim["id"])
        self.staff_roles = [self.h.roles[0]["id"]]

    async def escalate(self) -> int:
        await self._start()
        self.ivy, self.member_thread, ticket = await discord_escalate(self.h, self.bot, "Pat")
        self.ticket_id = int(ticket.id)
        staff_thread = self.app.desk.get(self.ticket_id).staff_thread_id
        self.card_id = staff_thread  # a thread started from the card has the card's id
        self.h.add_thread(self.bot, self.h.fake.channels[staff_thread])
        return self.ticket_id

    async def ask(self, text: str) -> None:
        await self._start()
        self.ivy = self.h.user("Pat")
        msg = self.h.say(self.bot, self.h.channels["help"]["id"], self.ivy, text)
        await self.h.settle(self.bot)
        self.member_thread = msg["id"]
        self.h.add_thread(self.bot, self.h.fake.channels[msg["id"]])

    @property
    def member_id(self) -> str:
        return str(self.ivy["id"])

    def member_texts(self) -> list[str]:
        return [c.content or "" for c in self.h.fake.posts_to(self.member_thread)]

    async def member_says(self, text: str) -> None:
        self.h.say(self.bot, self.member_thread, self.ivy, text)
        await self.h.settle(self.bot)

    async def member_press(self, action: str, member: bool = True) -> None:
        answer = [
            c for c in self.h.fake.posts_to(self.member_thread) if discord_custom_ids(self.h, c)
        ][-1]
        custom_id = next(
            i for i in discord_custom_ids(self.h, answer) if i.startswith(f"deskhand:{action}:")
        )
        self.h.press(self.bot, answer.response, custom_id, self.ivy if member else self.rando)
        await self.h.settle(self.bot)

    def staff_thread(self) -> tuple[str, str]:
        ticket = self.app.desk.get(self.ticket_id)
        return ticket.staff_channel_id, ticket.staff_thread_id

    def staff_thread_texts(self, where: tuple[str, str]) -> list[str]:
        return [c.content or "" for c in self.h.fake.posts_to(where[1])]

    async def staff_says(
        self, text: str, staff: bool = True, where: tuple[str, str] | None = None
    ) -> None:
        who, roles = (self.kim, self.staff_roles) if staff else (self.rando, None)
        thread = (where or self.staff_thread())[1]
        self.h.add_thread(self.bot, self.h.fake.channels[thread])
        self.h.say(self.bot, thread, who, text, roles=roles)
        await self.h.settle(self.bot)

    async def press(self, action: str, staff: bool = True) -> None:
        card = self.h.fake.posts_to(self.h.channels["staff"]["id"])[0].response
        who, roles = (self.kim, self.staff_roles) if staff else (self.rando, None)
        self.h.press(self.bot, card, f"deskhand:{action}:{self.ticket_id}", who, roles=roles)
        await self.h.settle(self.bot)

    async def assist(self, choice: str, staff: bool = True) -> None:
        if not hasattr(self, "draft"):  # as first shown: a second press races the first
            thread = self.h.fake.posts_to(self.card_id)
            found = next(p for p in thread if "Suggested reply (not sent yet)" in (p.content or ""))
            self.draft = copy.deepcopy(found.response)
        who, roles = (self.kim, self.staff_roles) if staff else (self.rando, None)
        custom_id = f"deskhand:assist_{choice}:{self.ticket_id}"
        self.h.press(self.bot, self.draft, custom_id, who, roles=roles)
        await self.h.settle(self.bot)

    async def rate(self, rating: int, member: bool = True) -> None:
        prompt = self.h.fake.posts_to(self.member_thread)[-1].response
        who = self.ivy if member else self.rando
        self.h.press(self.bot, prompt, f"deskhand:rate:{self.ticket_id}:{rating}", who)
        await self.h.settle(self.bot)

    def team_channel(self) -> str:
        return str(self.h.channels["staff_forum"]["id"])

    async def command(self, text: str) -> None:
        if not hasattr(self, "bot"):
            await self._start()
        staff = self.h.channels["staff"]["id"]
        self.token = self.h.slash(self.bot, staff, self.kim, text, roles=self.staff_roles)
        await self.h.settle(self.bot)

    def _answer(self, token: str) -> dict[str, Any]:
        """The message an interaction was answered with (a direct reply, or a followup)."""
        fake = self.h.fake
        follow = fake.find("POST", rf"/webhooks/{self.h.app_id}/{token}")
        if follow:
            return follow[-1].response
        callback = fake.find("POST", rf"/interactions/\d+/{token}/callback")[-1]
        return callback.response["resource"].get("message") or {}  # {}: deferred, never answered

    def command_buttons(self) -> list[tuple[str, str]]:
        """(label, command line) of the buttons under the last command's answer."""
        self.buttoned = self._answer(self.token)
        prefix = "deskhand:cmd:"
        return [
            (c["label"], c["custom_id"].removeprefix(prefix))
            for c in self.h.components(self.buttoned)
            if c["custom_id"].startswith(prefix)
        ]

    async def press_command_button(self, line: str, staff: bool = True) -> None:
        message = {**self.buttoned, "channel_id": self.h.channels["staff"]["id"]}
        who, roles = (self.kim, self.staff_roles) if staff else (self.rando, None)
        self.token = self.h.press(self.bot, message, f"deskhand:cmd:{line}", who, roles=roles)
        await self.h.settle(self.bot)

    def command_answer(self) -> str:
        """The title and text of the last answer (a press answers privately, the list stays)."""
        answer = self._answer(self.token)
        embed = (answer.get("embeds") or [{}])[0]
        return f"{embed.get('title', '')}: {embed.get('description', '')}"

    def cards_in(self, channel: str) -> list[int]:
        """Tickets whose card was posted in a channel (a message, or a forum post)."""
        found = []
        for call in self.h.fake.posts_to(channel) + self.h.fake.find(
            "POST", rf"/channels/{channel}/threads"
        ):
            data = call.json.get("message") or call.json
            for embed in data.get("embeds") or []:
                title = str(embed.get("title") or "")
                if title.startswith("Ticket #"):
                    found.append(int(title.split("#")[1].split()[0]))
        return found

    def card_redraws(self) -> list[set[str]]:
        """The desk buttons each redraw of this ticket's first card offered."""
        staff, fake = self.h.channels["staff"]["id"], self.h.fake
        edits = []
        for call in fake.calls:
            if call.method != "PATCH":
                continue
            direct = call.path == f"/channels/{staff}/messages/{self.card_id}"
            token = call.path.split("/")[3] if call.path.startswith("/webhooks/") else ""
            if direct or fake.interaction_messages.get(token) == self.card_id:
                edits.append({c["custom_id"].split(":")[1] for c in self.h.components(call.json)})
        return edits


class ConsoleFront:
    """The terminal demo: #help and a simulated #staff in one ConsoleSession."""

    name = "console"
    evil = "@everyone refunds: [help.example/refunds](https://evil.example/login)"
    staff_id = "demo-staff"

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

    async def ask(self, text: str) -> None:
        self.session.ask(text)

    @property
    def member_id(self) -> str:
        return self.session.user.user_id

    def member_texts(self) -> list[str]:
        return list(self.session.member_thread)

    async def member_says(self, text: str) -> None:
        self.session.ask(text)

    async def member_press(self, action: str, member: bool = True) -> None:
        self.session.action(action, as_visitor=not member)

    def staff_thread(self) -> tuple[str, str]:
        ticket = self.app.desk.get(self.ticket_id)
        return ticket.staff_channel_id, ticket.staff_thread_id

    def staff_thread_texts(self, where: tuple[str, str]) -> list[str]:
        return [
            text
            for channel, thread, text in self.session.staff_threads
            if (channel, thread) == where
        ]

    async def staff_says(
        self, text: str, staff: bool = True, where: tuple[str, str] | None = None
    ) -> None:
        self.session.staff_say(text, as_visitor=not staff, thread=where)

    async def press(self, action: str, staff: bool = True) -> None:
        self.session.staff_action(action, as_visitor=not staff)

    async def assist(self, choice: str, staff: bool = True) -> None:
        self.session.assist(choice, as_visitor=not staff)

    async def rate(self, rating: int, member: bool = True) -> None:
        self.session.rate(rating, as_visitor=not member)

    def team_channel(self) -> str:
        return unique("team-")

    async def command(self, text: str) -> None:
        self.session.admin(text)

    def command_buttons(self) -> list[tuple[str, str]]:
        """(label, command line) of the numbered buttons under the last admin result."""
        return [(b.label, b.line) for b in self.session.buttons]

    async def press_command_button(self, line: str, staff: bool = True) -> None:
        number = [b.line for b in self.session.buttons].index(line) + 1
        if staff:
            self.session.run_command(f"/press {number}")
        else:
            self.session.press_command(str(number), as_visitor=True)

    def command_answer(self) -> str:
        result = self.session.last_result
        return f"{result.title}: {result.text}"

    def cards_in(self, channel: str) -> list[int]:
        """Tickets whose card was shown in a simulated staff channel."""
        return [card.ticket_id for where, card in self.session.cards if where == channel]

    def card_redraws(self) -> list[set[str]]:
        """The desk commands each redraw of this ticket's card offered."""
        drawn = [card for _, card in self.session.cards if card.ticket_id == self.ticket_id][1:]
        return [console_actions(card) for card in drawn]


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
