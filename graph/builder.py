"""build_graph: the support state machine, compiled on demand (nothing at import time)."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from graph.deps import GraphDeps
from graph.nodes.answer import answer
from graph.nodes.clarify import clarify
from graph.nodes.escalate import escalate
from graph.nodes.respond import respond
from graph.nodes.steps import guard_and_classify, retrieve_and_route
from graph.routing import after_answer, after_classify, after_route_or_respond
from graph.state import SupportState


def build_graph(checkpointer: Any | None = None) -> Any:
    """classify (after guard) → retrieve (then route) → answer | clarify | escalate | respond.

    Guard and route run inside their neighbours (graph.nodes.steps): fewer supersteps per message.
    """
    builder = StateGraph(SupportState, context_schema=GraphDeps)
    builder.add_node("classify", guard_and_classify)
    builder.add_node("retrieve", retrieve_and_route)
    builder.add_node("answer", answer)
    builder.add_node("clarify", clarify)
    builder.add_node("escalate", escalate)
    builder.add_node("respond", respond)
    builder.add_edge(START, "classify")
    builder.add_conditional_edges(
        "classify", after_classify, {"clarify": "clarify", "retrieve": "retrieve"}
    )
    builder.add_conditional_edges(
        "retrieve",
        after_route_or_respond,
        {"answer": "answer", "clarify": "clarify", "escalate": "escalate", "respond": "respond"},
    )
    builder.add_conditional_edges("answer", after_answer, {"escalate": "escalate", "__end__": END})
    builder.add_edge("clarify", END)
    builder.add_edge("escalate", END)
    builder.add_edge("respond", END)
    return builder.compile(checkpointer=checkpointer)
