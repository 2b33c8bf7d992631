"""`stats`: outcomes, resolution, CSAT and staff response times, with a chart image."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from admin_commands.contracts import CommandResult
from admin_commands.parsing import UsageError
from admin_commands.registry import Context, command
from bot.charts_extra import with_chart_note
from bot.improve.review import cause_counts
from bot.monitoring.charts import render_lines, trend_data
from bot.monitoring.periods import parse_period
from bot.monitoring.scorecard import SEGMENTS, SERIES, compute_report, scorecard, segment_name
from bot.stats import GROUPINGS, format_duration, stats_report
from knowledge.models import utcnow

FIGURES = tuple(scorecard([]))

ALIASES = {
    "issue": "issue-type",
    "issue_type": "issue-type",
    "type": "issue-type",
    "issues": "issue-type",
    "channels": "channel",
    "platforms": "platform",
}


@dataclass
class StatsRequest:
    """What `stats` was asked for: a period, a segment, and whether to draw a trend."""

    days: float = 7
    by: str | None = None
    trend: bool = False
    series: str = ""
    figure: str | None = None


def parse_request(args: list[str]) -> StatsRequest:
    """`[7d|30d|8w] [trend [day|week] [FIGURE]] [by SEGMENT]`; one-line errors."""
    req = StatsRequest()
    rest = [a.lower() for a in args]
    while rest:
        word = rest.pop(0)
        if re.fullmatch(r"\d+[hdw]?", word):
            try:
                req.days = parse_period(word).total_seconds() / 86400
            except ValueError as exc:
                raise UsageError(str(exc)) from exc
        elif word == "trend":
            req.trend = True
        elif word in SERIES:
            req.trend, req.series = True, word
        elif word in FIGURES:
            req.trend, req.figure = True, word
        elif word == "by":
            if not rest:
                raise UsageError(f"`by` needs one of {', '.join(SEGMENTS)}.")
            word = rest.pop(0)
            try:
                req.by = segment_name(ALIASES.get(word, word))
            except ValueError as exc:
                raise UsageError(str(exc)) from exc
        else:
            raise UsageError(f"I don't understand `{word}`.")
    if not 1 / 24 <= req.days <= 365:
        raise UsageError("The period is 1h to 365d.")
    req.series = req.series or ("day" if req.days <= 31 else "week")
    return req


def parse_stats_args(args: list[str]) -> tuple[int, str | None]:
    """`[7d|30d|Nd] [by issue-type|channel|platform]` → (days, by) for the one-window view."""
    req = parse_request(args)
    return max(1, round(req.days)), req.by


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
    "stats [7d|30d|8w] [trend [day|week] [FIGURE]] [by SEGMENT]",
    "Questions, answered/clarified/escalated, resolution, CSAT and staff times, with a chart; "
    "`trend` draws day/week lines; segments: " + ", ".join(SEGMENTS) + ".",
    role="staff",
    examples=("stats", "stats 30d by issue-type", "stats 8w trend", "stats 8w trend by team"),
)
def stats_command(ctx: Context, args: list[str]) -> CommandResult:
    """Compute the numbers and the chart."""
    req = parse_request(args)
    if req.trend or (req.by and req.by not in GROUPINGS):
        return trend_command(ctx, req)
    days, by = max(1, round(req.days)), req.by
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
        ("Declined (off-topic)", pct(stats["declined"])),
        ("Small talk", pct(stats["small_talk"])),
        ("Languages", ", ".join(f"{k} {v}" for k, v in stats["languages"].items()) or "—"),
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
        ("Review causes", review_line(ctx.app.engine, days)),
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
        with_chart_note(
            f"{q} conversation(s) with a bot decision, {stats['tickets']} escalation ticket(s)."
            f"{note} *Confirmed* = member said helpful/rated or staff resolved; *assumed* = "
            "answered with no follow-up.",
            png,
        ),
        fields=fields,
        table=table,
        image_png=png,
        image_name=f"deskhand-stats-{days}d.png",
    )


def review_line(engine: Any, days: int) -> str:
    """Root causes tagged in review during the period, e.g. "knowledge-missing 3, correct 5"."""
    counts = cause_counts(engine, utcnow() - timedelta(days=days))
    return ", ".join(f"{cause} {n}" for cause, n in counts.items()) or "none tagged"


def trend_command(ctx: Context, req: StatsRequest) -> CommandResult:
    """The scorecard as a day/week series, with a line chart whose data is embedded."""
    until = utcnow()
    since = until - parse_period(f"{max(1, round(req.days * 24))}h")
    data = compute_report(
        ctx.app.engine,
        since,
        until,
        by=req.by,
        series=req.series,
        prices=ctx.app.settings.get("llm_prices"),
    )
    by = f" by {req.by}" if req.by else ""
    title = f"Deskhand {req.figure or 'rates'} per {req.series}{by}"
    chart = trend_data(data, req.figure, title)
    card = data["scorecard"]
    rates = (req.figure or "_rate").endswith("_rate")
    png = render_lines(chart)
    table = [["Period", "Conversations", *chart["series"]]]
    for i, start in enumerate(chart["labels"]):
        values = [_fmt(chart["series"][name][i], rates) for name in chart["series"]]
        table.append([start, str(chart["conversations"][i]), *values])
    return ctx.ok(
        title,
        with_chart_note(
            f"{card['conversations']} conversation(s) started {since:%Y-%m-%d} → {until:%Y-%m-%d}; "
            f"resolution {_fmt(card['resolution_rate'])} (confirmed {_fmt(card['confirmed_rate'])}, "
            f"assumed {_fmt(card['assumed_rate'])}), escalation {_fmt(card['escalation_rate'])}. "
            "Definitions: docs/metrics.md.",
            png,
        ),
        table=table,
        image_png=png,
        image_name=f"deskhand-trend-{req.series}.png",
    )


def _fmt(value: Any, rate: bool = True) -> str:
    """Rates as percentages, other numbers as they are, missing as a dash."""
    if value is None:
        return "—"
    return f"{100 * value:.0f}%" if rate else str(value)
