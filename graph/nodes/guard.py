"""guard: clean the text and flag input that must not reach the models as-is."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from graph.extractive import content_terms
from graph.signals import looks_like_injection
from graph.state import PER_TURN_KEYS, SupportState
from graph.turns import TurnInput, member_questions

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
    turn = TurnInput.from_state(state)
    text = clean(turn.text)
    if not turn.is_typed:  # a button press: work on the member's last real question
        asked = member_questions(state.get("transcript") or [])
        text = clean(asked[-1]) if asked else ""
    flags: list[str] = []
    if len(text) > MAX_QUERY_CHARS:
        flags.append("truncated")
        text = text[:MAX_QUERY_CHARS].rsplit(" ", 1)[0]
    if turn.is_typed and not re.search(r"\w", text):
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
                "kind": turn.kind.value,
                "text": turn.describe(option_label(state, turn.option)),
                "author": (state.get("member") or {}).get("display_name", ""),
            }
        ],
    )
    return update


def option_label(state: SupportState, option: str) -> str:
    """The title the member saw on the option they picked ('' if it is not among the offers)."""
    if not option:
        return ""
    titles = [h["title"] for h in state.get("last_hits") or [] if str(h["article_id"]) == option]
    return titles[0] if titles else ""
