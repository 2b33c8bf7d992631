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
    """What an import returned, which articles it added or changed, and its undoable audit entry."""

    result: Any
    added: list[int]
    updated: list[int]
    titles: dict[int, str]  # of the added and updated articles
    audit_id: int | None


def audited_import(
    kb: KnowledgeBase, actor: str, target: str, run: Callable[[], Any], platform: str = ""
) -> ImportAudit:
    """Run an import and audit what it changed, so `audit undo` can take it back (chat or CLI)."""
    before = {a.id: a.version for a in kb.list()}
    result = run()
    after = {a.id: a for a in kb.list() if a.id is not None}
    added = [i for i in after if i not in before]
    updated = [i for i in after if i in before and after[i].version != before[i]]
    titles = {i: after[i].title for i in added + updated}
    if not (added or updated):
        return ImportAudit(result, [], [], {}, None)
    with Session(kb.engine) as session:
        entry = record_audit(
            session,
            actor,
            "kb import",
            target,
            {str(i): before[i] for i in updated},
            {"added": added, "updated": {str(i): after[i].version for i in updated}},
            platform,
        )
        session.commit()
        session.refresh(entry)
        return ImportAudit(result, added, updated, titles, entry.id)
