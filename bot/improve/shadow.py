"""Shadow agreement: where would the bot have done what the person who answered did?

Each shadow conversation pairs the bot's first draft (its decision, the article it would cite) with
the first staff reply written to the member (bot.shadow). The staff reply is matched to the
knowledge base the way the review queue does it: an article retrieved at answer confidence means
"answered from that article", none means "needed a person beyond the KB". The bot agrees when it
would have answered from the same article, or would have handed off (escalate / decline) where the
person wrote something the KB does not hold. Agreement per issue type tells a team where the bot
is ready to go live.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.improve.review import Search, article_for_reply
from bot.models import Decision, Message
from bot.shadow import SHADOW_REPLY_KIND
from knowledge.models import utcnow

DEFAULT_DAYS = 30
READY_MIN_PAIRS = 20  # fewer pairs than this and no issue type is called ready
READY_LOWER_BOUND = 0.8  # ready when the 95 % interval of agreement starts at or above this
DRAFT_ROUTES = ("answer", "clarify", "escalate", "decline")
Z95 = 1.959964


@dataclass(frozen=True)
class ShadowPair:
    """One shadow conversation: what the bot drafted and what the person did."""

    conversation_id: int
    issue_type: str
    bot_route: str
    bot_article_id: int | None
    human_article_id: int | None  # the article the staff reply matches, None if none does

    @property
    def same_article(self) -> bool:
        """The bot would have answered (or offered first) the article the person answered from."""
        return (
            self.bot_route in ("answer", "clarify")
            and self.human_article_id is not None
            and self.bot_article_id == self.human_article_id
        )

    @property
    def same_handoff(self) -> bool:
        """Both judged the KB insufficient: the bot handed off, the person wrote beyond the KB."""
        return self.bot_route in ("escalate", "decline") and self.human_article_id is None

    @property
    def agrees(self) -> bool:
        """The bot's decision matches the person's."""
        return self.same_article or self.same_handoff


@dataclass(frozen=True)
class Agreement:
    """Agreement for one issue type (or all), with its 95 % Wilson interval."""

    issue_type: str
    pairs: int
    agreed: int
    same_article: int
    same_handoff: int
    bot_answered: int  # drafts that answered or offered an article
    human_from_kb: int  # staff replies that match an article
    rate: float
    low: float
    high: float
    ready: bool


@dataclass
class ShadowReport:
    """Agreement per issue type plus the disagreements worth reading first."""

    since: datetime
    until: datetime
    overall: Agreement
    by_issue_type: list[Agreement]
    disagreements: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "since": self.since.isoformat(timespec="seconds"),
            "until": self.until.isoformat(timespec="seconds"),
            "overall": asdict(self.overall),
            "by_issue_type": [asdict(a) for a in self.by_issue_type],
            "disagreements": self.disagreements,
            "ready_rule": (
                f"at least {READY_MIN_PAIRS} pairs and the 95 % interval of agreement "
                f"at or above {READY_LOWER_BOUND:.0%}"
            ),
        }


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (sane at 0 %, 100 % and small n)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def agreement(issue_type: str, pairs: Sequence[ShadowPair]) -> Agreement:
    """Summarise pairs: counts, rate, interval and whether the bot is ready here."""
    n = len(pairs)
    agreed = sum(p.agrees for p in pairs)
    low, high = wilson(agreed, n)
    return Agreement(
        issue_type=issue_type,
        pairs=n,
        agreed=agreed,
        same_article=sum(p.same_article for p in pairs),
        same_handoff=sum(p.same_handoff for p in pairs),
        bot_answered=sum(p.bot_route in ("answer", "clarify") for p in pairs),
        human_from_kb=sum(p.human_article_id is not None for p in pairs),
        rate=round(agreed / n, 4) if n else 0.0,
        low=round(low, 4),
        high=round(high, 4),
        ready=n >= READY_MIN_PAIRS and low >= READY_LOWER_BOUND,
    )


def shadow_pairs(
    engine: Engine, search: Search, answer_threshold: float, since: datetime, until: datetime
) -> list[ShadowPair]:
    """Each shadow conversation's first draft and the first staff reply that followed it."""
    with Session(engine) as session:
        drafts = session.exec(
            select(
                Decision.conversation_id,
                Decision.message_id,
                Decision.route,
                Decision.issue_type,
                Decision.top_article_id,
            )
            .where(col(Decision.shadow).is_(True))
            .where(col(Decision.route).in_(DRAFT_ROUTES))
            .where(col(Decision.created_at) >= since, col(Decision.created_at) < until)
            .order_by(col(Decision.id))
        ).all()
        first: dict[int, tuple[int, str, str, int | None]] = {}
        for cid, mid, route, issue, article in drafts:
            first.setdefault(cid, (mid or 0, route, issue, article))
        replies = session.exec(
            select(Message.conversation_id, Message.id, Message.text)
            .where(Message.kind == SHADOW_REPLY_KIND)
            .where(col(Message.conversation_id).in_(list(first)))
            .order_by(col(Message.id))
        ).all()
    answered: dict[int, str] = {}
    for cid, mid, text in replies:
        if cid not in answered and (mid or 0) > first[cid][0]:
            answered[cid] = text
    pairs = []
    for cid, text in answered.items():
        _mid, route, issue, article = first[cid]
        matched = article_for_reply(search, text, answer_threshold)
        pairs.append(
            ShadowPair(
                conversation_id=cid,
                issue_type=issue or "unclassified",
                bot_route=route,
                bot_article_id=article,
                human_article_id=matched.article_id if matched else None,
            )
        )
    return pairs


def shadow_report(
    engine: Engine,
    search: Search,
    answer_threshold: float,
    days: float = DEFAULT_DAYS,
    now: datetime | None = None,
) -> ShadowReport:
    """Agreement between shadow drafts and the people who answered, per issue type."""
    until = now or utcnow()
    since = until - timedelta(days=days)
    pairs = shadow_pairs(engine, search, answer_threshold, since, until)
    by_type: dict[str, list[ShadowPair]] = {}
    for pair in pairs:
        by_type.setdefault(pair.issue_type, []).append(pair)
    rows = sorted(
        (agreement(t, ps) for t, ps in by_type.items()), key=lambda a: (-a.pairs, a.issue_type)
    )
    disagreements = [
        {
            "conversation_id": p.conversation_id,
            "issue_type": p.issue_type,
            "bot": p.bot_route,
            "bot_article_id": p.bot_article_id,
            "human_article_id": p.human_article_id,
        }
        for p in pairs
        if not p.agrees
    ][:10]
    return ShadowReport(since, until, agreement("all", pairs), rows, disagreements)
