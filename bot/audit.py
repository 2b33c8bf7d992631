"""The audit trail: who changed what, before and after."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.models import AuditEntry


def record_audit(
    session: Session,
    actor: str,
    action: str,
    target: str,
    before: Any,
    after: Any,
    platform: str = "",
) -> AuditEntry:
    """Add an audit entry to the caller's transaction."""
    entry = AuditEntry(
        actor=actor,
        platform=platform,
        action=action,
        target=target,
        before=json.dumps(before, default=str),
        after=json.dumps(after, default=str),
    )
    session.add(entry)
    return entry


def recent_audit(engine: Engine, limit: int = 20) -> list[AuditEntry]:
    """The last `limit` changes, newest first."""
    with Session(engine) as session:
        stmt = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
        return list(session.exec(stmt))
