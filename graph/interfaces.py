"""Small interfaces the graph nodes depend on, so tests and LLM mode can swap implementations.

Hit and Embedder belong to the knowledge layer: import them from knowledge.contracts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from knowledge.contracts import Hit

if TYPE_CHECKING:  # annotations only: `scope list` loads no numpy
    import numpy as np


@dataclass(frozen=True)
class Classification:
    """What the message is about, how sure we are, and whether we handle it at all."""

    issue_type: str
    confidence: float
    in_scope: bool
    alternatives: tuple[tuple[str, float], ...] = ()
    out_of_scope_label: str = ""  # the explicit out-of-scope topic that won, if one did


@dataclass(frozen=True)
class AnswerDraft:
    """A reply grounded in retrieved hits; `grounded` is False when the hits do not answer."""

    text: str
    citations: tuple[Hit, ...] = ()
    grounded: bool = True
    model: str = "extractive"
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Persona:
    """How replies sound: tone (friendly|neutral|formal), length (short|medium|long), sign-off."""

    tone: str = "friendly"
    length: str = "medium"
    signoff: str = ""
    name: str = "Deskhand"


@runtime_checkable
class Classifier(Protocol):
    """Maps a message to an issue type with a calibrated confidence."""

    def classify(self, text: str, vector: np.ndarray | None = None) -> Classification: ...


@runtime_checkable
class Retriever(Protocol):
    """Finds knowledge chunks for a query (hybrid vector + full text)."""

    def search(self, text: str, k: int = 5, vector: np.ndarray | None = None) -> list[Hit]: ...


@runtime_checkable
class Answerer(Protocol):
    """Writes the member-facing answer from retrieved hits only."""

    def answer(
        self, question: str, hits: list[Hit], persona: Persona, mood: str = "neutral"
    ) -> AnswerDraft: ...


@runtime_checkable
class Summariser(Protocol):
    """Condenses a conversation into a handoff summary for staff."""

    def summarise(
        self, transcript: list[dict[str, Any]], issue_type: str, reasons: list[str]
    ) -> str: ...
