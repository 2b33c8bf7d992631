"""Alerts, always on: run the detectors, deduplicate, rate-limit, honour mutes, record, post.

Detection and delivery are split: `run_checks` records new alerts as AlertEvent rows; each
adapter asks `pending_posts(app, platform)` for what to post (a neutral CommandResult with a
chart) and calls `mark_posted` once it is out. `backtest` replays the detectors over simulated
time to measure detection delay and false alarms.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.models import AlertEvent
from bot.monitoring.detectors import (
    DEFAULT_THRESHOLDS,
    FAST_DETECTORS,
    Alert,
    DetectInput,
    detect_all,
)
from bot.monitoring.facts import load_window, utc
from bot.monitoring.hours import BusinessHours
from knowledge.models import utcnow

if TYPE_CHECKING:  # bot.app imports the core modules
    from bot.app import Deskhand

SEVERITY_ICON = {"info": "ℹ️", "warning": "⚠️", "critical": "🚨"}
POST_WINDOW = timedelta(hours=24)  # older unposted alerts are not posted late


def alert_settings(value: dict[str, Any] | None) -> dict[str, Any]:
    """Thresholds merged over the defaults, plus mutes, channels and on-call mentions."""
    value = value or {}
    merged = {**DEFAULT_THRESHOLDS, **(value.get("thresholds") or {})}
    merged["sla_minutes"] = {**DEFAULT_THRESHOLDS["sla_minutes"], **merged.get("sla_minutes", {})}
    return {
        "thresholds": merged,
        "muted": dict(value.get("muted") or {}),
        "channels": dict(value.get("channels") or {}),
        "oncall": dict(value.get("oncall") or {}),
    }


def is_muted(alert: Alert, muted: dict[str, str], now: datetime) -> bool:
    """Muted by kind or by exact key until a time."""
    for name in (alert.kind, alert.key, alert.kind.split("_")[0]):
        until = muted.get(name)
        if until and utc(datetime.fromisoformat(until)) > now:  # type: ignore[operator]
            return True
    return False


@dataclass
class Gate:
    """Dedup and rate-limit memory: last time per key, and recent post times."""

    last: dict[str, datetime]
    recent: list[datetime]

    def admit(self, alerts: list[Alert], now: datetime, cfg: dict[str, Any]) -> list[Alert]:
        """Alerts not seen within the cooldown, not muted, within the hourly budget."""
        th = cfg["thresholds"]
        cooldown = timedelta(hours=float(th["cooldown_hours"]))
        self.recent = [t for t in self.recent if t > now - timedelta(hours=1)]
        out = []
        for alert in sorted(alerts, key=lambda a: a.severity != "critical"):
            if is_muted(alert, cfg["muted"], now):
                continue
            last = self.last.get(alert.key)
            if last is not None and now - last < cooldown:
                continue
            if len(self.recent) >= int(th["max_per_hour"]):
                break
            self.last[alert.key] = now
            self.recent.append(now)
            out.append(alert)
        return out


def detect(
    engine: Engine,
    now: datetime,
    cfg: dict[str, Any],
    hours: BusinessHours,
    only: tuple[str, ...] | None = None,
) -> list[Alert]:
    """Every detector (or those in `only`) over the facts of the baseline window ending `now`."""
    facts = []
    if only is None or not set(only) <= set(FAST_DETECTORS):  # the fast ones need no facts
        days = int(cfg["thresholds"]["baseline_days"]) + 1
        facts = load_window(engine, now - timedelta(days=max(days, 14)), now).facts
    return detect_all(DetectInput(now, facts, cfg["thresholds"], engine, hours), only)


def run_checks(
    app: Deskhand,
    now: datetime | None = None,
    record: bool = True,
    only: tuple[str, ...] | None = None,
) -> list[Alert]:
    """Run the detectors now; record the admitted alerts (deduplicated) and return them."""
    now = utc(now) or utcnow()
    cfg = alert_settings(app.settings.get("alerts"))
    hours = BusinessHours.from_settings(app.settings.get("business_hours"))
    found = detect(app.engine, now, cfg, hours, only)
    cooldown = timedelta(hours=float(cfg["thresholds"]["cooldown_hours"]))
    with Session(app.engine) as session:
        rows = session.execute(
            select(AlertEvent.key, AlertEvent.created_at).where(
                AlertEvent.created_at > now - max(cooldown, timedelta(hours=1))
            )
        ).all()
    last: dict[str, datetime] = {}
    for key, created in rows:
        last[key] = max(last.get(key, utc(created)), utc(created))  # type: ignore[arg-type,type-var]
    recent = [utc(c) for _, c in rows if utc(c) > now - timedelta(hours=1)]  # type: ignore[operator]
    admitted = Gate(last, recent).admit(found, now, cfg)  # type: ignore[arg-type]
    if record and admitted:
        with Session(app.engine) as session:
            for alert in admitted:
                session.add(
                    AlertEvent(
                        key=alert.key,
                        kind=alert.kind,
                        subject=alert.subject,
                        severity=alert.severity,
                        title=alert.title,
                        text=alert.text,
                        evidence=json.dumps({**alert.evidence, "chart": alert.chart}, default=str),
                        oncall=alert.oncall,
                        created_at=now,
                    )
                )
            session.commit()
    return admitted


@dataclass
class AlertMessage:
    """One alert to post on one platform: where, the words, evidence fields and chart data."""

    event_id: int
    channel: str
    title: str
    text: str
    fields: list[tuple[str, str]]
    chart: dict[str, Any] | None


def evidence_fields(
    evidence: dict[str, Any], kind: str, mute: bool = True
) -> list[tuple[str, str]]:
    """The fields every alert carries: how to see the evidence, the ticket, new versions, mute."""
    fields: list[tuple[str, str]] = []
    if evidence.get("command"):
        fields.append(("Evidence", f"`{evidence['command']}`"))
    if evidence.get("link"):
        fields.append(("Ticket", str(evidence["link"])))
    if evidence.get("new_versions"):
        fields.append(("New bot version(s)", ", ".join(evidence["new_versions"])))
    if mute:
        fields.append(("Mute", f"`/deskhand alerts mute {kind} 24h`"))
    return fields


def alert_message(event: AlertEvent, channel: str, mention: str = "") -> AlertMessage:
    """The platform-neutral alert: title, text (on-call mention first), evidence and chart."""
    evidence = json.loads(event.evidence or "{}")
    chart = evidence.pop("chart", None)
    fields = evidence_fields(evidence, event.kind)
    return AlertMessage(
        event.id or 0,
        channel,
        f"{SEVERITY_ICON.get(event.severity, '')} {event.title}".strip(),
        f"{mention} {event.text}".strip() if mention else event.text,
        fields,
        chart,
    )


def pending_messages(
    app: Deskhand, platform: str, now: datetime | None = None
) -> list[AlertMessage]:
    """Recorded alerts this platform has not posted yet (last 24 h), oldest first."""
    now = utc(now) or utcnow()
    cfg = alert_settings(app.settings.get("alerts"))
    channel = cfg["channels"].get(platform) or getattr(
        app.config, f"{platform}_escalation_channel", ""
    )
    if not channel:
        return []
    with Session(app.engine) as session:
        events = [
            row
            for (row,) in session.execute(
                select(AlertEvent)
                .where(AlertEvent.created_at > now - POST_WINDOW)
                .order_by(AlertEvent.id)
            ).all()
        ]
    mention = cfg["oncall"].get(platform, "")
    return [
        alert_message(e, channel, mention if e.oncall else "")
        for e in events
        if platform not in (e.posted_to or "").split(",")
    ]


def mark_posted(app: Deskhand, event_id: int, platform: str) -> None:
    """Remember that this platform delivered the alert."""
    with Session(app.engine) as session:
        event = session.get(AlertEvent, event_id)
        if event is None:
            return
        done = [p for p in (event.posted_to or "").split(",") if p]
        if platform not in done:
            event.posted_to = ",".join([*done, platform])
            session.add(event)
            session.commit()


def backtest(
    engine: Engine,
    sim: Any,
    value: dict[str, Any] | None = None,
    step_hours: float = 1.0,
    hours: BusinessHours | None = None,
) -> dict[str, Any]:
    """Replay the detectors every `step_hours` of simulated time (after a warm-up baseline).

    Reports when the drift was first caught and every alert raised in the quiet control period
    (false alarms), with the false-alarm rate per check.
    """
    cfg = alert_settings(value)
    hours = hours or BusinessHours()
    baseline = int(cfg["thresholds"]["baseline_days"])
    window = load_window(engine, sim.start, sim.end)
    gate = Gate({}, [])
    first_check = sim.start + timedelta(days=min(baseline, 7))
    starts = [f.start for f in window.facts]
    now, checks, control_checks = first_check, 0, 0
    fired: list[dict[str, Any]] = []
    caught_at = None
    while now <= sim.end:
        inp = DetectInput(now, window.facts, cfg["thresholds"], engine, hours, starts)
        admitted = gate.admit(detect_all(inp), now, cfg)
        checks += 1
        in_control = now < sim.control_end
        control_checks += in_control
        for alert in admitted:
            fired.append(
                {"at": now.isoformat(timespec="minutes"), "key": alert.key, "control": in_control}
            )
            hit = sim.drift_topic and (
                alert.subject == sim.drift_topic
                or (sim.drift_article_id and alert.subject == f"#{sim.drift_article_id}")
            )
            if hit and not in_control and caught_at is None:
                caught_at = now
        now += timedelta(hours=step_hours)
    false_alarms = [f for f in fired if f["control"]]
    return {
        "checks": checks,
        "control_checks": control_checks,
        "step_hours": step_hours,
        "alerts": fired,
        "false_alarms": len(false_alarms),
        "false_alarm_rate": round(len(false_alarms) / control_checks, 5)
        if control_checks
        else None,
        "drift_caught_at": caught_at.isoformat(timespec="minutes") if caught_at else None,
        "detection_delay_h": round((caught_at - sim.drift_at).total_seconds() / 3600, 1)
        if caught_at and sim.drift_at
        else None,
    }
