"""The review queue: a prioritised sample of conversations worth a person's look, and root-cause
tags that say what kind of failure each one was (counted in stats, replayed by `eval history`)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.models import Conversation, Decision, Message, ReviewTag
from bot.monitoring.facts import ConvFacts, load_window
from knowledge.contracts import Hit
from knowledge.models import utcnow

CAUSES = (
    "knowledge-missing",
    "knowledge-outdated",
    "wrong-retrieval",
    "wrong-routing",
    "platform-failure",
    "tone",
    "correct",
)
CAUSE_ALIASES = {
    "missing": "knowledge-missing",
    "outdated": "knowledge-outdated",
    "retrieval": "wrong-retrieval",
    "routing": "wrong-routing",
    "threshold": "wrong-routing",
    "platform": "platform-failure",
    "tool": "platform-failure",
    "communication": "tone",
    "ok": "correct",
}
SKIPPED = "skipped"
FIX_ROUTES = ("answer", "clarify", "escalate", "decline")
# Why a conversation is in the queue, most telling first (the queue serves them in this order).
REASONS = (
    "not_helpful",
    "answered_then_escalated",
    "could_have_answered",
    "low_margin",
    "ai_assisted",
    "random",
)
REASON_TEXT = {
    "not_helpful": "the member marked the answer Not helpful",
    "answered_then_escalated": "the bot answered, then the conversation was escalated",
    "could_have_answered": "escalated, but the staff reply matches an article",
    "low_margin": "answered just above the answer threshold",
    "ai_assisted": "staff replied with the AI draft (a sample)",
    "random": "a random sample of everything else",
}
LOW_MARGIN = 0.05  # an answer whose confidence was within this of the answer threshold
AI_ASSIST_SHARE = 0.12  # 10-15 % of AI-assisted replies
RANDOM_SHARE = 0.03
COULD_ANSWER_LIMIT = 200  # staff replies searched per queue build (the newest)
DEFAULT_DAYS = 14


class ReviewError(ValueError):
    """A review action that cannot be done, with a message fit to show staff."""


@dataclass
class QueueItem:
    """One conversation waiting for review, and why."""

    conversation_id: int
    reason: str
    started: datetime
    detail: str = ""

    @property
    def why(self) -> str:
        """The reason in words."""
        text = REASON_TEXT.get(self.reason, self.reason)
        return f"{text} ({self.detail})" if self.detail else text


def sampled(conversation_id: int, share: float, salt: str) -> bool:
    """A stable coin: the same conversation is always in (or out of) a sample."""
    digest = hashlib.sha256(f"{salt}:{conversation_id}".encode()).hexdigest()
    return int(digest[:8], 16) / 0xFFFFFFFF < share


def normalise_cause(word: str) -> str:
    """A cause as stored, from its name or a short alias; a clear error otherwise."""
    cause = word.strip().lower().replace("_", "-")
    cause = CAUSE_ALIASES.get(cause, cause)
    if cause not in CAUSES:
        raise ReviewError(f"`{word}` is not a root cause; use one of: {', '.join(CAUSES)}.")
    return cause


def reviewed_ids(engine: Engine) -> set[int]:
    """Conversations that already carry a tag (or were skipped)."""
    with Session(engine) as session:
        return set(session.exec(select(ReviewTag.conversation_id).distinct()))


def build_queue(
    app: Any, days: float = DEFAULT_DAYS, now: datetime | None = None
) -> list[QueueItem]:
    """Every unreviewed conversation of the window that falls in a sample, in serving order."""
    now = now or utcnow()
    since = now - timedelta(days=days)
    window = load_window(app.engine, since, now)
    done = reviewed_ids(app.engine)
    facts = [f for f in window.facts if f.id not in done]
    margins = _answer_margins(app, [f.id for f in facts])
    could = _could_have_answered(app, [f for f in facts if f.escalated and not f.answered])
    items: list[QueueItem] = []
    for fact in facts:
        reason, detail = _reason(fact, margins.get(fact.id), could.get(fact.id))
        if reason:
            items.append(QueueItem(fact.id, reason, fact.start, detail))
    rank = {r: i for i, r in enumerate(REASONS)}
    items.sort(key=lambda i: (rank[i.reason], -i.started.timestamp(), -i.conversation_id))
    return items


def _reason(fact: ConvFacts, margin: float | None, article: str | None) -> tuple[str, str]:
    if fact.not_helpful:
        return "not_helpful", ""
    if fact.answered and fact.escalated:
        return "answered_then_escalated", fact.escalation_reason
    if article:
        return "could_have_answered", article
    if margin is not None and margin < LOW_MARGIN:
        return "low_margin", f"{margin:+.3f} over the threshold"
    if fact.ai_use in ("sent", "edited") and sampled(fact.id, AI_ASSIST_SHARE, "assist"):
        return "ai_assisted", f"draft {fact.ai_use}"
    if sampled(fact.id, RANDOM_SHARE, "random"):
        return "random", ""
    return "", ""


def _answer_margins(app: Any, ids: list[int]) -> dict[int, float]:
    """Per conversation, the smallest lead of an answer's confidence over its answer threshold."""
    if not ids:
        return {}
    margins: dict[int, float] = {}
    thresholds: dict[str, float] = {}
    with Session(app.engine) as session:
        rows = session.exec(
            select(Decision.conversation_id, Decision.channel_id, Decision.confidence)
            .where(Decision.route == "answer", Decision.shadow == False)  # noqa: E712
            .where(col(Decision.conversation_id).in_(ids))
        ).all()
    for cid, channel, confidence in rows:
        if channel not in thresholds:
            thresholds[channel] = float(app.settings.thresholds(channel)["answer"])
        lead = float(confidence) - thresholds[channel]
        margins[cid] = min(lead, margins.get(cid, lead))
    return margins


def staff_replies(engine: Engine, ids: list[int]) -> dict[int, str]:
    """The staff replies (relayed to the member, not internal notes) of each conversation."""
    if not ids:
        return {}
    out: dict[int, list[str]] = {}
    with Session(engine) as session:
        rows = session.exec(
            select(Message.conversation_id, Message.text)
            .where(Message.role == "staff", col(Message.conversation_id).in_(ids))
            .order_by(col(Message.id))
        ).all()
    for cid, text in rows:
        out.setdefault(cid, []).append(text)
    return {cid: "\n".join(lines) for cid, lines in out.items()}


def _could_have_answered(app: Any, escalated: list[ConvFacts]) -> dict[int, str]:
    """Escalations whose staff reply retrieves an article at answer confidence: "#id title"."""
    newest = sorted(escalated, key=lambda f: f.start, reverse=True)[:COULD_ANSWER_LIMIT]
    replies = staff_replies(app.engine, [f.id for f in newest])
    answer = float(app.settings.thresholds()["answer"])
    found: dict[int, str] = {}
    for cid, text in replies.items():
        if hit := article_for_reply(app.kb.search, text, answer):
            found[cid] = f"#{hit.article_id} {hit.title}"
    return found


# A knowledge search: (text, k) -> hits, best first (KnowledgeBase.search).
Search = Callable[[str, int], list[Hit]]


def article_for_reply(search: Search, text: str, answer_threshold: float) -> Hit | None:
    """The article a staff reply retrieves at answer confidence: the bot could have said it."""
    hits = search(text[:1000], 1)
    return hits[0] if hits and hits[0].score >= answer_threshold else None


@dataclass
class NextReview:
    """The conversation to review now, and how many wait behind it per reason."""

    item: QueueItem | None
    waiting: dict[str, int]


def next_review(app: Any, days: float = DEFAULT_DAYS, now: datetime | None = None) -> NextReview:
    """The highest-priority unreviewed conversation."""
    items = build_queue(app, days, now)
    counts = Counter(i.reason for i in items)
    return NextReview(items[0] if items else None, {r: counts[r] for r in REASONS if counts[r]})


def tag(
    app: Any,
    conversation_id: int,
    cause: str,
    reviewer: str,
    note: str = "",
    article_id: int | None = None,
    route: str = "",
    phrasing_type: str = "",
) -> ReviewTag:
    """Record a root cause (or a skip) for one conversation; an optional fix names the article
    or route that would have been right, which makes the conversation a regression case, or the
    issue type whose example phrasings the member's question should join (the data flywheel)."""
    cause = SKIPPED if cause == SKIPPED else normalise_cause(cause)
    if route and route not in FIX_ROUTES:
        raise ReviewError(f"`--route` is one of {', '.join(FIX_ROUTES)}, not `{route}`.")
    known = {r.name for r in app.scope.all() if r.in_scope} if phrasing_type else set()
    if phrasing_type and phrasing_type not in known:
        raise ReviewError(
            f"`--phrasing` names an in-scope issue type ({', '.join(sorted(known)) or 'none'}),"
            f" not `{phrasing_type}`."
        )
    if article_id is not None:
        app.kb.get(article_id)  # raises a clear KnowledgeError for an unknown article
    with Session(app.engine) as session:
        if session.get(Conversation, conversation_id) is None:
            raise ReviewError(f"There is no conversation #{conversation_id}.")
        last = session.exec(
            select(Decision.id)
            .where(Decision.conversation_id == conversation_id)
            .where(col(Decision.route).in_(["answer", "clarify", "escalate", "decline"]))
            .order_by(col(Decision.id).desc())
        ).first()
    fix: dict[str, Any] = {}
    if article_id is not None:
        fix["article_id"] = article_id
        fix.setdefault("route", route or "answer")
    elif route:
        fix["route"] = route
    if phrasing_type:
        fix.update(_add_phrasing(app, conversation_id, phrasing_type, reviewer))
    reason = _queue_reason(app, conversation_id)
    row = ReviewTag(
        conversation_id=conversation_id,
        decision_id=last,
        cause=cause,
        note=note.strip()[:2000],
        fix=json.dumps(fix),
        queue_reason=reason,
        reviewer=reviewer,
    )
    with Session(app.engine, expire_on_commit=False) as session:
        session.add(row)
        session.commit()
    return row


def _add_phrasing(app: Any, conversation_id: int, issue_type: str, reviewer: str) -> dict:
    """The member's first question becomes an example of the type, or is held back to measure on."""
    from bot.improve.flywheel import learn_phrasing
    from bot.improve.history import first_question

    with Session(app.engine) as session:
        question = first_question(session, conversation_id)
    if not question:
        raise ReviewError(f"Conversation #{conversation_id} has no question to learn from.")
    ref = f"conversation #{conversation_id}"
    planned = learn_phrasing(app, question, issue_type, "review_phrasing", ref, reviewer)
    outcome = "added" if planned.train else "held back" if planned.held_back else "already known"
    return {"phrasing": issue_type, "phrasing_outcome": outcome}


def _queue_reason(app: Any, conversation_id: int) -> str:
    """Why the queue would serve this conversation ('' when it was looked up by hand)."""
    with Session(app.engine) as session:
        conv = session.get(Conversation, conversation_id)
    if conv is None:
        return ""
    start = conv.created_at
    window = load_window(app.engine, start - timedelta(seconds=1), start + timedelta(seconds=1))
    fact = next((f for f in window.facts if f.id == conversation_id), None)
    if fact is None:
        return ""
    margin = _answer_margins(app, [conversation_id]).get(conversation_id)
    return _reason(fact, margin, None)[0]


def cause_counts(
    engine: Engine, since: datetime | None = None, until: datetime | None = None
) -> dict[str, int]:
    """Root causes of the conversations reviewed in the period (the latest tag of each counts)."""
    with Session(engine) as session:
        stmt = select(ReviewTag.conversation_id, ReviewTag.cause).order_by(col(ReviewTag.id))
        if since is not None:
            stmt = stmt.where(col(ReviewTag.created_at) >= since)
        if until is not None:
            stmt = stmt.where(col(ReviewTag.created_at) < until)
        rows = session.exec(stmt).all()
    latest = dict(rows)  # later rows overwrite earlier ones
    counts = Counter(c for c in latest.values() if c != SKIPPED)
    return {cause: counts[cause] for cause in CAUSES if counts[cause]}


def review_summary(engine: Engine, days: float = 30) -> dict[str, Any]:
    """Causes, and causes per queue reason, for stats and the digest."""
    since = utcnow() - timedelta(days=days)
    with Session(engine) as session:
        rows = session.exec(
            select(ReviewTag.conversation_id, ReviewTag.cause, ReviewTag.queue_reason)
            .where(col(ReviewTag.created_at) >= since)
            .order_by(col(ReviewTag.id))
        ).all()
    latest = {cid: (cause, reason) for cid, cause, reason in rows}
    by_reason: dict[str, Counter] = {}
    for cause, reason in latest.values():
        if cause != SKIPPED:
            by_reason.setdefault(reason or "by hand", Counter())[cause] += 1
    reviewed = [c for c, _ in latest.values() if c != SKIPPED]
    return {
        "days": days,
        "reviewed": len(reviewed),
        "skipped": sum(1 for c, _ in latest.values() if c == SKIPPED),
        "causes": cause_counts(engine, since),
        "by_reason": {r: dict(c) for r, c in by_reason.items()},
    }
