"""Traffic simulator: weeks of synthetic conversations with outcomes, written to a real database.

Rows are written with simulated timestamps (conversation, messages, decisions, feedback, tickets,
ratings), so every monitoring figure, alert detector and the digest run on them unchanged. A
`Drift` injects a bad KB edit: from its start one topic's answers stop helping (Not helpful, then
a person). The days before it are the quiet control period. Reused by the improvement loop.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.improve.experiment import assign
from bot.models import Conversation, Decision, Feedback, IssueType, Message, Ticket
from bot.monitoring.hours import BusinessHours
from bot.monitoring.version import version_hash
from bot.runtime_settings import SettingsStore
from knowledge.models import Article, ArticleVersion

FALLBACK_TOPICS = (
    "password_reset",
    "billing",
    "refunds",
    "order_status",
    "integrations",
    "data_export",
    "notifications",
    "bug_report",
)
UNANSWERABLE = [  # varied questions the KB cannot answer: no two share more than one word
    f"{adjective} {noun}?"
    for adjective in ("purple", "vintage", "offline", "holiday", "legacy", "quantum")
    for noun in ("kiosk", "fax", "font", "newsletter", "printer", "sticker", "badge", "widget")
]
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 3, 5, 7, 9, 9, 9, 8, 9, 9, 8, 7, 6, 4, 3, 2, 2, 1, 1]


@dataclass
class Drift:
    """A bad KB edit: from `day` on, answers on `topic` mostly fail (Not helpful → person)."""

    topic: str = ""  # "" = the busiest topic
    day: float = 21.0  # days after the start
    failure_rate: float = 0.8


@dataclass
class SimExperiment:
    """Traffic enrolled in an experiment: arms by the real assignment, a known candidate effect."""

    name: str
    share: float = 0.2
    candidate: dict[str, Any] = field(
        default_factory=dict
    )  # SimConfig fields it changes (drift=None: the fix)
    version: str = ""  # the candidate's bot version ("" = a simulated one)


@dataclass
class SimConfig:
    """How much traffic, over how long, with which outcomes (probabilities per conversation)."""

    days: int = 28
    per_day: float = 120.0  # weekday mean; weekends get `weekend_factor` of it
    weekend_factor: float = 0.5
    start: datetime | None = None  # default: `days` days before now, at midnight UTC
    seed: int = 7
    p_unanswerable: float = 0.05
    p_clarify: float = 0.15
    p_escalate: float = 0.08  # hard escalations (asked for a person, handoff types)
    p_not_helpful: float = 0.06
    p_helpful: float = 0.35
    p_repeat: float = 0.04
    p_rating: float = 0.6
    claim_minutes: tuple[float, float] = (3.0, 40.0)  # business minutes to claim a ticket
    drift: Drift | None = field(default_factory=Drift)
    platforms: tuple[str, ...] = ("slack", "discord")
    experiment: SimExperiment | None = None


@dataclass
class SimResult:
    """What was written, and where the drift and control period are in simulated time."""

    start: datetime
    end: datetime
    conversations: int
    decisions: int
    tickets: int
    feedback: int
    drift_topic: str
    drift_at: datetime | None
    drift_article_id: int | None
    control_end: datetime
    versions: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        data = asdict(self)
        for key in ("start", "end", "drift_at", "control_end"):
            data[key] = data[key].isoformat(timespec="seconds") if data[key] else None
        return data


@dataclass
class _Topic:
    name: str
    team: str
    examples: list[str]
    article_id: int | None
    weight: float


def _topics(engine: Engine, rng: random.Random) -> list[_Topic]:
    """In-scope issue types of the database (with an article per KB topic), else a fallback set."""
    with Session(engine) as session:
        rows = session.execute(
            select(IssueType.name, IssueType.team, IssueType.examples, IssueType.topics).where(
                IssueType.in_scope == True  # noqa: E712
            )
        ).all()
        articles = session.execute(select(Article.id, Article.topic)).all()
    by_topic: dict[str, int] = {}
    for article_id, topic in articles:
        by_topic.setdefault(topic, article_id)
    topics = []
    for name, team, examples, kb_topics in sorted(rows):
        first = (kb_topics or "").strip("[]").split(",")[0].strip().strip("'\"")
        try:
            phrasings = [str(e) for e in json.loads(examples or "[]")] or [name]
        except ValueError:
            phrasings = [name]
        topics.append(_Topic(name, team or "support", phrasings, by_topic.get(first), 0.0))
    if not topics:
        topics = [_Topic(n, "support", [f"question about {n}"], None, 0.0) for n in FALLBACK_TOPICS]
    for i, topic in enumerate(topics):
        topic.weight = 1.0 / (1 + i * 0.35) * (0.8 + 0.4 * rng.random())  # a long tail
    return topics


def simulate(engine: Engine, config: SimConfig | None = None) -> SimResult:
    """Write `config.days` of traffic; deterministic for a seed."""
    config = config or SimConfig()
    rng = random.Random(config.seed)
    start = config.start or (datetime.now(UTC) - timedelta(days=config.days)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    end = start + timedelta(days=config.days)
    topics = _topics(engine, rng)
    weights = [t.weight for t in topics]
    drift = config.drift
    drift_topic = ""
    drift_at = None
    if drift is not None:
        drift_topic = drift.topic or max(topics, key=lambda t: t.weight).name
        drift_at = start + timedelta(days=drift.day)
    versions = {"before": version_hash({"sim": config.seed, "kb": 1}), "after": ""}
    versions["after"] = version_hash({"sim": config.seed, "kb": 2}) if drift_at else ""
    hours = BusinessHours.from_settings(SettingsStore(engine).get("business_hours"))
    writer = _Writer(engine)
    drift_article = next((t.article_id for t in topics if t.name == drift_topic), None)
    n = 0
    day = start
    while day < end:
        mean = config.per_day * (config.weekend_factor if day.weekday() >= 5 else 1.0)
        count = _poisson(rng, mean)
        for _ in range(count):
            hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
            at = day + timedelta(hours=hour, seconds=rng.randrange(3600))
            if at >= end:
                continue
            n += 1
            topic = rng.choices(topics, weights)[0]
            drifted = drift_at is not None and at >= drift_at and topic.name == drift_topic
            version = versions["after"] if drift_at and at >= drift_at else versions["before"]
            _conversation(writer, rng, config, hours, n, at, topic, drifted, version)
        day += timedelta(days=1)
    if drift_at is not None and drift_article is not None:
        writer.kb_edit(drift_article, drift_at)
    writer.flush()
    return SimResult(
        start=start,
        end=end,
        conversations=writer.counts["conversation"],
        decisions=writer.counts["decision"],
        tickets=writer.counts["ticket"],
        feedback=writer.counts["feedback"],
        drift_topic=drift_topic,
        drift_at=drift_at,
        drift_article_id=drift_article,
        control_end=drift_at or end,
        versions=versions,
    )


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth for small means, a rounded normal for large ones."""
    if mean > 50:
        return max(0, round(rng.gauss(mean, mean**0.5)))
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _conversation(
    w: _Writer,
    rng: random.Random,
    cfg: SimConfig,
    hours: BusinessHours,
    n: int,
    at: datetime,
    topic: _Topic,
    drifted: bool,
    version: str,
) -> None:
    """One conversation and its outcome."""
    platform = rng.choice(cfg.platforms)
    member = f"SIM{rng.randrange(max(50, int(cfg.per_day * cfg.days / 3)))}"
    cid = w.conversation(platform, f"sim{n}", member, topic.name, at)
    t = at
    exp, arm = cfg.experiment, ""
    if exp is not None:
        arm = assign(w.last_key, exp.name, exp.share)
        if arm == "candidate":
            cfg = replace(cfg, **exp.candidate)
            version = exp.version or version_hash({"sim": cfg.seed, "experiment": exp.name})
    unanswerable = rng.random() < cfg.p_unanswerable
    question = rng.choice(UNANSWERABLE) if unanswerable else rng.choice(topic.examples)

    def decide(route: str, reasons: list[str], article: int | None) -> None:
        nonlocal t
        t += timedelta(seconds=rng.uniform(20, 120))
        w.decision(
            cid,
            platform,
            route,
            "" if unanswerable else topic.name,
            reasons,
            article,
            question,
            t,
            version,
            rng.uniform(150, 900),
            exp.name if exp else "",
            arm,
        )

    if unanswerable:
        decide("escalate", ["no_knowledge_match"], None)
        return w.ticket(
            cid, platform, ["no_knowledge_match"], "support", "", question, t, rng, cfg, hours
        )
    if rng.random() < cfg.p_escalate:
        decide("escalate", ["member_requested_human"], None)
        return w.ticket(
            cid,
            platform,
            ["member_requested_human"],
            topic.team,
            topic.name,
            question,
            t,
            rng,
            cfg,
            hours,
        )
    if rng.random() < cfg.p_clarify:
        decide("clarify", ["ambiguous"], None)
        if rng.random() < 0.3:
            return None  # the member never came back
    decide("answer", [], topic.article_id)
    if drifted and rng.random() < (cfg.drift.failure_rate if cfg.drift else 0):
        w.feedback(cid, "not_helpful", None, t + timedelta(minutes=rng.uniform(1, 10)))
        t += timedelta(minutes=10)
        decide("escalate", ["not_helpful"], topic.article_id)
        return w.ticket(
            cid, platform, ["not_helpful"], topic.team, topic.name, question, t, rng, cfg, hours
        )
    roll = rng.random()
    if roll < cfg.p_not_helpful:
        w.feedback(cid, "not_helpful", None, t + timedelta(minutes=rng.uniform(1, 10)))
        t += timedelta(minutes=10)
        decide("escalate", ["not_helpful"], topic.article_id)
        return w.ticket(
            cid, platform, ["not_helpful"], topic.team, topic.name, question, t, rng, cfg, hours
        )
    if roll < cfg.p_not_helpful + cfg.p_helpful:
        w.feedback(cid, "helpful", None, t + timedelta(minutes=rng.uniform(1, 10)))
    if rng.random() < cfg.p_repeat:
        again = at + timedelta(days=rng.uniform(0.5, 6))
        if again < at + timedelta(days=cfg.days):
            rid = w.conversation(platform, f"sim{n}r", member, topic.name, again)
            w.decision(
                rid,
                platform,
                "answer",
                topic.name,
                [],
                topic.article_id,
                question,
                again + timedelta(seconds=30),
                version,
                300.0,
            )
    return None


class _Writer:
    """Buffers rows and bulk-inserts them (ids assigned up front, so one pass is enough)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.rows: dict[str, list[dict[str, Any]]] = {
            "conversation": [],
            "message": [],
            "decision": [],
            "feedback": [],
            "ticket": [],
        }
        self.counts = dict.fromkeys(self.rows, 0)
        self.last_key = ""  # of the conversation written last (experiment assignment hashes it)
        with Session(engine) as session:
            self.next_ids = {
                name: (
                    session.execute(
                        select(_TABLES[name].id).order_by(_TABLES[name].id.desc()).limit(1)
                    ).scalar()
                    or 0
                )
                + 1  # type: ignore[attr-defined]
                for name in self.rows
            }

    def _add(self, table: str, row: dict[str, Any]) -> int:
        row_id = self.next_ids[table]
        self.next_ids[table] += 1
        self.rows[table].append({"id": row_id, **row})
        self.counts[table] += 1
        if len(self.rows[table]) >= 5000:
            self.flush()
        return row_id

    def conversation(
        self, platform: str, thread: str, member: str, issue: str, at: datetime
    ) -> int:
        channel = "CSIM" if platform == "slack" else "900100"
        thread = f"{thread}-{self.next_ids['conversation']}"  # unique across repeated runs
        self.last_key = f"{platform}:{channel}:{thread}"
        return self._add(
            "conversation",
            {
                "key": self.last_key,
                "platform": platform,
                "channel_id": channel,
                "thread_id": thread,
                "member_id": member,
                "member_name": member,
                "status": "answered",
                "issue_type": issue,
                "created_at": at,
                "updated_at": at,
            },
        )

    def decision(
        self,
        cid: int,
        platform: str,
        route: str,
        issue: str,
        reasons: list[str],
        article: int | None,
        question: str,
        at: datetime,
        version: str,
        latency: float,
        experiment: str = "",
        arm: str = "",
    ) -> None:
        mid = self._add(
            "message",
            {
                "conversation_id": cid,
                "role": "member",
                "author_id": "",
                "author_name": "",
                "text": question,
                "platform_message_id": "",
                "created_at": at,
            },
        )
        self._add(
            "decision",
            {
                "conversation_id": cid,
                "message_id": mid,
                "platform": platform,
                "channel_id": "CSIM" if platform == "slack" else "900100",
                "route": route,
                "issue_type": issue,
                "confidence": 0.8 if route == "answer" else 0.4,
                "retrieval_score": 0.7 if article else 0.2,
                "reasons": json.dumps(reasons),
                "top_article_id": article,
                "question": question,
                "latency_ms": latency,
                "shadow": False,
                "bot_version": version,
                "experiment": experiment,
                "arm": arm,
                "member_tier": "standard",
                "created_at": at,
            },
        )

    def feedback(
        self, cid: int, kind: str, ticket: int | None, at: datetime, rating: int | None = None
    ) -> None:
        self._add(
            "feedback",
            {
                "conversation_id": cid,
                "ticket_id": ticket,
                "kind": kind,
                "rating": rating,
                "user_id": "",
                "created_at": at,
            },
        )

    def ticket(
        self,
        cid: int,
        platform: str,
        reasons: list[str],
        team: str,
        issue: str,
        question: str,
        at: datetime,
        rng: random.Random,
        cfg: SimConfig,
        hours: BusinessHours,
    ) -> None:
        claim = hours.add_business_seconds(at, 60 * rng.uniform(*cfg.claim_minutes))
        reply = claim + timedelta(minutes=rng.uniform(1, 5))
        resolved = reply + timedelta(minutes=rng.uniform(5, 60))
        tid = self._add(
            "ticket",
            {
                "conversation_id": cid,
                "platform": platform,
                "status": "resolved",
                "reasons": json.dumps(reasons),
                "issue_type": issue,
                "team": team,
                "question": question,
                "summary": question,
                "severity": "normal",
                "created_at": at,
                "claimed_by": "SSTAFF",
                "claimed_at": claim,
                "first_staff_reply_at": reply,
                "resolved_by": "SSTAFF",
                "resolved_at": resolved,
                "member_channel_id": "",
                "member_thread_id": "",
            },
        )
        if rng.random() < cfg.p_rating:
            rating = rng.choices([1, 2, 3, 4, 5], [1, 1, 2, 5, 8])[0]
            self.feedback(cid, "rating", tid, resolved + timedelta(minutes=2), rating)

    def kb_edit(self, article_id: int, at: datetime) -> None:
        """Record the bad edit as a new article version at the drift time (evidence for alerts)."""
        with Session(self.engine) as session:
            article = session.get(Article, article_id)
            if article is None:
                return
            article.version += 1
            article.updated_at = at
            session.add(article)
            session.add(
                ArticleVersion(
                    article_id=article_id,
                    version=article.version,
                    title=article.title,
                    body=article.body + "\n\n(simulated bad edit)",
                    url=article.url,
                    topic=article.topic,
                    edited_by="simulator",
                    action="edit",
                    created_at=at,
                )
            )
            session.commit()

    def flush(self) -> None:
        with self.engine.begin() as conn:
            for name in ("conversation", "message", "decision", "ticket", "feedback"):
                if self.rows[name]:
                    conn.execute(insert(_TABLES[name]), self.rows[name])
                    self.rows[name] = []


_TABLES: dict[str, Any] = {
    "conversation": Conversation,
    "message": Message,
    "decision": Decision,
    "feedback": Feedback,
    "ticket": Ticket,
}
