"""`/deskhand` as an application command: hand the text to admin_commands, answer within 3 s."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from admin_commands import Caller, CommandResult, run_command, run_command_form, run_press
from admin_commands import role_of as admin_role_of
from bot.contracts import Renderable
from bot.discord import render, views

if TYPE_CHECKING:
    from bot.app import Deskhand
    from bot.discord.client import DeskhandBot

log = logging.getLogger(__name__)
FAST_PATH_S = 2.0  # answer directly if the command is this quick, else defer (Discord allows 3 s)


def run(app: Deskhand, caller: Caller, text: str) -> CommandResult:
    """Hand the command text to the admin layer."""
    return run_command(app, caller, text)


def caller_of(interaction: discord.Interaction) -> Caller:
    """Who ran the command: roles by name and id, Manage Server meaning guild admin."""
    user = interaction.user
    roles: list[str] = []
    for role in getattr(user, "roles", []):
        if not role.is_default():
            roles += [role.name, str(role.id)]
    perms = interaction.permissions
    channel = interaction.channel
    channel_id = getattr(channel, "parent_id", None) or interaction.channel_id or ""
    return Caller(
        platform="discord",
        user_id=str(user.id),
        display_name=user.display_name,
        roles=tuple(roles),
        is_guild_admin=bool(perms.manage_guild or perms.administrator),
        channel_id=str(channel_id),
    )


def role_of(app: Deskhand, interaction: discord.Interaction) -> str:
    """admin | staff | member, decided by the admin layer (one rule for every platform)."""
    return admin_role_of(app, caller_of(interaction))


def table_text(table: list[list[str]]) -> str:
    """A table as an aligned monospace block."""
    widths = [max(len(str(row[i])) for row in table if i < len(row)) for i in range(len(table[0]))]
    lines = []
    for n, row in enumerate(table):
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def result_message(result: CommandResult) -> dict[str, Any]:
    """Render a CommandResult as send kwargs: the embed, plus a view for its buttons."""
    kwargs = embed_message(result)
    view = views.command_view(result.buttons)
    if view is not None:
        kwargs["view"] = view
    return kwargs


def embed_message(result: Renderable) -> dict[str, Any]:
    """Send kwargs for an embed, a table block and an attached chart."""
    colour = discord.Colour.green() if result.ok else discord.Colour.red()
    description = result.text or ""
    if result.usage and not result.ok:
        description += f"\n\nUsage: `{result.usage}`"
    files: list[discord.File] = []
    if result.table:
        block = f"```\n{table_text(result.table)}\n```"
        if len(description) + len(block) + 2 <= render.EMBED_DESCRIPTION_LIMIT:
            description = f"{description}\n{block}".strip()
        else:
            data = "\n".join(",".join(str(c) for c in row) for row in result.table)
            files.append(discord.File(io.BytesIO(data.encode()), filename="deskhand-table.csv"))
    embed = discord.Embed(
        title=render.clip(result.title or "Deskhand", 256),
        description=render.clip(description, render.EMBED_DESCRIPTION_LIMIT),
        colour=colour,
    )
    for name, value in (result.fields or [])[:25]:
        embed.add_field(
            name=render.clip(str(name), 256), value=render.clip(str(value), 1024) or "—"
        )
    if result.image_png:
        name = result.image_name or "deskhand.png"
        files.append(discord.File(io.BytesIO(result.image_png), filename=name))
        embed.set_image(url=f"attachment://{name}")
    kwargs: dict[str, Any] = {"embed": embed, "allowed_mentions": render.NO_MENTIONS}
    if files:
        kwargs["files"] = files
    return kwargs


class CommandForm(discord.ui.Modal):
    """A modal built from the admin layer's ModalSpec (e.g. a multi-line `kb add`)."""

    def __init__(self, bot: DeskhandBot, spec: Any) -> None:
        super().__init__(title=render.clip(spec.title, 45), timeout=900)
        self.bot, self.spec = bot, spec
        self.inputs: dict[str, discord.ui.TextInput] = {}
        for f in spec.fields[:5]:
            text_input: discord.ui.TextInput = discord.ui.TextInput(
                label=render.clip(f.label, 45),
                custom_id=f.name[:100],
                style=discord.TextStyle.paragraph if f.multiline else discord.TextStyle.short,
                required=f.required,
                default=f.default or None,
                max_length=4000 if f.multiline else 400,
            )
            self.inputs[f.name] = text_input
            self.add_item(text_input)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Store the submission (command + typed values), then run it at once."""
        values = {name: str(inp.value or "") for name, inp in self.inputs.items()}
        extra = {"command": self.spec.command, "values": values}
        event_id = await self.bot.inbox.accept_interaction(interaction, "form", "", extra, True)
        if event_id is not None:
            work = submit_form(self.bot, interaction, self.spec.command, values)
            await self.bot.inbox.run_inline(event_id, work)


async def submit_form(
    bot: DeskhandBot, interaction: discord.Interaction, command: str, values: dict[str, str]
) -> None:
    """Run a form's command with the typed values (live, or resumed from the inbox)."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    caller = caller_of(interaction)
    result = await asyncio.to_thread(run_command_form, bot.app, caller, command, values)
    await interaction.followup.send(ephemeral=True, **result_message(result))


class OpenForm(discord.ui.View):
    """When the command was slow and already deferred, a button opens the form instead."""

    def __init__(self, bot: DeskhandBot, spec: Any) -> None:
        super().__init__(timeout=900)
        self.bot, self.spec = bot, spec

    @discord.ui.button(label="Open form", style=discord.ButtonStyle.primary)
    async def open(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        """Modals can only answer an interaction, so this press opens it."""
        await interaction.response.send_modal(CommandForm(self.bot, self.spec))


async def respond(
    bot: DeskhandBot, interaction: discord.Interaction, result: CommandResult
) -> None:
    """Deliver a result: a modal, or an (ephemeral) embed with any chart attached."""
    if result.modal is not None:
        if not interaction.response.is_done():
            await interaction.response.send_modal(CommandForm(bot, result.modal))
        else:
            await interaction.followup.send(
                result.text or "Fill in the form:", view=OpenForm(bot, result.modal), ephemeral=True
            )
        return
    kwargs = result_message(result)
    if interaction.response.is_done():
        await interaction.followup.send(ephemeral=True, **kwargs)
    else:
        await interaction.response.send_message(ephemeral=result.ephemeral, **kwargs)


async def accept_deskhand(bot: DeskhandBot, interaction: discord.Interaction, text: str) -> None:
    """Store `/deskhand` first, then run it at once (a form must be the first response)."""
    event_id = await bot.inbox.accept_interaction(interaction, "command", "", {"text": text}, True)
    if event_id is not None:
        await bot.inbox.run_inline(event_id, run_deskhand(bot, interaction, text))


async def run_deskhand(bot: DeskhandBot, interaction: discord.Interaction, text: str) -> None:
    """Run a command line, answering directly when quick and deferring otherwise."""
    caller = caller_of(interaction)
    task = asyncio.ensure_future(asyncio.to_thread(run, bot.app, caller, text))
    try:
        if interaction.response.is_done():  # resumed from the inbox: deferred when stored
            raise TimeoutError
        result = await asyncio.wait_for(asyncio.shield(task), timeout=FAST_PATH_S)
    except TimeoutError:
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await task
    await respond(bot, interaction, result)
    if getattr(result, "deliver_now", False):
        try:  # the command queued posts (a moved card, notices): send them now
            await bot.deliver_pending()
        except Exception:
            log.exception("delivering a command's queued posts failed; the retry loop will")


async def press(bot: DeskhandBot, interaction: discord.Interaction, line: str) -> None:
    """A CommandButton pressed (stored and deferred first): the admin layer runs its command as
    the presser, and the result is answered privately like a typed command's."""
    result = await asyncio.to_thread(run_press, bot.app, caller_of(interaction), line)
    await respond(bot, interaction, result)
    if result.deliver_now:
        try:
            await bot.deliver_pending()
        except Exception:
            log.exception("delivering a command's queued posts failed; the retry loop will")


def register(bot: DeskhandBot) -> None:
    """Add `/deskhand` to the bot's command tree."""

    @app_commands.command(name="deskhand", description="Deskhand admin and staff commands")
    @app_commands.describe(command="e.g. help, stats, kb search refunds, channel enable")
    async def deskhand(interaction: discord.Interaction, command: str = "help") -> None:
        await accept_deskhand(bot, interaction, command)

    bot.tree.add_command(deskhand)
