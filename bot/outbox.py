"""Platform side effects that failed (or are in flight) are kept here and retried in order."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.models import OutboxItem
from knowledge.models import utcnow

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 12
LEASE_S = 60.0  # how long a claimed item is hidden from other workers
SCAN_LIMIT = 2000  # pending items looked at per claim (head-of-line per thread)
WAITING = "waiting behind an earlier message in this thread"
ALERT_KIND = "alert"
ALERT_KEY = "alerts"


def staff_key(ticket_id: int) -> str:
    """The ordering key of everything sent to one ticket's staff thread (card first)."""
    return f"ticket:{ticket_id}:staff"


class Outbox:
    """A durable, per-thread ordered retry queue for cards, relays and replies."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(
        self,
        platform: str,
        kind: str,
        payload: dict[str, Any],
        error: str = "",
        thread_key: str = "",
        lease_s: float | None = None,
    ) -> OutboxItem:
        """Park a side effect that failed or must wait; with `lease_s`, record one in flight.

        An in-flight item (sent right after this call) is hidden for `lease_s`; if the process
        dies before `done()`, the lease runs out and the retry loop sends it: nothing is lost.
        """
        with Session(self.engine) as session:
            item = OutboxItem(
                platform=platform,
                kind=kind,
                payload=json.dumps(payload),
                last_error=error[:500],
                attempts=1 if error and error != WAITING else 0,
                thread_key=thread_key,
            )
            if lease_s is not None:
                item.next_attempt_at = utcnow() + timedelta(seconds=lease_s)
            session.add(item)
            session.commit()
            session.refresh(item)
            return item

    def record(
        self, platform: str, kind: str, payload: dict[str, Any], thread_key: str, lease_s: float
    ) -> int:
        """Record a side effect about to be sent (hidden for `lease_s`); its id marks it done or failed."""
        item = self.put(platform, kind, payload, thread_key=thread_key, lease_s=lease_s)
        if item.id is None:  # the row was not stored: sending now could lose the side effect
            raise RuntimeError(f"outbox did not store the {kind} for {thread_key or platform}")
        return item.id

    def blocked(self, platform: str, thread_key: str, before_id: int | None = None) -> bool:
        """True while an earlier item for this thread still waits: new posts must queue behind it."""
        if not thread_key:
            return False
        with Session(self.engine) as session:
            stmt = select(OutboxItem.id).where(
                OutboxItem.platform == platform,
                OutboxItem.status == "pending",
                OutboxItem.thread_key == thread_key,
            )
            if before_id is not None:
                stmt = stmt.where(col(OutboxItem.id) < before_id)
            return session.exec(stmt.limit(1)).first() is not None

    def due(self, platform: str, limit: int = 20, lease_s: float = LEASE_S) -> list[OutboxItem]:
        """Claim the oldest pending item of each thread whose retry time has come.

        Only the head of a thread is ever claimable, so a thread's items go out in id order and
        a later one never overtakes a parked one. Claiming moves the retry time forward with a
        compare-and-set, so two workers (two processes on one Postgres) never both send it; if
        the claimer dies, the lease runs out and the item is retried.
        """
        now = utcnow()
        with Session(self.engine) as session:
            stmt = (
                select(OutboxItem.id, OutboxItem.thread_key, OutboxItem.next_attempt_at)
                .where(OutboxItem.platform == platform, OutboxItem.status == "pending")
                .order_by(col(OutboxItem.id))
                .limit(SCAN_LIMIT)
            )
            heads: list[tuple[int | None, Any]] = []
            seen_keys: set[str] = set()
            for item_id, key, at in session.exec(stmt):
                if key:
                    if key in seen_keys:
                        continue
                    seen_keys.add(key)
                if at <= now:
                    heads.append((item_id, at))
                if len(heads) >= limit:
                    break
            claimed = []
            for item_id, was in heads:
                result = session.execute(
                    update(OutboxItem)
                    .where(col(OutboxItem.id) == item_id, col(OutboxItem.status) == "pending")
                    .where(col(OutboxItem.next_attempt_at) == was)
                    .values(next_attempt_at=now + timedelta(seconds=lease_s))
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(item_id)
            session.commit()
            rows = session.exec(select(OutboxItem).where(col(OutboxItem.id).in_(claimed)))
            return sorted(rows, key=lambda item: item.id or 0)

    def done(self, item_id: int) -> None:
        """Mark an item delivered."""
        self._set(item_id, status="done")

    def failed(self, item_id: int, error: str, retry_after_s: float | None = None) -> bool:
        """Record a failed attempt and schedule the next one; True when the item just died.

        A dying item raises a staff alert in the same transaction, so it is never silent.
        """
        with Session(self.engine) as session:
            item = session.get(OutboxItem, item_id)
            if item is None or item.status != "pending":
                return False
            item.attempts += 1
            item.last_error = error[:500]
            delay = retry_after_s if retry_after_s is not None else min(600, 2**item.attempts)
            item.next_attempt_at = utcnow() + timedelta(seconds=delay)
            died = item.attempts >= MAX_ATTEMPTS
            if died:
                item.status = "dead"
                if item.kind != ALERT_KIND:
                    session.add(dead_alert(item))
                else:
                    log.error("staff alert %s could not be delivered: %s", item.id, error)
            session.add(item)
            session.commit()
            if died:
                log.error("outbox item %s (%s) is dead after %s attempts: %s",
                          item_id, item.kind, item.attempts, error)  # fmt: skip
            return died

    def pending(self, platform: str | None = None) -> list[OutboxItem]:
        """Every waiting side effect, oldest first, without claiming any (for status and tests)."""
        return self.items(status="pending", platform=platform)

    def pending_count(self, platform: str | None = None) -> int:
        """How many side effects are still waiting."""
        return len(self.pending(platform))

    def items(
        self, status: str | None = None, platform: str | None = None, limit: int = 500
    ) -> list[OutboxItem]:
        """Items by status (None = pending and dead, what an operator cares about), oldest first."""
        with Session(self.engine) as session:
            stmt = select(OutboxItem)
            if status:
                stmt = stmt.where(OutboxItem.status == status)
            else:
                stmt = stmt.where(col(OutboxItem.status).in_(["pending", "dead"]))
            if platform:
                stmt = stmt.where(OutboxItem.platform == platform)
            return list(session.exec(stmt.order_by(col(OutboxItem.id)).limit(limit)))

    def get(self, item_id: int) -> OutboxItem | None:
        """One item by id."""
        with Session(self.engine) as session:
            return session.get(OutboxItem, item_id)

    def retry(self, item_id: int) -> OutboxItem:
        """Give a dead (or waiting) item a fresh set of attempts, due now."""
        item = self.get(item_id)
        if item is None or item.status not in ("dead", "pending"):
            raise ValueError(f"There is no pending or dead outbox item #{item_id}.")
        self._set(item_id, status="pending", attempts=0, next_attempt_at=utcnow())
        return self.get(item_id)  # type: ignore[return-value]

    def drop(self, item_id: int) -> OutboxItem:
        """Give up on an item on purpose (kept as 'dropped' for the record)."""
        item = self.get(item_id)
        if item is None or item.status not in ("dead", "pending"):
            raise ValueError(f"There is no pending or dead outbox item #{item_id}.")
        self._set(item_id, status="dropped")
        return self.get(item_id)  # type: ignore[return-value]

    def _set(self, item_id: int, **changes: Any) -> None:
        with Session(self.engine) as session:
            item = session.get(OutboxItem, item_id)
            if item is not None:
                for key, value in changes.items():
                    setattr(item, key, value)
                session.add(item)
                session.commit()


def dead_alert(item: OutboxItem) -> OutboxItem:
    """The staff-channel alert for an item that will not be retried any more."""
    payload = json.loads(item.payload or "{}")
    where = payload.get("ticket_id") and f" (ticket #{payload['ticket_id']})" or ""
    text = (
        f":warning: Deskhand gave up on outbox item #{item.id} ({item.kind}{where}) after "
        f"{item.attempts} attempts: {item.last_error or 'unknown error'}. "
        f"Use `/deskhand outbox retry {item.id}` to try again or `/deskhand outbox drop "
        f"{item.id}` to discard it."
    )
    return OutboxItem(
        platform=item.platform,
        kind=ALERT_KIND,
        payload=json.dumps({"text": text, "item_id": item.id}),
        thread_key=ALERT_KEY,
    )


def describe(item: OutboxItem) -> dict[str, Any]:
    """An outbox item as plain data for `deskhand outbox --json` and `/deskhand outbox`."""
    payload = json.loads(item.payload or "{}")
    return {
        "id": item.id,
        "platform": item.platform,
        "kind": item.kind,
        "status": item.status,
        "attempts": item.attempts,
        "last_error": item.last_error,
        "thread_key": item.thread_key,
        "ticket_id": payload.get("ticket_id"),
        "next_attempt_at": item.next_attempt_at.isoformat() if item.next_attempt_at else None,
        "created_at": item.created_at.isoformat() if item.created_at else None,
    }
