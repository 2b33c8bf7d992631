"""The staff side: escalation cards and threads, relay both ways, claim / resolve / hand back, rating."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import discord

from bot.desk import DeskError, ticket_view
from bot.desk_service import DeskOutcome
from bot.discord import render, views
from bot.discord.delivery import (
    PLATFORM,
    NotReady,
    deliver_pending,
    guarded,
    post_chunks,
    send_outcome,
)
from bot.discord.people import interaction_actor, message_actor
from bot.escalation import card_goes_first, is_staff_channel, member_notice
from bot.llm import assist
from bot.outbox import staff_key

if TYPE_CHECKING:
    from bot.contracts import Reply
    from bot.discord.client import DeskhandBot

log = logging.getLogger(__name__)
NOTE_REACTION = "🔒"
CARD_THREAD = re.compile(r"#(\d+) ")
UNMAPPED_NOTE = (
    "⚠️ I can't match this thread to a ticket, so this message was **not** relayed to anyone. "
    "Reply in the ticket's card thread instead (`/deskhand outbox` lists anything stuck)."
)


def staff_channel_for(bot: DeskhandBot, view: dict[str, Any]) -> str:
    """The routed staff channel of a ticket, or the configured default."""
    return str(view.get("staff_channel_id") or bot.app.config.discord_escalation_channel or "")


async def resolve_channel(bot: DeskhandBot, channel_id: int) -> Any:
    """A channel from the cache, or fetched (after a restart threads may not be cached)."""
    channel = bot.get_channel(channel_id)
    if channel is None:
        channel = await bot.fetch_channel(channel_id)
    return channel


async def open_escalation(bot: DeskhandBot, ticket_id: int, raise_errors: bool = False) -> bool:
    """Post the context card as a thread (or forum post) in the staff channel and remember it.

    Each step is recorded (card_intent, card_recorded, transcript_posted), so a retry or a
    start-up repair does only what is missing.
    """
    if raise_errors:
        await advance_escalation(bot, ticket_id)
        return True
    # "already delivered?" is asked once, in advance_escalation under the staff thread's lock
    if not bot.app.config.discord_escalation_channel:
        view = await asyncio.to_thread(bot.app.desk_service.card_view, ticket_id)
        if not staff_channel_for(bot, view):
            log.warning("ticket %s: no staff channel; set DISCORD_ESCALATION_CHANNEL", ticket_id)
            return False
    return await guarded(
        bot,
        "escalation_card",
        {"ticket_id": ticket_id},
        lambda: advance_escalation(bot, ticket_id),
        key=staff_key(ticket_id),
    )


async def advance_escalation(bot: DeskhandBot, ticket_id: int) -> None:
    """Do the card steps not yet recorded (raises NotReady or an HTTP error to retry).

    The ticket is read here, inside the staff thread's lock: a relay that brought the card up
    while this worker waited for the lock has already done these steps, and none runs twice.
    """
    view = await asyncio.to_thread(bot.app.desk_service.card_view, ticket_id)
    steps = bot.app.escalations
    done = await asyncio.to_thread(steps.steps, ticket_id)
    if view.get("staff_thread_id") and "transcript_posted" in done:
        return
    channel_id = staff_channel_for(bot, view)
    if not channel_id:
        raise NotReady("no staff channel: set DISCORD_ESCALATION_CHANNEL")
    thread: Any
    if view.get("staff_thread_id"):
        thread = bot.get_partial_messageable(int(view["staff_thread_id"]))
    else:
        thread = await post_card(bot, ticket_id, view, int(channel_id))
    if render.transcript_needs_followup(view):
        text = "**Transcript**\n" + render.transcript_text(view.get("transcript") or [])
        for chunk in render.split_message(text):
            await thread.send(chunk, allowed_mentions=render.NO_MENTIONS)
    await post_suggestion(bot, ticket_id, thread)
    await asyncio.to_thread(steps.record, ticket_id, "transcript_posted", PLATFORM)


async def post_card(bot: DeskhandBot, ticket_id: int, view: dict[str, Any], channel_id: int) -> Any:
    """Create the card and its thread, recording the intent before and the thread after."""
    steps = bot.app.escalations
    channel = await resolve_channel(bot, channel_id)
    await asyncio.to_thread(steps.record, ticket_id, "card_intent", PLATFORM, channel=channel_id)
    embed = render.context_embed(view)
    buttons = views.staff_view(ticket_id)
    member = view.get("member") or {}
    name = render.thread_name(
        f"#{ticket_id} {member.get('display_name') or 'member'}: {view.get('question') or ''}"
    )
    if isinstance(channel, discord.ForumChannel):
        created = await channel.create_thread(
            name=name,
            embed=embed,
            view=buttons or discord.utils.MISSING,
            allowed_mentions=render.NO_MENTIONS,
        )
        thread = created.thread
    else:
        card = await channel.send(embed=embed, view=buttons, allowed_mentions=render.NO_MENTIONS)
        thread = await card.create_thread(name=name, auto_archive_duration=10080)
    await record_card(bot, ticket_id, str(channel.id), str(thread.id))
    return thread


async def record_card(bot: DeskhandBot, ticket_id: int, channel_id: str, thread_id: str) -> None:
    """Remember the staff thread of a ticket (and that this step is done)."""
    await asyncio.to_thread(bot.app.desk.attach_staff_thread, ticket_id, channel_id, thread_id)
    await asyncio.to_thread(
        bot.app.escalations.record,
        ticket_id,
        "card_recorded",
        PLATFORM,
        channel=channel_id,
        thread=thread_id,
    )


async def tell_member(
    bot: DeskhandBot, ticket_id: int, reply: Reply | None = None, channel_id: int | None = None
) -> None:
    """The hand-over notice in the member's thread, once (parked if Discord refuses)."""
    done = await asyncio.to_thread(bot.app.escalations.steps, ticket_id)
    if "member_told" in done:
        return
    ticket = await asyncio.to_thread(bot.app.desk.get, ticket_id)
    member = ticket_view(ticket).get("member") or {}
    if reply is not None:
        from bot.discord.member import send_reply

        where = channel_id or int(ticket.member_thread_id)
        await send_reply(bot, where, reply, int(member.get("user_id") or 0))
    else:
        text = await asyncio.to_thread(member_notice, bot.app.engine, ticket)
        await post_chunks(
            bot, ticket.member_thread_id, text, mention=member.get("user_id"), kind="reply"
        )
    await asyncio.to_thread(bot.app.escalations.record, ticket_id, "member_told", PLATFORM)


async def unmapped_staff_thread(bot: DeskhandBot, message: discord.Message, thread: Any) -> bool:
    """A message in a staff-channel thread no ticket knows: recover the card, or tell staff.

    True when handled (relayed after recovering the card from the thread name '#ID …', or staff
    were told the message went nowhere); False for threads that are not the bot's.
    """
    parent = str(thread.parent_id)
    if message.author.bot or not await asyncio.to_thread(
        is_staff_channel, bot.app, PLATFORM, parent
    ):
        return False
    found = CARD_THREAD.match(thread.name or "")
    if found:
        ticket_id = int(found.group(1))  # the id the ticket was fetched by: never None
        try:
            ticket = await asyncio.to_thread(bot.app.desk.get, ticket_id)
        except DeskError:
            ticket = None
        if ticket is not None and ticket.platform == PLATFORM and not ticket.staff_thread_id:
            log.warning("ticket %s: card thread %s recovered from its name", ticket_id, thread.id)
            await record_card(bot, ticket_id, parent, str(thread.id))
            ticket = await asyncio.to_thread(bot.app.desk.get, ticket_id)
            await on_staff_message(bot, message, ticket)
            return True
    if bot.user is None or getattr(thread, "owner_id", None) != bot.user.id:
        return False
    await post_chunks(bot, thread.id, UNMAPPED_NOTE)
    return True


async def post_suggestion(bot: DeskhandBot, ticket_id: int, thread: Any) -> bool:
    """Agent assist: a drafted reply with sources and Send as is / Ignore, never sent on its own.

    Best effort: a failing draft or send is logged and never blocks or loses the card.
    """
    try:
        suggestion = await asyncio.to_thread(assist.suggest_reply, bot.app, ticket_id)
        text = str(suggestion.get("text") or "").strip()
        if not text:
            return False
        chunks = render.suggestion_chunks(text)
        embed = render.sources_embed(
            [(c.get("title"), c.get("url")) for c in suggestion.get("citations") or []]
        )
        for chunk in chunks[:-1]:
            await thread.send(chunk, allowed_mentions=render.NO_MENTIONS)
        kwargs: dict[str, Any] = {"embed": embed} if embed else {}
        await thread.send(
            chunks[-1],
            view=views.assist_view(ticket_id),
            allowed_mentions=render.NO_MENTIONS,
            **kwargs,
        )
        return True
    except Exception:
        log.exception("ticket %s: could not post the suggested reply", ticket_id)
        return False


async def send_to_staff_thread(bot: DeskhandBot, ticket_id: int, text: str) -> None:
    """Post into a ticket's staff thread, the card first if it is not up yet (NotReady without one)."""
    ticket = await asyncio.to_thread(bot.app.desk.get, ticket_id)
    if card_goes_first(ticket):  # a relay that overtook its card brings it up first
        await advance_escalation(bot, ticket_id)
        ticket = await asyncio.to_thread(bot.app.desk.get, ticket_id)
    if not ticket.staff_thread_id:
        raise NotReady(f"ticket {ticket_id} has no staff thread yet")
    channel = bot.get_partial_messageable(int(ticket.staff_thread_id))
    for chunk in render.split_message(text):
        await channel.send(chunk, allowed_mentions=render.NO_MENTIONS)


async def relay_member_to_staff(bot: DeskhandBot, reply: Reply, author_name: str) -> None:
    """A member wrote while a person has the ticket: forward it to the staff thread."""
    if not reply.ticket_id:
        return
    text = render.member_relay_text(author_name, reply.relay_text)
    payload = {"ticket_id": reply.ticket_id, "text": text}

    await guarded(
        bot,
        "relay_to_staff",
        payload,
        lambda: send_to_staff_thread(bot, int(reply.ticket_id or 0), text),
        key=staff_key(int(reply.ticket_id)),
    )
    if reply.deliver_now:  # a reopen: the member's notice and the card redraw
        await deliver_pending(bot)


def attachment_text(message: discord.Message) -> str:
    """Message text plus links to any attachments, so nothing is lost in a relay."""
    urls = [a.url for a in message.attachments]
    return "\n".join([message.content, *urls]).strip()


async def on_staff_message(bot: DeskhandBot, message: discord.Message, ticket: Any) -> None:
    """Someone wrote in a ticket thread: the desk decides; staff replies reach the member.

    A non-staff message is left where it is (Discord has no private reply to a message);
    the refusal is in the audit trail.
    """
    text = attachment_text(message)
    if not text:
        return
    actor = await asyncio.to_thread(message_actor, bot.app, message)
    outcome = await asyncio.to_thread(bot.app.desk_service.staff_reply, actor, int(ticket.id), text)
    if outcome.staff_mark == "note":
        try:
            await message.add_reaction(NOTE_REACTION)
        except discord.HTTPException:
            log.info("could not mark note %s", message.id)
    await tell_member_outcome(bot, outcome)


async def tell_member_outcome(bot: DeskhandBot, outcome: DeskOutcome) -> None:
    """Deliver what a desk outcome has for everyone: relays, then notices, rating prompt, card."""
    mention = outcome.member_user_id or None
    for post in outcome.to_member:
        if post.kind == "relay":
            text = render.staff_relay_text(post.staff_name, post.text)
            await post_chunks(
                bot, outcome.member_thread_id, text, mention=mention, kind="relay_to_member"
            )
    await send_outcome(bot, outcome)


async def _pressable(bot: DeskhandBot, interaction: discord.Interaction, button: str) -> Any:
    """The presser as an Actor after deferring, or None after refusing them privately at once."""
    actor = await asyncio.to_thread(interaction_actor, bot.app, interaction)
    refused = await asyncio.to_thread(bot.app.desk_service.refusal, actor, button)
    if refused is not None:
        await interaction.response.send_message(refused.private_note, ephemeral=True)
        return None
    await interaction.response.defer()
    return actor


async def _refused(interaction: discord.Interaction, outcome: DeskOutcome) -> bool:
    """Tell the presser privately why nothing happened; True when the outcome was refused."""
    if outcome.ok:
        return False
    await interaction.followup.send(outcome.private_note or "That did not work.", ephemeral=True)
    return True


async def assist_action(
    bot: DeskhandBot, interaction: discord.Interaction, action: str, ticket_id: int
) -> None:
    """Send as is (relay the draft like a staff message) or Ignore, on a suggested reply."""
    actor = await _pressable(bot, interaction, f"assist_{action}")
    if actor is None:
        return
    desk = bot.app.desk_service
    outcome = await asyncio.to_thread(desk.assist, actor, ticket_id, action)
    if await _refused(interaction, outcome):
        return
    await tell_member_outcome(bot, outcome)
    text = await asyncio.to_thread(desk.draft_text, ticket_id)
    try:
        await interaction.edit_original_response(
            content=render.suggestion_outcome_text(action, actor.user_id, text),
            view=None,
            allowed_mentions=render.NO_MENTIONS,
        )
    except discord.HTTPException:
        log.warning("could not update the suggestion of ticket %s", ticket_id)


async def post_shadow(bot: DeskhandBot, reply: Reply, source: discord.Message | None) -> None:
    """Shadow mode: show staff what the bot would have said; the member sees nothing."""
    channel_id = bot.app.config.discord_escalation_channel
    if not channel_id:
        log.info("shadow reply dropped: no DISCORD_ESCALATION_CHANNEL")
        return
    where = f" to {source.jump_url}" if source is not None else ""
    text = f"**Shadow mode** — I would have replied ({reply.route}){where}:\n\n{reply.text}"
    embed = render.citation_embed(reply)
    await post_chunks(bot, channel_id, text, embeds=[embed] if embed else None, kind="post")


async def staff_action(
    bot: DeskhandBot, interaction: discord.Interaction, action: str, ticket_id: int
) -> None:
    """Claim, resolve or hand back from the context card."""
    actor = await _pressable(bot, interaction, action)
    if actor is None:
        return
    outcome = await asyncio.to_thread(bot.app.desk_service.press, actor, ticket_id, action)
    if await _refused(interaction, outcome):
        return
    view = await asyncio.to_thread(bot.app.desk_service.card_view, ticket_id)
    try:
        await interaction.edit_original_response(
            embed=render.context_embed(view), view=views.staff_view(ticket_id, view["status"])
        )
        outcome = replace(outcome, refresh_card=False)  # the pressed message is the card
    except discord.HTTPException:
        log.warning("could not update the card of ticket %s; redrawn from the outbox", ticket_id)
    await tell_member_outcome(bot, outcome)


async def rate_action(
    bot: DeskhandBot, interaction: discord.Interaction, ticket_id: int, rating: int
) -> None:
    """Record the member's 1-5 rating and replace the buttons with a thank-you."""
    await interaction.response.defer()
    actor = await asyncio.to_thread(interaction_actor, bot.app, interaction)
    outcome = await asyncio.to_thread(bot.app.desk_service.rate, actor, ticket_id, rating)
    if await _refused(interaction, outcome):
        return
    await interaction.edit_original_response(content=outcome.buttons_done, view=None)


__all__ = [
    "PLATFORM",
    "NotReady",
    "assist_action",
    "open_escalation",
    "rate_action",
    "staff_action",
]
