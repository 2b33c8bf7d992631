"""Raw gateway/REST payload builders, shaped like Discord's own JSON (API v10)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from discord.utils import time_snowflake

NOW = datetime.now(UTC).isoformat()
EVERYONE_PERMS = "1024"  # view channel
ADMIN_PERMS = str(1 << 5)  # manage guild


class Ids:
    """Increasing snowflakes, unique across the whole test session."""

    _counter = itertools.count(1)

    def __init__(self) -> None:
        self.base = time_snowflake(datetime.now(UTC))

    def next(self) -> str:
        """A fresh snowflake string."""
        return str(self.base + next(self._counter) * 4096)


def user(uid: str, name: str, bot: bool = False) -> dict[str, Any]:
    """A user object."""
    return {
        "id": uid,
        "username": name.lower().replace(" ", "_"),
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


def role(rid: str, name: str, permissions: str = "0", position: int = 1) -> dict[str, Any]:
    """A guild role."""
    return {
        "id": rid,
        "name": name,
        "color": 0,
        "hoist": False,
        "position": position,
        "permissions": permissions,
        "managed": False,
        "mentionable": True,
        "flags": 0,
    }


def member(
    u: dict[str, Any], roles: list[str] | None = None, nick: str | None = None
) -> dict[str, Any]:
    """A guild member object (as embedded in MESSAGE_CREATE, without `user`)."""
    return {
        "roles": roles or [],
        "nick": nick,
        "joined_at": NOW,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
    }


def text_channel(cid: str, guild_id: str, name: str, position: int = 0) -> dict[str, Any]:
    """A guild text channel (type 0)."""
    return {
        "id": cid,
        "type": 0,
        "guild_id": guild_id,
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "rate_limit_per_user": 0,
        "last_message_id": None,
        "flags": 0,
    }


def forum_channel(cid: str, guild_id: str, name: str, position: int = 0) -> dict[str, Any]:
    """A guild forum channel (type 15): every post is a thread."""
    return {
        **text_channel(cid, guild_id, name, position),
        "type": 15,
        "available_tags": [],
        "default_reaction_emoji": None,
        "default_sort_order": None,
        "default_forum_layout": 0,
        "default_thread_rate_limit_per_user": 0,
    }


def thread(tid: str, guild_id: str, parent_id: str, owner_id: str, name: str) -> dict[str, Any]:
    """A public thread (type 11)."""
    return {
        "id": tid,
        "type": 11,
        "guild_id": guild_id,
        "parent_id": parent_id,
        "owner_id": owner_id,
        "name": name or "thread",
        "last_message_id": None,
        "message_count": 0,
        "member_count": 1,
        "rate_limit_per_user": 0,
        "flags": 0,
        "total_message_sent": 0,
        "applied_tags": [],
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": NOW,
            "locked": False,
            "create_timestamp": NOW,
        },
    }


def guild(
    gid: str,
    channels: list[dict[str, Any]],
    roles: list[dict[str, Any]],
    owner_id: str,
    threads: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A GUILD_CREATE payload with channels, threads and roles."""
    return {
        "id": gid,
        "name": "Lumen Community",
        "icon": None,
        "owner_id": owner_id,
        "roles": [role(gid, "@everyone", EVERYONE_PERMS, 0), *roles],
        "channels": channels,
        "threads": threads or [],
        "members": [],
        "member_count": 42,
        "emojis": [],
        "stickers": [],
        "features": [],
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "afk_timeout": 300,
        "nsfw_level": 0,
        "unavailable": False,
        "large": False,
        "joined_at": NOW,
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "system_channel_flags": 0,
    }


def message(
    mid: str,
    channel_id: str,
    guild_id: str | None,
    author: dict[str, Any],
    content: str,
    *,
    mentions: list[dict[str, Any]] | None = None,
    embeds: list[dict[str, Any]] | None = None,
    components: list[dict[str, Any]] | None = None,
    roles: list[str] | None = None,
    flags: int = 0,
    member: bool = True,
) -> dict[str, Any]:
    """A MESSAGE_CREATE payload (or a REST message object)."""
    data: dict[str, Any] = {
        "id": mid,
        "channel_id": channel_id,
        "author": author,
        "content": content,
        "timestamp": NOW,
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": "@everyone" in content,
        "mentions": mentions or [],
        "mention_roles": [],
        "attachments": [],
        "embeds": embeds or [],
        "pinned": False,
        "type": 0,
        "flags": flags,
        "components": components or [],
    }
    if guild_id:
        data["guild_id"] = guild_id
        if member:
            data["member"] = globals()["member"](author, roles)
    return data


def application(app_id: str, bot_user: dict[str, Any]) -> dict[str, Any]:
    """GET /oauth2/applications/@me."""
    return {
        "id": app_id,
        "name": "Deskhand",
        "icon": None,
        "description": "",
        "rpc_origins": [],
        "bot_public": True,
        "bot_require_code_grant": False,
        "bot": bot_user,
        "owner": user("1", "Owner"),
        "summary": "",
        "verify_key": "0" * 64,
        "team": None,
        "flags": 0,
        "tags": [],
        "interactions_endpoint_url": None,
    }


def _interaction(
    kind: int,
    iid: str,
    token: str,
    app_id: str,
    guild_id: str,
    channel: dict[str, Any],
    author: dict[str, Any],
    roles: list[str],
    permissions: str,
) -> dict[str, Any]:
    return {
        "id": iid,
        "application_id": app_id,
        "type": kind,
        "token": token,
        "version": 1,
        "guild_id": guild_id,
        "channel_id": channel["id"],
        "channel": channel,
        "member": {**member(author, roles), "user": author, "permissions": permissions},
        "app_permissions": "562949953421311",
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": guild_id},
        "context": 0,
        "attachment_size_limit": 8388608,
    }


def button_press(
    iid: str,
    token: str,
    app_id: str,
    guild_id: str,
    channel: dict[str, Any],
    author: dict[str, Any],
    msg: dict[str, Any],
    custom_id: str,
    roles: list[str] | None = None,
    permissions: str = EVERYONE_PERMS,
) -> dict[str, Any]:
    """INTERACTION_CREATE for a button (type 3) on a message the bot sent."""
    data = _interaction(3, iid, token, app_id, guild_id, channel, author, roles or [], permissions)
    data["message"] = msg
    data["data"] = {"custom_id": custom_id, "component_type": 2}
    return data


def slash_command(
    iid: str,
    token: str,
    app_id: str,
    guild_id: str,
    channel: dict[str, Any],
    author: dict[str, Any],
    command_id: str,
    text: str,
    roles: list[str] | None = None,
    permissions: str = EVERYONE_PERMS,
) -> dict[str, Any]:
    """INTERACTION_CREATE for `/deskhand command:<text>` (type 2)."""
    data = _interaction(2, iid, token, app_id, guild_id, channel, author, roles or [], permissions)
    data["data"] = {
        "id": command_id,
        "name": "deskhand",
        "type": 1,
        "guild_id": guild_id,
        "options": [{"name": "command", "type": 3, "value": text}],
    }
    return data


def modal_submit(
    iid: str,
    token: str,
    app_id: str,
    guild_id: str,
    channel: dict[str, Any],
    author: dict[str, Any],
    custom_id: str,
    values: dict[str, str],
    roles: list[str] | None = None,
    permissions: str = EVERYONE_PERMS,
) -> dict[str, Any]:
    """INTERACTION_CREATE for a submitted modal (type 5)."""
    data = _interaction(5, iid, token, app_id, guild_id, channel, author, roles or [], permissions)
    data["data"] = {
        "custom_id": custom_id,
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
            for k, v in values.items()
        ],
    }
    return data
