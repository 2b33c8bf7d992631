"""What the member did this turn: typed a message, or pressed one of the bot's buttons."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class TurnKind(StrEnum):
    """The kinds of member turn the graph understands; transcript entries carry one of these."""

    TEXT = "text"  # typed a message
    OPTION = "option"  # picked one of a clarifying question's options
    NONE_FIT = "none_fit"  # picked "Something else" under a clarifying question
    NOT_HELPFUL = "not_helpful"  # pressed "Not helpful" under an answer
    ASK_PERSON = "ask_person"  # pressed "Talk to a person"
    THANKS = "thanks"  # pressed "Helpful": the answer worked


# The value of the "Something else" option every clarifying question ends with.
NONE_FIT_OPTION = "__other__"

# The reason a button turn hands off to a person; the graph routes these straight to escalate.
ESCALATION_REASONS: dict[TurnKind, str] = {
    TurnKind.NONE_FIT: "no_option_fit",
    TurnKind.NOT_HELPFUL: "not_helpful",
    TurnKind.ASK_PERSON: "member_requested_human",
}

_DESCRIPTIONS: dict[TurnKind, str] = {
    TurnKind.NONE_FIT: "(picked: Something else)",
    TurnKind.NOT_HELPFUL: "(pressed: Not helpful)",
    TurnKind.ASK_PERSON: "(pressed: Talk to a person)",
    TurnKind.THANKS: "(pressed: Helpful)",
}


@dataclass(frozen=True)
class TurnInput:
    """One member turn: `text` for typed turns, `option` (an article id) for a picked option."""

    kind: TurnKind = TurnKind.TEXT
    text: str = ""
    option: str = ""

    @classmethod
    def typed(cls, text: str) -> TurnInput:
        """The member typed a message."""
        return cls(TurnKind.TEXT, text=text)

    @classmethod
    def picked(cls, option: str) -> TurnInput:
        """The member picked a clarifying option (its value is an article id)."""
        return cls(TurnKind.OPTION, option=option)

    @property
    def is_typed(self) -> bool:
        """True when the member wrote something, False for a button press."""
        return self.kind is TurnKind.TEXT

    @property
    def escalation_reason(self) -> str:
        """Why this turn hands off ('' when it does not by itself)."""
        return ESCALATION_REASONS.get(self.kind, "")

    def describe(self, option_label: str = "") -> str:
        """How the turn reads in a transcript: the typed text, or what was pressed."""
        if self.is_typed:
            return self.text
        if self.kind is TurnKind.OPTION:
            return f"(picked: {option_label or 'option ' + self.option})"
        return _DESCRIPTIONS[self.kind]

    def as_state(self) -> dict[str, str]:
        """The turn as plain graph-state inputs (the checkpointer stores primitives)."""
        return {"turn_kind": self.kind.value, "text": self.text, "picked_option": self.option}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> TurnInput:
        """Read the turn back from graph state; states without a kind are typed text."""
        kind = TurnKind(state.get("turn_kind") or TurnKind.TEXT)
        return cls(kind, text=state.get("text") or "", option=state.get("picked_option") or "")


# Transcripts checkpointed before turns were typed hold button presses as these exact texts.
_LEGACY_PRESSES = {
    "[pressed Not helpful]": TurnKind.NOT_HELPFUL,
    "[pressed Talk to a person]": TurnKind.ASK_PERSON,
    "[picked Something else]": TurnKind.NONE_FIT,
}
_LEGACY_PICK = re.compile(r"\[picked option [^\]]*\]")


def entry_kind(entry: Mapping[str, Any]) -> TurnKind:
    """The kind of one transcript entry (older member entries are recognised by exact text)."""
    if entry.get("kind"):
        return TurnKind(entry["kind"])
    text = str(entry.get("text") or "")
    if entry.get("role") != "member":
        return TurnKind.TEXT
    if _LEGACY_PICK.fullmatch(text):
        return TurnKind.OPTION
    return _LEGACY_PRESSES.get(text, TurnKind.TEXT)


def member_questions(transcript: Iterable[Mapping[str, Any]]) -> list[str]:
    """What the member actually wrote, oldest first: typed member entries only, never presses."""
    return [
        str(t.get("text") or "")
        for t in transcript
        if t.get("role") == "member" and entry_kind(t) is TurnKind.TEXT and t.get("text")
    ]
