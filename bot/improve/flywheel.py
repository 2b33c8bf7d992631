"""The data flywheel: corrected issue types and approved phrasings become classifier examples (a
stable one in five is held back to measure on), the classifier retrains in the background, and
each retrain adds a point to the learning curve the weekly digest shows."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.background_job import RerunningJob
from bot.models import AuditEntry, ClassifierExample, ClassifierPoint, IssueType, Ticket

if TYPE_CHECKING:  # bot.app imports this module
    from bot.app import Deskhand

log = logging.getLogger(__name__)
HELD_BACK_SHARE = 0.2  # of new labelled phrasings, measured on and never trained on
MAX_EXAMPLE_CHARS = 300
CURVE_POINTS = 8  # points the digest lists


def normal(text: str) -> str:
    """One line, trimmed: the form phrasings are stored and compared in."""
    return " ".join((text or "").split())[:MAX_EXAMPLE_CHARS]


def is_held_back(text: str) -> bool:
    """A stable coin per phrasing: the same text is always held back (or always trained on)."""
    digest = hashlib.sha256(f"flywheel:{normal(text).lower()}".encode()).hexdigest()
    return int(digest[:8], 16) / 0xFFFFFFFF < HELD_BACK_SHARE


@dataclass(frozen=True)
class Plan:
    """What learning a phrasing will do: add it as an example, hold it back, or nothing."""

    text: str
    train: bool
    held_back: bool


def plan(rows: dict[str, IssueType], text: str, issue_type: str) -> Plan:
    """Trained on unless the coin holds it back; nothing when empty, unknown or already known."""
    text = normal(text)
    if not text or issue_type not in rows:
        return Plan(text, False, False)
    if text in {normal(e) for e in json.loads(rows[issue_type].examples or "[]")}:
        return Plan(text, False, False)
    everywhere = {normal(e) for r in rows.values() for e in json.loads(r.examples or "[]")}
    held = is_held_back(text) and text not in everywhere  # never measure on a training phrasing
    return Plan(text, not held, held)


def learn(
    engine: Engine,
    scope: Any,
    planned: Plan,
    issue_type: str,
    source: str,
    ref: str,
    actor: str,
    platform: str = "",
) -> ClassifierExample | None:
    """Record the labelled phrasing; when trained on, add it to the type's examples (audited)."""
    if not planned.train and not planned.held_back:
        return None
    with Session(engine, expire_on_commit=False) as session:
        dup = session.exec(
            select(ClassifierExample).where(
                ClassifierExample.text == planned.text, ClassifierExample.issue_type == issue_type
            )
        ).first()
        if dup is not None:
            return dup
        row = ClassifierExample(
            text=planned.text,
            issue_type=issue_type,
            source=source,
            ref=ref,
            held_back=planned.held_back,
        )
        session.add(row)
        session.commit()
    if planned.train:
        current = next((r for r in scope.all() if r.name == issue_type), None)
        if current is not None:
            fields = {k: v for k, v in current.model_dump().items() if k != "updated_at"}
            fields["examples"] = json.dumps([*json.loads(current.examples or "[]"), planned.text])
            scope.upsert(IssueType(**fields), actor=actor, platform=platform)
    return row


def learn_phrasing(
    app: Deskhand, text: str, issue_type: str, source: str, ref: str, actor: str, platform: str = ""
) -> Plan:
    """Plan, record and (off the message path) retrain: the one call the hooks make."""
    rows = {r.name: r for r in app.scope.all()}
    planned = plan(rows, text, issue_type)
    learn(app.engine, app.scope, planned, issue_type, source, ref, actor, platform)
    if planned.train or planned.held_back:
        app.classifier_job.start()
    return planned


def learn_from_approval(
    app: Deskhand, candidate_id: int, ticket_id: int | None, actor: str, platform: str = ""
) -> list[Plan]:
    """An approved candidate's member questions are approved phrasings of their tickets' issue
    types: the candidate's own ticket, and every ticket of a gap draft (`gaps draft N`)."""
    ids = [ticket_id] if ticket_id else []
    with Session(app.engine) as session:
        drafted = session.exec(
            select(AuditEntry.after).where(
                AuditEntry.action == "gaps draft", AuditEntry.target == f"candidate:{candidate_id}"
            )
        ).first()
        if drafted:
            ids += [int(t) for t in (json.loads(drafted) or {}).get("tickets", [])]
        tickets = list(session.exec(select(Ticket).where(col(Ticket.id).in_(sorted(set(ids))))))
    rows = {r.name: r for r in app.scope.all()}
    plans = []
    for ticket in tickets:
        planned = plan(rows, ticket.question or "", ticket.issue_type or "")
        ref = f"ticket #{ticket.id} → candidate #{candidate_id}"
        learn(app.engine, app.scope, planned, ticket.issue_type or "", "approved_phrasing", ref,
              actor, platform)  # fmt: skip
        rows = {r.name: r for r in app.scope.all()} if planned.train else rows
        plans.append(planned)
    if any(p.train or p.held_back for p in plans):
        app.classifier_job.start()
    return plans


# ---- the learning curve ---------------------------------------------------------------------
def record_point(app: Deskhand) -> ClassifierPoint | None:
    """Measure the current classifier on the held-back cases; a point when anything changed."""
    classifier = app.current_classifier()
    if classifier is None:
        return None
    pairs = app.trained_on
    trained = {normal(t) for t, _ in pairs}
    names = {r.name for r in app.scope.all()}
    with Session(app.engine) as session:
        rows = list(session.exec(select(ClassifierExample)))
        last = session.exec(
            select(ClassifierPoint).order_by(col(ClassifierPoint.id).desc())
        ).first()
    cases = [r for r in rows if r.held_back and r.issue_type in names and r.text not in trained]
    learned = sum(1 for r in rows if not r.held_back and r.text in trained)
    correct = 0
    if cases:
        got = classifier.classify_many([r.text for r in cases])
        correct = sum(
            1
            for r, c in zip(cases, got, strict=True)
            if (c.out_of_scope_label or c.issue_type) == r.issue_type
        )
    point = ClassifierPoint(
        examples=len(pairs),
        learned=learned,
        held_back=len(cases),
        correct=correct,
        fingerprint=classifier.fingerprint,
    )
    same = last is not None and (last.fingerprint, last.held_back, last.correct) == (
        point.fingerprint,
        point.held_back,
        point.correct,
    )
    if same:
        return None
    with Session(app.engine, expire_on_commit=False) as session:
        session.add(point)
        session.commit()
    return point


def learning_curve(
    engine: Engine, until: datetime | None = None, points: int = CURVE_POINTS
) -> list[dict[str, Any]]:
    """The newest points up to `until`, oldest first: examples, learned, held back, accuracy."""
    with Session(engine) as session:
        stmt = select(ClassifierPoint).order_by(col(ClassifierPoint.id).desc())
        if until is not None:
            stmt = stmt.where(col(ClassifierPoint.at) <= until)
        rows = list(session.exec(stmt.limit(points)))
    return [
        {
            "at": r.at.isoformat(timespec="minutes"),
            "examples": r.examples,
            "learned": r.learned,
            "held_back": r.held_back,
            "correct": r.correct,
            "accuracy": round(r.correct / r.held_back, 3) if r.held_back else None,
        }
        for r in reversed(rows)
    ]


def curve_line(point: dict[str, Any]) -> str:
    """E.g. `2026-12-01: 131 examples (13 from real work) → 80% of 5 held back`."""
    accuracy = (
        f"{round(100 * point['accuracy'])}% of {point['held_back']} held back"
        if point["accuracy"] is not None
        else "no held-back cases yet"
    )
    return (
        f"{point['at'][:10]}: {point['examples']} examples ({point['learned']} from real work)"
        f" → {accuracy}"
    )


class ClassifierJob(RerunningJob):
    """Retrains the issue-type classifier in a background thread after the flywheel adds examples,
    so no member's message waits for it; then records a learning-curve point."""

    name = "deskhand-retrain"

    def __init__(self, app: Deskhand) -> None:
        super().__init__()
        self.app = app

    def _pass(self) -> None:
        self.app.retrain_now()  # on failure the previous classifier stays in use
        record_point(self.app)
