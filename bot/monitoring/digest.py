"""The weekly review: last 7 days against the 7 before, what rose, what failed, what to do next.

`weekly_digest` builds it from recorded data (the same facts as the scorecard and the alerts);
`/deskhand digest` shows it on demand and `record_due_digest` records it once a week (day, time,
time zone and channel from the `digest` setting) so the alert poster posts it on each platform.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.improve.flywheel import curve_line, learning_curve
from bot.improve.gaps import article_titles, worst_articles
from bot.improve.review import cause_counts
from bot.models import AlertEvent
from bot.monitoring.detectors import cluster_subject, unanswered_clusters
from bot.monitoring.facts import ConvFacts, load_window, utc
from bot.monitoring.hours import DAY_NAMES
from bot.monitoring.scorecard import scorecard
from knowledge.models import Article, utcnow

if TYPE_CHECKING:  # bot.app imports the core modules
    from bot.app import Deskhand

DIGEST_KIND = "weekly_digest"
DEFAULT = {"enabled": True, "day": "mon", "time": "09:00", "timezone": "UTC", "channels": {}}
# scorecard figures of the digest table: (figure, label, kind) — kind formats the value
FIGURES = (
    ("conversations", "Conversations", "count"),
    ("resolution_rate", "Resolved", "rate"),
    ("confirmed_rate", "  confirmed", "rate"),
    ("assumed_rate", "  assumed", "rate"),
    ("escalation_rate", "Escalated", "rate"),
    ("clarification_rate", "Clarified", "rate"),
    ("fcr_rate", "First-contact resolution", "rate"),
    ("not_helpful_rate", "Not helpful", "rate"),
    ("turns_per_resolution", "Turns per resolution", "number"),
    ("staff_first_response_s_p50", "Staff first reply (median)", "seconds"),
    ("csat_mean", "CSAT", "number"),
)
AI_USE = {"sent": "AI draft sent", "edited": "AI draft edited", "ignored": "AI draft not used"}
CLUSTER_SIMILARITY = 0.5


def digest_settings(value: dict[str, Any] | None) -> dict[str, Any]:
    """The `digest` setting over its defaults; ValueError on a bad day, time or zone."""
    merged = {**DEFAULT, **(value or {})}
    if str(merged["day"]).lower()[:3] not in DAY_NAMES:
        raise ValueError(f"`{merged['day']}` is not a day: use mon … sun.")
    hours, _, minutes = str(merged["time"]).partition(":")
    try:
        time(int(hours), int(minutes or 0))
        ZoneInfo(str(merged["timezone"]))
    except (ValueError, KeyError) as exc:
        raise ValueError(f"Digest time or time zone is not valid: {exc}.") from exc
    return merged


def week_label(when: datetime) -> str:
    """ISO week, e.g. 2026-W49: the digest's dedup key."""
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


def due_at(setting: dict[str, Any], now: datetime) -> datetime:
    """This week's scheduled time (in the digest's time zone), as UTC."""
    zone = ZoneInfo(str(setting["timezone"]))
    local = now.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    day = monday + timedelta(days=DAY_NAMES.index(str(setting["day"]).lower()[:3]))
    hours, _, minutes = str(setting["time"]).partition(":")
    return datetime.combine(day, time(int(hours), int(minutes or 0)), zone)


@dataclass
class Digest:
    """The weekly review as plain data: what chat shows, what is posted, what --json prints."""

    since: datetime
    until: datetime
    table: list[list[str]]
    figures: dict[str, dict[str, Any]]
    rising: list[dict[str, Any]]
    clusters: list[dict[str, Any]]
    worst: list[dict[str, Any]]
    stalest: list[dict[str, Any]]
    csat_by_ai: dict[str, dict[str, Any]]
    actions: list[dict[str, str]]
    escalating: list[dict[str, Any]] = field(default_factory=list)
    chart: dict[str, Any] = field(default_factory=dict)
    # root causes tagged in review: {cause: {"this": n, "last": n}}, most frequent first
    review_causes: dict[str, dict[str, int]] = field(default_factory=dict)
    # the data flywheel: classifier accuracy on held-back cases after each retrain, oldest first
    learning: list[dict[str, Any]] = field(default_factory=list)

    @property
    def title(self) -> str:
        """E.g. `Weekly review 2026-11-26 → 2026-12-03`."""
        return f"Weekly review {self.since:%Y-%m-%d} → {self.until:%Y-%m-%d}"

    def fields(self) -> list[tuple[str, str]]:
        """The sections as (name, text) pairs for embeds and Block Kit fields."""

        def lines(rows: list[str]) -> str:
            return "\n".join(rows) or "—"

        return [
            (
                "Top rising issue types",
                lines(
                    [
                        f"{r['issue_type']}: {r['last']} → {r['this']} (+{r['delta']})"
                        for r in self.rising
                    ]
                ),
            ),
            (
                "Escalation rate rising",
                lines(
                    [
                        f"{e['issue_type']}: {round(100 * e['last_rate'])}% → {round(100 * e['this_rate'])}%"
                        for e in self.escalating
                    ]
                ),
            ),
            (
                "Top unanswered question clusters",
                lines(
                    [
                        f"{c['subject']}: {c['count']}× e.g. “{c['example'][:80]}”"
                        for c in self.clusters
                    ]
                ),
            ),
            (
                "Worst Not-helpful articles",
                lines(
                    [
                        f"#{w['article_id']} {w['title'][:50]}: {round(100 * w['rate'])}% of {w['answers']}"
                        for w in self.worst
                    ]
                ),
            ),
            (
                "Stalest articles",
                lines(
                    [
                        f"#{s['article_id']} {s['title'][:50]}: {s['days_old']} days"
                        for s in self.stalest
                    ]
                ),
            ),
            (
                "Review root causes",
                lines(
                    [
                        f"{cause}: {n['this']} (last week {n['last']})"
                        for cause, n in self.review_causes.items()
                    ]
                ),
            ),
            (
                "Classifier learning curve",
                lines([curve_line(p) for p in self.learning]),
            ),
            (
                "CSAT by AI use",
                lines(
                    [
                        f"{AI_USE.get(k, 'no AI draft')}: {v['mean']:.2f}/5 ({v['ratings']})"
                        for k, v in self.csat_by_ai.items()
                    ]
                ),
            ),
            (
                "Suggested actions",
                lines(
                    [f"{n + 1}. {a['text']} `{a['command']}`" for n, a in enumerate(self.actions)]
                ),
            ),
        ]

    def text(self) -> str:
        """One paragraph: the headline figures with their change."""
        conv = self.figures["conversations"]
        return (
            f"{conv['this']} conversations this week ({_change(conv, 'count')} on last week); "
            f"resolved {_fmt(self.figures['resolution_rate']['this'], 'rate')} "
            f"({_change(self.figures['resolution_rate'], 'rate')}), escalated "
            f"{_fmt(self.figures['escalation_rate']['this'], 'rate')} "
            f"({_change(self.figures['escalation_rate'], 'rate')}). Definitions: docs/metrics.md."
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "title": self.title,
            "since": self.since.isoformat(timespec="seconds"),
            "until": self.until.isoformat(timespec="seconds"),
            "figures": self.figures,
            "rising": self.rising,
            "escalating": self.escalating,
            "clusters": self.clusters,
            "worst_articles": self.worst,
            "stalest_articles": self.stalest,
            "csat_by_ai": self.csat_by_ai,
            "review_causes": self.review_causes,
            "learning_curve": self.learning,
            "actions": self.actions,
            "chart": self.chart,
        }


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "rate":
        return f"{100 * value:.0f}%"
    if kind == "seconds":
        return f"{value / 60:.0f} min" if value >= 60 else f"{value:.0f} s"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _change(row: dict[str, Any], kind: str) -> str:
    """Week-over-week change: points for rates, percent for counts, difference otherwise."""
    this, last = row["this"], row["last"]
    if this is None or last is None:
        return "new" if last is None and this is not None else "—"
    if kind == "rate":
        return f"{100 * (this - last):+.0f} pts"
    if kind == "count":
        return f"{100 * (this - last) / last:+.0f}%" if last else ("new" if this else "±0")
    if kind == "seconds":
        return f"{(this - last) / 60:+.0f} min"
    return f"{this - last:+.2f}" if isinstance(this, float) else f"{this - last:+}"


def weekly_digest(engine: Engine, now: datetime | None = None, stale_days: int = 180) -> Digest:
    """The review of the 7 days before `now`, compared with the 7 days before those."""
    until = utc(now) or utcnow()
    since, before = until - timedelta(days=7), until - timedelta(days=14)
    facts = load_window(engine, before, until).facts
    this = [f for f in facts if f.start > since]
    last = [f for f in facts if f.start <= since]
    card, prev = scorecard(this), scorecard(last)
    figures, table = {}, [["Figure", "This week", "Last week", "Change"]]
    for name, label, kind in FIGURES:
        row = {"this": card.get(name), "last": prev.get(name)}
        figures[name] = row
        table.append([label, _fmt(row["this"], kind), _fmt(row["last"], kind), _change(row, kind)])
    rising = _rising(this, last)
    clusters = [
        {
            "subject": cluster_subject(m),
            "count": len(m),
            "example": m[0].question,
            "ids": [f.id for f in m][:20],
        }
        for m in unanswered_clusters(this, CLUSTER_SIMILARITY)
        if len(m) >= 2
    ][:3]
    worst = worst_articles(this)[:3]
    titles = article_titles(engine, [w["article_id"] for w in worst])
    worst = [{**w, "title": titles.get(w["article_id"], "(removed)")} for w in worst]
    stalest = _stalest(engine, until, stale_days)
    digest = Digest(
        since, until, table, figures, rising, clusters, worst, stalest, _csat_by_ai(this), []
    )
    digest.escalating = _escalating(this, last)
    digest.review_causes = _review_causes(engine, before, since, until)
    digest.learning = learning_curve(engine, until)
    digest.actions = suggested_actions(digest)
    digest.chart = _chart(digest, this, last)
    return digest


def _rising(this: list[ConvFacts], last: list[ConvFacts]) -> list[dict[str, Any]]:
    """Issue types with the largest growth in conversations, week over week."""
    now_n = Counter(f.issue_type for f in this)
    then_n = Counter(f.issue_type for f in last)
    rows = [
        {"issue_type": t, "this": n, "last": then_n[t], "delta": n - then_n[t]}
        for t, n in now_n.items()
        if n > then_n[t] and t != "unclassified"
    ]
    rows.sort(key=lambda r: (-r["delta"], r["issue_type"]))
    return rows[:3]


def _escalating(
    this: list[ConvFacts], last: list[ConvFacts], min_n: int = 10
) -> list[dict[str, Any]]:
    """Issue types whose escalation rate rose most (at least `min_n` conversations both weeks)."""
    rows = []
    for t in {f.issue_type for f in this} - {"unclassified"}:
        a = [f.escalated for f in this if f.issue_type == t]
        b = [f.escalated for f in last if f.issue_type == t]
        if len(a) < min_n or len(b) < min_n:
            continue
        rise = sum(a) / len(a) - sum(b) / len(b)
        if rise >= 0.1:
            rows.append(
                {
                    "issue_type": t,
                    "this_rate": round(sum(a) / len(a), 4),
                    "last_rate": round(sum(b) / len(b), 4),
                    "this": len(a),
                    "last": len(b),
                }
            )
    rows.sort(key=lambda r: (r["last_rate"] - r["this_rate"], r["issue_type"]))
    return rows[:3]


def _review_causes(
    engine: Engine, before: datetime, since: datetime, until: datetime
) -> dict[str, dict[str, int]]:
    """Root causes tagged this week and last, most frequent this week first."""
    this = cause_counts(engine, since, until)
    last = cause_counts(engine, before, since)
    causes = sorted(set(this) | set(last), key=lambda c: (-this.get(c, 0), -last.get(c, 0), c))
    return {c: {"this": this.get(c, 0), "last": last.get(c, 0)} for c in causes}


def _stalest(engine: Engine, now: datetime, days: int) -> list[dict[str, Any]]:
    """The three articles longest without an edit (at least `days` old, else the oldest three)."""
    with Session(engine) as session:
        rows = session.exec(
            select(Article.id, Article.title, Article.updated_at)
            .order_by(col(Article.updated_at))
            .limit(3)
        ).all()
    out = []
    for aid, title, updated in rows:
        age = (now - (utc(updated) or now)).days
        out.append({"article_id": aid, "title": title, "days_old": age, "stale": age >= days})
    return out


def _csat_by_ai(facts: list[ConvFacts]) -> dict[str, dict[str, Any]]:
    """Mean rating per way staff used the AI draft (none = no draft)."""
    groups: dict[str, list[int]] = {}
    for f in facts:
        if f.rating is not None:
            groups.setdefault(f.ai_use, []).append(f.rating)
    return {
        use: {"ratings": len(r), "mean": round(statistics.fmean(r), 2)}
        for use, r in sorted(groups.items())
    }


def suggested_actions(d: Digest) -> list[dict[str, str]]:
    """Three next steps, most useful first, each with the command that does it."""
    out: list[dict[str, str]] = []
    if d.escalating:
        e = d.escalating[0]
        out.append(
            {
                "text": f"Escalations on {e['issue_type']} rose from {round(100 * e['last_rate'])}% "
                f"to {round(100 * e['this_rate'])}%; see when it started:",
                "command": "/deskhand stats 14d trend day escalation_rate by issue-type",
            }
        )
    if d.clusters:
        c = d.clusters[0]
        out.append(
            {
                "text": f"Write an article for the {c['count']} unanswered questions like “{c['example'][:60]}”:",
                "command": "/deskhand gaps",
            }
        )
    if not any(n["this"] for n in d.review_causes.values()):
        out.append(
            {
                "text": "No conversation was reviewed this week; work through the queue:",
                "command": "/deskhand review",
            }
        )
    if d.worst:
        w = d.worst[0]
        out.append(
            {
                "text": f"Fix article #{w['article_id']} ({round(100 * w['rate'])}% Not helpful):",
                "command": f"/deskhand kb edit {w['article_id']}",
            }
        )
    if d.rising:
        r = d.rising[0]
        out.append(
            {
                "text": f"Look into {r['issue_type']} (+{r['delta']} conversations):",
                "command": "/deskhand stats 14d trend day escalation_rate by issue-type",
            }
        )
    stale = [s for s in d.stalest if s["stale"]]
    if stale:
        s = stale[0]
        out.append(
            {
                "text": f"Review article #{s['article_id']}, unchanged for {s['days_old']} days:",
                "command": f"/deskhand kb show {s['article_id']}",
            }
        )
    clar = d.figures["clarification_rate"]
    if clar["this"] is not None and clar["last"] is not None and clar["this"] > clar["last"]:
        out.append(
            {
                "text": "Clarifying questions rose; preview a lower answer threshold:",
                "command": "/deskhand threshold preview answer 0.65",
            }
        )
    out.append(
        {
            "text": "Review the articles members' questions suggested:",
            "command": "/deskhand kb candidates",
        }
    )
    out.append({"text": "Check alert thresholds and mutes:", "command": "/deskhand alerts show"})
    out.append({"text": "See the weeks' trend:", "command": "/deskhand stats 8w trend week"})
    return out[:3]


def _chart(d: Digest, this: list[ConvFacts], last: list[ConvFacts]) -> dict[str, Any]:
    """The issue-type bars, and under them the learning curve once it has two measured points."""
    bars = _bars(d, this, last)
    measured = [p for p in d.learning if p["accuracy"] is not None]
    if len(measured) < 2:
        return bars
    curve = {
        "kind": "lines",
        "title": "Classifier accuracy on held-back cases, by training examples",
        "labels": [p["at"] for p in measured],
        "xlabels": [f"{p['examples']} ex.\n{p['at'][5:10]}" for p in measured],
        "series": {"held-back accuracy": [p["accuracy"] for p in measured]},
    }
    return {"kind": "panels", "title": bars["title"], "panels": [bars, curve]}


def _bars(d: Digest, this: list[ConvFacts], last: list[ConvFacts]) -> dict[str, Any]:
    """Grouped bars: conversations per issue type (top 6 this week), last week vs this week."""
    now_n = Counter(f.issue_type for f in this)
    then_n = Counter(f.issue_type for f in last)
    labels = [
        t for t, _ in sorted((now_n + then_n).items(), key=lambda kv: (-now_n[kv[0]], kv[0]))
    ][:6]
    return {
        "kind": "bars",
        "title": f"Conversations per issue type, week to {d.until:%Y-%m-%d}",
        "labels": labels,
        "series": {
            "last week": [then_n[t] for t in labels],
            "this week": [now_n[t] for t in labels],
        },
        "totals": {"last week": len(last), "this week": len(this)},
    }


def record_due_digest(app: Deskhand, now: datetime | None = None) -> AlertEvent | None:
    """Once a week, after the scheduled time: record the digest for the poster (None otherwise)."""
    now = utc(now) or utcnow()
    try:
        setting = digest_settings(app.settings.get("digest"))
    except ValueError:
        return None
    if not setting.get("enabled") or now < due_at(setting, now):
        return None
    key = f"{DIGEST_KIND}:{week_label(due_at(setting, now))}"
    with Session(app.engine) as session:
        if session.exec(select(AlertEvent.id).where(AlertEvent.key == key)).first():
            return None
    return record_digest(app, weekly_digest(app.engine, now), key)


def record_digest(app: Deskhand, digest: Digest, key: str = "") -> AlertEvent:
    """Record a digest so every platform's poster posts it once to the digest channel."""
    key = key or f"{DIGEST_KIND}:{week_label(digest.until)}:{digest.until:%H%M%S}"
    evidence = {"fields": digest.fields(), "table": digest.table, "chart": digest.chart}
    event = AlertEvent(
        key=key,
        kind=DIGEST_KIND,
        subject=week_label(digest.until),
        severity="info",
        title=digest.title,
        text=digest.text(),
        evidence=json.dumps(evidence, default=str),
        created_at=digest.until,
    )
    with Session(app.engine, expire_on_commit=False) as session:
        session.add(event)
        session.commit()
    return event
