"""`channel ...`: help channels (answer everything), mention-only vs all, and shadow mode."""

from __future__ import annotations

from typing import Any

from admin_commands.contracts import CommandResult
from admin_commands.parsing import UsageError, pop_channel
from admin_commands.registry import Context, command

SWITCH = {"on": True, "off": False, "true": True, "false": False, "yes": True, "no": False}


def _target(ctx: Context, args: list[str], expected: int) -> tuple[list[str], str]:
    rest, channel = pop_channel(args, ctx.caller.channel_id)
    if len(rest) != expected:
        raise UsageError("Wrong number of arguments.")
    if not channel:
        raise UsageError("Run this in the channel, or name it: #channel.")
    return rest, channel


def _change(ctx: Context, channel: str, **changes: Any) -> CommandResult:
    settings = ctx.app.settings
    before = settings.channel(ctx.caller.platform, channel)
    after = settings.update_channel(ctx.caller.platform, channel, actor=ctx.actor, **changes)
    audit_id = ctx.last_audit("set channels")
    diff = ", ".join(f"{k}: {before[k]} → {after[k]}" for k in changes if before.get(k) != after[k])
    return ctx.ok(
        "Channel updated",
        f"#{channel}: {diff or 'no change'}. Applies to the next message. "
        f"Undo: `/deskhand audit undo {audit_id}`.",
        fields=[(k, str(v)) for k, v in after.items()],
    )


@command(
    "channel show",
    "channel show [#channel]",
    "How the bot behaves in a channel.",
    role="staff",
    examples=("channel show",),
    family="channel",
)
def channel_show(ctx: Context, args: list[str]) -> CommandResult:
    """The channel's stored config plus config-file help channels."""
    _, channel = _target(ctx, args, 0)
    cfg = ctx.app.settings.channel(ctx.caller.platform, channel)
    config = ctx.app.config
    listed = config.split(getattr(config, f"{ctx.caller.platform}_help_channels", "") or "")
    return ctx.ok(
        f"#{channel}",
        "Help channel (answers every message)"
        if cfg["enabled"] or channel in listed
        else f"Answers only when mentioned (mode {cfg['mode']})",
        fields=[(k, str(v)) for k, v in cfg.items()]
        + [("In config help channels", "yes" if channel in listed else "no")],
    )


@command(
    "channel enable",
    "channel enable [#channel]",
    "Make a help channel: the bot answers every message there.",
    examples=("channel enable", "channel enable #help"),
)
def channel_enable(ctx: Context, args: list[str]) -> CommandResult:
    """enabled = True."""
    _, channel = _target(ctx, args, 0)
    return _change(ctx, channel, enabled=True)


@command(
    "channel disable",
    "channel disable [#channel]",
    "Stop treating a channel as a help channel.",
    examples=("channel disable #random",),
)
def channel_disable(ctx: Context, args: list[str]) -> CommandResult:
    """enabled = False."""
    _, channel = _target(ctx, args, 0)
    return _change(ctx, channel, enabled=False)


@command(
    "channel mode",
    "channel mode mention-only|all [#channel]",
    "Answer only when mentioned, or every message.",
    examples=("channel mode mention-only", "channel mode all #help"),
)
def channel_mode(ctx: Context, args: list[str]) -> CommandResult:
    """mode = mention-only | all."""
    rest, channel = _target(ctx, args, 1)
    mode = rest[0].lower()
    if mode in {"mention", "mentions", "mention_only"}:
        mode = "mention-only"
    if mode not in {"mention-only", "all"}:
        raise UsageError(f"Mode is `mention-only` or `all`, not `{rest[0]}`.")
    return _change(ctx, channel, mode=mode)


@command(
    "channel shadow",
    "channel shadow on|off [#channel]",
    "Shadow mode: the bot decides and records, staff see what it would say, members see nothing.",
    examples=("channel shadow on",),
)
def channel_shadow(ctx: Context, args: list[str]) -> CommandResult:
    """shadow = on | off."""
    rest, channel = _target(ctx, args, 1)
    value = SWITCH.get(rest[0].lower())
    if value is None:
        raise UsageError(f"Say `on` or `off`, not `{rest[0]}`.")
    return _change(ctx, channel, shadow=value)
