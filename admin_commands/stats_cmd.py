"""`stats`: outcomes, resolution, CSAT and staff response times, with a chart image."""

from __future__ import annotations

import re
from typing import Any

from admin_commands.contracts import CommandResult
from admin_commands.parsing import UsageError
from admin_commands.registry import Context, command
from bot.stats import GROUPINGS, format_duration, stats_report

ALIASES = {
    "issue": "issue-type",
    "issue_type": "issue-type",
    "type": "issue-type",
    "issues": "issue-type",
    "channels": "channel",
    "platforms": "platform",
}


def parse_stats_args(args: list[str]) -> tuple[int, str | None]:
    """`[7d|30d|Nd] [by issue-type|channel|platform]` → (days, by)."""
    days, by = 7, None
    rest = [a.lower() for a in args]
    while rest:
        word = rest.pop(0)
        match = re.fullmatch(r"(\d+)d?", word)
        if match:
            days = int(match.group(1))
            if not 1 <= days <= 365:
                raise UsageError("The period is 1d to 365d.")
        elif word == "by":
            if not rest:
                raise UsageError(f"`by` needs one of {', '.join(GROUPINGS)}.")
            word = rest.pop(0)
            by = ALIASES.get(word, word)
            if by not in GROUPINGS:
                raise UsageError(f"Group by one of {', '.join(GROUPINGS)}, not `{by}`.")
        else:
            raise UsageError(f"I don't understand `{word}`.")
    return days, by


ASSIST_LABELS = {
    "sent": "AI draft sent as is",
    "edited": "AI draft edited",
    "ignored": "AI draft not used",
    "none": "no AI draft",
}


def assist_fields(split: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """CSAT per way staff used the suggested reply; nothing when no rating had a draft."""
    if set(split) <= {"none"}:
        return []
    return [
        (f"CSAT, {ASSIST_LABELS.get(use, use)}", f"{row['mean']:.2f}/5 ({row['ratings']})")
        for use, row in split.items()
    ]


@command(
    "stats",
    "stats [7d|30d] [by issue-type|channel|platform]",
    "Questions, answered/clarified/escalated, resolution, CSAT and staff times, with a chart.",
    role="staff",
    examples=("stats", "stats 30d by issue-type"),
)
def stats_command(ctx: Context, args: list[str]) -> CommandResult:
    """Compute the numbers and the chart."""
    days, by = parse_stats_args(args)
    stats, png = stats_report(ctx.app.engine, days=days, by=by)
    q = stats["questions"]

    def pct(n: int) -> str:
        return f"{n} ({100 * n / q:.0f}%)" if q else str(n)

    csat = stats["csat"]
    fields = [
        ("Questions", str(q)),
        ("Answered", pct(stats["answered"])),
        ("Clarified", pct(stats["clarified"])),
        ("Escalated", pct(stats["escalated"])),
        ("Resolved (confirmed)", pct(stats["resolution"]["confirmed"])),
        ("Resolved (assumed)", pct(stats["resolution"]["assumed"])),
        (
            "CSAT",
            f"{csat['mean']:.2f}/5, {csat['pct_4_5']:.0f}% 4–5 ({csat['ratings']} ratings)"
            if csat["ratings"]
            else "no ratings",
        ),
        *assist_fields(stats["csat_by_assist"]),
        ("Median first staff reply", format_duration(stats["median_first_reply_s"])),
        ("Median time to resolution", format_duration(stats["median_resolution_s"])),
    ]
    table = None
    if by and stats["groups"]:
        table = [[by, "Questions", "Answered", "Clarified", "Escalated"]]
        for name, g in stats["groups"].items():
            table.append(
                [name, *(str(g[k]) for k in ("questions", "answered", "clarified", "escalated"))]
            )
    shadow = stats["decisions"]["shadow"]
    note = f" {shadow} decision(s) were in shadow mode (not posted)." if shadow else ""
    return ctx.ok(
        f"Stats, last {days} days" + (f" by {by}" if by else ""),
        f"{q} conversation(s) with a bot decision, {stats['tickets']} escalation ticket(s)."
        f"{note} *Confirmed* = member said helpful/rated or staff resolved; *assumed* = answered "
        "with no follow-up.",
        fields=fields,
        table=table,
        image_png=png,
        image_name=f"deskhand-stats-{days}d.png",
    )
