"""The gate before the graph: blocked members, per-member and per-channel rate limits."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.abuse.limits import Cooldowns, KeyedLocks, SlidingWindow
from bot.contracts import IncomingMessage
from knowledge.models import utcnow

log = logging.getLogger(__name__)
# The channel limit is off (0) unless set: it holds back innocent members too.
DEFAULT_LIMITS = {"member_per_minute": 6, "channel_per_minute": 0, "cooldown_s": 60}
LIVE_PLATFORMS = ("slack", "discord")  # the console, evaluation and benchmarks are not limited


@dataclass(frozen=True)
class Held:
    """A message that does not reach the graph, and what to say about it."""

    reason: str  # blocked | member_rate | channel_rate
    notice: str = ""  # private note to the member ('' = stay silent)
    flood_note: str = ""  # note for staff ('' = none): the start of a possible flood
    recent: int = 0  # the member's messages in the last minute


def limits_of(stored: dict[str, Any] | None) -> dict[str, int]:
    """Defaults overlaid with stored positive integers."""
    merged = dict(DEFAULT_LIMITS)
    for key, value in (stored or {}).items():
        if key in merged and isinstance(value, int) and value >= 0:
            merged[key] = value
    return merged


def blocked_until(blocks: dict[str, str], platform: str, user_id: str) -> datetime | None:
    """When a block ends (datetime.max for indefinite), None when not blocked or expired."""
    raw = blocks.get(f"{platform}:{user_id}")
    if raw is None:
        return None
    if raw == "":
        return datetime.max
    until = datetime.fromisoformat(raw)
    return until if until > utcnow() else None


class AbuseGate:
    """Per-process counters; one gate per service (several processes each count their own)."""

    def __init__(self) -> None:
        self.members = SlidingWindow(60.0)
        self.channels = SlidingWindow(60.0)
        self.cooldowns = Cooldowns()
        self.member_locks = KeyedLocks()  # one escalation decision per member at a time

    def check(
        self, msg: IncomingMessage, limits: dict[str, int], blocks: dict[str, str]
    ) -> Held | None:
        """None when the message may run; otherwise why it is held and what to tell whom."""
        if msg.platform not in LIVE_PLATFORMS:
            return None
        if blocked_until(blocks, msg.platform, msg.member.user_id) is not None:
            return Held("blocked")
        member_key = f"{msg.platform}:{msg.member.user_id}"
        recent = self.members.hit(member_key)
        cooldown = float(limits["cooldown_s"])
        if self.cooldowns.active(member_key):
            return Held("member_rate", recent=recent)
        if limits["member_per_minute"] and recent > limits["member_per_minute"]:
            self.cooldowns.start(member_key, cooldown)
            log.warning("possible flood from %s: %s messages in a minute", member_key, recent)
            return Held(
                "member_rate",
                notice=(
                    f"You're sending messages faster than I can help ({recent} in a minute). "
                    f"I've kept them, and I'll read new ones again in {int(cooldown)} seconds; "
                    "if a person already has your question, they can see everything you sent."
                ),
                flood_note=(
                    f":warning: Possible flood: <{msg.member.display_name or msg.member.user_id}> "
                    f"({member_key}) sent {recent} messages in a minute in {msg.channel_id}. "
                    f"Their messages are kept but not answered for {int(cooldown)} s; "
                    f"`/deskhand block` them if it goes on."
                ),
                recent=recent,
            )
        channel_key = f"{msg.platform}:{msg.channel_id}"
        per_channel = limits["channel_per_minute"]
        if per_channel and self.channels.hit(channel_key) > per_channel:
            fresh = self.cooldowns.start(f"{member_key}@{channel_key}", cooldown)
            return Held(
                "channel_rate",
                notice="This channel is very busy right now; I'll get to new questions in a "
                "minute. Your message is kept."
                if fresh
                else "",
                recent=recent,
            )
        return None
