"""answer: a grounded, cited reply; if it cannot be grounded, hand off instead of guessing."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.deps import GraphDeps
from graph.nodes.common import dict_to_hit, persona_from
from graph.state import SupportState, thresholds_with_defaults


def answer(state: SupportState, runtime: Runtime[GraphDeps]) -> dict[str, Any]:
    """Ask the answerer for a reply from the retrieved hits only."""
    th = thresholds_with_defaults(state.get("thresholds"))
    raw_hits = state.get("hits") or []
    usable = [raw_hits[0]] + [h for h in raw_hits[1:] if h["score"] >= th["clarify"]]
    hits = [dict_to_hit(h) for h in usable]
    mood = (state.get("signals") or {}).get("mood", "neutral")
    question = state.get("query") or state.get("clean_text", "")
    try:
        draft = runtime.context.answerer.answer(question, hits, persona_from(state), mood)
    except Exception as exc:  # an answerer failure must never reach the member
        return {
            "route": "escalate",
            "reasons": [*state.get("reasons", []), f"answerer_error:{type(exc).__name__}"],
        }
    if not draft.grounded or not draft.text.strip():
        return {
            "route": "escalate",
            "reasons": [*state.get("reasons", []), "answer_not_grounded"],
            "attempted_answer": draft.text,
        }
    citations = [
        {"title": h.title, "url": h.url, "article_id": h.article_id, "score": h.score}
        for h in draft.citations
    ]
    return {
        "reply": draft.text,
        "citations": citations,
        "attempted_answer": draft.text,
        "pending_question": "",
        "clarify_turns": 0,
        "last_hits": raw_hits,
        "last_article": {
            "article_id": raw_hits[0]["article_id"],
            "title": raw_hits[0]["title"],
            "question": (state.get("last_article") or {}).get("question", question)
            if state.get("follow_up")
            else question,
        },
        "transcript": [
            {"role": "bot", "text": draft.text, "route": "answer", "model": draft.model}
        ],
    }
