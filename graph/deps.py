"""What the nodes need from the outside world, injected through LangGraph's runtime context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graph.interfaces import Answerer, Classifier, Retriever, Summariser

# LLM hooks: (query, option labels, persona) -> clarifying text; (transcript, record) -> notes.
ClarifierHook = Callable[[str, list[str], dict[str, Any]], str]
HandoffAnalystHook = Callable[[list[dict[str, Any]], dict[str, Any]], dict[str, Any]]


@dataclass
class ScopeEntry:
    """How one issue type is handled: in scope or not, needs a person or not, which team owns it."""

    name: str
    in_scope: bool = True
    handoff: bool = False
    team: str = "support"
    resolution: str = ""
    escalate: bool = False  # out of scope but staff still want these (e.g. press enquiries)


@dataclass
class GraphDeps:
    """The swappable parts: classifier, retriever, answerer, summariser, plus scope and LLM hooks."""

    retriever: Retriever
    answerer: Answerer
    summariser: Summariser
    classifier: Classifier | None = None
    scope: dict[str, ScopeEntry] = field(default_factory=dict)
    clarifier: ClarifierHook | None = None
    handoff_analyst: HandoffAnalystHook | None = None
    retrieve_k: int = 5
    domain: Any = None  # graph.domain.DomainModel: declines what is far from this help center
    help_topics: list[str] = field(default_factory=list)  # what the bot can help with, for replies
