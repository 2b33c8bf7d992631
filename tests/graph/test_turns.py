"""TurnInput: the typed member turn, its state form, and transcript kinds (old ones included)."""

from __future__ import annotations

import pytest

from graph.turns import TurnInput, TurnKind, entry_kind, member_questions


@pytest.mark.parametrize("turn", [TurnInput.typed("hi there"), TurnInput.picked("7")])
def test_turn_round_trips_through_graph_state(turn: TurnInput) -> None:
    assert TurnInput.from_state(turn.as_state()) == turn


def test_a_state_without_a_kind_is_typed_text() -> None:
    assert TurnInput.from_state({"text": "hello"}) == TurnInput.typed("hello")


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        (TurnKind.TEXT, ""),
        (TurnKind.OPTION, ""),
        (TurnKind.THANKS, ""),
        (TurnKind.NONE_FIT, "no_option_fit"),
        (TurnKind.NOT_HELPFUL, "not_helpful"),
        (TurnKind.ASK_PERSON, "member_requested_human"),
    ],
)
def test_only_handoff_buttons_carry_an_escalation_reason(kind: TurnKind, reason: str) -> None:
    assert TurnInput(kind).escalation_reason == reason


def test_member_questions_skip_presses_old_and_new() -> None:
    transcript = [
        {"role": "member", "text": "billing question"},  # checkpointed before kinds existed
        {"role": "bot", "text": "Which of these?", "route": "clarify"},
        {"role": "member", "text": "[picked option 12]"},
        {"role": "member", "text": "[pressed Not helpful]"},
        {"role": "member", "text": "[picked Something else]"},
        {"role": "member", "kind": "text", "text": "I was charged twice"},
        {"role": "member", "kind": "not_helpful", "text": "(pressed: Not helpful)"},
        {"role": "member", "kind": "text", "text": "[pressed Not helpful] still broken"},
    ]
    assert member_questions(transcript) == [
        "billing question",
        "I was charged twice",
        "[pressed Not helpful] still broken",
    ]
    assert [entry_kind(t) for t in transcript[2:5]] == [
        TurnKind.OPTION,
        TurnKind.NOT_HELPFUL,
        TurnKind.NONE_FIT,
    ]
