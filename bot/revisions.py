"""The change stamps a message checks (knowledge base, scope), read in one query per message.

The bot version, the domain model and the classifier each ask whether articles or issue types
changed. Each used to run its own aggregate; inside `one_read_per_message` they share one read,
taken when the message starts, so every process still sees every change on its next message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.models import IssueType
from knowledge.models import Article


@dataclass(frozen=True)
class Revisions:
    """Article count, summed versions and latest edit; issue-type count and latest edit."""

    articles: int
    article_versions: int
    articles_updated: datetime | None
    issue_types: int
    issue_types_updated: datetime | None


_current: ContextVar[tuple[Engine, Revisions] | None] = ContextVar("revisions", default=None)


def _query(engine: Engine) -> Revisions:
    """Both tables' aggregates as scalar subqueries of one SELECT."""
    stmt = select(
        select(func.count()).select_from(Article).scalar_subquery(),
        select(func.coalesce(func.sum(Article.version), 0)).scalar_subquery(),
        select(func.max(Article.updated_at)).scalar_subquery(),
        select(func.count()).select_from(IssueType).scalar_subquery(),
        select(func.max(IssueType.updated_at)).scalar_subquery(),
    )
    with engine.connect() as conn:
        row = conn.execute(stmt).one()
    return Revisions(int(row[0] or 0), int(row[1] or 0), row[2], int(row[3] or 0), row[4])


def read(engine: Engine) -> Revisions:
    """This message's revisions when inside one_read_per_message, else read now."""
    current = _current.get()
    if current is not None and current[0] is engine:
        return current[1]
    return _query(engine)


@contextmanager
def one_read_per_message(engine: Engine) -> Iterator[Revisions]:
    """Read the revisions once; every `read` on this engine inside the block reuses them."""
    revisions = _query(engine)
    token = _current.set((engine, revisions))
    try:
        yield revisions
    finally:
        _current.reset(token)
