"""classify: issue type with confidence, scope, mood and the hard triggers."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.deps import GraphDeps
from graph.signals import read_signals
from graph.state import SupportState

REPEAT_MIN_CONFIDENCE = 0.5


def classify(state: SupportState, runtime: Runtime[GraphDeps]) -> dict[str, Any]:
    """Run the classifier (when there is a scope) and read signals from the raw text."""
    deps = runtime.context
    text = state.get("clean_text", "")
    member = state.get("member") or {}
    signals = read_signals(text, tier=str(member.get("tier", "")))
    classification: dict[str, Any] = {"issue_type": "", "confidence": 0.0, "in_scope": True}
    if deps.classifier is not None and text:
        result = deps.classifier.classify(text)
        entry = deps.scope.get(result.issue_type)
        classification = {
            "issue_type": result.issue_type,
            "confidence": round(float(result.confidence), 4),
            "in_scope": result.in_scope,
            "alternatives": [list(a) for a in result.alternatives],
            "out_of_scope_topic": result.out_of_scope_label,
            "handoff": bool(entry and entry.handoff and result.in_scope),
            "team": (entry.team if entry else "") or "support",
        }
        if (
            result.in_scope
            and result.confidence >= REPEAT_MIN_CONFIDENCE
            and result.issue_type in (state.get("prior_unresolved") or [])
        ):
            classification["repeat_contact"] = True
    return {"classification": classification, "signals": signals.as_dict()}
