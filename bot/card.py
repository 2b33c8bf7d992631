"""The escalation card's content, built once: Slack, Discord and the console only style it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.desk import sentiment_card_text, ticket_view
from bot.models import Conversation, Feedback, Ticket

MAX_ARTICLES = 5  # the same on every platform
MAX_HISTORY = 5  # the member's earlier tickets shown on the card


@dataclass(frozen=True)
class CardArticle:
    """An article the bot found for the question, with its search score."""

    title: str
    url: str
    score: float


@dataclass(frozen=True)
class PastTicket:
    """One of the member's earlier tickets and how it ended."""

    ticket_id: int
    issue_type: str
    question: str
    status: str
    created: str  # YYYY-MM-DD
    rating: int | None = None

    @property
    def line(self) -> str:
        """One plain line for any platform: '#12 2026-11-30 billing: resolved, rated 4/5'."""
        rated = f", rated {self.rating}/5" if self.rating else ""
        topic = self.issue_type or "general"
        return f"#{self.ticket_id} {self.created} {topic}: {self.status.replace('_', ' ')}{rated}"


@dataclass(frozen=True)
class Card:
    """Everything staff need to pick a conversation up without asking again (plain text)."""

    ticket_id: int
    status: str
    claimed_by: str
    resolved_by: str
    issue_type: str
    confidence: float
    sentiment: str
    severity: str
    reasons: tuple[str, ...]
    summary: str
    question: str
    articles: tuple[CardArticle, ...]
    attempted_answer: str
    sentiment_card: str
    member_id: str
    member_name: str
    member_tier: str
    member_channel_id: str
    permalink: str
    language: str  # '' for English, else the language's name
    team: str
    history: tuple[PastTicket, ...] = field(default=())

    @property
    def workable(self) -> bool:
        """Open or claimed tickets still carry desk buttons."""
        return self.status in ("open", "claimed")


def card_of(view: dict[str, Any]) -> Card:
    """The card of a ticket view (`ticket_view`, optionally with a `history` list)."""
    member = view.get("member") or {}
    extra = view.get("extra") or {}
    language = ""
    if extra.get("language", "en") != "en":
        language = str(extra.get("language_name") or extra["language"])
    articles = tuple(
        CardArticle(
            str(a.get("title") or "article"), str(a.get("url") or ""), float(a.get("score") or 0)
        )
        for a in (view.get("articles") or [])[:MAX_ARTICLES]
    )
    history = tuple(
        h if isinstance(h, PastTicket) else PastTicket(**h) for h in view.get("history") or ()
    )
    return Card(
        ticket_id=int(view.get("id") or 0),
        status=str(view.get("status") or "open"),
        claimed_by=str(view.get("claimed_by") or ""),
        resolved_by=str(view.get("resolved_by") or ""),
        issue_type=str(view.get("issue_type") or ""),
        confidence=float(view.get("confidence") or 0),
        sentiment=str(view.get("sentiment") or "neutral"),
        severity=str(view.get("severity") or "normal"),
        reasons=tuple(str(r) for r in view.get("reasons") or ()),
        summary=str(view.get("summary") or ""),
        question=str(view.get("question") or ""),
        articles=articles,
        attempted_answer=str(view.get("attempted_answer") or ""),
        sentiment_card=sentiment_card_text(view),
        member_id=str(member.get("user_id") or ""),
        member_name=str(member.get("display_name") or ""),
        member_tier=str(member.get("tier") or ""),
        member_channel_id=str(view.get("member_channel_id") or ""),
        permalink=str(view.get("permalink") or ""),
        language=language,
        team=str(view.get("team") or "support"),
        history=history,
    )


def member_history(engine: Engine, ticket: Ticket, limit: int = MAX_HISTORY) -> list[PastTicket]:
    """The member's earlier tickets on the same platform, newest first, with their ratings."""
    with Session(engine) as session:
        conv = session.get(Conversation, ticket.conversation_id)
        if conv is None or not conv.member_id:
            return []
        rows = session.exec(
            select(Ticket)
            .join(Conversation, col(Conversation.id) == col(Ticket.conversation_id))
            .where(Conversation.member_id == conv.member_id, Conversation.platform == conv.platform)
            .where(col(Ticket.id) < (ticket.id or 0))
            .order_by(col(Ticket.id).desc())
            .limit(limit)
        ).all()
        ids = [int(t.id or 0) for t in rows]
        ratings = dict(
            session.exec(
                select(Feedback.ticket_id, Feedback.rating).where(
                    col(Feedback.ticket_id).in_(ids), Feedback.kind == "rating"
                )
            ).all()
        )
    return [
        PastTicket(
            ticket_id=int(t.id or 0),
            issue_type=t.issue_type,
            question=t.question,
            status=t.status,
            created=t.created_at.date().isoformat() if t.created_at else "",
            rating=ratings.get(t.id),
        )
        for t in rows
    ]


def card_view(engine: Engine, ticket: Ticket) -> dict[str, Any]:
    """A ticket view with the member's history, ready for any platform's card renderer."""
    view = ticket_view(ticket)
    view["history"] = [asdict(h) for h in member_history(engine, ticket)]
    return view


def card_for(engine: Engine, ticket: Ticket) -> Card:
    """The card of a stored ticket, history included."""
    return card_of(card_view(engine, ticket))


__all__ = ["MAX_ARTICLES", "Card", "CardArticle", "PastTicket", "card_for", "card_of", "card_view"]
