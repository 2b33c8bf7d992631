"""SQL tables for knowledge: articles are the source of truth; LanceDB only mirrors them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Timezone-aware now, stored as UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Databases may hand back naive UTC datetimes; make them aware (and UTC) so they compare."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Article(SQLModel, table=True):
    """A help-center article; every edit bumps `version` and keeps the old text in ArticleVersion."""

    id: int | None = Field(default=None, primary_key=True)
    title: str
    body: str
    url: str = ""
    topic: str = Field(default="general", index=True)
    tags: str = ""  # comma-separated
    owner: str = ""
    source: str = ""  # file path, URL or "candidate:ID" it came from
    external_id: str = Field(default="", index=True)  # id in the source (FAQ id, file slug)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ArticleVersion(SQLModel, table=True):
    """An immutable snapshot of an article at one version, for history and revert."""

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(index=True)
    version: int
    title: str
    body: str
    url: str = ""
    topic: str = "general"
    tags: str = ""
    edited_by: str = ""
    action: str = "create"  # create | edit | revert | remove
    created_at: datetime = Field(default_factory=utcnow)


class KbCandidate(SQLModel, table=True):
    """A staff answer from a resolved escalation, waiting for review before it becomes knowledge."""

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, index=True)
    question: str
    answer: str
    topic: str = "general"
    staff_id: str = ""
    status: str = Field(default="pending", index=True)  # pending | approved | rejected
    article_id: int | None = None
    edits: int | None = None  # the article this replaces when approved (None: a new article)
    created_at: datetime = Field(default_factory=utcnow)
    reviewed_by: str = ""
    reviewed_at: datetime | None = None
