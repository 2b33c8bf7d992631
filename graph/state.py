"""The typed state carried through one conversation, persisted per platform thread."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypedDict


class Thresholds(TypedDict):
    """Routing knobs admins tune from chat."""

    answer: float  # answer when confidence >= this
    clarify: float  # clarify when clarify <= confidence < answer; escalate below
    margin: float  # top two articles closer than this are "too close to call"
    margin_weight: float  # confidence = top score + weight * (top - runner-up), capped at 1
    max_clarify_turns: int  # after this many clarifying questions, escalate
    domain_margin: float  # decline as off-topic when the domain score is below this


DEFAULT_THRESHOLDS: Thresholds = {
    "answer": 0.70,
    "clarify": 0.45,
    "margin": 0.02,
    "margin_weight": 1.0,
    "max_clarify_turns": 2,
    "domain_margin": 0.0,  # tuned on the dev half; `kb import` self-calibrates it per help center
}


def thresholds_with_defaults(partial: Mapping[str, Any] | None) -> Thresholds:
    """Stored thresholds may name only some knobs: the defaults fill in the rest."""
    given, default = partial or {}, DEFAULT_THRESHOLDS
    return Thresholds(
        answer=float(given.get("answer", default["answer"])),
        clarify=float(given.get("clarify", default["clarify"])),
        margin=float(given.get("margin", default["margin"])),
        margin_weight=float(given.get("margin_weight", default["margin_weight"])),
        max_clarify_turns=int(given.get("max_clarify_turns", default["max_clarify_turns"])),
        domain_margin=float(given.get("domain_margin", default["domain_margin"])),
    )


TRANSCRIPT_WINDOW = 40  # turns kept in graph state; SQL keeps the whole conversation


def recent_turns(
    left: list[dict[str, Any]] | None, right: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Append this turn's entries but keep only the last TRANSCRIPT_WINDOW.

    The stored conversation memory holds the transcript, so an unbounded one would grow every
    turn's write with the conversation; a window keeps each write small and bounded.
    """
    merged = [*(left or []), *(right or [])]
    return merged[-TRANSCRIPT_WINDOW:]


class SupportState(TypedDict, total=False):
    """Inputs for this turn, what the nodes worked out, and the conversation so far."""

    # --- inputs, set by the service for every turn (graph.turns.TurnInput.as_state)
    turn_kind: str  # a graph.turns.TurnKind value: typed text, option picked, not helpful…
    text: str  # what the member typed ('' for a button press)
    picked_option: str  # article id the member picked from a clarifying question
    member: dict[str, Any]  # user_id, display_name, tier
    channel: dict[str, Any]  # platform, channel_id
    prior_unresolved: list[str]  # issue types of this member's recent unresolved contacts
    prior_contacts: dict[str, str]  # issue type -> which earlier thread and why it counts
    thresholds: Thresholds
    persona: dict[str, Any]

    # --- conversation memory (MEMORY_KEYS: stored between turns, passed back in with the inputs)
    transcript: Annotated[list[dict[str, Any]], recent_turns]  # {role, kind, text, …}, windowed
    clarify_turns: int
    pending_question: str
    last_hits: list[dict[str, Any]]
    last_article: dict[str, Any]  # the article of the last answer and the question it answered

    # --- per-turn results
    clean_text: str
    language: str  # the member's language (ISO 639-1), for the fixed phrases
    small_talk: str  # greeting | thanks | goodbye when the message is only that
    follow_up: bool  # read together with the last answered question (graph.nodes.retrieve)
    domain_score: float | None  # closeness to this help center vs generic chatter (None = unknown)
    twin_articles: bool  # the top two articles are near-duplicates: ask rather than pick one
    content_words: int  # distinct meaningful words: 2 or fewer and a broad match means "vague"
    query: str
    guard_flags: list[str]
    classification: dict[str, Any]
    signals: dict[str, Any]  # sentiment, mood, urgency, cues, triggers
    hits: list[dict[str, Any]]
    confidence: float
    route: str
    reasons: list[str]
    reply: str
    citations: list[dict[str, Any]]
    options: list[dict[str, str]]
    attempted_answer: str
    escalation: dict[str, Any] | None


PER_TURN_KEYS = (
    "clean_text",
    "language",
    "small_talk",
    "domain_score",
    "follow_up",
    "twin_articles",
    "content_words",
    "query",
    "guard_flags",
    "classification",
    "signals",
    "hits",
    "confidence",
    "route",
    "reasons",
    "reply",
    "citations",
    "options",
    "attempted_answer",
    "escalation",
)

# What a conversation remembers between turns; everything else is an input or a per-turn result.
MEMORY_KEYS = ("transcript", "clarify_turns", "pending_question", "last_hits", "last_article")


def memory_of(state: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a finished turn's state the next turn resumes from."""
    return {key: state[key] for key in MEMORY_KEYS if state.get(key) is not None}
