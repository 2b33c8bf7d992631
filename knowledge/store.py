"""KnowledgeBase: the one facade for articles (SQL truth), their LanceDB mirror, search and review."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from knowledge.chunking import chunk_article
from knowledge.contracts import Embedder, Hit
from knowledge.errors import KnowledgeError
from knowledge.models import Article, ArticleVersion, KbCandidate, utcnow
from knowledge.sessions import session_scope

if TYPE_CHECKING:  # lancedb and pyarrow load only when an index is really used
    from knowledge.read_path import KnowledgeIndex

log = logging.getLogger(__name__)

EDITABLE = ("title", "body", "url", "topic", "tags", "owner", "source", "external_id")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ArticleDraft:
    """An article as parsed from a source, before it is matched against existing ones."""

    title: str
    body: str
    url: str = ""
    topic: str = "general"
    tags: tuple[str, ...] = ()
    owner: str = ""
    source: str = ""
    external_id: str = ""
    assumed: str = ""  # what the parser had to guess (e.g. no front matter), told to the importer


def _tags(tags: Iterable[str] | str) -> str:
    """Normalise tags to the stored comma-separated form."""
    items = tags.split(",") if isinstance(tags, str) else list(tags)
    return ",".join(t.strip() for t in items if str(t).strip())


def _clean(value: Any, name: str) -> str:
    """Validate a text field and strip surrounding whitespace."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise KnowledgeError(f"{name} must be text, got {type(value).__name__}")
    return value.strip()


def list_articles(engine: Engine, topic: str | None = None) -> list[Article]:
    """All articles (optionally of one topic), by id: listings need the database, not the index."""
    with Session(engine, expire_on_commit=False) as s:
        query = select(Article).order_by(col(Article.id))
        if topic:
            query = query.where(Article.topic == topic)
        return list(s.exec(query).all())


def article_versions(engine: Engine) -> dict[int, int]:
    """Version per article id in SQL: what a search snapshot must hold to be current."""
    with Session(engine) as s:
        rows = s.exec(select(Article.id, Article.version)).all()
    return {int(aid): int(ver) for aid, ver in rows if aid is not None}


class KnowledgeBase:
    """Articles in SQL, chunks in LanceDB, hybrid search; every change is searchable immediately."""

    def __init__(self, engine: Engine, index: KnowledgeIndex, embedder: Embedder) -> None:
        self.engine = engine
        self.index = index
        self.embedder = embedder
        from knowledge.search import HybridRetriever  # numpy: not for `kb list`

        self.retriever = HybridRetriever(index, embedder)
        self.on_added: builtins.list[Callable[[], None]] = []  # told after new articles commit

    # -- reading ----------------------------------------------------------------------------------
    def get(self, article_id: int) -> Article:
        """The article with this id, or KnowledgeError."""
        with Session(self.engine, expire_on_commit=False) as s:
            art = s.get(Article, article_id)
        if art is None:
            raise KnowledgeError(f"no article with id {article_id}")
        return art

    def list(self, topic: str | None = None) -> builtins.list[Article]:
        """All articles (optionally of one topic), by id."""
        return list_articles(self.engine, topic)

    def find(self, source: str, external_id: str) -> Article | None:
        """The article imported from (source, external_id), if any."""
        with Session(self.engine, expire_on_commit=False) as s:
            query = select(Article).where(
                Article.source == source, Article.external_id == external_id
            )
            return s.exec(query.order_by(col(Article.id))).first()

    def history(self, article_id: int) -> builtins.list[ArticleVersion]:
        """Every snapshot of an article, oldest first (kept after removal too)."""
        with Session(self.engine, expire_on_commit=False) as s:
            rows = s.exec(
                select(ArticleVersion)
                .where(ArticleVersion.article_id == article_id)
                .order_by(col(ArticleVersion.version), col(ArticleVersion.id))
            ).all()
        if not rows:
            raise KnowledgeError(f"no article with id {article_id}")
        return builtins.list(rows)

    def search(self, text: str, k: int = 5) -> builtins.list[Hit]:
        """Hybrid search, one hit per article, best first."""
        return self.retriever.search(text, k=k)

    # -- writing ----------------------------------------------------------------------------------
    def add_article(
        self,
        title: str,
        body: str,
        url: str = "",
        topic: str = "general",
        tags: Iterable[str] | str = (),
        owner: str = "",
        source: str = "",
        external_id: str = "",
        actor: str = "",
    ) -> Article:
        """Create an article (version 1), snapshot it and index it."""
        draft = ArticleDraft(
            title, body, url, topic, tuple(_tags(tags).split(",")), owner, source, external_id
        )
        return self.add_articles([draft], actor=actor)[0]

    def add_articles(
        self, drafts: Sequence[ArticleDraft], actor: str = ""
    ) -> builtins.list[Article]:
        """Create many articles in one transaction with one batch-embedded index write."""
        with session_scope(self.engine) as s:
            arts = self._add_in(s, drafts, actor)
        for listener in self.on_added:
            listener()
        return arts

    def _add_in(
        self, s: Session, drafts: Sequence[ArticleDraft], actor: str
    ) -> builtins.list[Article]:
        """Create, snapshot and index articles inside the caller's transaction."""
        fields = [self._validated(d.__dict__) for d in drafts]
        arts = [Article(**f, version=1) for f in fields]
        s.add_all(arts)
        s.flush()
        for art in arts:
            s.add(self._snapshot(art, actor, "create"))
        self.index.upsert_articles(arts)
        return arts

    def edit_article(self, article_id: int, actor: str = "", **changes: Any) -> Article:
        """Apply field changes, bump the version, snapshot and re-index; no-op when nothing changed."""
        return self._edit(article_id, actor, "edit", changes)

    def _edit(self, article_id: int, actor: str, action: str, changes: dict[str, Any]) -> Article:
        with session_scope(self.engine) as s:
            return self._edit_in(s, article_id, actor, action, changes)

    def _edit_in(
        self, s: Session, article_id: int, actor: str, action: str, changes: dict[str, Any]
    ) -> Article:
        """Edit, snapshot and re-index one article inside the caller's transaction."""
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise KnowledgeError(
                f"cannot edit {', '.join(sorted(unknown))}; editable: {', '.join(EDITABLE)}"
            )
        art = s.get(Article, article_id)
        if art is None:
            raise KnowledgeError(f"no article with id {article_id}")
        current = {f: getattr(art, f) for f in EDITABLE}
        new = self._validated({**current, **changes})
        if new == current and action == "edit":
            return art
        for name, value in new.items():
            setattr(art, name, value)
        art.version += 1
        art.updated_at = utcnow()
        s.add(art)
        s.add(self._snapshot(art, actor, action))
        s.flush()
        self.index.upsert_article(art)
        return art

    def remove_article(self, article_id: int, actor: str = "") -> None:
        """Delete an article and its chunks; its history stays (with a "remove" entry)."""
        with session_scope(self.engine) as s:
            art = s.get(Article, article_id)
            if art is None:
                raise KnowledgeError(f"no article with id {article_id}")
            snap = self._snapshot(art, actor, "remove")
            snap.version = art.version + 1
            s.add(snap)
            s.delete(art)
            s.flush()
            self.index.remove_article(article_id)

    def revert(self, article_id: int, version: int, actor: str = "") -> Article:
        """Restore the text of an earlier version as a new version."""
        snap = next(
            (v for v in self.history(article_id) if v.version == version and v.action != "remove"),
            None,
        )
        if snap is None:
            raise KnowledgeError(f"article {article_id} has no version {version}")
        fields = {f: getattr(snap, f) for f in ("title", "body", "url", "topic", "tags")}
        return self._edit(article_id, actor, "revert", fields)

    def _validated(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Check and normalise article fields."""
        out = {f: fields.get(f, "") for f in EDITABLE}
        for name in ("title", "body", "url", "owner", "source", "external_id"):
            out[name] = _clean(out[name], name)
        out["topic"] = _clean(out["topic"], "topic") or "general"
        out["tags"] = _tags(out["tags"] or ())
        out["title"] = " ".join(out["title"].split())
        if not out["title"]:
            raise KnowledgeError("title is empty")
        if not out["body"]:
            raise KnowledgeError(f"body of {out['title']!r} is empty")
        if len(out["title"]) > 500:
            raise KnowledgeError("title is longer than 500 characters")
        return out

    @staticmethod
    def _snapshot(art: Article, actor: str, action: str) -> ArticleVersion:
        assert art.id is not None
        return ArticleVersion(
            article_id=art.id,
            version=art.version,
            title=art.title,
            body=art.body,
            url=art.url,
            topic=art.topic,
            tags=art.tags,
            edited_by=actor,
            action=action,
        )

    # -- index maintenance ------------------------------------------------------------------------
    def reindex(self, progress: Progress | None = None) -> int:
        """Rebuild the LanceDB mirror from SQL; returns the number of chunks written."""
        return self.index.rebuild(self.list(), progress=progress)

    def repair(self) -> dict[str, int]:
        """Fix drift between SQL and the index (missing, stale, partial, orphaned); return counts."""
        try:
            compatible = self.index.compatible()
            indexed = self.index.article_state() if compatible else {}
        except Exception as exc:  # a truncated or corrupt data file: SQL is the truth
            reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            log.error(
                "knowledge index at %s is damaged (%s); rebuilding it from SQL",
                self.index.path,
                reason,
            )
            self.index.discard()
            chunks = self.reindex()
            return {"missing": 0, "stale": 0, "orphans": 0, "rebuilt": 1, "chunks": chunks}
        if not compatible:
            chunks = self.reindex()
            return {"missing": 0, "stale": 0, "orphans": 0, "rebuilt": 1, "chunks": chunks}
        articles = {a.id: a for a in self.list() if a.id is not None}
        missing = [a for aid, a in articles.items() if aid not in indexed]
        stale = []
        for aid, (version, n_chunks) in indexed.items():
            art = articles.get(aid)
            if art is None:
                continue
            expected = len(chunk_article(aid, art.version, art.title, art.body))
            if version != art.version or n_chunks != expected:
                stale.append(art)
        orphans = [aid for aid in indexed if aid not in articles]
        if orphans:
            self.index.remove_articles(orphans)
        if missing or stale:
            self.index.upsert_articles(missing + stale)
        if missing or stale or orphans:
            self.index.optimize()
        counts = {"missing": len(missing), "stale": len(stale), "orphans": len(orphans)}
        if any(counts.values()):
            log.info("knowledge index repaired: %s", counts)
        return {**counts, "rebuilt": 0}

    # -- candidates from resolved escalations --------------------------------------------------
    def add_candidate(
        self,
        question: str,
        answer: str,
        ticket_id: int | None = None,
        staff_id: str = "",
        topic: str = "general",
    ) -> KbCandidate:
        """Queue a staff answer for review."""
        question, answer = _clean(question, "question"), _clean(answer, "answer")
        if not question or not answer:
            raise KnowledgeError("a candidate needs both a question and an answer")
        cand = KbCandidate(
            ticket_id=ticket_id,
            question=question,
            answer=answer,
            topic=_clean(topic, "topic") or "general",
            staff_id=staff_id,
        )
        with session_scope(self.engine) as s:
            s.add(cand)
        return cand

    def list_candidates(self, status: str | None = "pending") -> builtins.list[KbCandidate]:
        """Candidates with this status (None: all), oldest first."""
        with Session(self.engine, expire_on_commit=False) as s:
            query = select(KbCandidate).order_by(col(KbCandidate.id))
            if status:
                query = query.where(KbCandidate.status == status)
            return builtins.list(s.exec(query).all())

    def _pending(self, s: Session, candidate_id: int) -> KbCandidate:
        cand = s.get(KbCandidate, candidate_id)
        if cand is None:
            raise KnowledgeError(f"no candidate with id {candidate_id}")
        if cand.status != "pending":
            raise KnowledgeError(f"candidate {candidate_id} is already {cand.status}")
        return cand

    def approve_candidate(
        self,
        candidate_id: int,
        actor: str,
        title: str | None = None,
        body: str | None = None,
        topic: str | None = None,
    ) -> Article:
        """Publish a pending candidate (optionally edited) and mark it approved, in one commit.

        A candidate that edits an article becomes that article's next version; others a new one.
        The candidate is taken with a compare-and-set first, so two admins approving at once (or
        a retry after a crash) publish it once: the article and the approval commit together.
        """
        with session_scope(self.engine) as s:
            cand = self._pending(s, candidate_id)
            taken = s.execute(
                update(KbCandidate)
                .where(col(KbCandidate.id) == candidate_id, col(KbCandidate.status) == "pending")
                .values(status="approved", reviewed_by=actor, reviewed_at=utcnow())
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise KnowledgeError(f"candidate {candidate_id} was just reviewed by someone else")
            if cand.edits is not None:
                changes = {
                    "title": title or cand.question,
                    "body": body or cand.answer,
                    "topic": topic or cand.topic,
                }
                art = self._edit_in(s, cand.edits, actor, "edit", changes)
            else:
                draft = ArticleDraft(
                    title=title or cand.question,
                    body=body or cand.answer,
                    topic=topic or cand.topic,
                    tags=tuple(_tags(()).split(",")),
                    owner=cand.staff_id,
                    source=f"candidate:{candidate_id}",
                    external_id=str(candidate_id),
                )
                art = self._add_in(s, [draft], actor)[0]
            s.execute(
                update(KbCandidate)
                .where(col(KbCandidate.id) == candidate_id)
                .values(article_id=art.id)
            )
        if cand.edits is None:
            for listener in self.on_added:
                listener()
        return art

    def draft_edit(
        self,
        article_id: int,
        actor: str,
        title: str | None = None,
        body: str | None = None,
        from_version: int | None = None,
    ) -> KbCandidate:
        """Queue a new text for a published article as a pending candidate (not served yet).

        The text is given, or an earlier version's (`from_version`); unset fields keep the
        article's current text.
        """
        art = self.get(article_id)
        base_title, base_body = art.title, art.body
        if from_version is not None:
            snap = next(
                (
                    v
                    for v in self.history(article_id)
                    if v.version == from_version and v.action != "remove"
                ),
                None,
            )
            if snap is None:
                raise KnowledgeError(f"article {article_id} has no version {from_version}")
            base_title, base_body = snap.title, snap.body
        fields = self._validated(
            {"title": title or base_title, "body": body or base_body, "topic": art.topic}
        )
        if (fields["title"], fields["body"]) == (art.title, art.body):
            raise KnowledgeError(f"the draft is the same as article {article_id}'s current text")
        cand = KbCandidate(
            question=fields["title"],
            answer=fields["body"],
            topic=fields["topic"],
            staff_id=actor,
            edits=article_id,
        )
        with session_scope(self.engine) as s:
            s.add(cand)
        return cand

    def withdraw_candidate(
        self, candidate_id: int, actor: str, published_version: int | None = None
    ) -> KbCandidate:
        """Undo an approval: remove the new article, or revert the edited one; pending again."""
        with Session(self.engine, expire_on_commit=False) as s:
            cand = s.get(KbCandidate, candidate_id)
        if cand is None or cand.status != "approved" or cand.article_id is None:
            raise KnowledgeError(f"candidate {candidate_id} is not approved")
        if cand.edits is not None:
            version = (published_version or self.get(cand.edits).version) - 1
            self.revert(cand.edits, version, actor=actor)
        else:
            self.remove_article(cand.article_id, actor=actor)
        with session_scope(self.engine) as s:
            row = s.get(KbCandidate, candidate_id)
            assert row is not None
            row.status, row.article_id, row.reviewed_by, row.reviewed_at = "pending", None, "", None
            s.add(row)
        return row

    def reject_candidate(self, candidate_id: int, actor: str) -> KbCandidate:
        """Mark a pending candidate rejected."""
        with session_scope(self.engine) as s:
            cand = self._pending(s, candidate_id)
            cand.status, cand.reviewed_by, cand.reviewed_at = "rejected", actor, utcnow()
            s.add(cand)
        return cand
