"""The privacy hook where messages enter the core: redact once, and tell adapters what to do."""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.contracts import IncomingMessage, Reply
from bot.privacy.payload import dropped_marks, staff_policy
from bot.privacy.redact import Redaction, redact, rotation_notice

log = logging.getLogger(__name__)


def redact_message(
    msg: IncomingMessage, policy: dict[str, str] | None
) -> tuple[IncomingMessage, Redaction]:
    """The message as it may be stored, embedded, logged and sent to a model."""
    result = redact(msg.text, policy)
    earlier = dropped_marks(msg.text, policy) - set(result.dropped)
    if earlier:  # redacted already where the event was first stored: still warn the member
        result = replace(result, dropped=tuple(sorted({*result.dropped, *earlier})))
    if not result.changed:
        return msg, result
    log.info(
        "redacted %s from %s message %s",
        ", ".join(f"{k}×{n}" for k, n in sorted(result.counts.items())),
        msg.platform,
        msg.message_id or "(action)",
    )
    return replace(msg, text=result.text), result


def redact_staff_text(text: str, policy: dict[str, str] | None) -> Redaction:
    """Staff messages lose secrets only: staff legitimately share support addresses and numbers."""
    return redact(text, staff_policy(policy))


def is_public(msg: IncomingMessage) -> bool:
    """Could people other than the member read this message? (Slack DMs and the console: no.)"""
    if msg.platform == "console":
        return False
    if msg.platform == "slack":
        return not msg.channel_id.startswith("D")
    return True


def apply_outcome(reply: Reply, msg: IncomingMessage, redaction: Redaction) -> Reply:
    """Ask the adapter to warn the member privately, and to delete a public message with a secret."""
    reply.member_text = msg.text
    if redaction.dropped and is_public(msg):
        reply.delete_original = True
        reply.private_notice = rotation_notice(redaction.dropped)
    return reply
