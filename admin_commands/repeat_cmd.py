"""`repeat window [DAYS]`: how far back an unresolved thread makes a new one a repeat contact."""

from __future__ import annotations

from admin_commands.contracts import CommandResult
from admin_commands.parsing import UsageError, parse_int
from admin_commands.registry import Context, command

KEY = "repeat_window_days"


@command(
    "repeat window",
    "repeat window [DAYS]",
    "Show or set how many days back an unresolved or disputed thread makes a new one a repeat "
    "contact (escalated).",
    examples=("repeat window", "repeat window 14"),
    family="route",
)
def repeat_window(ctx: Context, args: list[str]) -> CommandResult:
    """Show the window, or change it (audited, undoable)."""
    current = int(ctx.app.settings.get(KEY) or 7)
    if not args:
        return ctx.ok(
            "Repeat contact",
            f"A member back within **{current} days** about an issue whose earlier thread is still "
            "with staff, was marked Not helpful, or came back after the answer is escalated as a "
            "repeat contact.",
            fields=[("Window (days)", str(current))],
        )
    if len(args) != 1:
        raise UsageError("Give one number of days, e.g. `repeat window 14`.")
    days = parse_int(args[0], "days", low=1, high=365)
    _, audit_id = ctx.set_setting(KEY, days)
    return ctx.ok(
        "Repeat contact",
        f"Window: {current} → {days} days. Undo: `/deskhand audit undo {audit_id}`.",
        fields=[("Window (days)", str(days))],
    )
