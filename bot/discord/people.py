"""Discord users as the policy sees them: roles by name and id, guild admin, staff-channel presence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from bot.discord.delivery import PLATFORM
from bot.policy import Actor

if TYPE_CHECKING:  # adapters receive the running app
    from bot.app import Deskhand


def _roles(user: Any) -> tuple[str, ...]:
    """Role names and ids of a guild member (none for a plain user)."""
    roles: list[str] = []
    for role in getattr(user, "roles", []) or []:
        if not role.is_default():
            roles += [role.name, str(role.id)]
    return tuple(roles)


def _parent_channel(channel: Any, channel_id: Any = None) -> str:
    """The channel a thread belongs to, or the channel itself."""
    return str(
        getattr(channel, "parent_id", None) or getattr(channel, "id", None) or channel_id or ""
    )


def interaction_actor(app: Deskhand, interaction: discord.Interaction) -> Actor:
    """Who pressed a button, and whether they pressed it inside a staff channel."""
    user = interaction.user
    perms = interaction.permissions
    channel = _parent_channel(interaction.channel, interaction.channel_id)
    return Actor(
        platform=PLATFORM,
        user_id=str(user.id),
        display_name=user.display_name,
        roles=_roles(user),
        is_guild_admin=bool(perms.manage_guild or perms.administrator),
        in_staff_channel=bool(channel) and app.policy.is_staff_channel(PLATFORM, channel),
    )


def message_actor(app: Deskhand, message: discord.Message) -> Actor:
    """Who wrote a message, and whether they wrote it inside a staff channel (or its threads)."""
    author = message.author
    perms = getattr(author, "guild_permissions", None)
    channel = _parent_channel(message.channel)
    return Actor(
        platform=PLATFORM,
        user_id=str(author.id),
        display_name=author.display_name,
        roles=_roles(author),
        is_guild_admin=bool(perms and (perms.manage_guild or perms.administrator)),
        in_staff_channel=bool(channel) and app.policy.is_staff_channel(PLATFORM, channel),
    )
