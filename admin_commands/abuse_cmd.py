"""`block @member [duration]`, `unblock @member`, `limits show|set`: abuse controls (audited)."""

from __future__ import annotations

import re
from datetime import timedelta

from admin_commands.contracts import CommandResult
from admin_commands.parsing import UsageError, parse_int, user_ref
from admin_commands.registry import Context, command
from bot.abuse.gate import DEFAULT_LIMITS, limits_of
from knowledge.models import utcnow

UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(token: str) -> timedelta:
    """`30m`, `12h`, `7d`, `2w` as a timedelta."""
    match = re.fullmatch(r"(\d{1,5})([mhdw])", token.lower())
    if not match:
        raise UsageError(f"`{token}` is not a duration: use e.g. 30m, 12h, 7d or 2w.")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


@command(
    "block",
    "block @member [30m|12h|7d|2w]",
    "Ignore a member's messages (for a while, or until unblocked).",
    examples=("block @spammer 1d", "block @spammer"),
    family="privacy",
)
def block(ctx: Context, args: list[str]) -> CommandResult:
    """Add the member to the block list (audited, undoable)."""
    if not 1 <= len(args) <= 2 or not user_ref(args[0]):
        raise UsageError("Name one member and optionally a duration, e.g. `block @ann 1d`.")
    key = f"{ctx.caller.platform}:{user_ref(args[0])}"
    until = utcnow() + parse_duration(args[1]) if len(args) == 2 else None
    blocks = dict(ctx.app.settings.get("blocked_members") or {})
    blocks[key] = until.isoformat() if until else ""
    _, audit_id = ctx.set_setting("blocked_members", blocks)
    span = f"until {until:%Y-%m-%d %H:%M} UTC" if until else "until unblocked"
    return ctx.ok(
        "Member blocked",
        f"{key} is ignored {span}. Undo: `/deskhand unblock {args[0]}` or "
        f"`/deskhand audit undo {audit_id}`.",
    )


@command(
    "unblock",
    "unblock @member",
    "Answer a blocked member again.",
    examples=("unblock @ann",),
    family="privacy",
)
def unblock(ctx: Context, args: list[str]) -> CommandResult:
    """Remove the member from the block list (audited)."""
    if len(args) != 1 or not user_ref(args[0]):
        raise UsageError("Name one member, e.g. `unblock @ann`.")
    key = f"{ctx.caller.platform}:{user_ref(args[0])}"
    blocks = dict(ctx.app.settings.get("blocked_members") or {})
    if key not in blocks:
        raise UsageError(f"{key} is not blocked.")
    del blocks[key]
    ctx.set_setting("blocked_members", blocks)
    return ctx.ok("Member unblocked", f"{key} is answered again from the next message.")


@command(
    "limits set",
    "limits set member_per_minute|channel_per_minute|cooldown_s N",
    "Rate limits before the bot holds messages back (0 turns a limit off).",
    examples=("limits set member_per_minute 5", "limits set channel_per_minute 60"),
    family="privacy",
)
def limits_set(ctx: Context, args: list[str]) -> CommandResult:
    """Change one limit (audited)."""
    if len(args) != 2 or args[0].lower() not in DEFAULT_LIMITS:
        raise UsageError(f"Give one of {', '.join(DEFAULT_LIMITS)} and a number.")
    key = args[0].lower()
    value = parse_int(args[1], key, low=0 if key != "cooldown_s" else 1, high=100_000)
    current = limits_of(ctx.app.settings.get("rate_limits"))
    _, audit_id = ctx.set_setting("rate_limits", {**current, key: value})
    return ctx.ok(
        "Limits updated",
        f"{key}: {current[key]} → {value}. Undo: `/deskhand audit undo {audit_id}`.",
        fields=[(k, str(v)) for k, v in {**current, key: value}.items()],
    )
