"""Support metrics for `/deskhand stats`: outcomes, resolution, CSAT, staff times, and a PNG chart."""

from __future__ import annotations

import io
import json
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.charts_extra import figure_class
from bot.models import Conversation, Decision, Feedback, Ticket
from knowledge.models import as_utc, utcnow

GROUPINGS = ("issue-type", "channel", "platform")
OUTCOMES = ("answered", "clarified", "escalated")  # charted and tabled
QUIET_OUTCOMES = ("declined", "small_talk")  # off-topic declined, greetings/thanks: no staff work
CONFIRMING = ("helpful", "rating", "confirmed")  # feedback kinds that confirm a resolution


def _utc(value: datetime | None) -> datetime | None:
    """Databases may hand back naive UTC datetimes; make them comparable."""
    return None if value is None else as_utc(value)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _group_key(by: str | None, conv: Conversation, decisions: list[Decision]) -> str:
    if by == "platform":
        return conv.platform or "unknown"
    if by == "channel":
        return f"{conv.platform}:#{conv.channel_id}"
    issue = conv.issue_type or next((d.issue_type for d in reversed(decisions) if d.issue_type), "")
    return issue or "unclassified"


def _last_support_route(rows: list[Decision]) -> str:
    """The last route that was not small talk ("bye" after an answer changes nothing)."""
    support = [d.route for d in rows if d.route != "smalltalk"]
    return support[-1] if support else ""


def compute_stats(
    engine: Engine, days: int = 7, by: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Every number `stats` shows, for conversations with a bot decision in the window.

    A conversation ("question") counts once, by its furthest outcome: escalated if any decision
    escalated, else answered, else clarified, else declined (off-topic), else small talk. Resolution is *confirmed* when the
    member said helpful (or thanked the bot after an answer), rated, or staff resolved the ticket; *assumed* when it was answered and
    nothing followed (no feedback, no further message); everything else is unresolved.
    """
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}")
    until = _utc(now) or utcnow()
    since = until - timedelta(days=days)
    start, end = since, until
    with Session(engine) as session:
        decisions = list(
            session.exec(
                select(Decision)
                .where(col(Decision.created_at) >= start)
                .where(col(Decision.created_at) <= end)
                .order_by(col(Decision.id))
            )
        )
        conv_ids = sorted({d.conversation_id for d in decisions})
        convs = {
            c.id: c
            for c in session.exec(select(Conversation).where(col(Conversation.id).in_(conv_ids)))
        }
        feedback = list(
            session.exec(select(Feedback).where(col(Feedback.conversation_id).in_(conv_ids)))
        )
        tickets = list(
            session.exec(
                select(Ticket)
                .where(col(Ticket.created_at) >= start)
                .where(col(Ticket.created_at) <= end)
            )
        )
        conv_tickets = list(
            session.exec(select(Ticket).where(col(Ticket.conversation_id).in_(conv_ids)))
        )
        ratings = list(
            session.exec(
                select(Feedback)
                .where(Feedback.kind == "rating")
                .where(col(Feedback.created_at) >= start)
                .where(col(Feedback.created_at) <= end)
            )
        )
        rated_ids = {r.ticket_id for r in ratings if r.ticket_id is not None}
        rated_tickets: dict[int | None, Ticket] = {
            t.id: t for t in session.exec(select(Ticket).where(col(Ticket.id).in_(rated_ids)))
        }

    by_conv: dict[int, list[Decision]] = defaultdict(list)
    for d in decisions:
        by_conv[d.conversation_id].append(d)
    fb_by_conv: dict[int, set[str]] = defaultdict(set)
    for f in feedback:
        fb_by_conv[f.conversation_id or 0].add(f.kind)
    resolved_convs = {t.conversation_id for t in conv_tickets if t.status == "resolved"}
    ticket_convs = {t.conversation_id for t in conv_tickets}

    totals = {k: 0 for k in ("questions", *OUTCOMES, *QUIET_OUTCOMES)}
    languages: Counter[str] = Counter()
    resolution = {"confirmed": 0, "assumed": 0, "unresolved": 0}
    groups: dict[str, dict[str, int]] = defaultdict(
        lambda: {k: 0 for k in ("questions", *OUTCOMES, *QUIET_OUTCOMES)}
    )
    for conv_id, rows in by_conv.items():
        routes = {d.route for d in rows}
        if "escalate" in routes or conv_id in ticket_convs:
            outcome = "escalated"
        elif "answer" in routes:
            outcome = "answered"
        elif "clarify" in routes:
            outcome = "clarified"
        elif "decline" in routes:
            outcome = "declined"
        else:
            outcome = "small_talk"
        kinds = fb_by_conv.get(conv_id, set())
        if set(CONFIRMING) & kinds or conv_id in resolved_convs:
            resolution["confirmed"] += 1
        elif outcome == "answered" and _last_support_route(rows) == "answer" and not kinds:
            resolution["assumed"] += 1
        else:
            resolution["unresolved"] += 1
        totals["questions"] += 1
        totals[outcome] += 1
        languages[next((d.language for d in rows if d.language), "") or "unknown"] += 1
        if by:
            conv = convs.get(conv_id) or Conversation(
                key="",
                platform=rows[0].platform,
                channel_id=rows[0].channel_id,
                thread_id="",
                member_id="",
            )
            group = groups[_group_key(by, conv, rows)]
            group["questions"] += 1
            group[outcome] += 1

    values = [r.rating for r in ratings if r.rating is not None]
    first_reply = [
        (_utc(t.first_staff_reply_at) - _utc(t.created_at)).total_seconds()  # type: ignore[operator]
        for t in tickets
        if t.first_staff_reply_at
    ]
    to_resolve = [
        (_utc(t.resolved_at) - _utc(t.created_at)).total_seconds()  # type: ignore[operator]
        for t in tickets
        if t.status == "resolved" and t.resolved_at
    ]
    stats: dict[str, Any] = {
        "days": days,
        "since": since.isoformat(timespec="seconds"),
        "until": until.isoformat(timespec="seconds"),
        "by": by,
        **totals,
        "decisions": {
            "total": len(decisions),
            **{r: sum(d.route == r for d in decisions) for r in ("answer", "clarify", "escalate")},
            "shadow": sum(bool(d.shadow) for d in decisions),
        },
        "resolution": resolution,
        "languages": dict(languages.most_common()),
        "csat": {
            "ratings": len(values),
            "mean": round(statistics.fmean(values), 2) if values else None,
            "pct_4_5": round(100 * sum(v >= 4 for v in values) / len(values), 1)
            if values
            else None,
        },
        "csat_by_assist": csat_by_assist(ratings, rated_tickets),
        "tickets": len(tickets),
        "median_first_reply_s": _median(first_reply),
        "median_resolution_s": _median(to_resolve),
        "groups": {k: dict(v) for k, v in sorted(groups.items())},
    }
    stats["chart"] = chart_data(stats)
    return stats


def assist_use(ticket: Ticket | None) -> str:
    """How staff used the suggested reply on a ticket: sent, edited, ignored, or none offered."""
    if ticket is None:
        return "none"
    try:
        extra = json.loads(ticket.extra or "{}")
    except ValueError:
        return "none"
    used = (extra.get("assist") or {}).get("used")
    if used:
        return str(used)
    return "ignored" if extra.get("suggested_reply") else "none"


def csat_by_assist(ratings: list[Feedback], tickets: dict[int | None, Ticket]) -> dict[str, Any]:
    """Mean rating and count per assist use, so teams see whether AI drafts help or hurt CSAT."""
    buckets: dict[str, list[int]] = defaultdict(list)
    for rating in ratings:
        if rating.rating is not None:
            buckets[assist_use(tickets.get(rating.ticket_id))].append(rating.rating)
    return {
        use: {"ratings": len(vals), "mean": round(statistics.fmean(vals), 2)}
        for use, vals in sorted(buckets.items())
    }


def chart_data(stats: dict[str, Any]) -> dict[str, Any]:
    """Exactly the numbers the chart draws (so tests and readers can check the picture)."""
    if stats.get("by") and stats["groups"]:
        labels = list(stats["groups"])
        return {
            "kind": "stacked",
            "labels": labels,
            "series": {o: [stats["groups"][g][o] for g in labels] for o in OUTCOMES},
        }
    labels = ["questions", *OUTCOMES, "confirmed", "assumed"]
    values = [
        stats["questions"],
        *(stats[o] for o in OUTCOMES),
        stats["resolution"]["confirmed"],
        stats["resolution"]["assumed"],
    ]
    return {"kind": "bars", "labels": labels, "series": {"count": values}}


def render_chart(stats: dict[str, Any]) -> bytes | None:
    """A PNG of the chart data (matplotlib's Agg canvas); None without the charts extra."""
    figure = figure_class()
    if figure is None:
        return None
    data = stats["chart"]
    fig = figure(figsize=(7, 3.6), dpi=100)
    ax = fig.add_subplot()
    colours = {
        "answered": "#2e7d32",
        "clarified": "#f9a825",
        "escalated": "#c62828",
        "declined": "#90a4ae",
        "small_talk": "#b0bec5",
    }
    if data["kind"] == "stacked":
        bottom = [0] * len(data["labels"])
        for name, series in data["series"].items():
            ax.bar(data["labels"], series, bottom=bottom, label=name, color=colours.get(name))
            bottom = [b + s for b, s in zip(bottom, series, strict=True)]
        ax.legend(loc="upper right", fontsize=8)
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    else:
        palette = ["#455a64", "#2e7d32", "#f9a825", "#c62828", "#1565c0", "#90a4ae"]
        bars = ax.bar(data["labels"], data["series"]["count"], color=palette)
        ax.bar_label(bars, fontsize=8)
    ax.set_ylabel("conversations")
    by = f" by {stats['by']}" if stats.get("by") else ""
    ax.set_title(f"Deskhand, last {stats['days']} days{by}", fontsize=10)
    # the default AutoLocator is a MaxNLocator; the stubs only know the base Locator
    ax.yaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(
        buffer,
        format="png",
        metadata={"Title": "Deskhand stats", "Description": json.dumps(data)},
    )
    return buffer.getvalue()


def stats_report(
    engine: Engine, days: int = 7, by: str | None = None, now: datetime | None = None
) -> tuple[dict[str, Any], bytes | None]:
    """The numbers and their chart (None without matplotlib), together."""
    stats = compute_stats(engine, days=days, by=by, now=now)
    return stats, render_chart(stats)


def format_duration(seconds: float | None) -> str:
    """Seconds as a short human duration."""
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"
