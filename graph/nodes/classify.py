"""classify: issue type with confidence, scope, mood and the hard triggers."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.deps import GraphDeps
from graph.language import detect_language
from graph.signals import read_signals
from graph.smalltalk import small_talk_kind
from graph.state import SupportState
from graph.turns import TurnInput

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
        entry = deps.scope.get(result.out_of_scope_label or result.issue_type)
        classification = {
            "issue_type": result.issue_type,
            "confidence": round(float(result.confidence), 4),
            "in_scope": result.in_scope,
            "alternatives": [list(a) for a in result.alternatives],
            "out_of_scope_topic": result.out_of_scope_label,
            "handoff": bool(entry and entry.handoff and result.in_scope),
            "escalate_out_of_scope": bool(entry and entry.escalate and not entry.in_scope),
            "team": (entry.team if entry else "") or "support",
        }
        if (
            result.in_scope
            and result.confidence >= REPEAT_MIN_CONFIDENCE
            and result.issue_type in (state.get("prior_unresolved") or [])
        ):
            classification["repeat_contact"] = True
            prior = state.get("prior_contacts") or {}
            classification["repeat_of"] = prior.get(result.issue_type, "")
    language = detect_language(text)
    update: dict[str, Any] = {
        "classification": classification,
        "signals": signals.as_dict(),
        "language": language,
    }
    if text and TurnInput.from_state(state).is_typed:
        update["small_talk"] = small_talk_kind(text)
        # the domain model knows the KB's language (English): elsewhere it would decline everything
        if deps.domain is not None and not update["small_talk"] and language == "en":
            update["domain_score"] = round(deps.domain.score(text), 4)
    return update
