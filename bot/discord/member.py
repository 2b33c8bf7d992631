"""The member side: which messages to answer, where (thread / forum post), and how replies look."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import discord

from bot.contracts import IncomingMessage, Member, Reply
from bot.discord import render, staff
from bot.discord.delivery import PLATFORM, post_chunks
from bot.discord.inbox import event_of, thread_lane
from bot.discord.people import interaction_actor
from bot.escalation import is_staff_channel
from bot.inbox import reply_from_dict, reply_to_dict

if TYPE_CHECKING:
    from bot.discord.client import DeskhandBot

log = logging.getLogger(__name__)
ANSWERABLE_TYPES = (discord.MessageType.default, discord.MessageType.reply)


@contextlib.asynccontextmanager
async def typing(target: Any) -> AsyncIterator[None]:
    """Show typing while the bot works; a failed typing call must never block the answer."""
    try:
        cm = target.typing()
        await cm.__aenter__()
    except (discord.HTTPException, AttributeError):
        yield
        return
    try:
        yield
    finally:
        await cm.__aexit__(None, None, None)


def answers(
    bot: DeskhandBot, message: discord.Message, channel_id: int, thread_id: int | None = None
) -> bool:
    """The core's word on whether this message gets an answer (mention, own thread, help channel)."""
    key = f"{PLATFORM}:{channel_id}:{thread_id}" if thread_id is not None else ""
    return bot.app.service.threads.answers(
        PLATFORM,
        str(channel_id),
        str(message.author.id),
        mentioned=mentions_bot(bot, message),
        thread_key=key,
    )


def member_of(author: discord.abc.User) -> Member:
    """The platform-neutral member for a Discord user (roles by name)."""
    roles = tuple(r.name for r in getattr(author, "roles", []) if not r.is_default())
    return Member(user_id=str(author.id), display_name=author.display_name, roles=roles)


def mentions_bot(bot: DeskhandBot, message: discord.Message) -> bool:
    """The bot was @-mentioned directly (not through @everyone or a role)."""
    return bot.user is not None and bot.user.id in message.raw_mentions


async def on_message(bot: DeskhandBot, message: discord.Message) -> None:
    """Listener: store a message meant for the bot in the inbox; a worker handles it (in order)."""
    if message.author.bot or message.webhook_id or message.guild is None:
        return
    if message.type not in ANSWERABLE_TYPES:
        return
    if not bot.first_sighting(message.id):
        return
    async with bot.inbox.arrival_order(message.channel.id):  # a thread's messages stay in order
        channel = await channel_of(bot, message)
        if channel is None:
            return
        lane = await bot.inbox.off_loop(lane_if_wanted, bot, message, channel)
        if lane:
            await bot.inbox.accept_message(message, lane)


async def channel_of(bot: DeskhandBot, message: discord.Message) -> Any:
    """The message's channel, fetched when the cache does not know it (threads after a restart)."""
    channel: Any = message.channel
    if isinstance(channel, discord.PartialMessageable):
        try:
            channel = await bot.fetch_channel(channel.id)
        except discord.HTTPException:
            log.warning("cannot resolve channel %s", message.channel.id)
            return None
    return channel


def lane_if_wanted(bot: DeskhandBot, message: discord.Message, channel: Any) -> str:
    """The message's lane when the bot must act on it (store it), '' for chatter it ignores.

    Ticket threads and staff-channel threads (relays, unmapped replies), the bot's member threads
    (the member, or anyone mentioning the bot), help channels and mentions anywhere.
    """
    if isinstance(channel, discord.Thread):
        parent = channel.parent_id
        lane = thread_lane(parent, channel.id)
        if bot.app.desk.find_by_staff_thread(PLATFORM, str(parent), str(channel.id)) is not None:
            return lane
        if is_staff_channel(bot.app, PLATFORM, str(parent)):
            return lane
        return lane if answers(bot, message, parent, channel.id) else ""
    if isinstance(channel, discord.TextChannel | discord.VoiceChannel):
        wanted = answers(bot, message, channel.id)
        return thread_lane(channel.id, message.id) if wanted else ""  # its thread shares its id
    return ""


async def handle_message(bot: DeskhandBot, message: discord.Message, event: Any = None) -> None:
    """Worker: route one stored message: staff thread, member thread / forum post, new question."""
    channel = await channel_of(bot, message)
    if isinstance(channel, discord.Thread):
        await _in_thread(bot, message, channel, event)
    elif isinstance(channel, discord.TextChannel | discord.VoiceChannel):
        await _in_channel(bot, message, channel, event)


async def _in_channel(
    bot: DeskhandBot, message: discord.Message, channel: Any, event: Any = None
) -> None:
    """A top-level message: answer when mentioned or in a help channel, in a new thread."""
    if not await asyncio.to_thread(answers, bot, message, channel.id):
        return
    mentioned = mentions_bot(bot, message)
    # A thread started from a message shares the message's id, so the key is known up front.
    await converse(
        bot,
        message,
        channel_id=channel.id,
        thread_id=message.id,
        thread=None,
        mentioned=mentioned,
        channel_name=channel.name,
        event=event,
    )


async def _in_thread(
    bot: DeskhandBot, message: discord.Message, thread: discord.Thread, event: Any = None
) -> None:
    """A message in a thread: staff relay, a follow-up, or a new forum post / thread question."""
    parent_id = thread.parent_id
    ticket = await asyncio.to_thread(
        bot.app.desk.find_by_staff_thread, PLATFORM, str(parent_id), str(thread.id)
    )
    if ticket is not None:
        await staff.on_staff_message(bot, message, ticket)
        return
    if await staff.unmapped_staff_thread(bot, message, thread):
        return
    if not await asyncio.to_thread(answers, bot, message, parent_id, thread.id):
        return  # e.g. other people chatting in the member's thread are not questions to the bot
    mentioned = mentions_bot(bot, message)
    parent = thread.parent
    await converse(
        bot,
        message,
        channel_id=parent_id,
        thread_id=thread.id,
        thread=thread,
        mentioned=mentioned,
        channel_name=getattr(parent, "name", "") or thread.name,
        event=event,
    )


async def converse(
    bot: DeskhandBot,
    message: discord.Message,
    *,
    channel_id: int,
    thread_id: int,
    thread: Any,
    mentioned: bool,
    channel_name: str,
    event: Any = None,
) -> None:
    """Run the support service for one message (typing meanwhile) and deliver its reply.

    A message already recorded is answered again only when its inbox event is being resumed
    after a crash (the saved reply, once); a plain repeat is ignored.
    """
    threads = bot.app.service.threads
    if await asyncio.to_thread(threads.recorded, PLATFORM, str(message.id)):
        key = f"{PLATFORM}:{channel_id}:{thread_id}"
        saved = await asyncio.to_thread(threads.resume, event, key, str(message.id))
        if saved is None:
            log.info("discord message %s was answered before; not again", message.id)
            return
        log.info("resuming delivery of the reply to discord message %s", message.id)
        await deliver_reply(bot, saved, thread=thread, source=message, member_id=message.author.id,
                            member_name=message.author.display_name, nonce=reply_nonce(event))  # fmt: skip
        return
    bot_id = bot.user.id if bot.user else None
    text = render.strip_mention(staff.attachment_text(message), bot_id)
    if not text:
        return
    msg = IncomingMessage(
        platform=PLATFORM,
        channel_id=str(channel_id),
        thread_id=str(thread_id),
        message_id=str(message.id),
        text=text,
        member=member_of(message.author),
        channel_name=channel_name,
        permalink=message.jump_url,
        mentioned=mentioned,
        guild_id=str(message.guild.id) if message.guild else "",
    )
    async with typing(thread or message.channel):
        reply = await asyncio.to_thread(bot.app.service.handle, msg)
    if event is not None and event.id:  # a crash from here on resends this reply, not a new one
        await asyncio.to_thread(bot.inbox.inbox.save_result, event.id, reply_to_dict(reply))
    await deliver_reply(
        bot,
        reply,
        thread=thread,
        source=message,
        member_id=message.author.id,
        member_name=message.author.display_name,
        nonce=reply_nonce(event),
    )
    if reply.private_notice or reply.delete_original:
        await withdraw_secret(bot, message, reply)


async def withdraw_secret(bot: DeskhandBot, message: discord.Message, reply: Reply) -> None:
    """A secret in a public channel: delete it if allowed (Manage Messages), tell the member privately."""
    if reply.delete_original:
        me = message.guild.me if message.guild else None
        allowed = me is None or message.channel.permissions_for(me).manage_messages
        if allowed:
            try:
                await message.delete()
            except discord.HTTPException as exc:
                log.info("could not delete message %s with a secret: %s", message.id, exc)
    if reply.private_notice:
        try:
            await message.author.send(reply.private_notice)
        except discord.HTTPException as exc:
            log.info("could not DM %s about a secret: %s", message.author.id, exc)


async def open_thread(message: discord.Message, reply: Reply) -> Any:
    """Open the member's thread from their message; fall back to the channel if not allowed.

    A resumed reply finds the thread an earlier attempt opened (it shares the message's id).
    """
    try:
        return await message.create_thread(
            name=render.thread_name(reply.member_text or message.content),
            auto_archive_duration=1440,
        )
    except discord.HTTPException as exc:
        try:
            existing = await message.guild.fetch_channel(message.id)  # type: ignore[union-attr]
        except (discord.HTTPException, AttributeError):
            existing = None
        if isinstance(existing, discord.Thread):
            return existing
        log.warning("could not open a thread on %s (%s); replying in channel", message.id, exc)
        return message.channel


async def deliver_reply(
    bot: DeskhandBot,
    reply: Reply,
    *,
    thread: Any,
    source: discord.Message | None,
    member_id: int,
    member_name: str,
    nonce: str = "",
) -> None:
    """Show a reply to the member (or staff in shadow mode) and perform its side effects."""
    if reply.route == "ignore":
        return
    if reply.route == "relay":
        await staff.relay_member_to_staff(bot, reply, member_name)
        return
    if reply.shadow:
        await staff.post_shadow(bot, reply, source)
        return
    if thread is None and source is not None:
        thread = await open_thread(source, reply)
    if reply.route == "escalate" and reply.ticket_id:
        await staff.open_escalation(bot, reply.ticket_id)  # card first, then the member is told
        if thread is not None:
            await staff.tell_member(bot, reply.ticket_id, reply, thread.id)
        return
    if thread is not None:
        await send_reply(bot, thread.id, reply, member_id, nonce)


def reply_nonce(event: Any) -> str:
    """Discord's idempotency key for the reply to one inbox event (the same on every attempt)."""
    return f"dh{event.id}" if event is not None and event.id else ""


async def send_reply(
    bot: DeskhandBot, channel_id: int, reply: Reply, member_id: int, nonce: str = ""
) -> None:
    """The reply text split cleanly, with the sources embed and buttons on the last part."""
    embed = render.citation_embed(reply)
    view_spec = None
    if reply.buttons and reply.conversation_id is not None:
        view_spec = {
            "kind": "member",
            "conversation_id": reply.conversation_id,
            "buttons": [
                {"action": b.action, "label": b.label, "value": b.value} for b in reply.buttons
            ],
        }
    await post_chunks(
        bot,
        channel_id,
        reply.text,
        embeds=[embed] if embed else None,
        view_spec=view_spec,
        mention=member_id,
        kind="reply",
        nonce=nonce,
    )


async def member_action(
    bot: DeskhandBot,
    interaction: discord.Interaction,
    action: str,
    conversation_id: int,
    value: str,
) -> None:
    """A member pressed Helpful / Not helpful / Talk to a person / an option."""
    await interaction.response.defer()  # a no-op when the press was deferred as it was stored
    actor = await asyncio.to_thread(interaction_actor, bot.app, interaction)
    check = await asyncio.to_thread(
        bot.app.service.threads.may_press, actor, action, conversation_id=conversation_id
    )
    conv = check.thread
    if conv is None:
        await interaction.followup.send("That conversation has expired.", ephemeral=True)
        return
    if check.refusal:
        await interaction.followup.send(check.refusal, ephemeral=True)
        return
    try:
        await interaction.edit_original_response(view=None)  # one answer per set of buttons
    except discord.HTTPException:
        log.info("could not clear buttons on %s", interaction.message)
    thread = interaction.channel
    event = event_of(interaction)
    if event is not None and event.result:  # resumed after a crash: the turn already ran
        reply = reply_from_dict(json.loads(event.result))
    else:
        async with typing(thread):
            reply = await asyncio.to_thread(
                bot.app.service.handle_action,
                conv.key,
                action,
                value,
                member_of(interaction.user),
                PLATFORM,
            )
        if event is not None and event.id:
            await asyncio.to_thread(bot.inbox.inbox.save_result, event.id, reply_to_dict(reply))
    if reply.route == "notice":
        await interaction.followup.send(reply.text, ephemeral=True)
        return
    await deliver_reply(
        bot,
        reply,
        thread=thread,
        source=None,
        member_id=int(conv.member_id),
        member_name=conv.member_name,
        nonce=reply_nonce(event),
    )
