"""The durable inbox: platform events are stored before the ack, then drained by workers.

A crash between the ack and the answer loses nothing: the next start (or another process on the
same database) claims whatever was received but not finished. The unique (platform, event_key)
constraint makes a retried or doubly delivered event a no-op, whichever process receives it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import fields
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot.contracts import Button, Citation, Option, Reply, scrub
from bot.models import InboxEvent as InboxEvent  # re-exported: adapters type stored events
from bot.privacy.payload import policy_for_lane, redact_payload
from knowledge.models import utcnow

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5  # claims of one event (a poison event that crashes the process dies here)
OPEN = ("received", "processing")
DEFAULT_RETENTION_DAYS = 7


class Handback(Exception):  # noqa: N818 - an outcome, not an error
    """Raised by a handler that cannot finish now (shutting down): the event goes back unharmed."""


def retention_days() -> float:
    """Days a finished event is kept (DESKHAND_INBOX_RETENTION_DAYS, default 7; 0 keeps them).

    A kept row is what makes a late redelivery of the same event a no-op, so keep it longer than
    any platform retries (Slack: about an hour; Discord: never after a new session).
    """
    try:
        return max(0.0, float(os.environ.get("DESKHAND_INBOX_RETENTION_DAYS") or 7))
    except ValueError:
        return float(DEFAULT_RETENTION_DAYS)


def lease_seconds() -> float:
    """How long a claim hides an event from other workers (DESKHAND_INBOX_LEASE_S, default 30)."""
    try:
        return max(1.0, float(os.environ.get("DESKHAND_INBOX_LEASE_S") or 30))
    except ValueError:
        return 30.0


def stop_grace_s() -> float:
    """How long a stopping process lets work in flight finish (DESKHAND_STOP_GRACE_S, default 10)."""
    try:
        return max(0.0, float(os.environ.get("DESKHAND_STOP_GRACE_S") or 10))
    except ValueError:
        return 10.0


class Inbox:
    """Put-if-new, claim with a lease (compare-and-set), done, failed, release."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(
        self, platform: str, event_key: str, kind: str, payload: dict[str, Any], lane: str = ""
    ) -> bool:
        """Store an event once; False when this (platform, event_key) was stored before."""
        return self.insert(platform, event_key, kind, payload, lane) is not None

    def insert(
        self,
        platform: str,
        event_key: str,
        kind: str,
        payload: dict[str, Any],
        lane: str = "",
        *,
        text_keys: tuple[str, ...] | None = None,
        owner: str = "",
    ) -> int | None:
        """Store an event once: its id, or None when this (platform, event_key) was stored before.

        Member text is redacted before its first write: the whole payload, or only `text_keys`
        (payloads full of ids a card-number detector could mistake). With `owner` the event is
        stored already claimed by it (handled inline; another process resumes it if it dies).
        """
        if kind == "message":
            policy = policy_for_lane(self.engine, platform, lane)
            if text_keys is None:
                payload = redact_payload(payload, policy)
            else:
                payload = {
                    k: redact_payload(v, policy) if k in text_keys else v
                    for k, v in payload.items()
                }
        row = InboxEvent(
            platform=platform,
            event_key=event_key[:255],
            kind=kind,
            lane=lane[:255],
            payload=json.dumps(scrub(payload), ensure_ascii=True),
        )
        if owner:
            row.status, row.attempts, row.owner = "processing", 1, owner
            row.lease_until = utcnow() + timedelta(seconds=lease_seconds())
        with Session(self.engine) as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return None
            return row.id

    def find(self, platform: str, event_key: str) -> InboxEvent | None:
        """One event by its platform key."""
        with Session(self.engine) as session:
            return session.exec(
                select(InboxEvent).where(
                    InboxEvent.platform == platform, InboxEvent.event_key == event_key[:255]
                )
            ).first()

    def claim(
        self, platform: str, owner: str = "", limit: int = 1, lease_s: float | None = None
    ) -> list[InboxEvent]:
        """Claim due events, oldest first, skipping any whose lane has an earlier open event.

        The claim bumps `attempts` with a compare-and-set, so two workers (two processes on one
        database) never both get one event; a claimer that dies lets its lease run out.
        """
        now = utcnow()
        lease = lease_s if lease_s is not None else lease_seconds()
        earlier = aliased(InboxEvent)
        blocked = exists().where(
            col(earlier.platform) == col(InboxEvent.platform),
            col(earlier.lane) == col(InboxEvent.lane),
            col(earlier.id) < col(InboxEvent.id),
            col(earlier.status).in_(OPEN),
        )
        due = or_(
            col(InboxEvent.status) == "received",
            and_(col(InboxEvent.status) == "processing", col(InboxEvent.lease_until) < now),
        )
        stmt = (
            select(InboxEvent.id, InboxEvent.attempts)
            .where(InboxEvent.platform == platform, due)
            .where(col(InboxEvent.next_attempt_at) <= now)
            .where(or_(col(InboxEvent.lane) == "", ~blocked))
            .order_by(col(InboxEvent.id))
            .limit(limit)
        )
        claimed: list[int] = []
        with Session(self.engine) as session:
            for event_id, attempts in session.exec(stmt).all():
                result = session.execute(
                    update(InboxEvent)
                    .where(col(InboxEvent.id) == event_id, col(InboxEvent.attempts) == attempts)
                    .where(col(InboxEvent.status).in_(OPEN))
                    .values(
                        status="processing",
                        attempts=attempts + 1,
                        lease_until=now + timedelta(seconds=lease),
                        owner=owner,
                        updated_at=now,
                    )
                )
                if result.rowcount == 1 and event_id is not None:  # type: ignore[attr-defined]
                    claimed.append(event_id)
            session.commit()
            if not claimed:
                return []
            rows = session.exec(select(InboxEvent).where(col(InboxEvent.id).in_(claimed)))
            return sorted(rows, key=lambda row: row.id or 0)

    def renew(self, event_ids: list[int], lease_s: float | None = None) -> None:
        """Extend the leases of events still being worked on (a slow answer is not stolen)."""
        if not event_ids:
            return
        until = utcnow() + timedelta(seconds=lease_s if lease_s is not None else lease_seconds())
        with Session(self.engine) as session:
            session.execute(
                update(InboxEvent)
                .where(col(InboxEvent.id).in_(event_ids), col(InboxEvent.status) == "processing")
                .values(lease_until=until)
            )
            session.commit()

    def save_result(self, event_id: int, result: dict[str, Any]) -> None:
        """Remember a mid-way result (the reply) so a resumed event delivers it, not redoes it."""
        self._update(event_id, result=json.dumps(result, ensure_ascii=True))

    def done(self, event_id: int) -> None:
        """The event is fully handled."""
        self._update(event_id, status="done", lease_until=None, error="")

    def failed(self, event_id: int, error: str) -> None:
        """Retry later with backoff; after MAX_ATTEMPTS claims the event is dead (and logged)."""
        with Session(self.engine) as session:
            row = session.get(InboxEvent, event_id)
            if row is None:
                return
            row.error = error[:500]
            row.lease_until = None
            if row.attempts >= MAX_ATTEMPTS:
                row.status = "dead"
                log.error("inbox event %s (%s) is dead: %s", row.event_key, row.kind, error)
            else:
                row.status = "received"
                row.next_attempt_at = utcnow() + timedelta(seconds=min(60, 2**row.attempts))
            row.updated_at = utcnow()
            session.add(row)
            session.commit()

    def release(self, event_ids: list[int]) -> None:
        """Hand unfinished events back at once (graceful stop): the next start takes them."""
        if not event_ids:
            return
        with Session(self.engine) as session:
            session.execute(
                update(InboxEvent)
                .where(col(InboxEvent.id).in_(event_ids), col(InboxEvent.status) == "processing")
                .values(status="received", lease_until=None, next_attempt_at=utcnow())
            )
            session.commit()

    def open_count(self, platform: str | None = None, due_only: bool = False) -> int:
        """Events received or in progress (due_only: leave out those waiting for a retry)."""
        with Session(self.engine) as session:
            stmt = select(InboxEvent.id).where(col(InboxEvent.status).in_(OPEN))
            if platform:
                stmt = stmt.where(InboxEvent.platform == platform)
            if due_only:
                stmt = stmt.where(col(InboxEvent.next_attempt_at) <= utcnow())
            return len(session.exec(stmt).all())

    def purge_finished(self, days: float | None = None) -> int:
        """Delete events done more than `days` ago (default: retention_days()); dead ones stay."""
        days = retention_days() if days is None else days
        if days <= 0:
            return 0
        cutoff = utcnow() - timedelta(days=days)
        with Session(self.engine) as session:
            result = session.execute(
                delete(InboxEvent).where(
                    col(InboxEvent.status) == "done", col(InboxEvent.updated_at) < cutoff
                )
            )
            session.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def get(self, event_id: int) -> InboxEvent | None:
        """One event by id."""
        with Session(self.engine) as session:
            return session.get(InboxEvent, event_id)

    def _update(self, event_id: int, **values: Any) -> None:
        with Session(self.engine) as session:
            session.execute(
                update(InboxEvent)
                .where(col(InboxEvent.id) == event_id)
                .values(updated_at=utcnow(), **values)
            )
            session.commit()


class InboxWorker:
    """Threads that drain one platform's inbox: claim, handle, done (or failed), in lane order.

    `handler(event)` does the work; an exception marks the event failed (retried with backoff).
    `stop()` stops claiming, waits for work in flight up to a bound, and releases the rest.
    """

    def __init__(
        self,
        inbox: Inbox,
        platform: str,
        handler: Callable[[InboxEvent], None],
        workers: int = 4,
        poll_s: float = 1.0,
    ) -> None:
        self.inbox = inbox
        self.platform = platform
        self.handler = handler
        self.workers = workers
        self.poll_s = poll_s
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._inflight: set[int] = set()
        self._threads: list[threading.Thread] = []
        self._signals = 0

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> InboxWorker:
        """Start the workers (idempotent); they resume whatever is open in the inbox."""
        if self._threads:
            return self
        for i in range(self.workers):
            thread = threading.Thread(
                target=self._run, name=f"deskhand-{self.platform}-inbox-{i}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        beat = threading.Thread(target=self._heartbeat, name="deskhand-inbox-lease", daemon=True)
        beat.start()
        self._threads.append(beat)
        return self

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return bool(self._threads) and not self._stopping.is_set()

    def notify(self) -> None:
        """A new event was stored: wake a worker now instead of at the next poll."""
        with self._wake:
            self._signals += 1
            self._wake.notify_all()

    def stop(self, timeout: float = 10.0) -> int:
        """Stop claiming; wait up to `timeout` for work in flight; release what is left.

        Returns how many events were handed back for the next start.
        """
        self._stopping.set()
        self.notify()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._wake:
            left = sorted(self._inflight)
        try:
            self.inbox.release(left)
        except Exception:
            log.exception("could not release %d inbox events; their leases will expire", len(left))
        if left:
            log.warning("stopped with %d events in flight; the next start resumes them", len(left))
        return len(left)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until nothing is in flight and nothing due waits in the inbox (tests, bench)."""
        deadline = time.monotonic() + timeout
        while True:  # look at least once: a thread scheduled late must not report busy unseen
            with self._wake:
                busy = bool(self._inflight)
            if not busy and not self.inbox.open_count(self.platform, due_only=True):
                with self._wake:
                    if not self._inflight:
                        return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    # ---- the loop ----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set():
            with self._wake:
                seen = self._signals
            try:
                batch = self.inbox.claim(self.platform, self.owner)
            except Exception:
                log.exception("inbox claim failed; retrying")
                batch = []
            if not batch:
                with self._wake:
                    if self._signals == seen and not self._stopping.is_set():
                        self._wake.wait(self.poll_s)
                continue
            for event in batch:
                self._handle(event)

    def _handle(self, event: InboxEvent) -> None:
        event_id = event.id or 0
        with self._wake:
            self._inflight.add(event_id)
        try:
            self.handler(event)
        except Handback:
            self._settle(self.inbox.release, [event_id])
        except Exception as exc:
            log.exception("inbox event %s (%s) failed", event.event_key, event.kind)
            self._settle(self.inbox.failed, event_id, f"{type(exc).__name__}: {exc}")
        else:
            self._settle(self.inbox.done, event_id)
        finally:
            with self._wake:
                self._inflight.discard(event_id)
                self._signals += 1  # a lane may have opened up
                self._wake.notify_all()

    def _settle(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("could not record inbox outcome %s; the lease will expire", args[:1])

    def _heartbeat(self) -> None:
        interval = lease_seconds() / 3
        while not self._stopping.wait(interval):
            with self._wake:
                ids = sorted(self._inflight)
            try:
                self.inbox.renew(ids)
            except Exception:
                log.exception("could not renew inbox leases")


def reply_to_dict(reply: Reply) -> dict[str, Any]:
    """A Reply as JSON-safe data, to keep in the inbox between 'decided' and 'delivered'."""
    return reply.to_dict()


def reply_from_dict(data: dict[str, Any]) -> Reply:
    """The Reply saved by reply_to_dict."""
    known = {f.name for f in fields(Reply)}
    values = {k: v for k, v in data.items() if k in known}
    values["citations"] = [Citation(**c) for c in values.get("citations") or []]
    values["options"] = [Option(**o) for o in values.get("options") or []]
    values["buttons"] = [Button(**b) for b in values.get("buttons") or []]
    return Reply(**values)
