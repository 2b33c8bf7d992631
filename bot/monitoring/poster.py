"""What the bot posts to the staff (or alerts) channel, and when: platform-neutral posts.

The Slack and Discord background loops each hold one `AlertPoster`. Every pass it runs the cheap
ticket / model / outbox detectors (so an urgent ticket pings on-call at once), every
`check_minutes` all detectors, records the weekly digest when it is due, then *claims* this
platform's unposted alerts. A claim is a unique (alert, platform) row, so however many processes
run, each alert reaches the wire once; a failed send is retried a few times, a crashed one after a
lease. Adapters only render a `Post` and call `sent` or `failed`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.charts_extra import with_chart_note
from bot.models import AlertDelivery, AlertEvent
from bot.monitoring.alerts import (
    POST_WINDOW,
    SEVERITY_ICON,
    alert_settings,
    evidence_fields,
    run_checks,
)
from bot.monitoring.charts import render_chart
from bot.monitoring.detectors import FAST_DETECTORS
from bot.monitoring.digest import DIGEST_KIND, record_due_digest
from bot.monitoring.facts import utc
from knowledge.models import utcnow

if TYPE_CHECKING:  # bot.app imports the core modules
    from bot.app import Deskhand

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)  # a claim older than this (the poster died) may be taken over
MAX_ATTEMPTS = 5
RETRY_AFTER = timedelta(minutes=1)


@dataclass
class Post:
    """One staff-channel message: where, the words, evidence, an on-call mention, a chart."""

    event_id: int
    platform: str
    channel: str
    kind: str
    title: str
    text: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    table: list[list[str]] | None = None
    mention: str = ""  # the platform's on-call mention, as an admin set it; "" for none
    image_png: bytes | None = None
    image_name: str = ""
    ok: bool = True  # renderers of command results read these two
    usage: str = ""


def post_channel(app: Deskhand, platform: str, kind: str) -> str:
    """The digest channel for digests, else the alerts channel, else the staff channel."""
    channels = alert_settings(app.settings.get("alerts"))["channels"]
    if kind == DIGEST_KIND:
        digest = app.settings.get("digest") or {}
        channel = (digest.get("channels") or {}).get(platform)
        if channel:
            return str(channel)
    return str(channels.get(platform) or getattr(app.config, f"{platform}_escalation_channel", ""))


def build_post(event: AlertEvent, platform: str, channel: str, mention: str) -> Post:
    """The neutral post of a recorded alert (or digest): text, evidence fields, rendered chart."""
    evidence = json.loads(event.evidence or "{}")
    chart = evidence.pop("chart", None)
    fields = [tuple(f) for f in evidence.pop("fields", [])]
    fields += evidence_fields(evidence, event.kind, mute=event.kind != DIGEST_KIND)
    png = None
    if chart:
        png = render_chart(chart)
    icon = SEVERITY_ICON.get(event.severity, "") if event.kind != DIGEST_KIND else "📊"
    return Post(
        event_id=event.id or 0,
        platform=platform,
        channel=channel,
        kind=event.kind,
        title=f"{icon} {event.title}".strip(),
        text=with_chart_note(event.text, png) if chart else event.text,
        fields=[(str(k), str(v)) for k, v in fields],
        table=evidence.get("table"),
        mention=mention if event.oncall else "",
        image_png=png,
        image_name=f"deskhand-{event.kind}-{event.id}.png" if png else "",
    )


class AlertPoster:
    """One platform's alert and digest poster (one per running adapter)."""

    def __init__(self, app: Deskhand, platform: str) -> None:
        self.app = app
        self.platform = platform
        self.last_full: datetime | None = None

    def due(self, now: datetime | None = None) -> list[Post]:
        """Run the detectors that are due, record a due digest, and claim what to post now."""
        now = utc(now) or utcnow()
        cfg = alert_settings(self.app.settings.get("alerts"))
        every = timedelta(minutes=float(cfg["thresholds"].get("check_minutes") or 10))
        full = self.last_full is None or now - self.last_full >= every
        try:
            run_checks(self.app, now, only=None if full else FAST_DETECTORS)
            if full:
                self.last_full = now
        except Exception:  # a broken detector must not stop posting what is already recorded
            log.exception("alert checks failed; posting what is recorded")
        try:
            record_due_digest(self.app, now)
        except Exception:
            log.exception("weekly digest failed; will try again next pass")
        return claim_posts(self.app, self.platform, now)

    def sent(self, post: Post, now: datetime | None = None) -> None:
        """The platform accepted the post: never send it again."""
        mark_sent(self.app, post.event_id, self.platform, now)

    def failed(self, post: Post, error: str, now: datetime | None = None) -> None:
        """The platform refused: retry on a later pass, up to MAX_ATTEMPTS."""
        mark_failed(self.app, post.event_id, self.platform, error, now)


def _budget(session: Session, platform: str, now: datetime, per_hour: int) -> int:
    """How many more posts this platform may send in the current hour (digests do not count)."""
    rows = session.exec(
        select(AlertDelivery.id)
        .join(AlertEvent, col(AlertEvent.id) == AlertDelivery.event_id)
        .where(AlertDelivery.platform == platform, AlertDelivery.status == "posted")
        .where(col(AlertDelivery.posted_at) > now - timedelta(hours=1))
        .where(AlertEvent.kind != DIGEST_KIND)
    ).all()
    return max(0, per_hour - len(rows))


def _take(
    session: Session, event_id: int, platform: str, row: AlertDelivery | None, now: datetime
) -> bool:
    """Claim one alert for this platform atomically; False when another process has it."""
    if row is None:
        session.add(AlertDelivery(event_id=event_id, platform=platform, claimed_at=now))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return False
        return True
    result = session.execute(
        update(AlertDelivery)
        .where(col(AlertDelivery.id) == row.id)
        .where(col(AlertDelivery.status) == row.status)
        .where(col(AlertDelivery.attempts) == row.attempts)
        .values(status="sending", claimed_at=now)
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _takeable(row: AlertDelivery | None, now: datetime) -> bool:
    """Never tried, failed and due again, or a claim whose poster died."""
    if row is None:
        return True
    claimed = utc(row.claimed_at) or now
    if row.status == "failed":
        return claimed <= now - RETRY_AFTER * row.attempts
    return row.status == "sending" and claimed <= now - LEASE


def claim_posts(app: Deskhand, platform: str, now: datetime | None = None) -> list[Post]:
    """This platform's recorded, unposted alerts of the last 24 h, claimed; within the hourly budget."""
    now = utc(now) or utcnow()
    cfg = alert_settings(app.settings.get("alerts"))
    mention = str(cfg["oncall"].get(platform) or "")
    cooldown = timedelta(hours=float(cfg["thresholds"]["cooldown_hours"]))
    posts: list[Post] = []
    with Session(app.engine, expire_on_commit=False) as session:
        events = session.exec(
            select(AlertEvent)
            .where(col(AlertEvent.created_at) > now - max(POST_WINDOW, cooldown))
            .order_by(col(AlertEvent.id))
        ).all()
        if not events:
            return []
        rows = {
            r.event_id: r
            for r in session.exec(
                select(AlertDelivery).where(
                    AlertDelivery.platform == platform,
                    col(AlertDelivery.event_id).in_([e.id for e in events]),
                )
            ).all()
        }
        first: dict[str, datetime] = {}  # the first alert of a key in a cooldown is the one sent
        budget = _budget(session, platform, now, int(cfg["thresholds"]["max_per_hour"]))
        for event in events:
            created = utc(event.created_at) or now
            earlier = first.get(event.key)
            duplicate = earlier is not None and created - earlier < cooldown
            if not duplicate:
                first[event.key] = created
            if created <= now - POST_WINDOW:
                continue  # too old to post late; kept only for the duplicate check
            row = rows.get(event.id or 0)
            if platform in (event.posted_to or "").split(",") or not _takeable(row, now):
                continue
            if event.kind != DIGEST_KIND and budget <= 0:
                continue
            channel = post_channel(app, platform, event.kind)
            if not channel or not _take(session, event.id or 0, platform, row, now):
                continue
            if duplicate:  # the same alert recorded twice (two checkers raced): post it once
                _finish(session, event.id or 0, platform, "duplicate", now)
                continue
            budget -= event.kind != DIGEST_KIND
            posts.append(build_post(event, platform, channel, mention))
    return posts


def _finish(
    session: Session, event_id: int, platform: str, status: str, now: datetime, error: str = ""
) -> None:
    row = session.exec(
        select(AlertDelivery).where(
            AlertDelivery.event_id == event_id, AlertDelivery.platform == platform
        )
    ).first()
    if row is None:
        row = AlertDelivery(event_id=event_id, platform=platform)
    row.status = status
    if status == "posted":
        row.posted_at = now
    elif status == "failed":
        row.attempts += 1
        row.error = error[:500]
        row.claimed_at = now
        if row.attempts >= MAX_ATTEMPTS:
            row.status = "dead"
            log.error("alert %s could not be posted on %s: %s", event_id, platform, error)
    session.add(row)
    session.commit()


def mark_sent(app: Deskhand, event_id: int, platform: str, now: datetime | None = None) -> None:
    """Record the delivery (and the platform in the alert's posted_to)."""
    from bot.monitoring.alerts import mark_posted

    with Session(app.engine) as session:
        _finish(session, event_id, platform, "posted", utc(now) or utcnow())
    mark_posted(app, event_id, platform)


def mark_failed(
    app: Deskhand, event_id: int, platform: str, error: str, now: datetime | None = None
) -> None:
    """Record a failed send; it is retried on a later pass until MAX_ATTEMPTS."""
    with Session(app.engine) as session:
        _finish(session, event_id, platform, "failed", utc(now) or utcnow(), error)
