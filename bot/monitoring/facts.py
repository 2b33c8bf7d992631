"""One row of facts per conversation, loaded with indexed queries, for every monitoring figure.

A conversation belongs to the period in which it *started* (a cohort): everything that happened
to it afterwards (answers, feedback, tickets, ratings) up to `now` counts towards that period.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.models import Conversation, Decision, Feedback, IssueType, LlmCall, OutboxItem, Ticket
from knowledge.models import as_utc

RESOLVING_FEEDBACK = ("helpful", "thanks", "rating")  # what makes a resolution *confirmed*
REPEAT_DAYS = 7


def utc(value: datetime | None) -> datetime | None:
    """Databases may hand back naive UTC datetimes; make them comparable."""
    return None if value is None else as_utc(value)


def seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    """later − earlier in seconds, or None when either is missing."""
    a, b = utc(later), utc(earlier)
    return None if a is None or b is None else max(0.0, (a - b).total_seconds())


@dataclass(slots=True)  # one per conversation: hundreds of thousands in an 8-week report
class ConvFacts:
    """Everything the scorecard needs about one conversation."""

    id: int
    start: datetime
    platform: str
    channel: str
    member: str
    issue_type: str = "unclassified"
    team: str = "unknown"
    language: str = "unknown"
    member_tier: str = "standard"
    bot_version: str = "unknown"
    escalation_reason: str = "none"
    article: str = ""  # KB article of the first answer, "" when never answered
    question: str = ""  # the first question, for unanswered clusters
    turns: int = 0
    answered: bool = False
    clarified: bool = False
    escalated: bool = False
    soft_escalation: bool = False
    confirmed: bool = False
    assumed: bool = False
    repeat_contact: bool = False
    confident_wrong: bool = False
    helpful: int = 0
    not_helpful: int = 0
    rating: int | None = None
    ai_use: str = "none"
    bot_first_ms: float | None = None
    bot_resolution_s: float | None = None
    staff_first_s: float | None = None
    staff_resolution_s: float | None = None
    staff_handle_s: float | None = None
    llm_calls: int = 0
    llm_failures: int = 0
    llm_tokens: int = 0
    llm_cost: float = 0.0
    reasons: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """The furthest outcome: escalated, else answered, else clarified."""
        if self.escalated:
            return "escalated"
        return "answered" if self.answered else "clarified"

    @property
    def resolved(self) -> bool:
        """Confirmed or assumed."""
        return self.confirmed or self.assumed

    @property
    def fcr(self) -> bool:
        """Resolved in this one conversation, with no return about the same issue within 7 days."""
        return self.resolved and not self.repeat_contact


@dataclass
class Events:
    """Facts that are not conversations: LLM calls without a conversation, outbox items."""

    llm: list[tuple[datetime, int | None, bool, int, float]] = field(default_factory=list)
    outbox: list[tuple[datetime, str, str, int]] = field(default_factory=list)  # when, platform…


@dataclass
class Window:
    """Conversations started in [since, until], plus the period's non-conversation events."""

    since: datetime
    until: datetime
    facts: list[ConvFacts]
    events: Events
    shadow_decisions: int = 0


def _language_column() -> Any:
    """Decision.language when a detector records it (wt-answers), else None ("unknown")."""
    return getattr(Decision, "language", None)


def _assist_use(extra: str) -> str:
    """How staff used the AI draft on the ticket: sent, edited, ignored or none."""
    try:
        data = json.loads(extra or "{}")
    except ValueError:
        return "none"
    used = (data.get("assist") or {}).get("used")
    if used:
        return str(used)
    return "ignored" if data.get("suggested_reply") else "none"


def load_window(
    engine: Engine, since: datetime, until: datetime, prices: dict[str, Any] | None = None
) -> Window:
    """Every conversation started in the window with its outcome facts (indexed range queries)."""
    since, until = utc(since), utc(until)
    assert since is not None and until is not None
    prices = prices or {}
    in_window = and_(Conversation.created_at >= since, Conversation.created_at <= until)
    language = _language_column()
    with Session(engine) as session:
        teams = dict(session.execute(select(IssueType.name, IssueType.team)).all())
        convs: dict[int, ConvFacts] = {}
        for cid, platform, channel, member, issue, created in session.execute(
            select(
                Conversation.id,
                Conversation.platform,
                Conversation.channel_id,
                Conversation.member_id,
                Conversation.issue_type,
                Conversation.created_at,
            ).where(in_window)
        ):
            convs[cid] = ConvFacts(
                id=cid,
                start=utc(created),  # type: ignore[arg-type]
                platform=platform or "unknown",
                channel=f"{platform}:#{channel}",
                member=f"{platform}:{member}",
                issue_type=issue or "",
            )
        cols = [
            Decision.conversation_id,
            Decision.route,
            Decision.issue_type,
            Decision.reasons,
            Decision.top_article_id,
            Decision.latency_ms,
            Decision.created_at,
            Decision.shadow,
            Decision.bot_version,
            Decision.member_tier,
            Decision.question,
        ]
        if language is not None:
            cols.append(language)
        decisions = session.execute(
            select(*cols)
            .join(Conversation, Conversation.id == Decision.conversation_id)
            .where(in_window)
            .order_by(Decision.conversation_id, Decision.id)
        ).all()
        feedback = session.execute(
            select(Feedback.conversation_id, Feedback.kind, Feedback.rating, Feedback.created_at)
            .join(Conversation, Conversation.id == Feedback.conversation_id)
            .where(in_window)
            .order_by(Feedback.id)
        ).all()
        tickets = session.execute(
            select(
                Ticket.conversation_id,
                Ticket.status,
                Ticket.reasons,
                Ticket.team,
                Ticket.created_at,
                Ticket.claimed_at,
                Ticket.first_staff_reply_at,
                Ticket.resolved_at,
                Ticket.extra,
            )
            .join(Conversation, Conversation.id == Ticket.conversation_id)
            .where(in_window)
            .order_by(Ticket.id)
        ).all()
        later = session.execute(
            select(
                Conversation.platform,
                Conversation.member_id,
                Conversation.issue_type,
                Conversation.created_at,
            ).where(
                Conversation.created_at > since,
                Conversation.created_at <= until + timedelta(days=REPEAT_DAYS),
            )
        ).all()
        llm = session.execute(
            select(
                LlmCall.created_at,
                LlmCall.conversation_id,
                LlmCall.ok,
                LlmCall.model,
                LlmCall.prompt_tokens,
                LlmCall.completion_tokens,
            ).where(LlmCall.created_at >= since, LlmCall.created_at <= until)
        ).all()
        outbox = session.execute(
            select(
                OutboxItem.created_at, OutboxItem.platform, OutboxItem.status, OutboxItem.attempts
            ).where(OutboxItem.created_at >= since, OutboxItem.created_at <= until)
        ).all()

    shadow = _apply_decisions(convs, decisions, language is not None)
    _apply_feedback(convs, feedback)
    _apply_tickets(convs, tickets)
    _apply_repeats(convs, later)
    events = Events()
    for created, cid, ok, model, p_tok, c_tok in llm:
        cost = _cost(prices, model, p_tok, c_tok)
        fact = convs.get(cid) if cid is not None else None
        if fact is not None:
            fact.llm_calls += 1
            fact.llm_failures += not ok
            fact.llm_tokens += p_tok + c_tok
            fact.llm_cost += cost
        else:
            events.llm.append((utc(created), cid, bool(ok), p_tok + c_tok, cost))  # type: ignore[arg-type]
    events.outbox = [(utc(c), p, s, a) for c, p, s, a in outbox]  # type: ignore[misc]
    facts = []
    for fact in convs.values():
        if fact.turns == 0:
            continue  # no bot decision (or only shadow ones): not a bot conversation
        fact.issue_type = fact.issue_type or "unclassified"
        if fact.team == "unknown":
            fact.team = teams.get(fact.issue_type) or "unknown"
        facts.append(fact)
    facts.sort(key=lambda f: (f.start, f.id))
    return Window(since, until, facts, events, shadow)


def _cost(prices: dict[str, Any], model: str, prompt: int, completion: int) -> float:
    """Cost in the currency of `llm_prices` (model → [per 1k prompt, per 1k completion])."""
    price = prices.get(model) or prices.get("*")
    if not price:
        return 0.0
    return (prompt * float(price[0]) + completion * float(price[1])) / 1000


def _apply_decisions(convs: dict[int, ConvFacts], rows: list[Any], has_language: bool) -> int:
    """Turns, outcomes, first-response time, version, tier and language from the decisions."""
    shadow = 0
    last_route: dict[int, str] = {}
    last_answer_at: dict[int, datetime] = {}
    for row in rows:
        cid, route, issue, reasons, article, latency, created, is_shadow = row[:8]
        version, tier, question = row[8], row[9], row[10]
        fact = convs.get(cid)
        if fact is None:
            continue
        if is_shadow:
            shadow += 1
            continue
        if fact.turns == 0:
            fact.bot_first_ms = float(latency or 0.0)
            fact.bot_version = version or "unknown"
            fact.member_tier = tier or "standard"
            fact.question = question or ""
            if has_language:
                fact.language = row[11] or "unknown"
        fact.turns += 1
        if issue and not fact.issue_type:
            fact.issue_type = issue
        if route == "answer":
            fact.answered = True
            fact.article = fact.article or (f"#{article}" if article else "")
            last_answer_at[cid] = created
        elif route == "clarify":
            fact.clarified = True
        elif route == "escalate" and not fact.escalated:
            fact.escalated = True
            fact.soft_escalation = fact.turns > 1
            fact.confident_wrong = fact.confident_wrong or fact.answered
            try:
                fact.reasons = list(json.loads(reasons or "[]"))
            except ValueError:
                fact.reasons = []
            fact.escalation_reason = fact.reasons[0] if fact.reasons else "unspecified"
        elif route == "decline" and not fact.escalated and not fact.reasons:
            try:  # declined as off-topic: no ticket, but the reason feeds knowledge-gap alerts
                fact.reasons = list(json.loads(reasons or "[]"))
            except ValueError:
                fact.reasons = []
        last_route[cid] = route
    for cid, fact in convs.items():
        if last_route.get(cid) == "answer" and not fact.escalated:
            fact.assumed = True  # provisional: cleared by any feedback below
            fact.bot_resolution_s = seconds(last_answer_at[cid], fact.start)
    return shadow


def _apply_feedback(convs: dict[int, ConvFacts], rows: list[Any]) -> None:
    """Thumbs, ratings, confirmed resolution and confident-but-wrong from member feedback."""
    for cid, kind, rating, created in rows:
        fact = convs.get(cid)
        if fact is None:
            continue
        fact.assumed = False
        if kind == "helpful":
            fact.helpful += 1
        elif kind == "not_helpful":
            fact.not_helpful += 1
            fact.confident_wrong = fact.confident_wrong or fact.answered
        elif kind == "rating" and rating is not None:
            fact.rating = int(rating)
        if kind in RESOLVING_FEEDBACK and not fact.confirmed:
            fact.confirmed = True
            if kind != "rating" and not fact.escalated:
                fact.bot_resolution_s = seconds(created, fact.start)
    for fact in convs.values():
        if not fact.confirmed and not fact.assumed:
            fact.bot_resolution_s = None


def _apply_tickets(convs: dict[int, ConvFacts], rows: list[Any]) -> None:
    """Staff times, team and the AI-draft use from the conversation's (first) ticket."""
    seen: set[int] = set()
    for cid, status, reasons, team, created, claimed, first_reply, resolved, extra in rows:
        fact = convs.get(cid)
        if fact is None or cid in seen:
            continue
        seen.add(cid)
        if not fact.escalated:
            fact.escalated = True
            fact.soft_escalation = fact.turns > 1
            try:
                fact.reasons = list(json.loads(reasons or "[]"))
            except ValueError:
                fact.reasons = []
            fact.escalation_reason = fact.reasons[0] if fact.reasons else "unspecified"
        fact.assumed = False
        fact.team = team or fact.team
        fact.ai_use = _assist_use(extra)
        fact.staff_first_s = seconds(first_reply, created)
        if status == "resolved":
            fact.confirmed = True
            fact.staff_resolution_s = seconds(resolved, created)
            fact.staff_handle_s = seconds(resolved, claimed)
        fact.bot_resolution_s = None


def _apply_repeats(convs: dict[int, ConvFacts], later: list[Any]) -> None:
    """A repeat contact: the same member starts another conversation on the same issue in 7 days."""
    starts: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for platform, member, issue, created in later:
        if issue:
            starts[(f"{platform}:{member}", issue)].append(utc(created))  # type: ignore[arg-type]
    horizon = timedelta(days=REPEAT_DAYS)
    for fact in convs.values():
        issue = fact.issue_type
        if not issue or issue == "unclassified":
            continue
        fact.repeat_contact = any(
            fact.start < s <= fact.start + horizon for s in starts.get((fact.member, issue), ())
        )
