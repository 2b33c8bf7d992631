"""guard: clean the text and flag input that must not reach the models as-is."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from graph.extractive import content_terms
from graph.signals import looks_like_injection
from graph.state import PER_TURN_KEYS, SupportState

MAX_QUERY_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """Normalise Unicode, drop control and direction-override characters, fold whitespace."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _CONTROL.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()


def guard(state: SupportState) -> dict[str, Any]:
    """Reset per-turn fields, clean the text, flag empty/oversized/instructive input."""
    update: dict[str, Any] = {key: None for key in PER_TURN_KEYS}
    text = clean(state.get("text", ""))
    if state.get("is_action"):  # a button press: work on the member's last real question
        asked = [
            t["text"]
            for t in state.get("transcript") or []
            if t.get("role") == "member" and not t.get("action")
        ]
        text = clean(asked[-1]) if asked else text
    flags: list[str] = []
    if len(text) > MAX_QUERY_CHARS:
        flags.append("truncated")
        text = text[:MAX_QUERY_CHARS].rsplit(" ", 1)[0]
    if (
        not re.search(r"\w", text)
        and not state.get("picked_option")
        and not state.get("force_escalate")
    ):
        flags.append("empty")
    if looks_like_injection(text):
        flags.append("instruction_attempt")
    update.update(
        clean_text=text,
        content_words=len(content_terms(text)),
        guard_flags=flags,
        reasons=[],
        transcript=[
            {
                "role": "member",
                "text": state.get("text", ""),
                "author": (state.get("member") or {}).get("display_name", ""),
            }
        ],
    )
    return update
