"""`help`: only what the caller may run, grouped by family, with examples."""

from __future__ import annotations

from admin_commands.contracts import CommandResult
from admin_commands.permissions import allowed
from admin_commands.registry import REGISTRY, Context, command

FAMILIES = {
    "help": "Help",
    "tickets": "Tickets (the staff desk)",
    "kb": "Knowledge base",
    "threshold": "Confidence thresholds",
    "scope": "Scope",
    "route": "Routing",
    "channel": "Channels",
    "persona": "Persona",
    "stats": "Stats",
    "review": "Improvement loop (trace, review, gaps)",
    "experiment": "Experiments (staged rollout)",
    "audit": "Audit",
    "outbox": "Outbox (undelivered messages)",
    "access": "Access",
}


@command(
    "help",
    "help [FAMILY]",
    "List the commands you can run, with examples.",
    role="member",
    examples=("help", "help kb"),
)
def help_command(ctx: Context, args: list[str]) -> CommandResult:
    """List commands the caller's role allows, optionally one family."""
    order = list(FAMILIES)
    mine = [c for c in REGISTRY.commands if allowed(ctx.role, c.role)]
    mine.sort(key=lambda c: order.index(c.family) if c.family in order else len(order))
    if args:
        wanted = args[0].lower()
        mine = [c for c in mine if c.family == wanted]
        if not mine:
            known = sorted({c.family for c in REGISTRY.commands if allowed(ctx.role, c.role)})
            return CommandResult(
                ok=False,
                title="Unknown help topic",
                text=f"No commands you can run under `{wanted}`. Topics: {', '.join(known)}.",
                usage=ctx.command.usage,
            )
    lines = [f"You are **{ctx.role}** on {ctx.caller.platform}. Commands you can run:"]
    family = ""
    for cmd in mine:
        if cmd.family != family:
            family = cmd.family
            lines.append(f"\n**{FAMILIES.get(family, family)}**")
            if not args:  # one example per family keeps the full list under chat size limits
                lines.append(f"e.g. `/deskhand {cmd.examples[0]}`" if cmd.examples else "")
        lines.append(f"- `{cmd.usage}` — {cmd.summary}")
        if args:
            lines += [f"    e.g. `/deskhand {e}`" for e in cmd.examples]
    if not args and ctx.role != "member":
        lines.append("\n`/deskhand help FAMILY` (e.g. `help kb`) shows every example.")
    if ctx.role == "member":
        lines.append(
            "\nAsk your question in a help channel or mention me; staff and admins have more "
            "commands here."
        )
    return ctx.ok("Deskhand commands", "\n".join(lines))
