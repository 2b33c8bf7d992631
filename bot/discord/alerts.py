"""Alerts and the weekly digest on Discord: render the core's posts as an embed, send, report back."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.discord import render
from bot.discord.commands import embed_message
from bot.monitoring.poster import AlertPoster, Post

if TYPE_CHECKING:
    from bot.discord.client import DeskhandBot

log = logging.getLogger(__name__)
_ROLE = re.compile(r"<@&(\d+)>")
_USER = re.compile(r"<@!?(\d+)>")


def oncall_mentions(mention: str) -> discord.AllowedMentions:
    """Ping exactly the on-call role or user an admin set, and nobody else."""
    roles = [discord.Object(id=int(r)) for r in _ROLE.findall(mention)]
    users = [discord.Object(id=int(u)) for u in _USER.findall(mention)]
    if not (roles or users):
        return render.NO_MENTIONS
    return discord.AllowedMentions(everyone=False, roles=roles, users=users, replied_user=False)


def render_post(post: Post) -> dict[str, Any]:
    """Send kwargs for one post: an embed with the evidence and the chart, the mention as content."""
    kwargs = embed_message(post)
    if post.mention:
        kwargs["content"] = post.mention
        kwargs["allowed_mentions"] = oncall_mentions(post.mention)
    return kwargs


async def post_alerts(bot: DeskhandBot, poster: AlertPoster) -> int:
    """Send every post that is due; returns how many went out."""
    sent = 0
    for post in await asyncio.to_thread(poster.due):
        try:
            channel = bot.get_partial_messageable(int(post.channel))
            await channel.send(**render_post(post))
        except (discord.HTTPException, ValueError) as exc:
            await asyncio.to_thread(poster.failed, post, str(exc))
            continue
        await asyncio.to_thread(poster.sent, post)
        sent += 1
    return sent
