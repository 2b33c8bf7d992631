"""`access ...`: grant staff/admin from chat (stored in settings admin_users / staff_users)."""

from __future__ import annotations

from admin_commands.contracts import CommandResult
from admin_commands.parsing import CommandError, UsageError, user_ref
from admin_commands.registry import Context, command

KEYS = {"admin": "admin_users", "staff": "staff_users"}


def _split(value: str) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@command(
    "access list",
    "access list",
    "Who is admin or staff (from config and from chat grants).",
    examples=("access list",),
)
def access_list(ctx: Context, args: list[str]) -> CommandResult:
    """Config values plus chat grants."""
    if args:
        raise UsageError("`access list` takes no arguments.")
    config = ctx.app.config
    rows = [["Role", "Source", "Who"]]
    rows.append(["admin", "SLACK_ADMIN_USERS", ", ".join(_split(config.slack_admin_users)) or "—"])
    rows.append(["staff", "SLACK_STAFF_USERS", ", ".join(_split(config.slack_staff_users)) or "—"])
    rows.append(
        ["admin", "DISCORD_ADMIN_ROLES", ", ".join(_split(config.discord_admin_roles)) or "—"]
    )
    rows.append(
        ["staff", "DISCORD_STAFF_ROLES", ", ".join(_split(config.discord_staff_roles)) or "—"]
    )
    for role, key in KEYS.items():
        granted = ctx.app.settings.get(key) or []
        rows.append([role, "granted in chat", ", ".join(granted) or "—"])
    return ctx.ok(
        "Access",
        "Discord members with Manage Server are always admin; console users are admin.",
        table=rows,
    )


def _role_target(ctx: Context, args: list[str]) -> tuple[str, str, list[str]]:
    """Parse `admin|staff @who` into (settings key, platform:id entry, current grants)."""
    if len(args) != 2 or args[0].lower() not in KEYS:
        raise UsageError("Give the role (admin or staff) and a user or role mention.")
    who = user_ref(args[1])
    if who is None:
        raise UsageError(f"`{args[1]}` is not a user or role mention.")
    key = KEYS[args[0].lower()]
    return key, f"{ctx.caller.platform}:{who}", list(ctx.app.settings.get(key) or [])


@command(
    "access grant",
    "access grant admin|staff @user|@role",
    "Give a user (or Discord role / Slack user group) a role.",
    examples=("access grant staff @dana",),
)
def access_grant(ctx: Context, args: list[str]) -> CommandResult:
    """Add platform:id to the role's settings list (audited)."""
    key, entry, current = _role_target(ctx, args)
    if entry in current:
        raise CommandError(f"{entry} is already {args[0].lower()}.")
    _, audit_id = ctx.set_setting(key, [*current, entry])
    return ctx.ok(
        "Access granted",
        f"{entry} is now {args[0].lower()}. Undo: `/deskhand audit undo {audit_id}` "
        f"or `/deskhand access revoke {args[0].lower()} {args[1]}`.",
    )


@command(
    "access revoke",
    "access revoke admin|staff @user|@role",
    "Take back a role granted in chat.",
    examples=("access revoke staff @dana",),
)
def access_revoke(ctx: Context, args: list[str]) -> CommandResult:
    """Remove platform:id from the role's settings list (audited)."""
    key, entry, current = _role_target(ctx, args)
    if entry not in current:
        raise CommandError(
            f"{entry} was not granted {args[0].lower()} in chat (config grants "
            "are changed in the environment)."
        )
    if entry == f"{ctx.caller.platform}:{ctx.caller.user_id}" and args[0].lower() == "admin":
        raise CommandError("You cannot revoke your own admin role; ask another admin.")
    _, audit_id = ctx.set_setting(key, [e for e in current if e != entry])
    return ctx.ok(
        "Access revoked",
        f"{entry} is no longer {args[0].lower()}. Undo: `/deskhand audit undo {audit_id}`.",
    )
