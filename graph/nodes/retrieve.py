"""retrieve: hybrid search over the knowledge index, remembering a pending question."""

from __future__ import annotations

import re
from typing import Any

from langgraph.runtime import Runtime

from graph.deps import GraphDeps
from graph.extractive import content_terms
from graph.nodes.common import hit_to_dict
from graph.routing import confidence_of
from graph.state import SupportState, Thresholds, thresholds_with_defaults
from graph.turns import TurnInput


def retrieve(state: SupportState, runtime: Runtime[GraphDeps]) -> dict[str, Any]:
    """Search for the question (joined to the one being clarified), or take the picked option."""
    turn = TurnInput.from_state(state)
    picked = turn.option
    if picked:
        chosen = [h for h in state.get("last_hits") or [] if str(h["article_id"]) == str(picked)]
        if chosen:
            return {
                "hits": chosen,
                "confidence": float(chosen[0]["score"]),
                "query": state.get("pending_question", ""),
            }
    text = state.get("clean_text", "")
    pending = state.get("pending_question") or ""
    th = thresholds_with_defaults(state.get("thresholds"))
    if turn.is_typed and pending:
        return _reply_to_clarifying_question(runtime, pending, text, th)
    query = pending or text
    hits = _search(runtime, query)
    confidence = confidence_of(hits, th)
    last = state.get("last_article") or {}
    if turn.is_typed and not pending and last.get("question") and looks_like_follow_up(text):
        joined = f"{last['question']} {text}"
        in_context = _search(runtime, joined)
        context_conf = confidence_of(in_context, th)
        if prefer_context(text, hits, confidence, in_context, context_conf, last, th):
            return {
                "hits": in_context,
                "confidence": context_conf,
                "query": joined,
                "follow_up": True,
                "twin_articles": _twins(runtime, in_context),
            }
    return _reading(runtime, hits, confidence, query)


def _reply_to_clarifying_question(
    runtime: Runtime[GraphDeps], pending: str, text: str, th: Thresholds
) -> dict[str, Any]:
    """A typed reply adds to the question being clarified, unless it is a clear question of its own.

    "How do I turn on quiet hours?" after a clarifying question about an order matches its article
    confidently alone and points back at nothing: it starts a new topic (and a new count of
    clarifying questions) instead of being blurred into the old one.
    """
    alone = _search(runtime, text)
    alone_conf = confidence_of(alone, th)
    joined = f"{pending} {text}".strip()
    hits = _search(runtime, joined)
    confidence = confidence_of(hits, th)
    if stands_alone(text, alone_conf, confidence, th):
        return {**_reading(runtime, alone, alone_conf, text), "clarify_turns": 0}
    return _reading(runtime, hits, confidence, joined)


def _reading(
    runtime: Runtime[GraphDeps], hits: list[dict[str, Any]], confidence: float, query: str
) -> dict[str, Any]:
    """The search result the route node decides on."""
    return {
        "hits": hits,
        "confidence": confidence,
        "query": query,
        "twin_articles": _twins(runtime, hits),
    }


def _twins(runtime: Runtime[GraphDeps], hits: list[dict[str, Any]]) -> bool:
    """Whether the top two articles say nearly the same thing (graph.domain.DomainModel.twins)."""
    domain = runtime.context.domain
    return bool(domain is not None and domain.twins(hits))


FOLLOW_UP_MAX_WORDS = 4
FOLLOW_UP_LEAD = 0.1
_REFERRING = re.compile(
    r"\b(that|this|it|its|those|these|they|them|their|there|one|ones|same|also|too|"
    r"what about|how about|and if|instead)\b",
    re.IGNORECASE,
)


def refers_back(text: str) -> bool:
    """Points at something said before: "that", "it", "what about…"."""
    return bool(_REFERRING.search(text))


def stands_alone(text: str, alone_conf: float, context_conf: float, th: Thresholds) -> bool:
    """A clear question of its own: confidently matched alone, and the conversation adds nothing.

    Pointing back ("does that work on Android too?") only counts when reading the message with
    the conversation is clearly better; "why is it called covid-19?" is not about anything before.
    """
    if alone_conf < th["answer"]:
        return False
    return not refers_back(text) or context_conf - alone_conf < FOLLOW_UP_LEAD


def looks_like_follow_up(text: str) -> bool:
    """Short, or pointing back at something said before ("how long does that take?")."""
    return len(content_terms(text)) <= FOLLOW_UP_MAX_WORDS or refers_back(text)


def prefer_context(
    text: str,
    alone: list[dict[str, Any]],
    alone_conf: float,
    in_context: list[dict[str, Any]],
    context_conf: float,
    last: dict[str, Any],
    th: Thresholds,
) -> bool:
    """Read the message with the conversation when that finds a clearly better match.

    A question that stands alone (graph.nodes.retrieve.stands_alone) is a new topic and stays one.
    """
    if not in_context or stands_alone(text, alone_conf, context_conf, th):
        return False
    same_article = in_context[0]["article_id"] == last.get("article_id")
    return context_conf > alone_conf and (
        same_article or context_conf - alone_conf >= FOLLOW_UP_LEAD
    )


def _search(runtime: Runtime[GraphDeps], query: str) -> list[dict[str, Any]]:
    return [
        hit_to_dict(h)
        for h in runtime.context.retriever.search(query, k=runtime.context.retrieve_k)
    ]
