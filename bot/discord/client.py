"""DeskhandBot: the discord.py client; receives gateway events and defers to plain modules."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.state import ConnectionState

from bot.config import Config
from bot.discord import commands, delivery, member, staff, views
from bot.discord.inbox import DiscordInbox, InboxState, event_of, interaction_lane
from bot.discord.people import interaction_actor
from bot.inbox import stop_grace_s

if TYPE_CHECKING:  # adapters receive the running app
    from bot.app import Deskhand

log = logging.getLogger(__name__)
SEEN_TTL_S = 3600.0
SEEN_MAX = 10_000


def default_intents() -> discord.Intents:
    """Guilds + messages + message content (privileged: needed to read help-channel questions)."""
    intents = discord.Intents.default()
    intents.message_content = True
    return intents


class DeskhandBot(discord.Client):
    """One Deskhand app on Discord: member threads, staff tickets, `/deskhand`, outbox retries."""

    def __init__(
        self,
        app: Deskhand,
        *,
        intents: discord.Intents | None = None,
        outbox_interval_s: float | None = 15.0,
        sync_commands: bool = True,
        inbox_workers: int = 4,
        **options: Any,
    ) -> None:
        options.setdefault("max_ratelimit_timeout", 30.0)  # longer waits go to the outbox
        options.setdefault("allowed_mentions", discord.AllowedMentions.none())
        super().__init__(intents=intents or default_intents(), **options)
        self.app = app
        self.tree = app_commands.CommandTree(self)
        self.outbox_interval_s = outbox_interval_s
        self.sync_commands = sync_commands
        self.inflight: set[asyncio.Task] = set()
        self._seen: OrderedDict[int, float] = OrderedDict()
        self._retry_task: asyncio.Task | None = None
        self.inbox = DiscordInbox(self, inbox_workers)
        commands.register(self)

    def _get_state(self, **options: Any) -> ConnectionState[Any]:
        """discord.py's connection state, keeping raw payloads so events can be stored first."""
        return InboxState(
            dispatch=self.dispatch,
            handlers=self._handlers,
            hooks=self._hooks,
            http=self.http,
            **options,
        )

    # ---- lifecycle -------------------------------------------------------------------------
    async def setup_hook(self) -> None:
        """Register persistent buttons, sync `/deskhand` to the configured guilds, start retries."""
        self.add_dynamic_items(*views.DYNAMIC_ITEMS)
        if self.sync_commands:
            await self.sync_tree()
        if self.outbox_interval_s:
            self._retry_task = asyncio.create_task(
                delivery.retry_loop(self, self.outbox_interval_s), name="deskhand-outbox"
            )
        self.inbox.start()  # resumes what an earlier process accepted but did not finish

    async def sync_tree(self) -> None:
        """Guild sync is instant; global sync (no DISCORD_GUILDS) can take up to an hour."""
        guilds = Config.split(self.app.config.discord_guilds)
        try:
            for guild_id in guilds:
                guild = discord.Object(id=int(guild_id))
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
            if not guilds:
                await self.tree.sync()
        except discord.HTTPException:
            log.exception("could not sync /deskhand; commands may be stale")

    async def close(self) -> None:
        """Let inbox work in flight finish (bounded), hand back the rest, stop the retry loop."""
        left = await self.inbox.stop(stop_grace_s())
        if left:
            log.warning("%d discord events handed back to the inbox for the next start", left)
        if self._retry_task is not None:
            self._retry_task.cancel()
        await super().close()

    def _schedule_event(
        self, coro: Any, event_name: str, *args: Any, **kwargs: Any
    ) -> asyncio.Task:
        """Track event handlers so shutdown and tests can wait for work in flight."""
        task = super()._schedule_event(coro, event_name, *args, **kwargs)
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)
        return task

    # ---- events ----------------------------------------------------------------------------
    async def on_ready(self) -> None:
        """Log where we are."""
        log.info("Deskhand connected to Discord as %s in %d guilds", self.user, len(self.guilds))

    async def on_resumed(self) -> None:
        """Replayed events after RESUME are no-ops: the inbox is unique on Discord's ids."""
        log.info("gateway session resumed")

    async def on_message(self, message: discord.Message) -> None:
        """Every message the bot should see is stored in the inbox; a worker handles it."""
        await member.on_message(self, message)

    # ---- buttons (called by the DynamicItems: live to store, from the inbox to handle) ------
    async def accepted(self, interaction: discord.Interaction, staff_button: str = "") -> bool:
        """Live press: store it, defer it, queue it (True). From the inbox: False, handle it.

        A staff button pressed by someone the policy refuses is answered at once, privately
        (nothing to store); the worker checks again with the state it finds.
        """
        if event_of(interaction) is not None:
            return False
        if staff_button:
            actor = await self.inbox.off_loop(interaction_actor, self.app, interaction)
            verdict = await self.inbox.off_loop(self.app.policy.may_press, actor, staff_button)
            if not verdict:
                await interaction.response.send_message(verdict.reason, ephemeral=True)
                return True
        await self.inbox.accept_interaction(interaction, "button", interaction_lane(interaction))
        return True

    async def member_action(
        self, interaction: discord.Interaction, action: str, conversation_id: int, value: str
    ) -> None:
        """A member button."""
        if not await self.accepted(interaction):
            await member.member_action(self, interaction, action, conversation_id, value)

    async def staff_action(
        self, interaction: discord.Interaction, action: str, ticket_id: int
    ) -> None:
        """A staff button on a ticket card."""
        if not await self.accepted(interaction, staff_button=action):
            await staff.staff_action(self, interaction, action, ticket_id)

    async def assist_action(
        self, interaction: discord.Interaction, action: str, ticket_id: int
    ) -> None:
        """Send as is / Ignore on a suggested reply."""
        if not await self.accepted(interaction, staff_button=f"assist_{action}"):
            await staff.assist_action(self, interaction, action, ticket_id)

    async def rate_action(
        self, interaction: discord.Interaction, ticket_id: int, rating: int
    ) -> None:
        """A rating button."""
        if not await self.accepted(interaction):
            await staff.rate_action(self, interaction, ticket_id, rating)

    async def command_button(self, interaction: discord.Interaction, line: str) -> None:
        """A button under an admin result (the admin layer decides who may run it)."""
        if not await self.accepted(interaction):
            await commands.press(self, interaction, line)

    # ---- helpers ---------------------------------------------------------------------------
    def role_of(self, interaction: discord.Interaction) -> str:
        """admin | staff | member for whoever pressed or typed."""
        return commands.role_of(self.app, interaction)

    def first_sighting(self, message_id: int) -> bool:
        """False for a message id seen in the last hour (gateway replays after RESUME)."""
        now = time.monotonic()
        while self._seen and (
            len(self._seen) > SEEN_MAX or now - next(iter(self._seen.values())) > SEEN_TTL_S
        ):
            self._seen.popitem(last=False)
        if message_id in self._seen:
            return False
        self._seen[message_id] = now
        return True

    async def deliver_pending(self) -> int:
        """Retry parked side effects now."""
        return await delivery.deliver_pending(self)
