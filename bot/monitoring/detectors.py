"""Alert detectors: pure functions from recorded facts (and ticket/LLM/outbox rows) to alerts.

Each compares the last 24 hours with a baseline of the days before, with a minimum volume, a
minimum effect size and a binomial tail probability, so a quiet week stays quiet.
"""

from __future__ import annotations

import bisect
import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.models import LlmCall, OutboxItem, Ticket
from bot.monitoring.facts import ConvFacts, utc
from bot.monitoring.hours import BusinessHours

DEFAULT_THRESHOLDS: dict[str, Any] = {
    "baseline_days": 14,
    "volume_ratio": 2.0,  # last 24 h ≥ this × the daily mean …
    "volume_min": 20,  # … and at least this many conversations
    "rate_min_n": 4,  # escalation / Not-helpful spike: at least this many in 24 h
    "rate_delta": 0.3,  # rate above the baseline by at least this much
    "rate_p": 0.0001,  # and this unlikely under the baseline rate (binomial tail)
    "cluster_min": 4,  # similar unanswered questions in 24 h
    "cluster_similarity": 0.5,  # word overlap (Jaccard) to join a cluster
    "trend_min_n": 30,  # rising turns / clarification: conversations per week, both weeks
    "turns_rise": 0.3,  # turns per resolution up by 30 % week over week
    "clarify_rise": 0.1,  # clarification rate up by 10 points week over week (z ≥ 4)
    "llm_failures": 5,  # failed model calls in the last hour …
    "llm_failure_rate": 0.2,  # … and at least this share of calls
    "outbox_dead": 1,  # dead outbox items in 24 h
    "sla_minutes": {"default": 60},  # team → business minutes to claim; on-call at 2×
    "cooldown_hours": 24,  # the same alert is not repeated within this
    "max_per_hour": 6,  # at most this many alerts posted per hour
    "check_minutes": 10,  # the bot runs every detector this often (ticket checks every pass)
}
STOP = set(
    [
        "a",
        "an",
        "and",
        "are",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "the",
        "to",
        "what",
        "why",
        "with",
        "you",
        "your",
        "there",
        "way",
        "fix",
        "help",
    ]
)
UNANSWERED_REASONS = {
    "off_topic",  # declined as far from the KB: many alike means the KB lacks a topic
    "no_knowledge_match",
    "low_confidence",
    "clarify_limit_reached",
    "no_option_fit",
}


@dataclass
class Alert:
    """One finding: what, about what, how bad, the words for staff, and the evidence behind it."""

    kind: str
    subject: str
    severity: str
    title: str
    text: str
    evidence: dict[str, Any] = field(default_factory=dict)
    chart: dict[str, Any] | None = None
    oncall: bool = False  # ping the on-call role

    @property
    def key(self) -> str:
        """The dedup key."""
        return f"{self.kind}:{self.subject}"


@dataclass
class DetectInput:
    """What detectors see: the time, the facts of the baseline + last day, settings, the DB."""

    now: datetime
    facts: list[ConvFacts]
    thresholds: dict[str, Any]
    engine: Engine | None = None
    hours: BusinessHours = field(default_factory=BusinessHours)
    starts: list[datetime] | None = None  # facts' start times (sorted); computed when omitted

    def __post_init__(self) -> None:
        if self.starts is None:
            self.starts = [f.start for f in self.facts]

    def between(self, since: datetime, until: datetime) -> list[ConvFacts]:
        """Conversations started in (since, until] (binary search: facts are sorted by start)."""
        assert self.starts is not None
        lo = bisect.bisect_right(self.starts, since)
        hi = bisect.bisect_right(self.starts, until)
        return self.facts[lo:hi]

    def recent(self, hours: float = 24) -> list[ConvFacts]:
        """Conversations started in the last `hours`."""
        return self.between(self.now - timedelta(hours=hours), self.now)

    def baseline(self) -> list[ConvFacts]:
        """Conversations of the baseline days before the last 24 h."""
        end = self.now - timedelta(hours=24)
        return self.between(end - timedelta(days=int(self.thresholds["baseline_days"])), end)


def binom_tail(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p)."""
    p = min(max(p, 1e-9), 1 - 1e-9)
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def daily_chart(
    facts: Iterable[ConvFacts],
    now: datetime,
    days: int,
    value: Callable[[list[ConvFacts]], Any],
    name: str,
    title: str,
) -> dict[str, Any]:
    """A line chart of one value per rolling 24 h window ending at `now` − k days."""
    facts = list(facts)
    starts = [f.start for f in facts]
    labels, values, counts = [], [], []
    for k in range(days, -1, -1):
        end = now - timedelta(days=k)
        lo = bisect.bisect_right(starts, end - timedelta(days=1))
        window = facts[lo : bisect.bisect_right(starts, end)]
        labels.append(end.strftime("%Y-%m-%dT%H"))
        values.append(value(window) if window else None)
        counts.append(len(window))
    return {
        "kind": "lines",
        "title": title,
        "figure": name,
        "labels": labels,
        "series": {name: values},
        "conversations": counts,
        "marker": len(labels) - 1,
    }


def _rate(pred: Callable[[ConvFacts], bool]) -> Callable[[list[ConvFacts]], float]:
    return lambda fs: round(sum(pred(f) for f in fs) / len(fs), 4)


# ---- detectors ---------------------------------------------------------------------------------
def volume_spike(inp: DetectInput) -> list[Alert]:
    """Many more conversations in the last 24 h than on the baseline days."""
    th = inp.thresholds
    current = len(inp.recent())
    days = int(th["baseline_days"])
    counts = []
    for k in range(1, days + 1):
        end = inp.now - timedelta(days=k)
        counts.append(len(inp.between(end - timedelta(days=1), end)))
    if len(counts) < 3:
        return []
    mean, sd = statistics.fmean(counts), statistics.pstdev(counts)
    if (
        current < th["volume_min"]
        or current < th["volume_ratio"] * max(mean, 1)
        or current <= (mean + 4 * sd)
    ):
        return []
    chart = daily_chart(inp.facts, inp.now, days, len, "conversations", "Conversations per 24 h")
    return [
        Alert(
            "volume_spike",
            "all",
            "warning",
            "Volume spike",
            f"{current} conversations in the last 24 h, {current / max(mean, 1):.1f}× the "
            f"{days}-day mean of {mean:.0f}.",
            {
                "last_24h": current,
                "baseline_mean": round(mean, 1),
                "baseline_sd": round(sd, 1),
                "command": f"/deskhand stats {days}d trend day",
            },
            chart,
        )
    ]


def _rate_spikes(
    inp: DetectInput,
    kind: str,
    label: str,
    group: Callable[[ConvFacts], str],
    eligible: Callable[[ConvFacts], bool],
    bad: Callable[[ConvFacts], bool],
    figure: str,
) -> list[Alert]:
    th = inp.thresholds
    recent: dict[str, list[ConvFacts]] = defaultdict(list)
    base: dict[str, list[ConvFacts]] = defaultdict(list)
    for f in inp.recent():
        if eligible(f) and group(f):
            recent[group(f)].append(f)
    for f in inp.baseline():
        if eligible(f) and group(f):
            base[group(f)].append(f)
    alerts = []
    for subject, rows in sorted(recent.items()):
        n, k = len(rows), sum(bad(f) for f in rows)
        n0, k0 = len(base[subject]), sum(bad(f) for f in base[subject])
        p0 = (k0 + 1) / (n0 + 2)  # smoothed: a new subject has no free pass, nor a zero
        if k < th["rate_min_n"] or k / n - p0 < th["rate_delta"]:
            continue
        tail = binom_tail(k, n, p0)
        if tail > th["rate_p"]:
            continue
        versions = Counter(f.bot_version for f in rows)
        base_versions = Counter(f.bot_version for f in base[subject])
        new_versions = sorted(set(versions) - set(base_versions))
        chart = daily_chart(
            [
                f
                for f in inp.between(
                    inp.now - timedelta(days=int(th["baseline_days"]) + 1), inp.now
                )
                if eligible(f) and group(f) == subject
            ],
            inp.now,
            int(th["baseline_days"]),
            _rate(bad),
            figure,
            f"{label} {subject}: {figure} per 24 h",
        )
        alerts.append(
            Alert(
                kind,
                subject,
                "critical" if k / n - p0 >= 2 * th["rate_delta"] else "warning",
                f"{label} spike: {subject}",
                f"{k} of {n} conversations on {subject} in the last 24 h ({100 * k / n:.0f}%) vs "
                f"{100 * p0:.0f}% over the previous {th['baseline_days']} days (p = {tail:.1e})."
                + (
                    f" New bot version(s) since: {', '.join(new_versions)}." if new_versions else ""
                ),
                {
                    "last_24h": {"n": n, "bad": k},
                    "baseline": {"n": n0, "bad": k0},
                    "p_value": tail,
                    "new_versions": new_versions,
                    "conversation_ids": [f.id for f in rows if bad(f)][:20],
                },
                chart,
            )
        )
    return alerts


def escalation_spike(inp: DetectInput) -> list[Alert]:
    """One issue type suddenly escalates much more than usual."""
    alerts = _rate_spikes(
        inp,
        "escalation_spike",
        "Escalation",
        lambda f: f.issue_type if f.issue_type != "unclassified" else "",
        lambda f: True,
        lambda f: f.escalated,
        "escalation_rate",
    )
    for a in alerts:
        a.evidence["command"] = "/deskhand stats 14d trend day escalation_rate by issue-type"
    return alerts


def not_helpful_spike(inp: DetectInput) -> list[Alert]:
    """One article's answers suddenly get Not helpful much more than usual."""
    alerts = _rate_spikes(
        inp,
        "not_helpful_spike",
        "Not helpful",
        lambda f: f.article,
        lambda f: f.answered,
        lambda f: f.not_helpful > 0,
        "not_helpful_rate",
    )
    for a in alerts:
        a.evidence["command"] = f"/deskhand kb show {a.subject.lstrip('#')}"
    return alerts


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOP)


def unanswered_clusters(facts: Iterable[ConvFacts], similarity: float) -> list[list[ConvFacts]]:
    """Unanswered questions grouped by word overlap with each group's first question."""
    clusters: list[tuple[frozenset[str], list[ConvFacts]]] = []
    for f in facts:
        if not (f.question and not f.answered and set(f.reasons) & UNANSWERED_REASONS):
            continue
        words = _words(f.question)
        if not words:
            continue
        for centre, members in clusters:
            if len(words & centre) / len(words | centre) >= similarity:
                members.append(f)
                break
        else:
            clusters.append((words, [f]))
    return sorted((members for _, members in clusters), key=len, reverse=True)


def cluster_subject(members: list[ConvFacts]) -> str:
    """A cluster's name: its three most common words."""
    common = Counter(w for m in members for w in _words(m.question)).most_common(3)
    return "+".join(sorted(w for w, _ in common))


def unanswered_cluster(inp: DetectInput) -> list[Alert]:
    """Several similar questions the bot could not answer: an emerging knowledge gap."""
    th = inp.thresholds
    alerts = []
    for members in unanswered_clusters(inp.recent(), th["cluster_similarity"]):
        if len(members) < th["cluster_min"]:
            continue
        subject = cluster_subject(members)
        alerts.append(
            Alert(
                "unanswered_cluster",
                subject,
                "warning",
                f"Knowledge gap: {subject}",
                f"{len(members)} similar questions in the last 24 h had no good answer, e.g. "
                f"“{members[0].question[:120]}”.",
                {
                    "questions": [m.question[:200] for m in members[:10]],
                    "conversation_ids": [m.id for m in members][:20],
                    "command": "/deskhand kb add",
                },
            )
        )
    return alerts


def rising_effort(inp: DetectInput) -> list[Alert]:
    """Turns per resolution or clarification rate rising week over week."""
    th = inp.thresholds
    week = inp.between(inp.now - timedelta(days=7), inp.now)
    prev = inp.between(inp.now - timedelta(days=14), inp.now - timedelta(days=7))
    if len(week) < th["trend_min_n"] or len(prev) < th["trend_min_n"]:
        return []
    alerts = []
    t1 = [f.turns for f in week if f.resolved]
    t0 = [f.turns for f in prev if f.resolved]
    if t1 and t0:
        a, b = statistics.fmean(t1), statistics.fmean(t0)
        if a >= b * (1 + th["turns_rise"]):
            alerts.append(
                Alert(
                    "rising_turns",
                    "all",
                    "warning",
                    "Turns per resolution rising",
                    f"{a:.2f} turns per resolution this week vs {b:.2f} the week before.",
                    {
                        "this_week": round(a, 2),
                        "last_week": round(b, 2),
                        "command": "/deskhand stats 8w trend week turns_per_resolution",
                    },
                )
            )
    c1 = sum(f.clarified for f in week) / len(week)
    c0 = sum(f.clarified for f in prev) / len(prev)
    pooled = (sum(f.clarified for f in week) + sum(f.clarified for f in prev)) / (
        len(week) + len(prev)
    )
    se = math.sqrt(max(pooled * (1 - pooled), 1e-9) * (1 / len(week) + 1 / len(prev)))
    if c1 - c0 >= th["clarify_rise"] and (c1 - c0) / se >= 4:
        alerts.append(
            Alert(
                "rising_clarification",
                "all",
                "warning",
                "Clarification rate rising",
                f"{100 * c1:.0f}% of conversations needed a clarifying question this week vs "
                f"{100 * c0:.0f}% the week before.",
                {
                    "this_week": round(c1, 4),
                    "last_week": round(c0, 4),
                    "command": "/deskhand stats 8w trend week clarification_rate",
                },
            )
        )
    return alerts


def llm_failures(inp: DetectInput) -> list[Alert]:
    """Language-model calls failing in the last hour."""
    if inp.engine is None:
        return []
    th = inp.thresholds
    with Session(inp.engine) as session:
        rows = session.execute(
            select(LlmCall.ok, LlmCall.error).where(
                LlmCall.created_at > inp.now - timedelta(hours=1), LlmCall.created_at <= inp.now
            )
        ).all()
    failed = [e for ok, e in rows if not ok]
    if len(failed) < th["llm_failures"] or len(failed) / len(rows) < th["llm_failure_rate"]:
        return []
    top = Counter(e[:80] for e in failed).most_common(1)[0][0]
    return [
        Alert(
            "llm_failures",
            "all",
            "critical",
            "Language model failing",
            f"{len(failed)} of {len(rows)} model calls failed in the last hour (most often: {top}).",
            {
                "calls": len(rows),
                "failed": len(failed),
                "top_error": top,
                "command": "deskhand stats --json --since 24h",
            },
        )
    ]


def outbox_failures(inp: DetectInput) -> list[Alert]:
    """Platform side effects given up on (dead outbox items) in the last 24 h."""
    if inp.engine is None:
        return []
    with Session(inp.engine) as session:
        rows = session.execute(
            select(OutboxItem.id, OutboxItem.platform, OutboxItem.kind, OutboxItem.last_error)
            .where(OutboxItem.created_at > inp.now - timedelta(hours=24))
            .where(OutboxItem.created_at <= inp.now, OutboxItem.status == "dead")
        ).all()
    alerts = []
    by_platform: dict[str, list] = defaultdict(list)
    for row in rows:
        by_platform[row[1]].append(row)
    for platform, items in sorted(by_platform.items()):
        if len(items) < inp.thresholds["outbox_dead"]:
            continue
        alerts.append(
            Alert(
                "outbox_failures",
                platform,
                "critical",
                f"Messages not delivered on {platform}",
                f"{len(items)} {platform} message(s) could not be delivered after every retry "
                f"(last error: {items[-1][3][:80] or 'unknown'}).",
                {
                    "item_ids": [i[0] for i in items][:20],
                    "kinds": dict(Counter(i[2] for i in items)),
                    "command": "deskhand outbox --json",
                },
            )
        )
    return alerts


def _open_tickets(inp: DetectInput, since: datetime) -> list[Any]:
    """Tickets created since `since` that nobody had claimed or resolved at `now`."""
    if inp.engine is None:
        return []
    with Session(inp.engine) as session:
        return list(
            session.execute(
                select(
                    Ticket.id,
                    Ticket.team,
                    Ticket.severity,
                    Ticket.created_at,
                    Ticket.permalink,
                    Ticket.issue_type,
                    Ticket.summary,
                )
                .where(Ticket.created_at > since, Ticket.created_at <= inp.now)
                .where(or_(Ticket.claimed_at.is_(None), Ticket.claimed_at > inp.now))  # type: ignore[union-attr]
                .where(or_(Ticket.resolved_at.is_(None), Ticket.resolved_at > inp.now))  # type: ignore[union-attr]
                .where(Ticket.status != "handed_back")
            ).all()
        )


def sla_breaches(inp: DetectInput) -> list[Alert]:
    """Escalations unclaimed past their team's SLA (business time): a reminder, then on-call."""
    sla = inp.thresholds["sla_minutes"]
    alerts = []
    for tid, team, _sev, created, link, issue, summary in _open_tickets(
        inp, inp.now - timedelta(days=14)
    ):
        minutes = float(sla.get(team) or sla.get("default") or 60)
        waited = inp.hours.business_seconds_between(utc(created), inp.now) / 60  # type: ignore[arg-type]
        if waited < minutes:
            continue
        level = "oncall" if waited >= 2 * minutes else "reminder"
        alerts.append(
            Alert(
                f"sla_{level}",
                f"ticket#{tid}",
                "critical" if level == "oncall" else "warning",
                f"Ticket #{tid} unclaimed for {waited:.0f} min",
                f"Ticket #{tid} ({team or 'support'}, {issue or 'unclassified'}) has waited "
                f"{waited:.0f} business minutes; the {team or 'support'} SLA is {minutes:.0f}. "
                + ("Escalating to on-call." if level == "oncall" else "Please claim it."),
                {
                    "ticket_id": tid,
                    "team": team,
                    "waited_min": round(waited, 1),
                    "sla_min": minutes,
                    "link": link,
                    "summary": summary[:200],
                    "command": f"/deskhand ticket {tid}",
                },
                oncall=level == "oncall",
            )
        )
    return alerts


def urgent_tickets(inp: DetectInput) -> list[Alert]:
    """An urgent escalation pings the on-call role at once."""
    alerts = []
    for tid, team, severity, _created, link, issue, summary in _open_tickets(
        inp, inp.now - timedelta(days=1)
    ):
        if severity != "urgent":
            continue
        alerts.append(
            Alert(
                "urgent_ticket",
                f"ticket#{tid}",
                "critical",
                f"Urgent ticket #{tid}",
                f"Urgent escalation #{tid} ({team or 'support'}, {issue or 'unclassified'}): "
                f"{summary[:200]}",
                {"ticket_id": tid, "link": link, "command": f"/deskhand ticket {tid}"},
                oncall=True,
            )
        )
    return alerts


DETECTORS: dict[str, Callable[[DetectInput], list[Alert]]] = {
    "volume_spike": volume_spike,
    "escalation_spike": escalation_spike,
    "not_helpful_spike": not_helpful_spike,
    "unanswered_cluster": unanswered_cluster,
    "rising_effort": rising_effort,
    "llm_failures": llm_failures,
    "outbox_failures": outbox_failures,
    "sla": sla_breaches,
    "urgent_ticket": urgent_tickets,
}


# cheap indexed queries on tickets, model calls and the outbox: run on every pass of the loop
FAST_DETECTORS = ("llm_failures", "outbox_failures", "sla", "urgent_ticket")


def detect_all(inp: DetectInput, only: Iterable[str] | None = None) -> list[Alert]:
    """Every detector's alerts (or those named in `only`), in a stable order."""
    names = set(DETECTORS if only is None else only)
    return [
        alert for name, detector in DETECTORS.items() if name in names for alert in detector(inp)
    ]
