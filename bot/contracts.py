"""Platform-neutral message and reply types shared by the service and every adapter."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Route = Literal["answer", "clarify", "escalate", "smalltalk", "decline"]


_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_text(text: str) -> str:
    """Text any database, checkpoint and platform API accepts.

    PostgreSQL cannot hold NUL (a space, as the graph's guard does); a lone UTF-16 surrogate (from
    a JSON escape like \\ud800) cannot be encoded as UTF-8 at all (U+FFFD, like invalid bytes).
    """
    return _SURROGATE.sub("\ufffd", text.replace("\x00", " "))


MAX_STORED_CHARS = (
    100_000  # a stored message keeps this much; Slack caps at 40,000, Discord at 4,000
)


def stored_copy(text: str) -> str:
    """The text as kept in SQL: whole up to MAX_STORED_CHARS, else cut with a note saying so."""
    if len(text) <= MAX_STORED_CHARS:
        return text
    return f"{text[:MAX_STORED_CHARS]}\n[… {len(text) - MAX_STORED_CHARS:,} more characters not stored]"


def needs_cleaning(text: str) -> bool:
    """True if storable_text would change `text`."""
    return "\x00" in text or _SURROGATE.search(text) is not None


def scrub(value: Any) -> Any:
    """storable_text applied to every string (keys too) in nested JSON-like data."""
    if isinstance(value, str):
        return storable_text(value) if needs_cleaning(value) else value
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


@dataclass(frozen=True)
class Member:
    """Who wrote the message, as the platform knows them."""

    user_id: str
    display_name: str = ""
    tier: str = ""  # e.g. "vip"; also derived from settings (vip_users)
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class IncomingMessage:
    """One member message, already verified and translated by an adapter."""

    platform: str  # "slack" | "discord" | "console"
    channel_id: str
    thread_id: str  # the conversation key within the channel (thread ts / thread id / message id)
    message_id: str
    text: str
    member: Member
    channel_name: str = ""
    permalink: str = ""
    mentioned: bool = False  # the bot was @-mentioned
    guild_id: str = ""

    @property
    def conversation_key(self) -> str:
        """Stable key of the platform thread this message belongs to."""
        return f"{self.platform}:{self.channel_id}:{self.thread_id}"


@dataclass(frozen=True)
class Citation:
    """A source shown under an answer."""

    title: str
    url: str
    article_id: int | None = None
    score: float = 0.0


@dataclass(frozen=True)
class Option:
    """A clarifying choice; `value` is sent back when the member picks it."""

    label: str
    value: str


@dataclass(frozen=True)
class Button:
    """An action button; `action` is one of helpful|not_helpful|human|option|claim|resolve|handback|rate."""

    action: str
    label: str
    value: str = ""


@dataclass
class Reply:
    """What the service wants said back, and what side effects the adapter must perform."""

    route: Route | Literal["relay", "ignore", "notice"]
    text: str
    conversation_id: int | None = None
    decision_id: int | None = None
    issue_type: str = ""
    confidence: float = 0.0
    reasons: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    ticket_id: int | None = None  # set when this reply opened (or belongs to) an escalation
    shadow: bool = False  # shadow mode: show staff, not members
    relay_text: str = ""  # for route == "relay": text to forward to the staff thread
    escalation: dict[str, Any] | None = None  # the handoff record when route == "escalate"
    latency_ms: float = 0.0
    member_text: str = ""  # the member's message as kept (secrets redacted): for thread titles
    private_notice: str = ""  # say this to the member alone (ephemeral / DM), e.g. rotate a secret
    delete_original: bool = False  # remove the member's platform message where the bot may
    deliver_now: bool = False  # a desk change recorded outbox posts (a reopen): send them now

    def to_dict(self) -> dict[str, Any]:
        """Serialise for `--json` output and logs."""
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class ThreadView:
    """A member conversation as adapters see it: where it lives and whose it is (no SQL rows)."""

    conversation_id: int
    key: str
    platform: str
    channel_id: str
    thread_id: str
    member_id: str
    member_name: str = ""
    status: str = "open"


@dataclass(frozen=True)
class PressCheck:
    """May this person press a member button? `thread` is None when the conversation is gone."""

    thread: ThreadView | None
    refusal: str = ""  # the policy's reason, fit to show the presser privately

    @property
    def allowed(self) -> bool:
        """True when the conversation exists and the policy lets this person press."""
        return self.thread is not None and not self.refusal


class Renderable(Protocol):
    """What an adapter draws a panel from: an admin command's result or a staff-channel post."""

    ok: bool
    title: str
    text: str
    usage: str
    table: list[list[str]] | None
    fields: list[tuple[str, str]]
    image_png: bytes | None
    image_name: str
