"""SQLModel tables for conversations, decisions, tickets, feedback, settings and audit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from knowledge.models import utcnow

MESSAGE_PLATFORM_ID_INDEX = "uq_message_platform_id"


class IssueType(SQLModel, table=True):
    """An issue type the bot knows: in scope (answer or hand off) or explicitly out of scope."""

    name: str = Field(primary_key=True)
    description: str = ""
    examples: str = "[]"  # JSON list of example phrasings
    resolution: str = ""  # the resolution path, in words
    handoff: bool = False  # resolution needs a person even when the KB matches
    in_scope: bool = True
    escalate: bool = (
        False  # out of scope, but staff want a ticket anyway (scope file `escalate: true`)
    )
    team: str = ""  # team name; routes map teams/issue types to staff channels
    topics: str = ""  # comma-separated KB topics that answer it
    updated_at: datetime = Field(default_factory=utcnow)


class Conversation(SQLModel, table=True):
    """One platform thread with one member (`key`: platform, channel and thread in one string)."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True, unique=True)
    platform: str
    channel_id: str
    thread_id: str
    member_id: str = Field(index=True)
    member_name: str = ""
    status: str = Field(default="open", index=True)  # open | answered | escalated | resolved
    issue_type: str = ""
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)


class ConversationState(SQLModel, table=True):
    """What the graph remembers between a conversation's turns: one row, rewritten each turn.

    Written in the same transaction as the turn's messages and decision (bot.service), so the
    memory and the record never disagree after a crash; graph.state.MEMORY_KEYS as JSON.
    """

    conversation_id: int = Field(primary_key=True)
    state: str = "{}"
    updated_at: datetime = Field(default_factory=utcnow)


class Message(SQLModel, table=True):
    """Every message in a conversation: member, bot, staff (relayed) and internal notes."""

    # One row per platform message and thread, whichever process records it (a second insert
    # fails instead of answering twice); rows without a platform id (bot turns, buttons) are free.
    __table_args__ = (
        Index(
            MESSAGE_PLATFORM_ID_INDEX,
            "conversation_id",
            "platform_message_id",
            unique=True,
            sqlite_where=text("platform_message_id != ''"),
            postgresql_where=text("platform_message_id != ''"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(index=True)
    role: str  # member | bot | staff | note | system
    author_id: str = ""
    author_name: str = ""
    text: str
    kind: str = "text"  # member turns: a graph.turns.TurnKind (typed text, option picked, …)
    platform_message_id: str = Field(default="", index=True)
    created_at: datetime = Field(default_factory=utcnow)


class Decision(SQLModel, table=True):
    """What the graph decided for one member message, and why."""

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(index=True)
    message_id: int | None = None
    platform: str = ""
    channel_id: str = ""
    route: str
    issue_type: str = ""
    confidence: float = 0.0
    retrieval_score: float = 0.0
    reasons: str = "[]"  # JSON list
    top_article_id: int | None = None
    question: str = ""
    latency_ms: float = 0.0
    language: str = ""  # the member's language as detected (ISO 639-1)
    shadow: bool = False
    bot_version: str = ""  # short hash of the effective configuration (bot.monitoring.version)
    member_tier: str = ""  # "vip", a role tier from settings, or "" (standard)
    hits: str = "[]"  # JSON: the retrieved articles [{article_id, title, score}], for the trace
    # the running experiment's name when the conversation is enrolled, and its arm (baseline |
    # candidate, bot.experiments); "" outside one. Server defaults keep raw inserts of older rows.
    experiment: str = Field(default="", sa_column_kwargs={"server_default": ""})
    arm: str = Field(default="", sa_column_kwargs={"server_default": ""})
    created_at: datetime = Field(default_factory=utcnow, index=True)


class Ticket(SQLModel, table=True):
    """An escalation: the full handoff context, its staff thread, and its lifecycle."""

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(index=True)
    platform: str
    status: str = Field(default="open", index=True)  # open | claimed | resolved | handed_back
    reasons: str = "[]"
    issue_type: str = ""
    confidence: float = 0.0
    severity: str = "normal"  # low | normal | high | urgent
    sentiment: str = "neutral"
    summary: str = ""
    question: str = ""
    transcript: str = "[]"  # JSON list of {role, text, author}
    member: str = "{}"  # JSON {user_id, display_name, tier}
    articles: str = "[]"  # JSON list of {article_id, title, url, score}
    attempted_answer: str = ""
    team: str = ""
    staff_channel_id: str = ""
    staff_thread_id: str = ""
    member_channel_id: str = ""
    member_thread_id: str = ""
    permalink: str = ""
    claimed_by: str = ""
    claimed_at: datetime | None = None
    first_staff_reply_at: datetime | None = None
    resolved_by: str = ""
    resolved_at: datetime | None = None
    extra: str = "{}"  # JSON: LLM sentiment card, suggested reply, etc.
    created_at: datetime = Field(default_factory=utcnow, index=True)


class Feedback(SQLModel, table=True):
    """A member's verdict: helpful / not helpful on an answer, or a 1-5 rating after resolution."""

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int | None = Field(default=None, index=True)
    decision_id: int | None = None
    ticket_id: int | None = None
    kind: str  # helpful | not_helpful | rating
    rating: int | None = None
    user_id: str = ""
    created_at: datetime = Field(default_factory=utcnow, index=True)


class Setting(SQLModel, table=True):
    """A runtime setting admins change from chat; value is JSON."""

    key: str = Field(primary_key=True)
    value: str
    updated_at: datetime = Field(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    """Who changed what, with before and after, so every change can be reviewed and reversed."""

    id: int | None = Field(default=None, primary_key=True)
    actor: str
    platform: str = ""
    action: str
    target: str = ""
    before: str = "null"
    after: str = "null"
    created_at: datetime = Field(default_factory=utcnow, index=True)


class OutboxItem(SQLModel, table=True):
    """A platform side effect that failed; kept and retried so nothing is dropped."""

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    kind: str  # escalation_card | relay_to_member | relay_to_staff | desk_outcome | post | alert
    payload: str  # JSON
    status: str = Field(default="pending", index=True)  # pending | done | dead | dropped
    thread_key: str = Field(default="", index=True)  # items of one thread go out in id order
    attempts: int = 0
    last_error: str = ""
    next_attempt_at: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class EscalationStep(SQLModel, table=True):
    """One finished step of an escalation, so a restart knows exactly what is left to do."""

    __table_args__ = (UniqueConstraint("ticket_id", "step"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(index=True)
    platform: str = ""
    step: str  # decided | card_intent | card_recorded | transcript_posted | member_told
    detail: str = "{}"  # JSON: where the card went, etc.
    created_at: datetime = Field(default_factory=utcnow)


class LlmCall(SQLModel, table=True):
    """One call to a language model: which, what for, cost and outcome."""

    id: int | None = Field(default=None, primary_key=True)
    model: str
    purpose: str  # answer | clarify | summary | sentiment | assist | classify
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    ok: bool = True
    error: str = ""
    conversation_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)


class AlertEvent(SQLModel, table=True):
    """One alert a detector raised: kept for dedup, rate limits, evidence and the digest."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True)  # kind:subject — the dedup key
    kind: str
    subject: str = ""
    severity: str = "warning"  # info | warning | critical
    title: str = ""
    text: str = ""
    evidence: str = "{}"  # JSON: the numbers and ids behind the alert
    oncall: bool = False  # ping the on-call role
    posted_to: str = ""  # comma-separated platforms that delivered it
    created_at: datetime = Field(default_factory=utcnow, index=True)


class AlertDelivery(SQLModel, table=True):
    """One platform's delivery of one alert: claimed by one process (unique), posted once."""

    __table_args__ = (
        UniqueConstraint("event_id", "platform", name="uq_alertdelivery_event_platform"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(index=True)
    platform: str
    status: str = "sending"  # sending | posted | failed | dead | duplicate
    attempts: int = 0
    error: str = ""
    claimed_at: datetime = Field(default_factory=utcnow)
    posted_at: datetime | None = None


class InboxEvent(SQLModel, table=True):
    """An inbound platform event, stored before it is acknowledged so a crash never loses it."""

    __table_args__ = (UniqueConstraint("platform", "event_key", name="uq_inbox_platform_key"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    event_key: str  # the platform's own id: message ts / event id / interaction id
    kind: str  # message | action | command | form | ...
    lane: str = Field(default="", index=True)  # events sharing a lane (a thread) run in order
    payload: str  # JSON, exactly what the adapter needs to do the work later
    status: str = Field(default="received", index=True)  # received | processing | done | dead
    attempts: int = 0  # claims so far; also the compare-and-set version of a claim
    lease_until: datetime | None = None  # a claim is hidden from other workers until then
    owner: str = ""  # which process (pid-random) holds the claim, for the log and status
    next_attempt_at: datetime = Field(default_factory=utcnow)
    result: str = ""  # JSON the adapter saves mid-way (the reply), so a resume re-delivers it
    error: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ReviewTag(SQLModel, table=True):
    """A reviewer's verdict on one conversation: the root cause, a note and an optional fix."""

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(index=True)
    decision_id: int | None = None  # the decision the verdict is about (the last bot answer)
    cause: str = Field(index=True)  # bot.improve.review.CAUSES, or "skipped"
    note: str = ""
    fix: str = "{}"  # JSON, e.g. {"article_id": 7} = the article that should have answered
    queue_reason: str = ""  # why the queue served it (not_helpful, low_margin, ...)
    reviewer: str = ""
    created_at: datetime = Field(default_factory=utcnow, index=True)


class Experiment(SQLModel, table=True):
    """A staged rollout: a candidate change served to a share of conversations (or channels)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    status: str = Field(default="running", index=True)  # running | promoted | stopped
    change: str = "{}"  # JSON bot.experiments.CandidateChange: {"thresholds": {}, "persona": {}}
    share: float = 0.2  # of the eligible conversations that get the candidate
    channels: str = "[]"  # JSON channel ids; [] = every channel is eligible
    started_by: str = ""
    started_at: datetime = Field(default_factory=utcnow)
    ended_by: str = ""
    ended_at: datetime | None = None


class ClassifierExample(SQLModel, table=True):
    """A labelled phrasing from real work (a corrected issue type, an approved phrasing): trained
    on, or held back to measure the classifier (the data flywheel's learning curve)."""

    id: int | None = Field(default=None, primary_key=True)
    text: str
    issue_type: str = Field(index=True)
    source: str = ""  # corrected_type | approved_phrasing
    ref: str = ""  # where it came from, e.g. "ticket #12"
    held_back: bool = False  # measured on, never trained on
    created_at: datetime = Field(default_factory=utcnow, index=True)


class ClassifierPoint(SQLModel, table=True):
    """One point of the learning curve: after a retrain, accuracy on the held-back cases."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    examples: int = 0  # training phrasings of the retrained classifier
    learned: int = 0  # of those, added from real work (ClassifierExample rows trained on)
    held_back: int = 0  # cases measured on
    correct: int = 0
    fingerprint: str = ""
