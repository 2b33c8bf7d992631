"""Redaction of raw platform payloads, for stores that keep an event before the core sees it."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.models import Setting, Ticket
from bot.privacy.redact import effective_policy, redact

# Placeholders that show a secret was dropped at an earlier edge (the durable inbox).
DROPPED_MARKS = {
    "card": re.compile(r"\[card ending \d{4}\]"),
    "iban": re.compile(r"\[IBAN ending [A-Z0-9]{4}\]"),
    "api_key": re.compile(r"\[api key\]"),
    "password": re.compile(r"\[password\]"),
}


def redact_payload(value: Any, policy: dict[str, str] | None) -> Any:
    """The payload with every string redacted (text, rich-text blocks, attachments alike)."""
    if isinstance(value, str):
        return redact(value, policy).text
    if isinstance(value, dict):
        return {k: redact_payload(v, policy) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_payload(v, policy) for v in value]
    return value


def dropped_marks(text: str, policy: dict[str, str] | None) -> set[str]:
    """Kinds whose drop-placeholders already stand in `text` (it was redacted before storage)."""
    effective = effective_policy(policy)
    return {k for k, mark in DROPPED_MARKS.items() if effective[k] == "drop" and mark.search(text)}


def staff_policy(policy: dict[str, str] | None) -> dict[str, str]:
    """Staff lose secrets only: they legitimately share support addresses and numbers."""
    return {**effective_policy(policy), "email": "keep", "phone": "keep"}


def policy_for_lane(engine: Engine, platform: str, lane: str) -> dict[str, str]:
    """The policy for a stored message: a ticket's staff thread ("channel:thread") gets staff's."""
    channel, _, thread = lane.partition(":")
    with Session(engine) as session:
        row = session.get(Setting, "privacy")
        policy = effective_policy(json.loads(row.value) if row is not None else None)
        if channel and thread:
            staff = session.exec(
                select(Ticket.id).where(
                    Ticket.platform == platform,
                    Ticket.staff_channel_id == channel,
                    Ticket.staff_thread_id == thread,
                )
            ).first()
            if staff is not None:
                return staff_policy(policy)
    return policy
