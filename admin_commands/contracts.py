"""Platform-neutral types the Slack and Discord adapters bind: who called, and what to show back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.policy import Actor

Role = Literal["admin", "staff", "member"]
ButtonStyle = Literal["primary", "secondary", "danger"]
BUTTON_LINE_LIMIT = 80  # a button's command line; Discord custom ids hold 100 chars with the prefix
MAX_BUTTONS = 5  # buttons under one result (one Discord action row, one compact Slack block)


@dataclass(frozen=True)
class Caller:
    """Who ran `/deskhand`, as the adapter knows them; the layer derives the role from this."""

    platform: str  # "slack" | "discord" | "console"
    user_id: str
    display_name: str = ""
    roles: tuple[str, ...] = ()  # Discord guild role names or ids (Slack: user group ids, if any)
    is_guild_admin: bool = False  # Discord Manage Server / Administrator
    channel_id: str = ""  # where the command was run: the default target of channel commands

    def as_actor(self) -> Actor:
        """The policy's view of this caller."""
        return Actor(
            platform=self.platform,
            user_id=self.user_id,
            display_name=self.display_name,
            roles=tuple(self.roles),
            is_guild_admin=self.is_guild_admin,
        )

    @property
    def actor(self) -> str:
        """How this caller appears in the audit log (the policy's format)."""
        return self.as_actor().ref


@dataclass(frozen=True)
class ModalField:
    """One input of a modal form; `name` is the key in the values dict sent back on submit."""

    name: str
    label: str
    multiline: bool = False
    required: bool = True
    default: str = ""


@dataclass(frozen=True)
class ModalSpec:
    """A form the adapter shows; on submit it calls run_command_form(app, caller, command, values)."""

    command: str  # opaque to adapters, e.g. "kb add" or "kb edit 12"; max 100 chars
    title: str  # short (Slack: <= 24 chars, Discord: <= 45)
    fields: list[ModalField] = field(default_factory=list)


@dataclass(frozen=True)
class CommandButton:
    """A button under a result: pressing it runs `command` as the presser, through `run_press`.

    The press goes through the same parser, permission check and audit as typing the command,
    so a button grants nothing the presser could not type. Adapters carry `line` verbatim.
    """

    label: str
    command: tuple[str, ...]  # the words after `/deskhand`, e.g. ("gaps", "draft", "2")
    style: ButtonStyle = "secondary"

    def __post_init__(self) -> None:
        if not self.command or not all(word.strip() for word in self.command):
            raise ValueError("a button needs a command")
        if any('"' in word for word in self.command):
            raise ValueError("button command words cannot contain double quotes")
        if len(self.line) > BUTTON_LINE_LIMIT:
            raise ValueError(f"button command longer than {BUTTON_LINE_LIMIT} chars: {self.line!r}")

    @property
    def line(self) -> str:
        """The command line the press runs (words with spaces quoted for the one parser)."""
        return " ".join(f'"{word}"' if " " in word else word for word in self.command)


@dataclass
class CommandResult:
    """What a command produced; each platform renders it in its own idiom."""

    ok: bool
    title: str
    text: str  # Markdown-ish plain text: **bold**, `code`, "- " bullets, newlines
    fields: list[tuple[str, str]] = field(default_factory=list)  # (name, value) pairs
    table: list[list[str]] | None = None  # first row is the header
    image_png: bytes | None = None  # a chart to show inline
    image_name: str = ""  # file name for the image, e.g. "deskhand-stats.png"
    ephemeral: bool = True  # visible only to the caller where the platform allows
    modal: ModalSpec | None = None  # when set: open this modal instead of posting text
    usage: str = ""  # the usage line of the command (set on argument errors)
    deliver_now: bool = False  # the command queued posts in the outbox: adapters send them now
    buttons: list[CommandButton] = field(default_factory=list)  # at most MAX_BUTTONS, in order
