"""Discord's way into the durable inbox: gateway messages and interactions are stored first.

Translation only. The raw gateway payload of a message or interaction is written to the core
inbox (bot/inbox.py, unique on Discord's own id) before anything else happens; an interaction is
deferred right after the write. The core workers drain the inbox in per-thread order, and each
stored payload becomes a real discord.py object again for the same handlers, in this process or
in the next one after a crash.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord
from discord.state import ConnectionState

from bot.inbox import Handback, Inbox, InboxEvent, InboxWorker, lease_seconds

if TYPE_CHECKING:
    from bot.discord.client import DeskhandBot

log = logging.getLogger(__name__)
PLATFORM = "discord"
RAW_KEEP = 2000  # raw payloads remembered between the parser and the listener
GUILD_WAIT_S = 30.0  # after a restart, stored events wait this long for the guild to be cached
DEFERRED = {  # how each stored interaction was acknowledged before its work was queued
    "button": discord.InteractionResponseType.deferred_message_update,
    "command": discord.InteractionResponseType.deferred_channel_message,
    "form": discord.InteractionResponseType.deferred_channel_message,
}


class InboxState(ConnectionState):
    """discord.py's parser, remembering raw message and interaction payloads for the inbox."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.raw_payloads: OrderedDict[int, dict[str, Any]] = OrderedDict()
        super().__init__(*args, **kwargs)

    def remember(self, data: dict[str, Any]) -> None:
        """Keep a payload by its id (bounded: only events still on their way to a listener)."""
        self.raw_payloads[int(data["id"])] = data
        while len(self.raw_payloads) > RAW_KEEP:
            self.raw_payloads.popitem(last=False)

    def raw(self, object_id: int) -> dict[str, Any] | None:
        """The payload a message or interaction was parsed from (taken: one listener stores it)."""
        return self.raw_payloads.pop(object_id, None)

    def parse_message_create(self, data: Any) -> None:
        """MESSAGE_CREATE: remember the payload, then parse as usual."""
        self.remember(data)
        super().parse_message_create(data)

    def parse_interaction_create(self, data: Any) -> None:
        """INTERACTION_CREATE: remember the payload, then parse as usual."""
        self.remember(data)
        super().parse_interaction_create(data)


class ResumedResponse(discord.InteractionResponse):
    """The response of an interaction rebuilt from the inbox: it was deferred before it was queued.

    A handler's `defer()` is then a no-op, and a first `send_message` becomes a followup, so the
    handlers read the same whether they run at once, later, or after a restart.
    """

    def __init__(self, parent: discord.Interaction, event: InboxEvent) -> None:
        super().__init__(parent)
        self._response_type = DEFERRED.get(event.kind, DEFERRED["button"])
        self.event = event

    async def defer(self, **_: Any) -> None:
        """Already deferred when the interaction was stored."""
        return None

    async def send_message(self, content: Any = None, **kwargs: Any) -> None:  # type: ignore[override]
        """A followup, since the interaction was acknowledged with a defer."""
        kwargs.pop("delete_after", None)
        await self._parent.followup.send(content, **kwargs)

    async def edit_message(self, **kwargs: Any) -> None:
        """Edit the message the interaction came from."""
        kwargs.pop("delete_after", None)
        await self._parent.edit_original_response(**kwargs)


def event_of(interaction: discord.Interaction) -> InboxEvent | None:
    """The inbox event behind an interaction a worker is handling (None in the listener)."""
    response = interaction.response
    return response.event if isinstance(response, ResumedResponse) else None


def thread_lane(parent_id: int | str | None, thread_id: int | str) -> str:
    """A thread's lane: the same key as its conversation or ticket thread."""
    return f"{parent_id}:{thread_id}"


def interaction_lane(interaction: discord.Interaction) -> str:
    """Buttons run in order with the messages of the thread they were pressed in."""
    channel = interaction.channel
    if isinstance(channel, discord.Thread):
        return thread_lane(channel.parent_id, channel.id)
    if interaction.message is not None and interaction.channel_id:
        return thread_lane(interaction.channel_id, interaction.message.id)
    return ""


def command_text(data: dict[str, Any]) -> str:
    """The `command` option of a stored `/deskhand` interaction."""
    for option in (data.get("data") or {}).get("options") or []:
        if option.get("name") == "command":
            return str(option.get("value") or "help")
    return "help"


class DiscordInbox:
    """Accept (listener side) and process (worker side) Discord events through the core inbox."""

    def __init__(self, bot: DeskhandBot, workers: int = 4) -> None:
        self.bot = bot
        self.inbox = Inbox(bot.app.engine)
        self.worker = InboxWorker(self.inbox, PLATFORM, self._work, workers=max(1, workers))
        self.enabled = workers > 0
        self._order: dict[int, asyncio.Lock] = {}
        # The accept path gets its own threads: the 3 s interaction budget never waits behind
        # answers the workers are computing on the loop's default executor.
        self._accept_pool = concurrent.futures.ThreadPoolExecutor(2, "deskhand-discord-accept")

    # ---- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start draining; this resumes whatever an earlier process accepted but did not finish."""
        if self.enabled:
            self.worker.start()

    async def stop(self, timeout: float) -> int:
        """Stop claiming, let work in flight finish for `timeout`, hand the rest back."""
        if not self.worker.running:
            return 0
        return await asyncio.to_thread(self.worker.stop, timeout)

    async def wait_idle(self, timeout: float = 60.0) -> bool:
        """True once nothing accepted is left to do (tests, shutdown)."""
        return await asyncio.to_thread(self.worker.wait_idle, timeout)

    # ---- listener side: store first ------------------------------------------------------------
    async def off_loop(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a blocking call of the accept path (database) on the accept threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._accept_pool, functools.partial(fn, *args, **kwargs))

    def arrival_order(self, channel_id: int) -> asyncio.Lock:
        """Per channel, listeners store events in gateway order (take it before any other await)."""
        if len(self._order) > 5000:
            for stale in [k for k, lock in self._order.items() if not lock.locked()][:2500]:
                del self._order[stale]
        return self._order.setdefault(channel_id, asyncio.Lock())

    async def accept_message(self, message: discord.Message, lane: str) -> bool:
        """Store one gateway message (content redacted); False for a repeat (RESUME, restart)."""
        data = self._raw(message.id)
        if data is None:
            return False
        event_id = await self.off_loop(
            self.inbox.insert,
            PLATFORM,
            f"msg:{message.id}",
            "message",
            data,
            lane,
            text_keys=("content",),
        )
        if event_id is None:
            log.info("discord message %s was accepted before; not again", message.id)
            return False
        self.worker.notify()
        return True

    async def accept_interaction(
        self,
        interaction: discord.Interaction,
        kind: str,
        lane: str = "",
        extra: dict[str, Any] | None = None,
        inline: bool = False,
    ) -> int | None:
        """Store an interaction, then (not inline) defer it and queue the work.

        Inline events are stored already claimed by this process, which does the work at once
        (a modal must be the first response); if the process dies, the lease runs out and a
        worker resumes them. Returns the event id, None for a repeat.
        """
        data = self._raw(interaction.id)
        if data is None:
            return None
        payload = {"data": data, **(extra or {})}
        event_id = await self.off_loop(
            self.inbox.insert,
            PLATFORM,
            f"interaction:{interaction.id}",
            kind,
            payload,
            lane,
            owner=self.worker.owner if inline else "",
        )
        if event_id is None:
            log.info("discord interaction %s was accepted before; not again", interaction.id)
            return None
        if not inline:
            await interaction.response.defer()
            self.worker.notify()
        return event_id

    async def run_inline(self, event_id: int, work: Awaitable[Any]) -> None:
        """Do an inline event's work now, keeping its lease alive, and settle it."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(lease_seconds() / 3)
                await asyncio.to_thread(self.inbox.renew, [event_id])

        keeper = asyncio.create_task(renew())
        try:
            await work
        except discord.HTTPException:
            log.exception("discord event %s: done, but its answer could not be sent", event_id)
            await asyncio.to_thread(self.inbox.done, event_id)
        except Exception as exc:
            await asyncio.to_thread(self.inbox.failed, event_id, f"{type(exc).__name__}: {exc}")
            raise
        else:
            await asyncio.to_thread(self.inbox.done, event_id)
        finally:
            keeper.cancel()

    def _raw(self, object_id: int) -> dict[str, Any] | None:
        state = self.bot._connection
        data = state.raw(object_id) if isinstance(state, InboxState) else None
        if data is None:
            log.error("no raw payload for discord event %s; it cannot be stored", object_id)
        return data

    # ---- worker side: rebuild and handle ---------------------------------------------------------
    def _work(self, event: InboxEvent) -> None:
        """Run one stored event on the client's event loop (called from an inbox worker thread)."""
        if self.bot.is_closed():
            raise Handback("client closed")
        try:
            future = asyncio.run_coroutine_threadsafe(self.process(event), self.bot.loop)
        except RuntimeError as exc:  # the loop is closed: the next start takes the event
            raise Handback(str(exc)) from exc
        try:
            future.result()
        except (concurrent.futures.CancelledError, asyncio.CancelledError) as exc:
            raise Handback("cancelled") from exc

    async def process(self, event: InboxEvent) -> None:
        """Handle one stored message or interaction with the same code as a live one."""
        from bot.discord import commands, member

        payload = json.loads(event.payload)
        if event.kind == "message":
            message = await self._message(payload)
            await member.handle_message(self.bot, message, event)
            return
        data = payload["data"]
        interaction = await self._interaction(data, event)
        try:
            if event.kind == "button":
                await self._press(interaction, data)
            elif event.kind == "command":
                await commands.run_deskhand(self.bot, interaction, payload.get("text") or "help")
            elif event.kind == "form":
                await commands.submit_form(
                    self.bot, interaction, payload["command"], payload.get("values") or {}
                )
            else:
                log.error("unknown discord inbox kind %r; dropped", event.kind)
        except discord.HTTPException as exc:  # the work is done; only the answer was lost
            log.warning("discord interaction %s: answer not sent (%s)", interaction.id, exc)

    async def _guild_ready(self, guild_id: int | None) -> None:
        """After a restart, stored events wait for GUILD_CREATE (members, roles, channels)."""
        if guild_id is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GUILD_WAIT_S
        while self.bot.get_guild(guild_id) is None:
            if loop.time() > deadline:
                raise RuntimeError(f"guild {guild_id} is not available yet")
            await asyncio.sleep(0.1)

    async def _message(self, data: dict[str, Any]) -> discord.Message:
        state = self.bot._connection
        await self._guild_ready(_snowflake(data.get("guild_id")))
        channel, _ = state._get_guild_channel(data)  # type: ignore[arg-type]  # as the parser does
        return discord.Message(state=state, channel=channel, data=data)  # type: ignore[arg-type]

    async def _interaction(self, data: dict[str, Any], event: InboxEvent) -> discord.Interaction:
        await self._guild_ready(_snowflake(data.get("guild_id")))
        interaction: discord.Interaction = discord.Interaction(
            data=data,  # type: ignore[arg-type]
            state=self.bot._connection,
        )
        interaction._cs_response = ResumedResponse(interaction, event)  # type: ignore[attr-defined]
        return interaction

    async def _press(self, interaction: discord.Interaction, data: dict[str, Any]) -> None:
        """A stored button press: the persistent item its custom id names, called as live."""
        from bot.discord import views

        custom_id = str((data.get("data") or {}).get("custom_id") or "")
        for cls in views.DYNAMIC_ITEMS:
            match = cls.__discord_ui_compiled_template__.fullmatch(custom_id)
            if match is None:
                continue
            button: discord.ui.Button = discord.ui.Button(custom_id=custom_id)
            item = await cls.from_custom_id(interaction, button, match)
            callback: Callable[[discord.Interaction], Awaitable[Any]] = item.callback
            await callback(interaction)
            return
        log.warning("stored button %r matches no Deskhand button; dropped", custom_id)


def _snowflake(value: Any) -> int | None:
    return int(value) if value else None
