"""Who may run what: admin (everything), staff (desk work, candidates, stats, search), member (help)."""

from __future__ import annotations

from typing import Any

from admin_commands.contracts import Caller, Role

RANK: dict[str, int] = {"member": 0, "staff": 1, "admin": 2}


def _split(value: Any) -> set[str]:
    """A comma-separated config value or a stored list, as a set of clean strings."""
    if not value:
        return set()
    items = value.split(",") if isinstance(value, str) else list(value)
    return {str(item).strip() for item in items if str(item).strip()}


def _stored(app: Any, key: str) -> set[str]:
    """Ids granted from chat (settings list of "platform:id" or bare ids); empty if unset."""
    try:
        return _split(app.settings.get(key))
    except Exception:  # a missing settings table must not lock everyone out of `help`
        return set()


def _matches(caller: Caller, granted: set[str]) -> bool:
    """True when the caller's id, platform-qualified id, or one of their roles is granted."""
    if not granted:
        return False
    keys = {caller.user_id, f"{caller.platform}:{caller.user_id}"}
    keys |= set(caller.roles) | {f"{caller.platform}:{r}" for r in caller.roles}
    keys |= {r.lower() for r in caller.roles}
    return bool(keys & (granted | {g.lower() for g in granted}))


def role_of(app: Any, caller: Caller) -> Role:
    """The caller's role from config (env) and chat-granted settings; console is always admin."""
    if caller.platform == "console":
        return "admin"
    config = app.config
    if caller.platform == "slack":
        admins = _split(config.slack_admin_users)
        staff = _split(config.slack_staff_users)
    elif caller.platform == "discord":
        if caller.is_guild_admin:
            return "admin"
        admins = _split(config.discord_admin_roles)
        staff = _split(config.discord_staff_roles)
    else:
        admins, staff = set(), set()
    admins |= _stored(app, "admin_users")
    staff |= _stored(app, "staff_users")
    if _matches(caller, admins):
        return "admin"
    if _matches(caller, staff):
        return "staff"
    return "member"


def allowed(role: str, needed: str) -> bool:
    """True when `role` is at least `needed`."""
    return RANK.get(role, 0) >= RANK.get(needed, 2)
