"""Value types the knowledge layer produces (Hit) and needs (Embedder); graph and bot use them too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # annotations only: `kb list` and `scope list` load no numpy
    import numpy as np


@dataclass(frozen=True)
class Hit:
    """One retrieved knowledge chunk with its fused relevance score (0..1, higher is better)."""

    article_id: int
    chunk_id: str
    title: str
    url: str
    topic: str
    text: str
    score: float
    vector_score: float = 0.0
    text_score: float = 0.0


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors; local by default, hosted later."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...
