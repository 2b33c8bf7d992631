"""The scorecard: every figure of docs/metrics.md, overall, per segment and as a day/week series."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from bot.monitoring.facts import ConvFacts, Events, Window, load_window, utc

SEGMENTS: dict[str, Callable[[ConvFacts], str]] = {
    "channel": lambda f: f.channel,
    "platform": lambda f: f.platform,
    "issue-type": lambda f: f.issue_type,
    "team": lambda f: f.team,
    "language": lambda f: f.language,
    "tier": lambda f: f.member_tier,
    "escalation-reason": lambda f: f.escalation_reason,
    "bot-version": lambda f: f.bot_version,
}
SEGMENT_ALIASES = {
    "issue": "issue-type",
    "issue_type": "issue-type",
    "type": "issue-type",
    "member-tier": "tier",
    "reason": "escalation-reason",
    "version": "bot-version",
    "lang": "language",
}
SERIES = ("day", "week")
# the figures a trend line chart draws by default (rates, so weeks of different volume compare)
TREND_FIGURES = (
    "resolution_rate",
    "escalation_rate",
    "clarification_rate",
    "not_helpful_rate",
)


def segment_name(word: str) -> str:
    """Canonical segment name for a user's word, or ValueError listing the choices."""
    name = SEGMENT_ALIASES.get(word.lower(), word.lower())
    if name not in SEGMENTS:
        raise ValueError(f"Segment by one of {', '.join(SEGMENTS)}, not `{word}`.")
    return name


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def _p50(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 1) if present else None


def scorecard(
    facts: list[ConvFacts], events: Events | None = None, platform: str | None = None
) -> dict[str, Any]:
    """Every figure for a set of conversations (+ unattributed LLM calls and outbox items)."""
    n = len(facts)
    answered = sum(f.answered for f in facts)
    escalated = sum(f.escalated for f in facts)
    confirmed = sum(f.confirmed for f in facts)
    assumed = sum(f.assumed for f in facts)
    resolved = [f for f in facts if f.resolved]
    ratings = [f.rating for f in facts if f.rating is not None]
    llm_calls = sum(f.llm_calls for f in facts)
    llm_failures = sum(f.llm_failures for f in facts)
    llm_tokens = sum(f.llm_tokens for f in facts)
    llm_cost = sum(f.llm_cost for f in facts)
    outbox_items = outbox_failures = outbox_dead = 0
    if events is not None:
        for _when, _cid, ok, tokens, cost in events.llm:
            llm_calls += 1
            llm_failures += not ok
            llm_tokens += tokens
            llm_cost += cost
        for _when, item_platform, status, attempts in events.outbox:
            if platform is not None and item_platform != platform:
                continue
            outbox_items += 1
            outbox_failures += attempts > 0 or status == "dead"
            outbox_dead += status == "dead"
    thumbs_down = sum(f.not_helpful for f in facts)
    return {
        "conversations": n,
        "answered": sum(f.outcome == "answered" for f in facts),
        "clarified": sum(f.outcome == "clarified" for f in facts),
        "escalated": escalated,
        "confirmed": confirmed,
        "assumed": assumed,
        "unresolved": n - confirmed - assumed,
        "confirmed_rate": _rate(confirmed, n),
        "assumed_rate": _rate(assumed, n),
        "resolution_rate": _rate(confirmed + assumed, n),
        "escalation_rate": _rate(escalated, n),
        "soft_escalations": sum(f.soft_escalation for f in facts),
        "soft_escalation_rate": _rate(sum(f.soft_escalation for f in facts), n),
        "clarification_rate": _rate(sum(f.clarified for f in facts), n),
        "fcr_rate": _rate(sum(f.fcr for f in facts), n),
        "repeat_contact_rate": _rate(sum(f.repeat_contact for f in facts), n),
        "turns_per_resolution": round(statistics.fmean(f.turns for f in resolved), 2)
        if resolved
        else None,
        "bot_first_response_ms_p50": _p50(f.bot_first_ms for f in facts),
        "bot_resolution_s_p50": _p50(f.bot_resolution_s for f in facts),
        "staff_first_response_s_p50": _p50(f.staff_first_s for f in facts),
        "staff_resolution_s_p50": _p50(f.staff_resolution_s for f in facts),
        "staff_handle_s_p50": _p50(f.staff_handle_s for f in facts),
        "csat_ratings": len(ratings),
        "csat_mean": round(statistics.fmean(ratings), 2) if ratings else None,
        "csat_pct_4_5": _rate(sum(r >= 4 for r in ratings), len(ratings)),
        "thumbs_up": sum(f.helpful for f in facts),
        "thumbs_down": thumbs_down,
        "not_helpful_rate": _rate(sum(f.not_helpful > 0 for f in facts), answered),
        "confident_wrong": sum(f.confident_wrong for f in facts),
        "confident_wrong_rate": _rate(sum(f.confident_wrong for f in facts), answered),
        "llm_calls": llm_calls,
        "llm_failures": llm_failures,
        "llm_failure_rate": _rate(llm_failures, llm_calls),
        "llm_tokens": llm_tokens,
        "llm_cost": round(llm_cost, 4),
        "outbox_items": outbox_items,
        "outbox_failures": outbox_failures,
        "outbox_dead": outbox_dead,
    }


def bucket_start(when: datetime, series: str) -> datetime:
    """Midnight UTC of the day, or of the Monday of the ISO week."""
    day = utc(when).replace(hour=0, minute=0, second=0, microsecond=0)  # type: ignore[union-attr]
    return day - timedelta(days=day.weekday()) if series == "week" else day


def _buckets(since: datetime, until: datetime, series: str) -> list[datetime]:
    step = timedelta(days=7 if series == "week" else 1)
    out, at = [], bucket_start(since, series)
    while at <= until:
        out.append(at)
        at += step
    return out


def series_of(
    facts: list[ConvFacts],
    events: Events,
    since: datetime,
    until: datetime,
    series: str,
    platform: str | None = None,
    with_events: bool = True,
) -> list[dict[str, Any]]:
    """One scorecard per day or week, empty periods included (so a line shows a real zero)."""
    grouped: dict[datetime, list[ConvFacts]] = defaultdict(list)
    for fact in facts:
        grouped[bucket_start(fact.start, series)].append(fact)
    by_llm: dict[datetime, list] = defaultdict(list)
    by_outbox: dict[datetime, list] = defaultdict(list)
    if with_events:
        for row in events.llm:
            by_llm[bucket_start(row[0], series)].append(row)
        for row in events.outbox:
            by_outbox[bucket_start(row[0], series)].append(row)
    return [
        {
            "start": at.date().isoformat(),
            **scorecard(
                grouped.get(at, []), Events(by_llm.get(at, []), by_outbox.get(at, [])), platform
            ),
        }
        for at in _buckets(since, until, series)
    ]


def report(window: Window, by: str | None = None, series: str | None = None) -> dict[str, Any]:
    """Overall scorecard, optional segments, optional series (per segment too)."""
    out: dict[str, Any] = {
        "since": window.since.isoformat(timespec="seconds"),
        "until": window.until.isoformat(timespec="seconds"),
        "by": by,
        "series_unit": series,
        "shadow_decisions": window.shadow_decisions,
        "scorecard": scorecard(window.facts, window.events),
    }
    if series:
        out["series"] = series_of(window.facts, window.events, window.since, window.until, series)
    if by:
        key = SEGMENTS[by]
        groups: dict[str, list[ConvFacts]] = defaultdict(list)
        for fact in window.facts:
            groups[key(fact)].append(fact)
        segments: dict[str, Any] = {}
        for name in sorted(groups):
            # non-conversation events (outbox) only split by platform; LLM calls follow their conversation
            platform = name if by == "platform" else None
            events = Events([], window.events.outbox) if by == "platform" else None
            entry: dict[str, Any] = {"scorecard": scorecard(groups[name], events, platform)}
            if series:
                entry["series"] = series_of(
                    groups[name],
                    Events([], window.events.outbox),
                    window.since,
                    window.until,
                    series,
                    platform,
                    with_events=by == "platform",
                )
            segments[name] = entry
        out["segments"] = segments
    return out


def compute_report(
    engine: Engine,
    since: datetime,
    until: datetime,
    by: str | None = None,
    series: str | None = None,
    prices: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Load the window and build the report (the one entry point CLI, chat and digest share)."""
    if by is not None:
        by = segment_name(by)
    if series is not None and series not in SERIES:
        raise ValueError(f"Series is one of {', '.join(SERIES)}, not `{series}`.")
    return report(load_window(engine, since, until, prices), by, series)
