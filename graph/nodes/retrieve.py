"""retrieve: hybrid search over the knowledge index, remembering a pending question."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.deps import GraphDeps
from graph.nodes.common import hit_to_dict
from graph.routing import confidence_of
from graph.state import DEFAULT_THRESHOLDS, SupportState
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
    # a typed reply to a clarifying question adds to it; a button press is about it as it stands
    query = f"{pending} {text}".strip() if turn.is_typed and pending else (pending or text)
    hits = [
        hit_to_dict(h)
        for h in runtime.context.retriever.search(query, k=runtime.context.retrieve_k)
    ]
    th = {**DEFAULT_THRESHOLDS, **(state.get("thresholds") or {})}
    return {"hits": hits, "confidence": confidence_of(hits, th), "query": query}
