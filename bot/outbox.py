"""Failed platform side effects are parked here and retried with backoff, never dropped."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.models import OutboxItem
from knowledge.models import utcnow

MAX_ATTEMPTS = 12
LEASE_S = 60.0  # how long a claimed item is hidden from other workers


class Outbox:
    """A durable retry queue for escalation cards and relays."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(self, platform: str, kind: str, payload: dict[str, Any], error: str = "") -> OutboxItem:
        """Park a side effect that failed (or must happen later)."""
        with Session(self.engine) as session:
            item = OutboxItem(
                platform=platform,
                kind=kind,
                payload=json.dumps(payload),
                last_error=error,
                attempts=1 if error else 0,
            )
            session.add(item)
            session.commit()
            session.refresh(item)
            return item

    def due(self, platform: str, limit: int = 20, lease_s: float = LEASE_S) -> list[OutboxItem]:
        """Claim pending items whose retry time has come, for `lease_s` seconds.

        Claiming moves an item's retry time forward with a compare-and-set, so two workers (two
        processes on one Postgres) never both send it; if the claimer dies, the lease runs out
        and the item is retried.
        """
        now = utcnow()
        with Session(self.engine) as session:
            stmt = (
                select(OutboxItem)
                .where(OutboxItem.platform == platform, OutboxItem.status == "pending")
                .where(col(OutboxItem.next_attempt_at) <= now)
                .order_by(col(OutboxItem.id))
                .limit(limit)
            )
            seen = [(item.id, item.next_attempt_at) for item in session.exec(stmt)]
            claimed = []
            for item_id, was in seen:
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

    def failed(self, item_id: int, error: str, retry_after_s: float | None = None) -> None:
        """Record a failed attempt and schedule the next one (exponential backoff, capped)."""
        with Session(self.engine) as session:
            item = session.get(OutboxItem, item_id)
            if item is None:
                return
            item.attempts += 1
            item.last_error = error[:500]
            delay = retry_after_s if retry_after_s is not None else min(600, 2**item.attempts)
            item.next_attempt_at = utcnow() + timedelta(seconds=delay)
            if item.attempts >= MAX_ATTEMPTS:
                item.status = "dead"
            session.add(item)
            session.commit()

    def pending(self, platform: str | None = None) -> list[OutboxItem]:
        """Every waiting side effect, oldest first, without claiming any (for status and tests)."""
        with Session(self.engine) as session:
            stmt = select(OutboxItem).where(OutboxItem.status == "pending")
            if platform:
                stmt = stmt.where(OutboxItem.platform == platform)
            return list(session.exec(stmt.order_by(col(OutboxItem.id))))

    def pending_count(self, platform: str | None = None) -> int:
        """How many side effects are still waiting."""
        return len(self.pending(platform))

    def _set(self, item_id: int, **changes: Any) -> None:
        with Session(self.engine) as session:
            item = session.get(OutboxItem, item_id)
            if item is not None:
                for key, value in changes.items():
                    setattr(item, key, value)
                session.add(item)
                session.commit()
