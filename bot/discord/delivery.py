"""Sending with a safety net: failed side effects go to the outbox and are retried, never dropped."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.discord import render, views

if TYPE_CHECKING:
    from bot.discord.client import DeskhandBot

log = logging.getLogger(__name__)
PLATFORM = "discord"
SEND_ERRORS = (discord.HTTPException, discord.RateLimited)


class NotReady(RuntimeError):
    """The side effect depends on another one (the staff thread) that has not happened yet."""


def retry_after_of(exc: BaseException) -> float | None:
    """How long Discord asked us to wait, when it said so."""
    return float(exc.retry_after) if isinstance(exc, discord.RateLimited) else None


def view_from_spec(spec: dict[str, Any] | None) -> discord.ui.View | None:
    """Rebuild a persistent view from its JSON description (views are not serialisable)."""
    if not spec:
        return None
    if spec.get("kind") == "rating":
        return views.rating_view(int(spec["ticket_id"]))
    if spec.get("kind") == "member":
        from bot.contracts import Button

        buttons = [Button(b["action"], b["label"], b.get("value", "")) for b in spec["buttons"]]
        return views.member_view(buttons, int(spec["conversation_id"]))
    return None


async def post(
    bot: DeskhandBot,
    channel_id: int | str,
    content: str | None,
    *,
    embeds: list[discord.Embed] | None = None,
    view_spec: dict[str, Any] | None = None,
    mention: str | int | None = None,
) -> discord.Message:
    """Send one message with member-safe allowed mentions (raises on failure)."""
    channel = bot.get_partial_messageable(int(channel_id))
    kwargs: dict[str, Any] = {
        "allowed_mentions": render.member_mentions(mention) if mention else render.NO_MENTIONS
    }
    if embeds:
        kwargs["embeds"] = embeds
    view = view_from_spec(view_spec)
    if view is not None:
        kwargs["view"] = view
    return await channel.send(content or None, **kwargs)


async def post_chunks(
    bot: DeskhandBot,
    channel_id: int | str,
    text: str,
    *,
    embeds: list[discord.Embed] | None = None,
    view_spec: dict[str, Any] | None = None,
    mention: str | int | None = None,
    kind: str = "post",
) -> bool:
    """Post split text (embeds and buttons on the last chunk); park what fails in the outbox."""
    chunks = render.split_message(text) or [""]
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        payload = {
            "channel_id": str(channel_id),
            "content": chunk,
            "embeds": [e.to_dict() for e in embeds or []] if last else [],
            "view": view_spec if last else None,
            "mention": str(mention) if mention else None,
        }
        ok = await guarded(
            bot,
            kind,
            payload,
            lambda p=payload: post_payload(bot, p),
        )
        if not ok:
            # keep order: everything after a failed chunk waits in the outbox too
            for later in chunks[i + 1 :]:
                rest = dict(payload, content=later)
                bot.app.outbox.put(PLATFORM, kind, rest, "earlier chunk failed")
            return False
    return True


async def post_payload(bot: DeskhandBot, payload: dict[str, Any]) -> discord.Message:
    """Send a stored outbox payload."""
    embeds = [discord.Embed.from_dict(e) for e in payload.get("embeds") or []]
    return await post(
        bot,
        payload["channel_id"],
        payload.get("content"),
        embeds=embeds,
        view_spec=payload.get("view"),
        mention=payload.get("mention"),
    )


async def guarded(
    bot: DeskhandBot,
    kind: str,
    payload: dict[str, Any],
    action: Callable[[], Awaitable[Any]],
) -> bool:
    """Run a side effect; on an HTTP failure park it for the retry loop and report False."""
    try:
        await action()
        return True
    except (*SEND_ERRORS, NotReady) as exc:
        log.warning("discord %s failed (%s); parked in the outbox", kind, exc)
        item = await asyncio.to_thread(bot.app.outbox.put, PLATFORM, kind, payload, str(exc))
        after = retry_after_of(exc)
        if after is not None and item.id is not None:
            await asyncio.to_thread(bot.app.outbox.failed, item.id, str(exc), after)
        return False


async def deliver_pending(bot: DeskhandBot) -> int:
    """Re-deliver due outbox items in order; returns how many were delivered."""
    from bot.discord import staff

    delivered = 0
    items = await asyncio.to_thread(bot.app.outbox.due, PLATFORM)
    for item in items:
        payload = json.loads(item.payload)
        try:
            if item.kind == "escalation_card":
                await staff.open_escalation(bot, int(payload["ticket_id"]), raise_errors=True)
            elif item.kind == "relay_to_staff":
                await staff.send_to_staff_thread(bot, int(payload["ticket_id"]), payload["text"])
            else:
                await post_payload(bot, payload)
        except (*SEND_ERRORS, NotReady) as exc:
            await asyncio.to_thread(bot.app.outbox.failed, item.id, str(exc), retry_after_of(exc))
            continue
        except Exception as exc:  # a broken payload must not block the queue
            log.exception("outbox item %s failed permanently", item.id)
            await asyncio.to_thread(bot.app.outbox.failed, item.id, repr(exc), 600)
            continue
        await asyncio.to_thread(bot.app.outbox.done, item.id)
        delivered += 1
    return delivered


async def retry_loop(bot: DeskhandBot, interval_s: float) -> None:
    """Background task: keep draining the outbox while the bot runs."""
    while not bot.is_closed():
        try:
            await deliver_pending(bot)
        except Exception:
            log.exception("outbox retry pass failed")
        await asyncio.sleep(interval_s)
