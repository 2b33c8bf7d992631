"""Regression cases from real work, replayed against the current (or a candidate) configuration.

A case is a real member question with a known right outcome:
- a resolved escalation whose staff answer was approved into the KB: answer with that article;
- an answer marked Not helpful and then corrected: the article was edited afterwards (answer
  with the corrected article), or a reviewer tagged it with a fix (`review tag --article/--route`).
Replays run the real graph on an in-memory checkpointer: nothing is written to the database.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.experiments import CandidateChange
from bot.models import Conversation, Decision, Feedback, ReviewTag, Ticket
from graph.builder import build_graph
from graph.turns import TurnInput
from knowledge.models import Article, ArticleVersion, KbCandidate


@dataclass(frozen=True)
class Case:
    """One labelled question: what the member asked and what would have been right."""

    question: str
    route: str  # answer | clarify | escalate | decline
    article_id: int | None  # the article an answer must cite (None: any, or not an answer)
    source: str  # approved_answer | corrected_article | review_fix
    ref: str  # where it came from, e.g. "ticket #4 → candidate #2"


@dataclass
class CaseResult:
    """A case and what the configuration under test did with it."""

    case: Case
    got_route: str
    got_article: int | None
    reasons: list[str]
    confidence: float

    @property
    def passed(self) -> bool:
        """The right route, and for answers the right article."""
        if self.got_route != self.case.route:
            return False
        return self.case.article_id is None or self.got_article == self.case.article_id

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            **asdict(self.case),
            "got_route": self.got_route,
            "got_article": self.got_article,
            "reasons": self.reasons,
            "confidence": round(self.confidence, 4),
            "passed": self.passed,
        }


def first_question(session: Session, conversation_id: int) -> str:
    """The first question the bot decided on in a conversation."""
    return (
        session.exec(
            select(Decision.question)
            .where(Decision.conversation_id == conversation_id, Decision.question != "")
            .order_by(col(Decision.id))
        ).first()
        or ""
    )


def labelled_cases(engine: Engine) -> list[Case]:
    """Every regression case the recorded work provides, de-duplicated by question."""
    cases: list[Case] = []
    with Session(engine) as session:
        live = set(session.exec(select(Article.id)))
        for cand, ticket in session.exec(
            select(KbCandidate, Ticket)
            .join(Ticket, col(Ticket.id) == col(KbCandidate.ticket_id))
            .where(KbCandidate.status == "approved")
            .order_by(col(KbCandidate.id))
        ):
            question = ticket.question or first_question(session, ticket.conversation_id)
            if question and cand.article_id in live:
                ref = f"ticket #{ticket.id} → candidate #{cand.id} → article #{cand.article_id}"
                cases.append(Case(question, "answer", cand.article_id, "approved_answer", ref))
        cases += _corrected_articles(session, live)
        for tag in session.exec(select(ReviewTag).order_by(col(ReviewTag.id))):
            fix = json.loads(tag.fix or "{}")
            if not fix.get("route"):
                continue
            question = first_question(session, tag.conversation_id)
            article = fix.get("article_id")
            if question and (article is None or article in live):
                ref = f"conversation #{tag.conversation_id} tagged {tag.cause}"
                cases.append(Case(question, fix["route"], article, "review_fix", ref))
    latest: dict[str, Case] = {}
    for case in cases:  # a later label of the same question wins (review fixes come last)
        latest[" ".join(case.question.lower().split())] = case
    return list(latest.values())


def _corrected_articles(session: Session, live: set[int]) -> list[Case]:
    """Answers marked Not helpful whose article was edited after the verdict."""
    rows = session.exec(
        select(Feedback.created_at, Decision.question, Decision.top_article_id, Conversation.id)
        .join(Decision, col(Decision.id) == col(Feedback.decision_id))
        .join(Conversation, col(Conversation.id) == col(Feedback.conversation_id))
        .where(Feedback.kind == "not_helpful", Decision.route == "answer")
    ).all()
    cases = []
    for at, question, article, cid in rows:
        if not question or article not in live:
            continue
        edit = session.exec(
            select(ArticleVersion.version)
            .where(ArticleVersion.article_id == article)
            .where(col(ArticleVersion.action).in_(["edit", "revert"]))
            .where(col(ArticleVersion.created_at) > at)
            .order_by(col(ArticleVersion.id))
        ).first()
        if edit is not None:
            ref = f"conversation #{cid}: Not helpful, article #{article} corrected (v{edit})"
            cases.append(Case(question, "answer", article, "corrected_article", ref))
    return cases


def replay(
    app: Any,
    cases: list[Case],
    thresholds: dict[str, float] | None = None,
    kb_drafts: tuple[int, ...] = (),
) -> list[CaseResult]:
    """Run every case through the real graph under the current settings (plus `thresholds`,
    and with `kb_drafts` served as a candidate arm would see them)."""
    graph = build_graph(InMemorySaver())
    deps = app.graph_deps()
    if kb_drafts:
        deps = app.service.candidate_parts.apply(deps, CandidateChange(kb_drafts=kb_drafts))
    base = {**app.settings.thresholds(), **(thresholds or {})}
    base["clarify"] = min(base["clarify"], base["answer"])
    persona = app.settings.persona()
    run = f"history-{time.time_ns()}"
    results = []
    for i, case in enumerate(cases):
        state = {
            **TurnInput.typed(case.question).as_state(),
            "text": case.question,
            "member": {"user_id": "eval-history", "display_name": "eval", "tier": ""},
            "channel": {"platform": "eval", "channel_id": "", "name": ""},
            "prior_unresolved": [],
            "thresholds": base,
            "persona": persona,
        }
        out = graph.invoke(
            state, config={"configurable": {"thread_id": f"{run}-{i}"}}, context=deps
        )
        route = out.get("route") or "escalate"
        cited = out.get("citations") or []
        article = cited[0].get("article_id") if route == "answer" and cited else None
        results.append(
            CaseResult(
                case,
                route,
                article,
                list(out.get("reasons") or []),
                float(out.get("confidence") or 0.0),
            )  # fmt: skip
        )
    return results


def history_report(
    app: Any, thresholds: dict[str, float] | None = None, kb_drafts: tuple[int, ...] = ()
) -> dict[str, Any]:
    """Pass/fail of every labelled case, overall and per source."""
    cases = labelled_cases(app.engine)
    results = replay(app, cases, thresholds, kb_drafts) if cases else []
    by_source: dict[str, dict[str, int]] = {}
    for r in results:
        row = by_source.setdefault(r.case.source, {"cases": 0, "passed": 0})
        row["cases"] += 1
        row["passed"] += r.passed
    passed = sum(r.passed for r in results)
    return {
        "cases": len(results),
        "passed": passed,
        "failed": len(results) - passed,
        "pass_rate": round(passed / len(results), 4) if results else None,
        "thresholds": {**app.settings.thresholds(), **(thresholds or {})},
        "candidate": {
            **(thresholds or {}),
            **({"kb_drafts": list(kb_drafts)} if kb_drafts else {}),
        },
        "by_source": by_source,
        "results": [r.to_dict() for r in results],
    }


def run_history(args: Any) -> dict[str, Any]:
    """Replay every labelled case against this home's configuration (or the candidate's)."""
    from bot.app import get_app

    candidate = {k: float(v) for k in ("answer", "clarify") if (v := getattr(args, k)) is not None}
    for name, value in candidate.items():
        if not 0.0 <= value <= 1.0:
            from knowledge.errors import SetupError

            raise SetupError(f"--{name} must be between 0 and 1, got {value}")
    try:
        drafts = tuple(int(d.lstrip("#")) for d in args.kb_drafts.replace(",", " ").split())
    except ValueError:
        from knowledge.errors import SetupError

        raise SetupError(f"--kb-drafts takes candidate ids, got {args.kb_drafts!r}") from None
    return history_report(get_app(), candidate or None, drafts)
