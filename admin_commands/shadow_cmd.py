"""`shadow`: how often the bot's shadow drafts agree with the people who answered, per issue type."""

from __future__ import annotations

from admin_commands.contracts import CommandResult
from admin_commands.parsing import UsageError, parse_days, parse_flags
from admin_commands.registry import Context, command
from bot.improve.shadow import DEFAULT_DAYS, READY_LOWER_BOUND, READY_MIN_PAIRS, shadow_report

MAX_LISTED = 15


@command(
    "shadow",
    "shadow [--days N]",
    "In shadow channels: does the bot's draft match what staff did (same article, same decision "
    "to hand off)? Per issue type, with intervals, and where the bot is ready to go live.",
    role="staff",
    examples=("shadow", "shadow --days 90"),
    family="review",
)
def shadow_command(ctx: Context, args: list[str]) -> CommandResult:
    """Agreement table per issue type; the rule for "ready" is stated with it."""
    positional, flags = parse_flags(args, valued={"days"})
    if positional:
        raise UsageError("`shadow` takes only --days.")
    days = parse_days(flags, DEFAULT_DAYS)
    answer = float(ctx.app.settings.thresholds()["answer"])
    report = shadow_report(ctx.app.engine, ctx.app.kb.search, answer, days)
    title = f"Shadow agreement, last {days} days"
    if not report.overall.pairs:
        return ctx.ok(
            title,
            "No shadow conversation has a staff reply yet. Turn shadow mode on in a help channel "
            "(`/deskhand channel shadow on`); when staff answer members there, each reply is "
            "compared with the bot's draft.",
        )
    table = [
        ["Issue type", "Pairs", "Agree", "95 % interval", "Same article", "Both hand off", "Ready"]
    ]
    for row in [*report.by_issue_type[:MAX_LISTED], report.overall]:
        table.append(
            [
                row.issue_type,
                str(row.pairs),
                f"{row.rate:.0%}",
                f"{row.low:.0%}–{row.high:.0%}",
                str(row.same_article),
                str(row.same_handoff),
                "yes" if row.ready else "no",
            ]
        )
    ready = [a.issue_type for a in report.by_issue_type if a.ready]
    text = (
        f"{report.overall.agreed} of {report.overall.pairs} drafts matched what staff did. "
        + (f"Ready to go live: {', '.join(ready)}. " if ready else "No issue type is ready yet. ")
        + f"Ready means at least {READY_MIN_PAIRS} pairs and an interval starting at "
        f"{READY_LOWER_BOUND:.0%} or more."
    )
    if report.disagreements:
        text += (
            " Read a disagreement with `/deskhand trace "
            + str(report.disagreements[0]["conversation_id"])
            + "`."
        )
    return ctx.ok(title, text, table=table)
