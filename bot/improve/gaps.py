"""Knowledge gaps: what members ask that the knowledge base does not answer well, and an
extractive article draft from the staff answers in those tickets (a KB candidate, not published)."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.improve.review import staff_replies
from bot.models import AuditEntry, Decision, IssueType, Ticket
from bot.monitoring.facts import ConvFacts, load_window
from knowledge.models import Article, KbCandidate, utcnow

if TYPE_CHECKING:  # the LLM stack loads only in LLM mode
    from bot.llm.setup import LlmRuntime

UNANSWERED = ("no_knowledge_match", "low_confidence", "clarify_limit_reached")
CLUSTER_SIMILARITY = 0.35  # mean pairwise cosine inside a cluster (MiniLM unit vectors)
MAX_QUESTIONS = 2000  # distinct questions clustered (the newest); linkage is quadratic
MAX_CLUSTERS = 20
MIN_ANSWERS = 3  # an article needs this many answers before its Not-helpful rate is ranked
DRAFT_SENTENCES = 6
DEFAULT_DAYS = 30


class GapsError(ValueError):
    """A gaps action that cannot be done, with a message fit to show staff."""


@dataclass
class Cluster:
    """Questions that mean the same thing and went unanswered or got Not helpful."""

    number: int
    count: int
    unanswered: int
    not_helpful: int
    examples: list[str]
    conversation_ids: list[int]
    ticket_ids: list[int]
    issue_type: str
    nearest_article: dict[str, Any] | None  # {article_id, title, score}
    draft: str = ""  # the one command that drafts an article from this cluster's staff answers

    @property
    def key(self) -> int:
        """A stable name for the cluster: its oldest conversation, which stays in it as it grows
        (its number can change between listing and drafting; this does not)."""
        return min(self.conversation_ids)


@dataclass
class GapsReport:
    """Everything `gaps` shows."""

    since: datetime
    until: datetime
    questions: int
    clusters: list[Cluster] = field(default_factory=list)
    unused_articles: list[dict[str, Any]] = field(default_factory=list)
    uncovered_issue_types: list[str] = field(default_factory=list)
    worst_articles: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        data = asdict(self)
        data["since"] = self.since.isoformat(timespec="seconds")
        data["until"] = self.until.isoformat(timespec="seconds")
        return data


def is_gap(fact: ConvFacts) -> bool:
    """The bot could not answer it, or the member said its answer did not help."""
    unanswered = fact.escalated and any(r in UNANSWERED for r in fact.reasons)
    return bool(unanswered or fact.not_helpful)


def gaps_report(
    kb: Any, days: float = DEFAULT_DAYS, now: datetime | None = None, embedder: Any = None
) -> GapsReport:
    """Clusters of unanswered questions, unused articles, uncovered issue types, worst articles."""
    until = now or utcnow()
    since = until - timedelta(days=days)
    engine = kb.engine
    facts = load_window(engine, since, until).facts
    gap_facts = [f for f in facts if is_gap(f) and f.question.strip()]
    report = GapsReport(since, until, len(gap_facts))
    report.clusters = _clusters(kb, embedder or kb.embedder, gap_facts)
    report.unused_articles = unused_articles(engine, since)
    report.uncovered_issue_types = uncovered_issue_types(engine)
    report.worst_articles = worst_articles(facts)
    titles = article_titles(engine, [r["article_id"] for r in report.worst_articles])
    for row in report.worst_articles:
        row["title"] = titles.get(row["article_id"], "(removed)")
    return report


def cluster_vectors(vectors: np.ndarray, threshold: float = CLUSTER_SIMILARITY) -> list[list[int]]:
    """Average-linkage clusters of unit vectors: each cluster's mean pairwise cosine >= threshold.

    Average linkage does not depend on the order questions arrived in, and MiniLM paraphrases
    sit around 0.4-0.8 cosine (unrelated questions near 0.1), so 0.35 groups rephrasings.
    """
    groups = [[i] for i in range(len(vectors))]
    if len(groups) <= 1:
        return groups
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    distance = 1.0 - np.clip(unit @ unit.T, -1.0, 1.0)  # cosine distance
    np.fill_diagonal(distance, np.inf)
    sizes = np.ones(len(groups))
    limit = 1.0 - threshold
    while True:
        i, j = np.unravel_index(int(np.argmin(distance)), distance.shape)
        if distance[i, j] > limit:
            break
        i, j = min(i, j), max(i, j)
        merged = (sizes[i] * distance[i] + sizes[j] * distance[j]) / (sizes[i] + sizes[j])
        distance[i], distance[:, i] = merged, merged  # average linkage (Lance-Williams)
        distance[i, i] = np.inf
        distance[j], distance[:, j] = np.inf, np.inf
        sizes[i] += sizes[j]
        groups[i] += groups[j]
        groups[j] = []
    return sorted((sorted(g) for g in groups if g), key=lambda g: g[0])


def _clusters(kb: Any, embedder: Any, facts: list[ConvFacts]) -> list[Cluster]:
    if not facts:
        return []
    facts = sorted(facts, key=lambda f: f.id)
    newest = sorted({f.question.strip(): f.id for f in facts}.items(), key=lambda kv: -kv[1])
    texts = sorted(text for text, _ in newest[:MAX_QUESTIONS])
    facts = [f for f in facts if f.question.strip() in set(texts)]
    vectors = np.asarray(embedder.embed(texts), dtype=np.float64)
    index = {t: i for i, t in enumerate(texts)}
    groups = cluster_vectors(vectors)
    by_text: dict[str, list[ConvFacts]] = defaultdict(list)
    for f in facts:
        by_text[f.question.strip()].append(f)
    tickets = _tickets(kb.engine, [f.id for f in facts])
    clusters = []
    for group in groups:
        group_texts = [texts[i] for i in group]
        members = [f for t in group_texts for f in by_text[t]]
        centroid = vectors[group].mean(axis=0)
        central = sorted(group_texts, key=lambda t: -float(vectors[index[t]] @ centroid))
        hits = kb.search(central[0], k=1)
        issues = Counter(f.issue_type for f in members if f.issue_type != "unclassified")
        ids = sorted(f.id for f in members)
        clusters.append(
            Cluster(
                number=0,
                count=len(members),
                unanswered=sum(1 for f in members if not f.not_helpful),
                not_helpful=sum(1 for f in members if f.not_helpful),
                examples=central[:3],
                conversation_ids=ids,
                ticket_ids=sorted(t for cid in ids for t in tickets.get(cid, [])),
                issue_type=issues.most_common(1)[0][0] if issues else "",
                nearest_article=(
                    {
                        "article_id": hits[0].article_id,
                        "title": hits[0].title,
                        "score": round(hits[0].score, 3),
                    }
                    if hits
                    else None
                ),
            )
        )
    clusters.sort(key=lambda c: (-c.count, c.conversation_ids[0]))
    for n, cluster in enumerate(clusters[:MAX_CLUSTERS], 1):
        cluster.number = n
        cluster.draft = f"gaps draft {n}"
    return clusters[:MAX_CLUSTERS]


def _tickets(engine: Engine, ids: list[int]) -> dict[int, list[int]]:
    if not ids:
        return {}
    out: dict[int, list[int]] = defaultdict(list)
    with Session(engine) as session:
        for cid, tid in session.exec(
            select(Ticket.conversation_id, Ticket.id).where(col(Ticket.conversation_id).in_(ids))
        ):
            out[cid].append(tid)
    return out


def article_titles(engine: Engine, ids: list[int]) -> dict[int, str]:
    """Titles of these articles (removed ones are missing)."""
    if not ids:
        return {}
    with Session(engine) as session:
        rows = session.exec(select(Article.id, Article.title).where(col(Article.id).in_(ids)))
        return {int(i): t for i, t in rows}


def retrieved_articles(engine: Engine, since: datetime) -> set[int]:
    """Articles that appeared among the retrieved hits (or as the top hit) of any decision."""
    seen: set[int] = set()
    with Session(engine) as session:
        rows = session.exec(
            select(Decision.top_article_id, Decision.hits).where(col(Decision.created_at) >= since)
        )
        for top, hits in rows:
            if top:
                seen.add(int(top))
            if hits and hits != "[]":
                try:
                    seen.update(
                        int(h["article_id"]) for h in json.loads(hits) if h.get("article_id")
                    )
                except (ValueError, TypeError, KeyError):
                    continue
    return seen


def unused_articles(engine: Engine, since: datetime) -> list[dict[str, Any]]:
    """Articles older than the window that no decision retrieved in it."""
    seen = retrieved_articles(engine, since)
    with Session(engine) as session:
        rows = session.exec(
            select(Article.id, Article.title, Article.topic)
            .where(col(Article.created_at) < since)
            .order_by(col(Article.id))
        ).all()
    return [{"article_id": a, "title": t, "topic": p} for a, t, p in rows if a not in seen]


def uncovered_issue_types(engine: Engine) -> list[str]:
    """In-scope issue types none of whose KB topics has an article."""
    with Session(engine) as session:
        topics = set(session.exec(select(Article.topic).distinct()))
        types = session.exec(
            select(IssueType.name, IssueType.topics).where(IssueType.in_scope == True)  # noqa: E712
        ).all()
    out = []
    for name, wanted in types:
        names = {t.strip() for t in re.split(r"[,\[\]'\"]", wanted or "") if t.strip()}
        if not (names | {name}) & topics:
            out.append(name)
    return sorted(out)


def worst_articles(facts: list[ConvFacts]) -> list[dict[str, Any]]:
    """Articles by Not-helpful rate of the conversations they answered (first answer counts)."""
    answers: Counter = Counter()
    bad: Counter = Counter()
    for f in facts:
        if f.answered and f.article:
            answers[f.article] += 1
            bad[f.article] += bool(f.not_helpful)
    rows = [
        {
            "article_id": int(a.lstrip("#")),
            "answers": n,
            "not_helpful": bad[a],
            "rate": round(bad[a] / n, 3),
        }
        for a, n in answers.items()
        if n >= MIN_ANSWERS and bad[a]
    ]
    rows.sort(key=lambda r: (-r["rate"], -r["answers"], r["article_id"]))
    return rows[:10]


# ---- drafting -------------------------------------------------------------------------------
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_GREETING = re.compile(
    r"^(hi|hello|hey|thanks|thank you|cheers|sorry|no worries|you're welcome)\b[^.!?]*[.!?]?$",
    re.IGNORECASE,
)


@dataclass
class Draft:
    """An article drafted from staff answers, stored as a KB candidate."""

    title: str
    body: str
    topic: str
    ticket_ids: list[int]
    candidate_id: int | None = None
    model: str = "extractive"  # or the LLM's name when the model wrote it
    note: str = ""  # why the LLM draft was not used, when it was not


def draft_from_cluster(
    kb: Any, cluster: Cluster, embedder: Any = None, llm: LlmRuntime | None = None
) -> Draft:
    """The LLM's article citing the tickets when one is configured, else (or when it fails or
    cites tickets it was not given) the staff sentences closest to the cluster's questions."""
    replies = staff_replies(kb.engine, cluster.conversation_ids)
    if not replies:
        raise GapsError(
            f"Gap {cluster.number} has no staff answers yet (tickets: "
            f"{', '.join(f'#{t}' for t in cluster.ticket_ids) or 'none'}); answer one first."
        )
    if llm is None:
        return _extractive(kb, cluster, replies, embedder)
    from bot.llm.recorder import describe

    try:
        written = _written(kb.engine, cluster, replies, llm)
    except Exception as exc:  # timeout, provider error, unsupported or malformed draft
        draft = _extractive(kb, cluster, replies, embedder)
        draft.note = f"The LLM draft was not used ({describe(exc)}); this is the extractive draft."
        return draft
    tickets = ", ".join(f"#{t}" for t in written.cited)
    body = f"{written.body}\n\n_Written by {llm.name} from the staff answers in tickets {tickets}._"
    return Draft(
        written.title, body, cluster.issue_type or "general", cluster.ticket_ids, model=llm.name
    )


def _written(kb_engine: Engine, cluster: Cluster, replies: dict[int, str], llm: Any) -> Any:
    """Ask the model for the article from (ticket id, question, staff answer) of each ticket."""
    from bot.llm.gap_writer import write_gap_article

    by_conv = _tickets(kb_engine, sorted(replies))
    with Session(kb_engine) as session:
        questions = {
            t.id: t.question
            for t in session.exec(
                select(Ticket).where(col(Ticket.conversation_id).in_(sorted(replies)))
            )
        }
    tickets = [
        (min(by_conv[cid]), questions.get(min(by_conv[cid])) or "", replies[cid])
        for cid in sorted(replies)
        if by_conv.get(cid)
    ]
    if not tickets:
        raise GapsError("no staff answer belongs to a ticket")
    return write_gap_article(llm, cluster.examples, tickets)


def _extractive(kb: Any, cluster: Cluster, replies: dict[int, str], embedder: Any) -> Draft:
    """Pick the staff sentences closest to the cluster's questions, most central first."""
    embedder = embedder or kb.embedder
    sentences: list[str] = []
    for cid in sorted(replies):
        for part in _SENTENCE.split(replies[cid]):
            part = part.strip()
            if len(part) > 12 and not _GREETING.match(part) and part not in sentences:
                sentences.append(part)
    if not sentences:
        raise GapsError(f"The staff answers in gap {cluster.number} are only greetings.")
    question_vec = np.asarray(embedder.embed(cluster.examples), dtype=np.float64).mean(axis=0)
    vecs = np.asarray(embedder.embed(sentences), dtype=np.float64)
    centrality = (vecs @ vecs.mean(axis=0)) if len(sentences) > 1 else np.ones(1)
    score = vecs @ question_vec + centrality
    chosen: list[int] = []
    for i in np.argsort(-score):
        if all(float(vecs[i] @ vecs[j]) < 0.9 for j in chosen):
            chosen.append(int(i))
        if len(chosen) == DRAFT_SENTENCES:
            break
    chosen.sort()  # keep the staff's own order
    tickets = ", ".join(f"#{t}" for t in cluster.ticket_ids)
    body = " ".join(sentences[i] for i in chosen)
    body += f"\n\n_Drafted from the staff answers in tickets {tickets}._"
    title = cluster.examples[0].rstrip("?.! ")
    title = title[:1].upper() + title[1:]
    return Draft(title, body, cluster.issue_type or "general", cluster.ticket_ids)


def find_cluster(report: GapsReport, number: int, key: int | None, days: float) -> Cluster:
    """Gap N of the report, or (with `key`) the cluster that holds that conversation now.

    A key is what a Draft button carries: the list may have changed since it was shown, so the
    press drafts the same questions the admin saw (whatever their number is now), or says the
    list changed when they are no longer a gap in the window.
    """
    if key is None:
        cluster = next((c for c in report.clusters if c.number == number), None)
        if cluster is None:
            raise GapsError(
                f"There is no gap {number} in the last {days:g} days "
                f"({len(report.clusters)} found; see `gaps`)."
            )
        return cluster
    cluster = next((c for c in report.clusters if key in c.conversation_ids), None)
    if cluster is None:
        raise GapsError(
            f"The gaps list changed since you saw it: the questions of gap {number} are no "
            f"longer among the gaps of the last {days:g} days (answered since, or out of the "
            "window). Nothing was drafted; run `gaps` again."
        )
    return cluster


def pending_draft(engine: Engine, key: int) -> int | None:
    """The candidate the latest keyed draft of this cluster made, while it waits for review.

    A Draft button pressed twice (a double click, a second admin) then points at that candidate
    instead of queueing a duplicate; once it is approved or rejected, a press drafts again.
    """
    with Session(engine) as session:
        rows = session.exec(
            select(AuditEntry.target, AuditEntry.after)
            .where(AuditEntry.action == "gaps draft")
            .order_by(col(AuditEntry.id).desc())
            .limit(500)
        )
        for target, after in rows:
            try:
                data = json.loads(after or "null")
                candidate_id = int(target.removeprefix("candidate:"))
            except ValueError:
                continue
            if isinstance(data, dict) and data.get("key") == key:
                cand = session.get(KbCandidate, candidate_id)
                return candidate_id if cand is not None and cand.status == "pending" else None
    return None


def draft_gap(
    kb: Any,
    number: int,
    days: float = DEFAULT_DAYS,
    actor: str = "",
    llm: LlmRuntime | None = None,
    embedder: Any = None,
    key: int | None = None,
) -> Draft:
    """Draft gap N of the current report (or the cluster holding conversation `key`) and queue
    it as a KB candidate for review."""
    report = gaps_report(kb, days, embedder=embedder)
    cluster = find_cluster(report, number, key, days)
    draft = draft_from_cluster(kb, cluster, embedder, llm)
    if cluster.number != number:
        moved = (
            f"Gap {number} of the list you saw is gap {cluster.number} now; "
            "this is the draft of the same questions."
        )
        draft.note = f"{moved} {draft.note}".strip()
    cand = kb.add_candidate(
        question=draft.title,
        answer=draft.body,
        ticket_id=draft.ticket_ids[0] if draft.ticket_ids else None,
        staff_id=actor or "gaps",
        topic=draft.topic,
    )
    draft.candidate_id = cand.id
    return draft
