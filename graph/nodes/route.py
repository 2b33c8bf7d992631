"""route: write the decision and its reasons into the state (the rules live in graph.routing)."""

from __future__ import annotations

from typing import Any

from graph.routing import decide
from graph.state import SupportState


def route(state: SupportState) -> dict[str, Any]:
    """Apply the routing rules."""
    decision, reasons = decide(state)
    flags = [f for f in state.get("guard_flags") or [] if f != "empty"]
    return {"route": decision, "reasons": reasons + flags}
