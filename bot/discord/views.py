"""Persistent buttons: stable custom ids parsed by DynamicItem templates, so they survive restarts."""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.contracts import Button

CUSTOM_ID_LIMIT = 100
MEMBER_TEMPLATE = (
    r"deskhand:(?P<action>helpful|not_helpful|human|option):(?P<conv>\d+)(?::(?P<value>.{1,60}))?"
)
STAFF_TEMPLATE = r"deskhand:(?P<action>claim|resolve|handback):(?P<ticket>\d+)"
RATE_TEMPLATE = r"deskhand:rate:(?P<ticket>\d+):(?P<n>[1-5])"
ASSIST_TEMPLATE = r"deskhand:assist_(?P<action>send|ignore):(?P<ticket>\d+)"
COMMAND_PREFIX = "deskhand:cmd:"  # + the CommandButton's line (at most 80 chars: fits in 100)
COMMAND_TEMPLATE = r"deskhand:cmd:(?P<line>.{1,87})"
COMMAND_STYLES = {
    "primary": discord.ButtonStyle.primary,
    "secondary": discord.ButtonStyle.secondary,
    "danger": discord.ButtonStyle.danger,
}

MEMBER_STYLES = {
    "helpful": discord.ButtonStyle.success,
    "not_helpful": discord.ButtonStyle.secondary,
    "human": discord.ButtonStyle.primary,
    "option": discord.ButtonStyle.secondary,
}
STAFF_BUTTONS = (
    ("claim", "Claim", discord.ButtonStyle.primary),
    ("resolve", "Resolve", discord.ButtonStyle.success),
    ("handback", "Hand back to the bot", discord.ButtonStyle.secondary),
)
ASSIST_BUTTONS = (
    ("send", "Send as is", discord.ButtonStyle.success),
    ("ignore", "Ignore", discord.ButtonStyle.secondary),
)


def member_custom_id(action: str, conversation_id: int, value: str = "") -> str:
    """The stable id of a member button; values are article ids or '__other__'."""
    custom_id = f"deskhand:{action}:{conversation_id}"
    if value:
        custom_id += f":{value}"
    if len(custom_id) > CUSTOM_ID_LIMIT or not re.fullmatch(MEMBER_TEMPLATE, custom_id):
        raise ValueError(f"button value does not fit a custom id: {value!r}")
    return custom_id


class MemberAction(discord.ui.DynamicItem[discord.ui.Button], template=MEMBER_TEMPLATE):
    """Helpful / Not helpful / Talk to a person / a clarifying option."""

    def __init__(self, action: str, conversation_id: int, value: str = "", label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=(label or action)[:80],
                style=MEMBER_STYLES.get(action, discord.ButtonStyle.secondary),
                custom_id=member_custom_id(action, conversation_id, value),
            )
        )
        self.action, self.conversation_id, self.value = action, conversation_id, value

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> MemberAction:
        """Rebuild the button from its id alone (works on messages sent before a restart)."""
        label = getattr(item, "label", "") or ""
        return cls(match["action"], int(match["conv"]), match["value"] or "", label)

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the press to the bot."""
        await interaction.client.member_action(  # type: ignore[attr-defined]
            interaction, self.action, self.conversation_id, self.value
        )


class StaffAction(discord.ui.DynamicItem[discord.ui.Button], template=STAFF_TEMPLATE):
    """Claim / Resolve / Hand back on a ticket's context card."""

    def __init__(self, action: str, ticket_id: int, disabled: bool = False) -> None:
        label, style = next((lbl, sty) for act, lbl, sty in STAFF_BUTTONS if act == action)
        super().__init__(
            discord.ui.Button(
                label=label,
                style=style,
                custom_id=f"deskhand:{action}:{ticket_id}",
                disabled=disabled,
            )
        )
        self.action, self.ticket_id = action, ticket_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> StaffAction:
        """Rebuild from the id."""
        return cls(match["action"], int(match["ticket"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the press to the bot."""
        await interaction.client.staff_action(  # type: ignore[attr-defined]
            interaction, self.action, self.ticket_id
        )


class RateAction(discord.ui.DynamicItem[discord.ui.Button], template=RATE_TEMPLATE):
    """One of the 1-5 rating buttons shown to the member after resolution."""

    def __init__(self, ticket_id: int, rating: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=str(rating),
                style=discord.ButtonStyle.secondary,
                custom_id=f"deskhand:rate:{ticket_id}:{rating}",
            )
        )
        self.ticket_id, self.rating = ticket_id, rating

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> RateAction:
        """Rebuild from the id."""
        return cls(int(match["ticket"]), int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the press to the bot."""
        await interaction.client.rate_action(  # type: ignore[attr-defined]
            interaction, self.ticket_id, self.rating
        )


class AssistAction(discord.ui.DynamicItem[discord.ui.Button], template=ASSIST_TEMPLATE):
    """Send as is / Ignore on a suggested reply in a ticket's staff thread."""

    def __init__(self, action: str, ticket_id: int) -> None:
        label, style = next((lbl, sty) for act, lbl, sty in ASSIST_BUTTONS if act == action)
        super().__init__(
            discord.ui.Button(
                label=label, style=style, custom_id=f"deskhand:assist_{action}:{ticket_id}"
            )
        )
        self.action, self.ticket_id = action, ticket_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AssistAction:
        """Rebuild from the id."""
        return cls(match["action"], int(match["ticket"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the press to the bot."""
        await interaction.client.assist_action(  # type: ignore[attr-defined]
            interaction, self.action, self.ticket_id
        )


class CommandAction(discord.ui.DynamicItem[discord.ui.Button], template=COMMAND_TEMPLATE):
    """A button under an admin result: its id carries the command line the admin layer runs
    (parsed and authorised as if the presser typed it), so it survives restarts."""

    def __init__(self, line: str, label: str = "", style: str = "secondary") -> None:
        custom_id = f"{COMMAND_PREFIX}{line}"
        if len(custom_id) > CUSTOM_ID_LIMIT:
            raise ValueError(f"command does not fit a custom id: {line!r}")
        super().__init__(
            discord.ui.Button(
                label=(label or line)[:80],
                style=COMMAND_STYLES.get(style, discord.ButtonStyle.secondary),
                custom_id=custom_id,
            )
        )
        self.line = line

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CommandAction:
        """Rebuild from the id."""
        return cls(match["line"], getattr(item, "label", "") or "")

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the press to the bot."""
        await interaction.client.command_button(interaction, self.line)  # type: ignore[attr-defined]


DYNAMIC_ITEMS = (MemberAction, StaffAction, RateAction, AssistAction, CommandAction)


def member_view(buttons: list[Button], conversation_id: int | None) -> discord.ui.View | None:
    """A persistent view for a reply's buttons (None when there are none)."""
    if not buttons or conversation_id is None:
        return None
    view = discord.ui.View(timeout=None)
    seen: set[str] = set()
    for button in buttons[:25]:
        try:
            item = MemberAction(button.action, conversation_id, button.value, button.label)
        except ValueError:
            continue
        if item.custom_id not in seen:
            seen.add(item.custom_id)
            view.add_item(item)
    return view if seen else None


def staff_view(ticket_id: int, status: str = "open") -> discord.ui.View | None:
    """Claim / Resolve / Hand back, or nothing once the ticket is closed."""
    if status in ("resolved", "handed_back"):
        return None
    view = discord.ui.View(timeout=None)
    for action, _, _ in STAFF_BUTTONS:
        view.add_item(
            StaffAction(action, ticket_id, disabled=action == "claim" and status == "claimed")
        )
    return view


def rating_view(ticket_id: int) -> discord.ui.View:
    """Five persistent rating buttons."""
    view = discord.ui.View(timeout=None)
    for n in range(1, 6):
        view.add_item(RateAction(ticket_id, n))
    return view


def command_view(buttons: list[Any]) -> discord.ui.View | None:
    """A persistent view for an admin result's CommandButtons (None when there are none)."""
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in buttons[:5]:  # one action row
        view.add_item(CommandAction(button.line, button.label, button.style))
    return view


def assist_view(ticket_id: int) -> discord.ui.View:
    """Send as is / Ignore for a suggested reply."""
    view = discord.ui.View(timeout=None)
    for action, _, _ in ASSIST_BUTTONS:
        view.add_item(AssistAction(action, ticket_id))
    return view
