"""The staff side: escalation cards and threads, relay both ways, claim / resolve / hand back, rating."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.desk import DeskError, ticket_view
from bot.discord import render, views
from bot.discord.delivery import PLATFORM, NotReady, guarded, post_chunks
from bot.discord.people import interaction_actor, message_actor
from bot.escalation import is_staff_channel, member_notice
from bot.llm import assist
from bot.outbox import staff_key
from bot.policy import safe_staff_text

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
    ticket = await asyncio.to_thread(bot.app.desk.get, ticket_id)
    view = ticket_view(ticket)
    steps = bot.app.escalations
    done = await asyncio.to_thread(steps.steps, ticket_id)
    if view.get("staff_thread_id") and "transcript_posted" in done:
        return True  # already delivered (a retry after a partial failure)
    channel_id = staff_channel_for(bot, view)
    if not channel_id:
        log.warning("ticket %s: no staff channel; set DISCORD_ESCALATION_CHANNEL", ticket_id)
        if raise_errors:
            raise NotReady("no staff channel: set DISCORD_ESCALATION_CHANNEL")
        return False

    async def deliver() -> None:
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

    if raise_errors:
        await deliver()
        return True
    payload = {"ticket_id": ticket_id}
    return await guarded(bot, "escalation_card", payload, deliver, key=staff_key(ticket_id))


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
        try:
            ticket = await asyncio.to_thread(bot.app.desk.get, int(found.group(1)))
        except DeskError:
            ticket = None
        if ticket is not None and ticket.platform == PLATFORM and not ticket.staff_thread_id:
            log.warning("ticket %s: card thread %s recovered from its name", ticket.id, thread.id)
            await record_card(bot, int(ticket.id), parent, str(thread.id))
            ticket = await asyncio.to_thread(bot.app.desk.get, int(ticket.id))
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
    """Post into a ticket's staff thread; NotReady until the card has been delivered."""
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


def attachment_text(message: discord.Message) -> str:
    """Message text plus links to any attachments, so nothing is lost in a relay."""
    urls = [a.url for a in message.attachments]
    return "\n".join([message.content, *urls]).strip()


async def on_staff_message(bot: DeskhandBot, message: discord.Message, ticket: Any) -> None:
    """Staff wrote in a ticket thread: relay to the member unless it is an internal note."""
    text = attachment_text(message)
    if not text:
        return
    actor = await asyncio.to_thread(message_actor, bot.app, message)
    verdict = await asyncio.to_thread(bot.app.policy.may_speak_for_staff, actor, int(ticket.id))
    if not verdict:
        return  # never relayed, never claims, never a KB candidate (the refusal is audited)
    relay = await asyncio.to_thread(
        bot.app.desk.staff_message,
        int(ticket.id),
        str(message.author.id),
        message.author.display_name,
        text,
    )
    if relay.internal:
        try:
            await message.add_reaction(NOTE_REACTION)
        except discord.HTTPException:
            log.info("could not mark note %s", message.id)
        return
    await relay_to_member(bot, ticket, relay)
    try:
        await asyncio.to_thread(assist.classify_staff_reply, bot.app, int(ticket.id), text)
    except Exception:
        log.exception("ticket %s: could not classify the staff reply", ticket.id)


async def relay_to_member(bot: DeskhandBot, ticket: Any, relay: Any) -> None:
    """A public staff message to the member thread, under the staff member's name."""
    member = ticket_view(ticket).get("member") or {}
    await post_chunks(
        bot,
        relay.member_thread_id,
        render.staff_relay_text(relay.staff_name, safe_staff_text(relay.text)),
        mention=member.get("user_id"),
        kind="relay_to_member",
    )


def suggested_text(ticket: Any) -> tuple[str, bool]:
    """The stored draft of a ticket, and whether staff already sent, edited or ignored one."""
    extra = json.loads(ticket.extra or "{}")
    draft = (extra.get("suggested_reply") or {}).get("text") or ""
    return str(draft), "assist" in extra


async def _staff_press(bot: DeskhandBot, interaction: discord.Interaction, button: str) -> bool:
    """Refuse non-staff privately; defer for staff so the work can exceed Discord's 3 s."""
    actor = await asyncio.to_thread(interaction_actor, bot.app, interaction)
    verdict = await asyncio.to_thread(bot.app.policy.may_press, actor, button)
    if not verdict:
        await interaction.response.send_message(verdict.reason, ephemeral=True)
        return False
    await interaction.response.defer()
    return True


async def assist_action(
    bot: DeskhandBot, interaction: discord.Interaction, action: str, ticket_id: int
) -> None:
    """Send as is (relay the draft like a staff message) or Ignore, on a suggested reply."""
    if not await _staff_press(bot, interaction, f"assist_{action}"):
        return
    staff_id = str(interaction.user.id)
    try:
        ticket = await asyncio.to_thread(bot.app.desk.get, ticket_id)
        text, handled = suggested_text(ticket)
        if handled:
            await interaction.followup.send("This suggestion was already handled.", ephemeral=True)
            return
        if action == "send":
            if not text:
                await interaction.followup.send("There is no suggestion to send.", ephemeral=True)
                return
            relay = await asyncio.to_thread(
                bot.app.desk.staff_message,
                ticket_id,
                staff_id,
                interaction.user.display_name,
                text,
            )
            if not relay.internal:
                await relay_to_member(bot, ticket, relay)
            await asyncio.to_thread(
                assist.record_assist_use, bot.app, ticket_id, "sent", staff_id, text
            )
        else:
            await asyncio.to_thread(
                assist.record_assist_use, bot.app, ticket_id, "ignored", staff_id
            )
    except (DeskError, ValueError) as exc:
        await interaction.followup.send(str(exc), ephemeral=True)
        return
    try:
        await interaction.edit_original_response(
            content=render.suggestion_outcome_text(action, staff_id, text),
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
    if not await _staff_press(bot, interaction, action):
        return
    staff_id = str(interaction.user.id)
    handler = {
        "claim": bot.app.desk.claim,
        "resolve": bot.app.desk.resolve,
        "handback": bot.app.desk.hand_back,
    }[action]
    try:
        ticket = await asyncio.to_thread(handler, ticket_id, staff_id)
    except DeskError as exc:
        await interaction.followup.send(str(exc), ephemeral=True)
        return
    view = ticket_view(ticket)
    try:
        await interaction.edit_original_response(
            embed=render.context_embed(view), view=views.staff_view(ticket_id, view["status"])
        )
    except discord.HTTPException:
        log.warning("could not update the card of ticket %s", ticket_id)
    member = view.get("member") or {}
    if action == "resolve":
        await post_chunks(
            bot,
            view["member_thread_id"],
            render.RATING_PROMPT,
            view_spec={"kind": "rating", "ticket_id": ticket_id},
            mention=member.get("user_id"),
            kind="rating_prompt",
        )
    elif action == "handback":
        await post_chunks(
            bot,
            view["member_thread_id"],
            render.HANDED_BACK,
            mention=member.get("user_id"),
            kind="post",
        )


async def rate_action(
    bot: DeskhandBot, interaction: discord.Interaction, ticket_id: int, rating: int
) -> None:
    """Record the member's 1-5 rating and replace the buttons with a thank-you."""
    await interaction.response.defer()
    try:
        ticket = await asyncio.to_thread(bot.app.desk.get, ticket_id)
        member = ticket_view(ticket).get("member") or {}
        actor = await asyncio.to_thread(interaction_actor, bot.app, interaction)
        owner = str(member.get("user_id") or "")
        verdict = await asyncio.to_thread(bot.app.policy.may_press, actor, "rate", owner)
        if not verdict:
            await interaction.followup.send(verdict.reason, ephemeral=True)
            return
        await asyncio.to_thread(
            bot.app.desk.record_rating, ticket_id, rating, str(interaction.user.id)
        )
    except DeskError as exc:
        await interaction.followup.send(str(exc), ephemeral=True)
        return
    await interaction.edit_original_response(
        content=f"Thanks — you rated this {rating}/5.", view=None
    )


__all__ = [
    "PLATFORM",
    "NotReady",
    "assist_action",
    "open_escalation",
    "rate_action",
    "staff_action",
]
