"""Sending with a safety net: failed side effects go to the outbox and are retried, never dropped."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.desk import ticket_view
from bot.desk_outcome import OUTCOME_KIND, DeskOutcome
from bot.desk_service import RATING_PROMPT
from bot.discord import render, views
from bot.outbox import ALERT_KIND, LEASE_S, WAITING
from bot.privacy.erasure import daily_purge

if TYPE_CHECKING:
    from bot.discord.client import DeskhandBot

log = logging.getLogger(__name__)
PLATFORM = "discord"
SEND_ERRORS = (discord.HTTPException, discord.RateLimited)
RECORDED_KINDS = {"relay_to_member", "relay_to_staff", "escalation_card", OUTCOME_KIND}


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
    nonce: str | None = None,
) -> discord.Message:
    """Send one message with member-safe allowed mentions (raises on failure).

    With a nonce Discord creates the message once: a resend within minutes (a reply resumed
    after a crash) returns the first message instead of posting it again.
    """
    channel = bot.get_partial_messageable(int(channel_id))
    kwargs: dict[str, Any] = {
        "allowed_mentions": render.member_mentions(mention) if mention else render.NO_MENTIONS
    }
    if nonce:
        kwargs["nonce"] = nonce
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
    nonce: str = "",
) -> bool:
    """Post split text (embeds and buttons on the last chunk) in thread order; park what fails.

    `nonce` (at most 20 characters) makes each chunk idempotent at Discord for a few minutes.
    """
    chunks = render.split_message(text) or [""]
    key = str(channel_id)
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        payload = {
            "channel_id": str(channel_id),
            "content": chunk,
            "embeds": [e.to_dict() for e in embeds or []] if last else [],
            "view": view_spec if last else None,
            "mention": str(mention) if mention else None,
            "nonce": f"{nonce}.{i}" if nonce else None,
        }
        ok = await guarded(
            bot, kind, payload, functools.partial(post_payload, bot, payload), key=key
        )
        if not ok:
            # keep order: everything after a failed chunk waits in the outbox too
            for later in chunks[i + 1 :]:
                rest = dict(payload, content=later)
                await asyncio.to_thread(bot.app.outbox.put, PLATFORM, kind, rest, WAITING, key)
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
        nonce=payload.get("nonce"),
    )


def thread_lock(bot: DeskhandBot, key: str) -> asyncio.Lock:
    """One lock per thread key, so the 'is anything parked?' check and the send are atomic."""
    locks: dict[str, asyncio.Lock] = bot.__dict__.setdefault("_deskhand_thread_locks", {})
    if len(locks) > 5000:
        for stale in [k for k, lock in locks.items() if not lock.locked()][:2500]:
            del locks[stale]
    return locks.setdefault(key, asyncio.Lock())


async def guarded(
    bot: DeskhandBot,
    kind: str,
    payload: dict[str, Any],
    action: Callable[[], Awaitable[Any]],
    key: str = "",
) -> bool:
    """Run a side effect in thread order; on an HTTP failure park it for the retry loop.

    Relays and cards are written to the outbox before they are sent, so a crash between the
    send and its bookkeeping leaves an item that is retried, never a lost message.
    """
    outbox = bot.app.outbox
    async with thread_lock(bot, key):
        if bool(key) and await asyncio.to_thread(outbox.blocked, PLATFORM, key):
            await asyncio.to_thread(outbox.put, PLATFORM, kind, payload, WAITING, key)
            return False
        recorded: int | None = None  # the outbox id of a side effect written before sending
        if kind in RECORDED_KINDS:
            recorded = await asyncio.to_thread(outbox.record, PLATFORM, kind, payload, key, LEASE_S)
        try:
            await action()
        except (*SEND_ERRORS, NotReady) as exc:
            log.warning("discord %s failed (%s); parked in the outbox", kind, exc)
            after = retry_after_of(exc)
            if recorded is None:
                parked = await asyncio.to_thread(outbox.put, PLATFORM, kind, payload, str(exc), key)
                if after is not None and parked.id is not None:
                    await asyncio.to_thread(outbox.failed, parked.id, str(exc), after)
            else:
                await asyncio.to_thread(outbox.failed, recorded, str(exc), after or 0.0)
            return False
        if recorded is not None:
            await asyncio.to_thread(outbox.done, recorded)
        return True


async def deliver_item(bot: DeskhandBot, kind: str, payload: dict[str, Any]) -> None:
    """Send one parked side effect again (raises while Discord still refuses)."""
    from bot.discord import staff

    if kind == "escalation_card":
        ticket_id = int(payload["ticket_id"])
        try:
            await staff.open_escalation(bot, ticket_id, raise_errors=True)
        finally:
            await staff.tell_member(bot, ticket_id)  # a repaired escalation still owes it
    elif kind == "relay_to_staff":
        await staff.send_to_staff_thread(bot, int(payload["ticket_id"]), payload["text"])
    elif kind == OUTCOME_KIND:
        await deliver_outcome(bot, DeskOutcome.from_dict(payload))
    elif kind == ALERT_KIND:
        channel_id = bot.app.config.discord_escalation_channel
        if not channel_id:
            raise NotReady("no staff channel for alerts: set DISCORD_ESCALATION_CHANNEL")
        await post(bot, channel_id, payload["text"])
    else:
        await post_payload(bot, payload)


async def send_outcome(bot: DeskhandBot, outcome: DeskOutcome) -> None:
    """Deliver a desk outcome's parts now, each written to the outbox before it is sent."""
    for part in outcome.parts(PLATFORM):
        await guarded(
            bot,
            part.kind,
            part.payload,
            functools.partial(deliver_item, bot, part.kind, part.payload),
            key=part.thread_key,
        )


async def deliver_outcome(bot: DeskhandBot, outcome: DeskOutcome) -> None:
    """Post one outcome part: staff notices, the member's posts and rating prompt, the card.

    Only the member is ever pinged, and only in their own thread.
    """
    for notice in outcome.staff_notices:
        for chunk in render.split_message(notice.text):
            await post(bot, notice.thread or notice.channel, chunk)
    thread, mention = outcome.member_thread_id, outcome.member_user_id or None
    for member_post in outcome.to_member:
        text = member_post.text
        if member_post.kind == "relay":
            text = render.staff_relay_text(member_post.staff_name, text)
        for chunk in render.split_message(text):
            await post(bot, thread, chunk, mention=mention)
    if outcome.rating_prompt:
        spec = {"kind": "rating", "ticket_id": outcome.ticket_id}
        await post(bot, thread, RATING_PROMPT, view_spec=spec, mention=mention)
    if outcome.refresh_card:
        await refresh_card(bot, outcome.ticket_id)


async def refresh_card(bot: DeskhandBot, ticket_id: int) -> None:
    """Redraw a ticket's card (status, owner, issue type, buttons) after a desk change.

    The card is the message its staff thread was started from (same id): in the staff channel,
    or inside the thread for a forum post.
    """
    from bot.discord.staff import resolve_channel

    ticket = await asyncio.to_thread(bot.app.desk.get, ticket_id)
    if not (ticket.staff_channel_id and ticket.staff_thread_id):
        return
    view = ticket_view(ticket)
    parent = await resolve_channel(bot, int(ticket.staff_channel_id))
    forum = isinstance(parent, discord.ForumChannel)
    where = ticket.staff_thread_id if forum else ticket.staff_channel_id
    card = bot.get_partial_messageable(int(where)).get_partial_message(int(ticket.staff_thread_id))
    await card.edit(
        embed=render.context_embed(view), view=views.staff_view(ticket_id, view["status"])
    )


async def deliver_pending(bot: DeskhandBot, max_rounds: int = 50) -> int:
    """Re-deliver due outbox items, thread heads first, until a round makes no progress."""
    delivered = 0
    for _ in range(max_rounds):
        items = await asyncio.to_thread(bot.app.outbox.due, PLATFORM)
        progress = 0
        for item in items:
            if item.id is None:  # due() claims stored rows by id; one without cannot be marked
                log.error("outbox returned a %s item without an id; skipped", item.kind)
                continue
            try:
                await deliver_item(bot, item.kind, json.loads(item.payload))
            except (*SEND_ERRORS, NotReady) as exc:
                await asyncio.to_thread(
                    bot.app.outbox.failed, item.id, str(exc), retry_after_of(exc)
                )
                continue
            except Exception as exc:  # a broken payload must not block the queue
                log.exception("outbox item %s failed", item.id)
                await asyncio.to_thread(bot.app.outbox.failed, item.id, repr(exc), 600)
                continue
            await asyncio.to_thread(bot.app.outbox.done, item.id)
            progress += 1
        delivered += progress
        if not progress:
            break
    return delivered


async def retry_loop(bot: DeskhandBot, interval_s: float) -> None:
    """Background task: repair half-done escalations once, then keep draining the outbox."""
    from bot.discord.alerts import post_alerts
    from bot.escalation import repair
    from bot.monitoring.poster import AlertPoster

    poster = AlertPoster(bot.app, PLATFORM)
    try:
        report = await asyncio.to_thread(repair, bot.app, PLATFORM)
        log.info("discord start-up repair: %s", report)
    except Exception:
        log.exception("discord start-up repair failed; the retry loop runs anyway")
    while not bot.is_closed():
        try:
            await deliver_pending(bot)
        except Exception:
            log.exception("outbox retry pass failed")
        try:
            await asyncio.to_thread(daily_purge, bot.app)
        except Exception:
            log.exception("retention purge failed; will try again tomorrow")
        try:
            await post_alerts(bot, poster)
        except Exception:
            log.exception("posting alerts failed; will try again")
        await asyncio.sleep(interval_s)
