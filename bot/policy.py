"""One policy for every platform: help channels, who is staff, who may press what, safe staff text.

Adapters ask; they never decide. Every refusal (a command, a button, a staff-thread reply) is
written to the audit trail with who was refused and why.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.audit import record_audit
from bot.config import Config
from bot.models import Ticket
from bot.runtime_settings import SettingsStore

log = logging.getLogger(__name__)
Role = Literal["member", "staff", "admin"]
RANK: dict[str, int] = {"member": 0, "staff": 1, "admin": 2}
# Buttons under a bot answer or a rating prompt: only the member who asked may press them.
MEMBER_BUTTONS = frozenset({"helpful", "not_helpful", "human", "option", "none_fit", "rate"})
# Buttons on an escalation card or a drafted reply: only staff may press them.
STAFF_BUTTONS = frozenset({"claim", "resolve", "handback", "assist_send", "assist_ignore"})
CONSOLE_OPERATORS = frozenset({"cli", "admin"})  # the person at the terminal runs the bot
GROUP_CACHE_S = 300.0

_MASKED_LINK = re.compile(r"\[([^\[\]\n]+)\]\(\s*<?(https?://[^\s)>]+)>?\s*\)")
_ANGLE_LINK = re.compile(r"<(https?://[^\s|<>]+)\|([^<>]*)>")
_MASS_MENTION = re.compile(r"([@!])(everyone|here|channel)\b", re.IGNORECASE)
_ANGLE_MASS = re.compile(r"<!(everyone|here|channel)(?:\^[^|>]*)?(?:\|[^>]*)?>", re.IGNORECASE)
ZWSP = "\u200b"


@dataclass(frozen=True)
class Actor:
    """Someone acting on a platform, as the adapter saw them."""

    platform: str  # "slack" | "discord" | "console"
    user_id: str
    display_name: str = ""
    roles: tuple[str, ...] = ()  # Discord role names or ids; Slack user group ids if known
    is_guild_admin: bool = False  # Discord Manage Server / Administrator
    in_staff_channel: bool = False  # they posted or pressed inside the staff channel

    @property
    def ref(self) -> str:
        """How this actor appears in the audit log."""
        name = f" ({self.display_name})" if self.display_name else ""
        return f"{self.platform}:{self.user_id}{name}"


@dataclass(frozen=True)
class Verdict:
    """Allowed, or refused with a message fit to show the refused user privately."""

    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Verdict(True)


class GroupDirectory(Protocol):
    """A platform's user groups (Slack usergroups): who belongs to a group id."""

    def members(self, group_id: str) -> set[str]:
        """User ids in the group (empty when unknown)."""
        ...


class CachedGroups:
    """Wrap a group lookup with a time-based cache so role checks don't call the API each time."""

    def __init__(self, lookup: Callable[[str], Iterable[str]], ttl_s: float = GROUP_CACHE_S):
        self.lookup = lookup
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, set[str]]] = {}
        self._lock = threading.Lock()

    def members(self, group_id: str) -> set[str]:
        """Members of the group, from the cache when fresh; an API failure counts as nobody."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(group_id)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        try:
            found = {str(u) for u in self.lookup(group_id)}
        except Exception as exc:  # a failing lookup must not grant anything
            log.warning("could not list members of group %s: %s", group_id, exc)
            return hit[1] if hit is not None else set()
        with self._lock:
            self._cache[group_id] = (now, found)
        return found

    def forget(self) -> None:
        """Drop the cache (after a grant changes, or in tests)."""
        with self._lock:
            self._cache.clear()


def split(value: Any) -> set[str]:
    """A comma-separated config value or a stored list, as a set of clean strings."""
    if not value:
        return set()
    items = value.split(",") if isinstance(value, str) else list(value)
    return {str(item).strip() for item in items if str(item).strip()}


def at_least(role: str, needed: str) -> bool:
    """True when `role` is at least `needed`."""
    return RANK.get(role, 0) >= RANK.get(needed, 2)


def safe_staff_text(text: str) -> str:
    """Staff text made safe to show a member: no mass mentions, every link shows where it goes.

    Platform escaping (Slack's &, <, >; Discord's markdown) is still the renderer's job; this
    takes out what would mislead once rendered: `[help.example/refunds](https://evil.example)`
    and `<https://evil.example|help.example>` become `help.example (https://evil.example)`, and
    @everyone / @here / @channel / <!channel> can no longer ping.
    """

    def spell(label: str, url: str) -> str:
        label = label.strip()
        return url if not label or label == url else f"{label} ({url})"

    text = _ANGLE_LINK.sub(lambda m: spell(m.group(2), m.group(1)), text)
    text = _MASKED_LINK.sub(lambda m: spell(m.group(1), m.group(2)), text)
    text = _ANGLE_MASS.sub(lambda m: f"@{m.group(1).lower()}", text)
    return _MASS_MENTION.sub(lambda m: f"{m.group(1)}{ZWSP}{m.group(2)}", text)


class Policy:
    """Who may do what, decided once for Slack, Discord and the console."""

    def __init__(self, config: Config, settings: SettingsStore, engine: Engine) -> None:
        self.config = config
        self.settings = settings
        self.engine = engine
        self.directories: dict[str, GroupDirectory] = {}

    def use_directory(self, platform: str, directory: GroupDirectory) -> None:
        """Let group grants (`access grant staff @group`) match the group's members."""
        self.directories[platform] = directory

    # ---- channels ------------------------------------------------------------------------------
    def help_channels(self, platform: str) -> set[str]:
        """Channels named in SLACK_HELP_CHANNELS / DISCORD_HELP_CHANNELS (console: `help`)."""
        if platform == "console":
            return {"help"}
        return split(getattr(self.config, f"{platform}_help_channels", "") or "")

    def answers_everything(self, platform: str, channel: str, channel_type: str = "") -> bool:
        """DMs and help channels (configured or enabled from chat) get every message answered."""
        if channel_type == "im" or str(channel) in self.help_channels(platform):
            return True
        cfg = self.settings.channel(platform, str(channel))
        return bool(cfg.get("enabled")) or cfg.get("mode") == "all"

    def staff_channel(self, platform: str) -> str:
        """The configured escalation channel of a platform ('' when unset)."""
        if platform == "console":
            return "staff"
        return str(getattr(self.config, f"{platform}_escalation_channel", "") or "")

    def is_staff_channel(self, platform: str, channel: str) -> bool:
        """The configured escalation channel, or any channel a ticket's card was routed to."""
        if channel and channel == self.staff_channel(platform):
            return True
        with Session(self.engine) as session:
            stmt = select(Ticket.id).where(
                Ticket.platform == platform, Ticket.staff_channel_id == channel
            )
            return session.exec(stmt.limit(1)).first() is not None

    # ---- roles ---------------------------------------------------------------------------------
    def _named(self, platform: str) -> tuple[set[str], set[str]]:
        """(admins, staff) named in config for this platform plus chat grants."""
        config = self.config
        if platform == "slack":
            admins, staff = split(config.slack_admin_users), split(config.slack_staff_users)
        elif platform == "discord":
            admins, staff = split(config.discord_admin_roles), split(config.discord_staff_roles)
        else:
            admins, staff = set(), set()
        return admins | self._stored("admin_users"), staff | self._stored("staff_users")

    def _stored(self, key: str) -> set[str]:
        """Ids granted from chat ("platform:id" or bare ids); empty if unset."""
        try:
            return split(self.settings.get(key))
        except Exception:  # a missing settings table must not lock everyone out of `help`
            return set()

    def staff_named(self, platform: str) -> bool:
        """True when anyone is named staff or admin for this platform (config or chat grant).

        The console names nobody: who sits in its simulated #staff decides.
        """
        if platform == "console":
            return False
        admins, staff = self._named(platform)
        prefix = f"{platform}:"
        return any(":" not in g or g.startswith(prefix) for g in admins | staff)

    def _matches(self, actor: Actor, granted: set[str]) -> bool:
        """The actor's id, platform-qualified id, one of their roles, or a group they are in."""
        if not granted:
            return False
        keys = {actor.user_id, f"{actor.platform}:{actor.user_id}"}
        keys |= set(actor.roles) | {f"{actor.platform}:{r}" for r in actor.roles}
        keys |= {r.lower() for r in actor.roles}
        if keys & (granted | {g.lower() for g in granted}):
            return True
        directory = self.directories.get(actor.platform)
        if directory is None:
            return False
        prefix = f"{actor.platform}:"
        groups = {g.removeprefix(prefix) for g in granted if ":" not in g or g.startswith(prefix)}
        return any(actor.user_id in directory.members(g) for g in groups if _is_group(g))

    def role_of(self, actor: Actor) -> Role:
        """admin | staff | member from config and chat grants; the console operator is admin."""
        if actor.platform == "console" and actor.user_id in CONSOLE_OPERATORS:
            return "admin"
        if actor.platform == "discord" and actor.is_guild_admin:
            return "admin"
        admins, staff = self._named(actor.platform)
        if self._matches(actor, admins):
            return "admin"
        if self._matches(actor, staff):
            return "staff"
        return "member"

    def is_staff(self, actor: Actor) -> bool:
        """Staff or admin; with nobody named for the platform, whoever is in the staff channel."""
        if at_least(self.role_of(actor), "staff"):
            return True
        return actor.in_staff_channel and not self.staff_named(actor.platform)

    # ---- permissions ---------------------------------------------------------------------------
    def may_press(self, actor: Actor, button: str, owner_id: str = "") -> Verdict:
        """Member buttons belong to the member who asked; staff buttons to staff. Refusals audited."""
        if button in MEMBER_BUTTONS:
            if not owner_id or str(owner_id) == str(actor.user_id):
                return ALLOWED
            reason = (
                "These buttons are for the person who asked. Ask your own question and I'll help!"
            )
            if button == "rate":
                reason = "Only the person who asked can rate this."
            return self.refuse(actor, f"button:{button}", reason, owner=owner_id)
        if button in STAFF_BUTTONS:
            if self.is_staff(actor):
                return ALLOWED
            return self.refuse(actor, f"button:{button}", "Only staff can work escalations.")
        return self.refuse(actor, f"button:{button}", "That button is not one of mine.")

    def may_speak_for_staff(self, actor: Actor, ticket_id: int) -> Verdict:
        """Only staff replies in a staff thread reach the member; others are refused and audited."""
        if self.is_staff(actor):
            return ALLOWED
        return self.refuse(
            actor,
            f"staff_reply:ticket:{ticket_id}",
            "Only staff replies in this thread reach the member; yours was not sent.",
        )

    def refuse(self, actor: Actor, target: str, reason: str, **detail: Any) -> Verdict:
        """Record a refusal in the audit trail and return it."""
        try:
            with Session(self.engine) as session:
                record_audit(
                    session,
                    actor.ref,
                    "refused",
                    target,
                    {"role": self.role_of(actor)},
                    {"reason": reason, **detail},
                    actor.platform,
                )
                session.commit()
        except Exception:
            log.exception("could not audit a refusal of %s", actor.ref)
        return Verdict(False, reason)

    # ---- content -------------------------------------------------------------------------------
    @staticmethod
    def staff_text(text: str) -> str:
        """What a staff reply may contain when shown to a member (see `safe_staff_text`)."""
        return safe_staff_text(text)


def _is_group(entry: str) -> bool:
    """Slack user group ids start with S; Discord roles are matched through Actor.roles."""
    return bool(re.match(r"^S[A-Z0-9]{6,}$", entry))
