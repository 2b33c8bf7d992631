"""build_graph: the support state machine, compiled on demand (nothing at import time)."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from graph.deps import GraphDeps
from graph.nodes.answer import answer
from graph.nodes.clarify import clarify
from graph.nodes.classify import classify
from graph.nodes.escalate import escalate
from graph.nodes.guard import guard
from graph.nodes.respond import respond
from graph.nodes.retrieve import retrieve
from graph.nodes.route import route
from graph.routing import after_answer, after_guard, after_route_or_respond
from graph.state import SupportState


def build_graph(checkpointer: Any | None = None) -> Any:
    """guard → classify → retrieve → route → answer | clarify | escalate | respond."""
    builder = StateGraph(SupportState, context_schema=GraphDeps)
    builder.add_node("guard", guard)
    builder.add_node("classify", classify)
    builder.add_node("retrieve", retrieve)
    builder.add_node("route", route)
    builder.add_node("answer", answer)
    builder.add_node("clarify", clarify)
    builder.add_node("escalate", escalate)
    builder.add_node("respond", respond)
    builder.add_edge(START, "guard")
    builder.add_conditional_edges(
        "guard", after_guard, {"clarify": "clarify", "classify": "classify"}
    )
    builder.add_edge("classify", "retrieve")
    builder.add_edge("retrieve", "route")
    builder.add_conditional_edges(
        "route",
        after_route_or_respond,
        {"answer": "answer", "clarify": "clarify", "escalate": "escalate", "respond": "respond"},
    )
    builder.add_conditional_edges("answer", after_answer, {"escalate": "escalate", "__end__": END})
    builder.add_edge("clarify", END)
    builder.add_edge("escalate", END)
    builder.add_edge("respond", END)
    return builder.compile(checkpointer=checkpointer)
