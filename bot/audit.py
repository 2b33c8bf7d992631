"""The audit trail: who changed what, before and after."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.models import AuditEntry

if TYPE_CHECKING:
    from knowledge.store import KnowledgeBase


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


@dataclass
class ImportAudit:
    """Which articles an import added or changed, and the audit entry that can undo it."""

    added: list[int]
    updated: list[int]
    audit_id: int | None


def audited_import(
    kb: KnowledgeBase, actor: str, target: str, run: Callable[[], Any], platform: str = ""
) -> ImportAudit:
    """Run an import and audit what it changed, so `audit undo` can take it back (chat or CLI)."""
    before = {a.id: a.version for a in kb.list()}
    run()
    after = {a.id: a.version for a in kb.list()}
    added = [i for i in after if i not in before and i is not None]
    updated = [i for i in after if i in before and after[i] != before[i] and i is not None]
    if not (added or updated):
        return ImportAudit([], [], None)
    with Session(kb.engine) as session:
        entry = record_audit(
            session,
            actor,
            "kb import",
            target,
            {str(i): before[i] for i in updated},
            {"added": added, "updated": {str(i): after[i] for i in updated}},
            platform,
        )
        session.commit()
        session.refresh(entry)
        return ImportAudit(added, updated, entry.id)
