"""Replays recorded decisions under other thresholds, for `threshold preview` and `deskhand calibrate`."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.models import Decision
from graph.state import DEFAULT_THRESHOLDS
from knowledge.models import utcnow

if TYPE_CHECKING:  # bot.app imports the core modules
    from bot.app import Deskhand

# First reasons written by graph.routing.decide that depend on the confidence thresholds; every
# other reason (hard triggers, out of scope, handoff types, button presses, empty, no match,
# ungrounded answers) keeps its recorded route whatever the thresholds are.
THRESHOLD_REASONS = frozenset(
    {
        "confident_match",
        "medium_confidence",
        "ambiguous_candidates",
        "vague_question",
        "low_confidence",
        "clarify_limit_reached",
    }
)
STICKY_REASONS = ("answer_not_grounded", "answerer_error")
ROUTES = ("answer", "clarify", "escalate")


def _field(decision: Any, name: str, default: Any = None) -> Any:
    if isinstance(decision, Mapping):
        return decision.get(name, default)
    return getattr(decision, name, default)


def _reasons(decision: Any) -> list[str]:
    raw = _field(decision, "reasons", [])
    if isinstance(raw, str):
        try:
            raw = json.loads(raw or "[]")
        except ValueError:
            raw = []
    return [str(r) for r in raw or []]


def threshold_dependent(decision: Any) -> bool:
    """True when the recorded route came from the confidence rules (so thresholds can change it)."""
    reasons = _reasons(decision)
    if not reasons or reasons[0] not in THRESHOLD_REASONS:
        return False
    return not any(r.startswith(STICKY_REASONS) for r in reasons)


def replay_route(decision: Any, thresholds: Mapping[str, Any]) -> str:
    """The route this decision would take under `thresholds` (recorded route when fixed)."""
    route = str(_field(decision, "route", "escalate"))
    if not threshold_dependent(decision):
        return route
    th = {**DEFAULT_THRESHOLDS, **thresholds}
    confidence = float(_field(decision, "confidence", 0.0) or 0.0)
    first = _reasons(decision)[0]
    if confidence < th["clarify"]:
        return "escalate"
    if first in ("ambiguous_candidates", "vague_question"):
        return "clarify"  # two articles too close to call: independent of the answer threshold
    if confidence >= th["answer"]:
        return "answer"
    return "escalate" if first == "clarify_limit_reached" else "clarify"


def replay_decisions(
    decisions: Iterable[Any],
    thresholds: Mapping[str, Any],
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, int]:
    """Counts of answer/clarify/escalate under `thresholds` (+ per-channel `overrides`).

    Returns {"answer", "clarify", "escalate", "total", "fixed", "changed"}: `fixed` decisions
    keep their route whatever the thresholds (hard triggers etc.), `changed` differ from the
    recorded route.
    """
    counts: Counter[str] = Counter({r: 0 for r in ROUTES})
    fixed = changed = total = 0
    for decision in decisions:
        th = dict(thresholds)
        if overrides:
            th.update(overrides.get(str(_field(decision, "channel_id", "")), {}))
        route = replay_route(decision, th)
        counts[route] += 1
        total += 1
        fixed += not threshold_dependent(decision)
        changed += route != _field(decision, "route")
    return {**{r: counts[r] for r in ROUTES}, "total": total, "fixed": fixed, "changed": changed}


def recorded_counts(decisions: Iterable[Any]) -> dict[str, int]:
    """Counts of the routes as they were actually taken."""
    counts: Counter[str] = Counter({r: 0 for r in ROUTES})
    for decision in decisions:
        counts[str(_field(decision, "route", ""))] += 1
    return {r: counts[r] for r in ROUTES} | {"total": sum(counts.values())}


def recent_decisions(
    engine: Engine, days: int = 30, limit: int = 1000, channel_id: str = ""
) -> list[Decision]:
    """The most recent decisions to replay (optionally of one channel)."""
    since = utcnow() - timedelta(days=days)
    with Session(engine) as session:
        stmt = select(Decision).where(col(Decision.created_at) >= since)
        if channel_id:
            stmt = stmt.where(Decision.channel_id == channel_id)
        stmt = stmt.order_by(col(Decision.id).desc()).limit(limit)
        return list(session.exec(stmt))


def labelled_history(engine: Engine, days: int = 90) -> list[tuple[Decision, bool]]:
    """Answered decisions with a member verdict: Helpful = right, Not helpful = wrong."""
    from bot.models import Feedback

    since = utcnow() - timedelta(days=days)
    with Session(engine) as session:
        rows = session.exec(
            select(Decision, Feedback)
            .join(Feedback, col(Feedback.decision_id) == col(Decision.id))
            .where(col(Feedback.kind).in_(["helpful", "not_helpful"]))
            .where(col(Decision.created_at) >= since)
        )
        return [(d, f.kind == "helpful") for d, f in rows]


def calibrate_from_history(
    app: Deskhand, target_wrong: float = 0.02, days: int = 90
) -> dict[str, Any]:
    """Pick the lowest answer threshold whose replayed wrong-answer rate stays within target."""
    labelled = [(d, ok) for d, ok in labelled_history(app.engine, days) if threshold_dependent(d)]
    current = app.settings.thresholds()
    if len(labelled) < 20:
        return {
            "picked": None,
            "labelled": len(labelled),
            "message": "Need at least 20 answers with Helpful/Not helpful feedback to calibrate.",
        }
    trade_off: list[dict[str, Any]] = []
    for step in range(30, 96):
        answer = step / 100
        th = {**current, "answer": answer, "clarify": min(current["clarify"], answer)}
        answered = [(d, ok) for d, ok in labelled if replay_route(d, th) == "answer"]
        wrong = sum(not ok for _, ok in answered)
        trade_off.append(
            {
                "answer": answer,
                "clarify": th["clarify"],
                "answered": len(answered),
                "answered_correct_rate": round((len(answered) - wrong) / len(labelled), 4),
                "answered_wrong_rate": round(wrong / len(labelled), 4),
            }
        )
    ok_rows = [r for r in trade_off if r["answered_wrong_rate"] <= target_wrong]
    picked = min(ok_rows, key=lambda r: r["answer"]) if ok_rows else None
    return {"picked": picked, "labelled": len(labelled), "trade_off": trade_off[::5]}
