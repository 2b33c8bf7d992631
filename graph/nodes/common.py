"""Small helpers shared by the nodes."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from graph.interfaces import Persona
from graph.state import SupportState
from knowledge.contracts import Hit


def hit_to_dict(hit: Hit) -> dict[str, Any]:
    """Hits travel through the checkpointed state as plain dicts."""
    return asdict(hit)


def dict_to_hit(data: dict[str, Any]) -> Hit:
    """Rebuild a Hit from the state."""
    return Hit(**data)


def persona_from(state: SupportState) -> Persona:
    """The persona settings for this turn, with defaults for anything missing."""
    raw = state.get("persona") or {}
    return Persona(**{k: v for k, v in raw.items() if k in Persona.__dataclass_fields__})
