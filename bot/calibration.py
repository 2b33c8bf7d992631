"""Replays recorded decisions under other thresholds, for `threshold preview` and `deskhand calibrate`."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.models import Decision
from graph.state import DEFAULT_THRESHOLDS
from knowledge.models import utcnow

# First reasons written by graph.routing.decide that depend on the confidence thresholds; every
# other reason (hard triggers, out of scope, handoff types, button presses, empty, no match,
# ungrounded answers) keeps its recorded route whatever the thresholds are.
THRESHOLD_REASONS = frozenset(
    {
        "confident_match",
        "medium_confidence",
        "ambiguous_candidates",
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
    if first == "ambiguous_candidates":
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
