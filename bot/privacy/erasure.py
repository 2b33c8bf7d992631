"""Forget, export and purge: the bot's own copies of a member's data, on request or by age."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, false, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.audit import record_audit
from bot.models import (
    AuditEntry,
    ClassifierExample,
    Conversation,
    ConversationState,
    Decision,
    EscalationStep,
    Feedback,
    InboxEvent,
    IssueType,
    LlmCall,
    Message,
    OutboxItem,
    Ticket,
)
from knowledge.models import KbCandidate, utcnow

if TYPE_CHECKING:  # bot.app imports the core modules
    from bot.app import Deskhand

log = logging.getLogger(__name__)
ERASED = "[erased]"


def member_ids(member: str) -> tuple[str, str]:
    """("platform", "user id") from "slack:U123", or ("", "U123") to match every platform."""
    platform, sep, user = member.partition(":")
    return (platform, user) if sep and platform in ("slack", "discord", "console") else ("", member)


def _conversations(session: Session, member: str) -> list[Conversation]:
    platform, user = member_ids(member)
    stmt = select(Conversation).where(Conversation.member_id == user)
    if platform:
        stmt = stmt.where(Conversation.platform == platform)
    return list(session.exec(stmt))


def _lanes(convs: Iterable[Conversation]) -> list[str]:
    """Inbox lanes and outbox thread keys of the member's threads."""
    return [f"{c.channel_id}:{c.thread_id}" for c in convs]


def export_member(engine: Engine, member: str) -> dict[str, Any]:
    """Everything the bot holds about a member, as JSON-ready data (access requests)."""
    platform, user = member_ids(member)
    with Session(engine) as session:
        convs = _conversations(session, member)
        ids = [c.id for c in convs]
        messages = session.exec(
            select(Message).where(
                or_(col(Message.conversation_id).in_(ids), col(Message.author_id) == user)
            )
        ).all()
        tickets = session.exec(select(Ticket).where(col(Ticket.conversation_id).in_(ids))).all()
        feedback = session.exec(
            select(Feedback).where(
                or_(col(Feedback.conversation_id).in_(ids), col(Feedback.user_id) == user)
            )
        ).all()
        decisions = session.exec(
            select(Decision).where(col(Decision.conversation_id).in_(ids))
        ).all()

        def dump(rows: Iterable[Any]) -> list[dict[str, Any]]:
            return [json.loads(r.model_dump_json()) for r in rows]

        return {
            "member": user,
            "platform": platform or "any",
            "exported_at": utcnow().isoformat(),
            "conversations": dump(convs),
            "messages": dump(messages),
            "decisions": dump(decisions),
            "tickets": dump(tickets),
            "feedback": dump(feedback),
        }


def forget_member(
    engine: Engine, member: str, actor: str = "system", via: str = ""
) -> dict[str, int]:
    """Delete or anonymise everything about one member; audited with the counts (never the text)."""
    _, user = member_ids(member)
    with Session(engine) as session:
        convs = _conversations(session, member)
        counts = _erase(session, convs, extra_author=user)
        record_audit(session, actor, "forget member", member, None, counts, via)
        session.commit()
    compact(engine)
    log.info("forgot member %s: %s", member, counts)
    return counts


def purge_older_than(engine: Engine, days: int, actor: str = "retention") -> dict[str, int]:
    """Erase conversations untouched for `days` days (the daily retention purge)."""
    if days <= 0:
        return {}
    cutoff = utcnow() - timedelta(days=days)
    with Session(engine) as session:
        convs = list(
            session.exec(select(Conversation).where(col(Conversation.updated_at) < cutoff))
        )
        counts = _erase(session, convs)
        done_events = session.execute(
            delete(InboxEvent).where(
                col(InboxEvent.status).in_(["done", "dead"]), col(InboxEvent.updated_at) < cutoff
            )
        )
        counts["inbox_events"] += done_events.rowcount or 0  # type: ignore[attr-defined]
        if convs:
            record_audit(session, actor, "purge", f"older than {days} days", None, counts)
        session.commit()
    if convs:
        compact(engine)
    return counts


def _erase(session: Session, convs: list[Conversation], extra_author: str = "") -> dict[str, int]:
    """Delete messages, feedback, LLM logs and queued events; anonymise decisions and tickets."""
    ids = [c.id for c in convs]
    lanes = _lanes(convs)
    tickets = list(session.exec(select(Ticket.id).where(col(Ticket.conversation_id).in_(ids))))

    def run(stmt: Any) -> int:
        return session.execute(stmt).rowcount or 0  # type: ignore[attr-defined]

    authored = col(Message.author_id) == extra_author if extra_author else false()
    counts = {
        "conversations": len(convs),
        "messages": run(
            delete(Message).where(or_(col(Message.conversation_id).in_(ids), authored))
        ),
        "decisions": run(
            update(Decision)
            .where(col(Decision.conversation_id).in_(ids))
            .values(question=ERASED, channel_id="")
        ),
        "tickets": run(
            update(Ticket)
            .where(col(Ticket.id).in_(tickets))
            .values(
                summary=ERASED,
                question=ERASED,
                transcript="[]",
                member="{}",
                attempted_answer="",
                extra="{}",
                permalink="",
            )
        ),
        "feedback": run(
            delete(Feedback).where(
                or_(
                    col(Feedback.conversation_id).in_(ids),
                    col(Feedback.user_id) == extra_author if extra_author else false(),
                )
            )
        ),
        "kb_candidates": run(
            delete(KbCandidate).where(
                col(KbCandidate.ticket_id).in_(tickets), col(KbCandidate.status) != "approved"
            )
        ),
        "conversation_states": run(
            delete(ConversationState).where(col(ConversationState.conversation_id).in_(ids))
        ),
        "llm_calls": run(delete(LlmCall).where(col(LlmCall.conversation_id).in_(ids))),
        "inbox_events": run(delete(InboxEvent).where(col(InboxEvent.lane).in_(lanes))),
        "outbox_items": run(
            delete(OutboxItem).where(
                or_(
                    col(OutboxItem.thread_key).in_(lanes),
                    *[col(OutboxItem.thread_key).startswith(f"ticket:{t}:") for t in tickets],
                )
            )
        ),
        "escalation_steps": run(
            delete(EscalationStep).where(col(EscalationStep.ticket_id).in_(tickets))
        ),
        "classifier_examples": _forget_phrasings(
            session, [t for t in tickets if t is not None], [i for i in ids if i is not None]
        ),
    }
    for conv in convs:  # the row stays for ticket and stats joins, without who or where
        conv.member_id, conv.member_name = ERASED, ""
        conv.key = f"erased:{conv.id}"
        conv.channel_id = conv.thread_id = ""
        session.add(conv)
    return counts


def _from_refs(tickets: list[int], conversations: list[int]) -> Any:
    """The flywheel's refs: "ticket #N" (a corrected type), "ticket #N → candidate #M" (an
    approved phrasing) or "conversation #N" (a review's `--phrasing` fix)."""
    refs = [f"ticket #{t}" for t in tickets]
    return or_(
        col(ClassifierExample.ref).in_(refs + [f"conversation #{c}" for c in conversations]),
        *[col(ClassifierExample.ref).startswith(f"{r} →") for r in refs],
    )


def _forget_phrasings(session: Session, tickets: list[int], conversations: list[int]) -> int:
    """The member's words the flywheel copied into issue-type examples (and their audit entries)."""
    if not tickets and not conversations:
        return 0
    rows = list(session.exec(select(ClassifierExample).where(_from_refs(tickets, conversations))))
    by_type: dict[str, set[str]] = {}
    for row in rows:
        by_type.setdefault(row.issue_type, set()).add(row.text)
        session.delete(row)
    for name, texts in by_type.items():
        issue = session.get(IssueType, name)
        if issue is not None:
            kept = [e for e in json.loads(issue.examples or "[]") if e not in texts]
            issue.examples = json.dumps(kept)
            session.add(issue)
        audits = select(AuditEntry).where(
            AuditEntry.action == "scope add", AuditEntry.target == name
        )
        for entry in session.exec(audits):
            entry.before, entry.after = (_scrub(v, texts) for v in (entry.before, entry.after))
            session.add(entry)
    return len(rows)


def _scrub(stored: str, texts: set[str]) -> str:
    """An audited issue type's JSON with the erased phrasings taken out of its examples."""
    value = json.loads(stored or "null")
    if isinstance(value, dict) and isinstance(value.get("examples"), str):
        examples = [e for e in json.loads(value["examples"] or "[]") if e not in texts]
        value["examples"] = json.dumps(examples)
    return json.dumps(value)


def compact(engine: Engine) -> None:
    """SQLite keeps deleted bytes in free pages and the WAL: zero them and truncate the log."""
    if engine.url.get_backend_name() == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


_last_purge: dict[str, float] = {}
PURGE_EVERY_S = 24 * 3600


def daily_purge(app: Deskhand, now: float | None = None) -> dict[str, int] | None:
    """Run the retention purge at most once a day per database; the adapters' loops call this."""
    import time

    now = time.time() if now is None else now
    key = str(app.engine.url)
    if now - _last_purge.get(key, 0.0) < PURGE_EVERY_S:
        return None
    _last_purge[key] = now
    days = int(app.settings.get("retention_days") or 0)
    counts = purge_older_than(app.engine, days)
    from bot.inbox import Inbox

    finished = Inbox(app.engine).purge_finished()  # DESKHAND_INBOX_RETENTION_DAYS, default 7
    if finished:
        counts["inbox_events"] = counts.get("inbox_events", 0) + finished
        log.info("inbox: %d finished events older than the inbox retention deleted", finished)
    if counts.get("conversations"):
        log.info("retention purge (%s days): %s", days, counts)
    return counts
