"""Fused graph steps: guard runs inside classify and route inside retrieve, two supersteps fewer.

Each LangGraph superstep costs its own bookkeeping (channel writes, a checkpoint copy, task
set-up), about as much as a node's real work here; the rules stay in their own modules.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.deps import GraphDeps
from graph.nodes.classify import classify
from graph.nodes.guard import guard
from graph.nodes.retrieve import retrieve
from graph.nodes.route import route
from graph.state import SupportState, recent_turns


def applied(state: SupportState, update: dict[str, Any]) -> SupportState:
    """The state a following node would see after `update` (the transcript keeps its reducer)."""
    view: dict[str, Any] = {**state, **update}
    if "transcript" in update:
        view["transcript"] = recent_turns(state.get("transcript"), update["transcript"])
    return view  # type: ignore[return-value]


def guard_and_classify(state: SupportState, runtime: Runtime[GraphDeps]) -> dict[str, Any]:
    """Clean and flag the input, then classify it (empty input goes straight to clarify)."""
    update = guard(state)
    if "empty" in (update.get("guard_flags") or []):
        return update
    return {**update, **classify(applied(state, update), runtime)}


def retrieve_and_route(state: SupportState, runtime: Runtime[GraphDeps]) -> dict[str, Any]:
    """Search the knowledge base, then write the routing decision and its reasons."""
    update = retrieve(state, runtime)
    return {**update, **route(applied(state, update))}
