"""`threshold ...`: validated changes that steer the very next decision, and replay previews."""

from __future__ import annotations

import pytest

from admin_commands import run_command
from bot.calibration import recent_decisions, replay_decisions, replay_route
from tests.admin.conftest import ADMIN, STAFF, ask

PLAN = "can I add more seats to my plan"  # sample: medium confidence (~0.52) → clarify at defaults
PRICE = "how much is the team plan per month"  # sample: ~0.86 → answer at defaults, not at 0.95
PASSWORD = "How do I reset my password?"  # sample: ~0.86 → answer


def test_threshold_set_changes_the_next_decision(app) -> None:
    before = ask(app, PLAN)
    default = app.settings.thresholds()["answer"]  # self-calibrated at import
    assert before.route == "clarify" and 0.5 < before.confidence < default
    result = run_command(app, ADMIN, "threshold set answer 0.5 clarify 0.3")
    assert result.ok, result.text
    assert dict(result.fields)["answer"] == f"{default:.2f} → 0.50"
    after = ask(app, PLAN)
    assert after.route == "answer"
    assert app.settings.thresholds()["clarify"] == 0.3


def test_per_channel_override_only_affects_that_channel(app) -> None:
    result = run_command(app, ADMIN, "threshold set answer 0.95 <#C0STRICT|strict-help>")
    assert result.ok, result.text
    assert app.settings.get("channel_thresholds") == {"C0STRICT": {"answer": 0.95}}
    assert ask(app, PRICE, channel="C0STRICT").route == "clarify"
    assert ask(app, PRICE).route == "answer"
    shown = run_command(app, STAFF, "threshold show")
    assert ["#C0STRICT", "0.95", "0.45", "0.02"] in shown.table
    # The channel's effective values are validated too: clarify may not exceed 0.95 there.
    assert not run_command(app, ADMIN, "threshold set clarify 0.97 <#C0STRICT>").ok
    reset = run_command(app, ADMIN, "threshold reset <#C0STRICT>")
    assert reset.ok and app.settings.get("channel_thresholds") == {}
    assert ask(app, PRICE, channel="C0STRICT").route == "answer"


def test_discord_channel_mentions_and_percentages(app) -> None:
    from tests.admin.conftest import DISCORD_OWNER

    result = run_command(app, DISCORD_OWNER, "threshold set answer 80% <#123456789012345678>")
    assert result.ok, result.text
    assert app.settings.thresholds("123456789012345678")["answer"] == 0.8


def test_preview_counts_match_replay_and_change_nothing(app) -> None:
    replies = [
        ask(app, t) for t in (PASSWORD, PLAN, "my thing is broken", "I want to talk to a human")
    ]
    routes = [r.route for r in replies]
    assert routes == ["answer", "clarify", "escalate", "escalate"]
    assert replies[2].reasons[0] == "low_confidence" and 0.2 < replies[2].confidence < 0.45
    assert replies[3].reasons[0] == "human_requested"
    before = app.settings.get("thresholds")

    result = run_command(app, STAFF, "threshold preview answer 0.5 clarify 0.2")
    assert result.ok, result.text
    table = {row[0]: row[1:] for row in result.table[1:]}
    # Route: recorded, current, proposed, change
    assert table["answer"] == ["1", "1", "2", "+1"]  # the plan question would be answered
    assert table["clarify"] == ["1", "1", "1", "+0"]  # ...and "broken" clarified instead
    assert table["escalate"] == ["2", "2", "1", "-1"]  # the human request stays escalated
    assert dict(result.fields) == {"Decisions": "4", "Would change": "2"}
    assert "1 are fixed" in result.text
    assert app.settings.get("thresholds") == before

    decisions = recent_decisions(app.engine)
    counts = replay_decisions(
        decisions, {**app.settings.thresholds(), "answer": 0.5, "clarify": 0.2}
    )
    assert {k: counts[k] for k in ("answer", "clarify", "escalate")} == {
        "answer": 2,
        "clarify": 1,
        "escalate": 1,
    }


def D(route: str, confidence: float, *reasons: str, channel: str = "") -> dict:
    return {
        "route": route,
        "confidence": confidence,
        "reasons": list(reasons),
        "channel_id": channel,
    }


@pytest.mark.parametrize(
    "decision, answer, clarify, expected",
    [
        (D("answer", 0.80, "confident_match"), 0.85, 0.45, "clarify"),
        (D("answer", 0.80, "confident_match"), 0.70, 0.45, "answer"),
        (D("clarify", 0.50, "medium_confidence"), 0.45, 0.30, "answer"),
        (D("clarify", 0.50, "medium_confidence"), 0.70, 0.55, "escalate"),
        (D("escalate", 0.30, "low_confidence"), 0.62, 0.25, "clarify"),
        (D("escalate", 0.30, "low_confidence"), 0.28, 0.25, "answer"),
        (D("clarify", 0.90, "ambiguous_candidates"), 0.62, 0.45, "clarify"),
        (D("clarify", 0.40, "ambiguous_candidates"), 0.62, 0.45, "escalate"),
        (D("escalate", 0.50, "clarify_limit_reached"), 0.62, 0.45, "escalate"),
        (D("escalate", 0.50, "clarify_limit_reached"), 0.45, 0.30, "answer"),
        (D("escalate", 0.95, "legal"), 0.10, 0.05, "escalate"),  # hard trigger
        (D("escalate", 0.95, "human_requested"), 0.10, 0.05, "escalate"),
        (D("escalate", 0.90, "out_of_scope"), 0.10, 0.05, "escalate"),
        (D("escalate", 0.90, "confident_match", "answer_not_grounded"), 0.1, 0.05, "escalate"),
        (D("answer", 0.30, "member_picked_option"), 0.9, 0.8, "answer"),
        (D("clarify", 0.0, "empty_message"), 0.9, 0.8, "clarify"),
        (
            {"route": "escalate", "confidence": 0.9, "reasons": '["low_confidence"]'},
            0.5,
            0.4,
            "answer",
        ),
    ],
)
def test_replay_route_table(decision, answer, clarify, expected) -> None:
    assert replay_route(decision, {"answer": answer, "clarify": clarify}) == expected


def test_replay_decisions_respects_channel_overrides() -> None:
    rows = [
        D("answer", 0.7, "confident_match", channel="A"),
        D("answer", 0.7, "confident_match", channel="B"),
    ]
    counts = replay_decisions(rows, {"answer": 0.6, "clarify": 0.4}, {"B": {"answer": 0.8}})
    assert counts == {
        "answer": 1,
        "clarify": 1,
        "escalate": 0,
        "total": 2,
        "fixed": 0,
        "changed": 1,
    }


def test_threshold_show_says_what_self_calibration_picked(app) -> None:
    shown = run_command(app, STAFF, "threshold show")
    assert shown.ok
    cal = app.settings.get("calibration")
    assert f"answer ≥ {cal['answer']:.2f}" in shown.text
    assert "Self-calibrated on 20 articles" in shown.text and "Expected:" in shown.text
    # an admin's value wins over the calibrated one; reset goes back to the calibrated one
    assert run_command(app, ADMIN, "threshold set clarify 0.4").ok
    assert app.settings.thresholds()["answer"] == cal["answer"]
    assert run_command(app, ADMIN, "threshold set answer 0.8").ok
    assert app.settings.thresholds()["answer"] == 0.8
    assert run_command(app, ADMIN, "threshold reset").ok
    assert app.settings.thresholds()["answer"] == cal["answer"]
