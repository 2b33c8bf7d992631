"""The decision trace of one conversation: what the member wrote, what the bot saw and did, and
what happened next, built from the recorded rows (nothing is re-run)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.models import Conversation, Decision, Feedback, Message, ReviewTag, Ticket
from knowledge.models import Article, KbCandidate


class TraceError(ValueError):
    """The conversation asked for does not exist (message fit to show staff)."""


@dataclass
class Step:
    """One event of the conversation, in time order."""

    at: datetime
    kind: str  # member | bot | staff | note | system | decision | feedback | ticket | review
    text: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Trace:
    """A conversation with its timeline and a one-line outcome."""

    conversation_id: int
    key: str
    platform: str
    channel_id: str
    member: str
    status: str
    issue_type: str
    started: datetime
    steps: list[Step]
    outcome: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        data = asdict(self)
        data["started"] = self.started.isoformat(timespec="seconds")
        for step in data["steps"]:
            step["at"] = step["at"].isoformat(timespec="seconds")
        return data

    @property
    def decisions(self) -> list[Step]:
        """The bot's decisions only."""
        return [s for s in self.steps if s.kind == "decision"]


def find_conversation(engine: Engine, ref: str) -> Conversation:
    """A conversation by id (`12`, `#12`), by key (`slack:C1:123.4`) or by ticket (`ticket:5`)."""
    ref = ref.strip()
    with Session(engine) as session:
        conv = None
        if ref.lower().startswith(("ticket:", "t#")):
            number = ref.split(":", 1)[-1].lstrip("t#").strip()
            ticket = session.get(Ticket, int(number)) if number.isdigit() else None
            conv = session.get(Conversation, ticket.conversation_id) if ticket else None
        elif ref.lstrip("#").isdigit():
            conv = session.get(Conversation, int(ref.lstrip("#")))
        else:
            conv = session.exec(select(Conversation).where(Conversation.key == ref)).first()
    if conv is None:
        raise TraceError(
            f"There is no conversation `{ref}`: give its number (from `review` or `stats`), "
            "its key, or `ticket:N`."
        )
    return conv


def _json(value: str, default: Any) -> Any:
    try:
        return json.loads(value or "null") or default
    except ValueError:
        return default


def build_trace(engine: Engine, ref: str) -> Trace:
    """Every recorded event of the conversation, oldest first."""
    conv = find_conversation(engine, ref)
    cid = conv.id
    with Session(engine) as session:
        messages = list(
            session.exec(
                select(Message).where(Message.conversation_id == cid).order_by(col(Message.id))
            )
        )
        decisions = list(
            session.exec(
                select(Decision).where(Decision.conversation_id == cid).order_by(col(Decision.id))
            )
        )
        feedback = list(
            session.exec(
                select(Feedback).where(Feedback.conversation_id == cid).order_by(col(Feedback.id))
            )
        )
        tickets = list(
            session.exec(
                select(Ticket).where(Ticket.conversation_id == cid).order_by(col(Ticket.id))
            )
        )
        ticket_ids = [t.id for t in tickets]
        candidates = (
            list(
                session.exec(select(KbCandidate).where(col(KbCandidate.ticket_id).in_(ticket_ids)))
            )
            if ticket_ids
            else []
        )
        reviews = list(
            session.exec(
                select(ReviewTag)
                .where(ReviewTag.conversation_id == cid)
                .order_by(col(ReviewTag.id))
            )
        )
        article_ids = {d.top_article_id for d in decisions if d.top_article_id}
        titles = dict(
            session.exec(
                select(Article.id, Article.title).where(col(Article.id).in_(article_ids))
            ).all()
        )
    by_message = {d.message_id: d for d in decisions if d.message_id is not None}
    steps: list[Step] = []
    for m in messages:
        steps.append(Step(m.created_at, m.role, m.text, {"author": m.author_name, "kind": m.kind}))
        decision = by_message.pop(m.id, None)
        if decision is not None:
            steps.append(_decision_step(decision, titles))
    unmatched = [*by_message.values(), *(d for d in decisions if d.message_id is None)]
    steps += [_decision_step(d, titles) for d in unmatched]  # no member row recorded
    for f in feedback:
        text = f"rated {f.rating}/5" if f.kind == "rating" else f.kind.replace("_", " ")
        steps.append(Step(f.created_at, "feedback", text, {"decision_id": f.decision_id}))
    for t in tickets:
        steps.extend(_ticket_steps(t, [c for c in candidates if c.ticket_id == t.id]))
    for r in reviews:
        steps.append(
            Step(
                r.created_at,
                "review",
                r.cause,
                {"note": r.note, "reviewer": r.reviewer, "fix": _json(r.fix, {})},
            )  # fmt: skip
        )
    order = {"member": 0, "decision": 1, "bot": 2}
    steps.sort(key=lambda s: (_naive(s.at), order.get(s.kind, 3)))
    return Trace(
        conversation_id=cid or 0,
        key=conv.key,
        platform=conv.platform,
        channel_id=conv.channel_id,
        member=conv.member_name or conv.member_id,
        status=conv.status,
        issue_type=conv.issue_type or next((d.issue_type for d in decisions if d.issue_type), ""),
        started=conv.created_at,
        steps=steps,
        outcome=_outcome(decisions, feedback, tickets),
    )


def _naive(at: datetime) -> datetime:
    """SQLite hands back naive UTC; compare everything naive."""
    return at.replace(tzinfo=None)


def _decision_step(d: Decision, titles: dict[int, str]) -> Step:
    hits = _json(d.hits, [])
    if not hits and d.top_article_id:  # recorded before hits were kept: the top one only
        hits = [
            {
                "article_id": d.top_article_id,
                "title": titles.get(d.top_article_id, "(removed)"),
                "score": d.retrieval_score,
            }
        ]
    return Step(
        d.created_at,
        "decision",
        d.route,
        {
            "decision_id": d.id,
            "reasons": _json(d.reasons, []),
            "confidence": round(d.confidence, 3),
            "issue_type": d.issue_type,
            "hits": hits,
            "query": d.question,
            "bot_version": d.bot_version,
            "latency_ms": round(d.latency_ms),
            "shadow": d.shadow,
        },
    )


def _ticket_steps(t: Ticket, candidates: list[KbCandidate]) -> list[Step]:
    steps = [
        Step(
            t.created_at,
            "ticket",
            f"ticket #{t.id} opened",
            {"ticket_id": t.id, "reasons": _json(t.reasons, []), "team": t.team},
        )
    ]
    if t.claimed_at:
        steps.append(Step(t.claimed_at, "ticket", f"claimed by {t.claimed_by or '?'}"))
    if t.resolved_at:
        verb = "handed back" if t.status == "handed_back" else "resolved"
        steps.append(Step(t.resolved_at, "ticket", f"{verb} by {t.resolved_by or '?'}"))
    for c in candidates:
        where = f" as article #{c.article_id}" if c.article_id else ""
        steps.append(
            Step(
                c.created_at,
                "ticket",
                f"KB candidate #{c.id}: {c.status}{where}",
                {"candidate_id": c.id},
            )  # fmt: skip
        )
    return steps


def _outcome(decisions: list[Decision], feedback: list[Feedback], tickets: list[Ticket]) -> str:
    """One line: how the conversation ended."""
    routes = [d.route for d in decisions if not d.shadow]
    kinds = {f.kind for f in feedback}
    parts = []
    if "answer" in routes:
        parts.append("answered")
    if "not_helpful" in kinds:
        parts.append("marked not helpful")
    if "helpful" in kinds or "confirmed" in kinds:
        parts.append("confirmed helpful")
    if tickets:
        last = tickets[-1]
        parts.append(f"escalated (ticket #{last.id}, {last.status})")
    elif routes and not parts:
        parts.append(routes[-1])
    ratings = [f.rating for f in feedback if f.kind == "rating" and f.rating]
    if ratings:
        parts.append(f"rated {ratings[-1]}/5")
    return ", ".join(parts) or "no bot decision"
