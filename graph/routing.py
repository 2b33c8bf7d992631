"""Pure routing rules: the next node's name from state and thresholds, with the reasons why."""

from __future__ import annotations

from typing import Any

from graph.state import DEFAULT_THRESHOLDS, SupportState, Thresholds, thresholds_with_defaults
from graph.turns import TurnInput

OUT_OF_SCOPE_MIN_CONFIDENCE = 0.5
VAGUE_MAX_WORDS = 2
VAGUE_MAX_LEAD = 0.2
# Below the clarify threshold, a message whose domain score is within this of `domain_margin` is
# near-domain chatter ("what is my credit score" to a banking help center), not a knowledge gap:
# declined with the Talk-to-a-person button instead of a ticket (dev halves: every low-confidence
# ticket but one was off-topic, all within 0.12 of the margin; real gaps score well above it).
WEAK_DOMAIN_BAND = 0.15


def confidence_of(hits: list[dict[str, Any]], th: Thresholds) -> float:
    """Top score plus a bonus for a clear lead over the runner-up (near-duplicates get none)."""
    if not hits:
        return 0.0
    first = float(hits[0]["score"])
    second = float(hits[1]["score"]) if len(hits) > 1 else first  # no runner-up, no bonus
    weight = float(th.get("margin_weight", DEFAULT_THRESHOLDS["margin_weight"]))
    return max(0.0, min(1.0, first + weight * (first - second)))


def decide(state: SupportState) -> tuple[str, list[str]]:
    """Return (answer|clarify|escalate|smalltalk|decline, reasons): every rule in one place."""
    th = thresholds_with_defaults(state.get("thresholds"))
    flags = state.get("guard_flags") or []
    if "empty" in flags:
        return "clarify", ["empty_message"]
    turn = TurnInput.from_state(state)
    if turn.escalation_reason:
        return "escalate", [turn.escalation_reason]
    triggers = (state.get("signals") or {}).get("triggers") or []
    if triggers:
        return "escalate", list(triggers)
    if state.get("small_talk") and not state.get("picked_option"):
        return "smalltalk", [str(state["small_talk"])]
    cls: dict[str, Any] = state.get("classification") or {}
    if cls.get("out_of_scope_topic") and cls.get("confidence", 0) >= OUT_OF_SCOPE_MIN_CONFIDENCE:
        if cls.get("escalate_out_of_scope"):
            return "escalate", ["out_of_scope"]
        return "decline", [f"out_of_scope:{cls['out_of_scope_topic']}"]
    if cls.get("handoff") and cls.get("confidence", 0) >= OUT_OF_SCOPE_MIN_CONFIDENCE:
        return "escalate", [f"needs_person:{cls.get('issue_type')}"]
    if cls.get("repeat_contact"):
        return "escalate", ["repeat_contact"]
    if turn.option and state.get("hits"):
        return "answer", ["member_picked_option"]

    if is_off_topic(state, th):
        return "decline", ["off_topic"]
    hits = state.get("hits") or []
    confidence = float(state.get("confidence") or 0.0)
    if not hits:
        return "escalate", ["no_knowledge_match"]
    if confidence < th["clarify"]:
        if is_weakly_in_domain(state, th) and not has_issue_intent(cls):
            return "decline", ["off_topic_low_confidence"]
        return "escalate", ["low_confidence"]
    close = too_close_to_call(hits, th)
    vague = is_vague(state, hits, th)
    twins = bool(state.get("twin_articles")) and len(hits) > 1 and hits[1]["score"] >= th["clarify"]
    if confidence >= th["answer"] and not close and not vague and not twins:
        return "answer", ["confident_match"]
    if int(state.get("clarify_turns") or 0) >= th["max_clarify_turns"]:
        return "escalate", ["clarify_limit_reached"]
    reason = (
        "ambiguous_candidates"
        if close
        else "vague_question"
        if vague
        else "near_duplicate_articles"
        if twins and confidence >= th["answer"]
        else "medium_confidence"
    )
    return "clarify", [reason]


def is_off_topic(state: SupportState, th: Thresholds) -> bool:
    """Far from every article phrasing and nearer to generic chatter (not while clarifying)."""
    score = state.get("domain_score")
    return (
        score is not None
        and not state.get("pending_question")
        and not state.get("follow_up")
        and score < float(th.get("domain_margin", DEFAULT_THRESHOLDS["domain_margin"]))
    )


def is_weakly_in_domain(state: SupportState, th: Thresholds) -> bool:
    """Let through by the domain gate, but only just (not while clarifying or following up)."""
    score = state.get("domain_score")
    margin = float(th.get("domain_margin", DEFAULT_THRESHOLDS["domain_margin"]))
    return (
        score is not None
        and not state.get("pending_question")
        and not state.get("follow_up")
        and score < margin + WEAK_DOMAIN_BAND
    )


def has_issue_intent(cls: dict[str, Any]) -> bool:
    """The scope's classifier is fairly sure this is one of the team's issue types."""
    return bool(
        cls.get("issue_type")
        and cls.get("in_scope", True)
        and not cls.get("out_of_scope_topic")
        and float(cls.get("confidence") or 0.0) >= OUT_OF_SCOPE_MIN_CONFIDENCE
    )


def is_vague(state: SupportState, hits: list[dict[str, Any]], th: Thresholds) -> bool:
    """A one- or two-word question that matches several articles ("billing question")."""
    words = state.get("content_words")
    return (
        words is not None
        and words <= VAGUE_MAX_WORDS
        and len(hits) > 1
        and hits[1]["score"] >= th["clarify"]
        and hits[0]["score"] - hits[1]["score"] < VAGUE_MAX_LEAD
        and not state.get("pending_question")
        and not state.get("last_article")  # after an answer, short questions build on it
    )


def too_close_to_call(hits: list[dict[str, Any]], th: Thresholds) -> bool:
    """Two different articles scoring within the margin, both worth offering."""
    if len(hits) < 2:
        return False
    first, second = hits[0], hits[1]
    return bool(
        first["article_id"] != second["article_id"]
        and second["score"] >= th["clarify"]
        and first["score"] - second["score"] < th["margin"]
    )


def after_route_or_respond(state: SupportState) -> str:
    """Small talk and declines share one node."""
    route = state["route"]
    return "respond" if route in ("smalltalk", "decline") else route


def after_guard(state: SupportState) -> str:
    """Skip the model work for empty input."""
    return "clarify" if "empty" in (state.get("guard_flags") or []) else "classify"


def after_classify(state: SupportState) -> str:
    """Empty input was flagged by the guard and never classified: ask what they need."""
    return "clarify" if after_guard(state) == "clarify" else "retrieve"


def after_route(state: SupportState) -> str:
    """Follow the decision written by the route node."""
    return state["route"]


def after_answer(state: SupportState) -> str:
    """An answer that could not be grounded becomes an escalation instead of a guess."""
    return "escalate" if state.get("route") == "escalate" else "__end__"
