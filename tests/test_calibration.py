"""Calibration picks thresholds from labelled outcomes: offline eval rows and real history."""

from __future__ import annotations

import json

from sqlmodel import Session

from bot.calibration import calibrate_from_history
from bot.evaluation.decisions import Outcome, pick_thresholds, replay, score, sweep
from bot.models import Decision, Feedback


def outcome(s1: float, s2: float, right: bool, in_scope: bool = True) -> Outcome:
    hits = [
        {"article_id": 1, "title": "A", "url": "", "score": s1, "external_id": "a"},
        {"article_id": 2, "title": "B", "url": "", "score": s2, "external_id": "b"},
    ]
    gold = frozenset({"a" if right else "b"}) if in_scope else frozenset()
    return Outcome("q", gold, "answer", "", hits, {}, {}, 1.0, 8)


def test_pick_thresholds_respects_the_wrong_answer_target() -> None:
    outcomes = (
        [outcome(0.9, 0.3, True)] * 60
        + [outcome(0.66, 0.60, False)] * 20
        + [outcome(0.5, 0.2, False, in_scope=False)] * 20
    )
    rows = sweep(outcomes)
    best = pick_thresholds(rows, target_wrong=0.02)
    assert best is not None
    assert best["answered_wrong_rate"] <= 0.02
    assert best["answered_correct"] == 60
    routes = replay(
        outcomes,
        {
            "answer": best["answer"],
            "clarify": best["clarify"],
            "margin": 0.02,
            "margin_weight": 1.0,
            "max_clarify_turns": 2,
        },
    )
    assert score(outcomes, routes)["answered_correct"] == 60
    loose = replay(
        outcomes,
        {
            "answer": 0.3,
            "clarify": 0.2,
            "margin": 0.0,
            "margin_weight": 1.0,
            "max_clarify_turns": 2,
        },
    )
    assert score(outcomes, loose)["answered_wrong"] > 0


def test_off_topic_tickets_the_member_asked_for_are_counted_apart() -> None:
    asked = outcome(0.3, 0.2, False, in_scope=False)
    asked.signals = {"triggers": ["human_requested"]}
    unasked = outcome(0.3, 0.2, False, in_scope=False)
    result = score([asked, unasked], ["escalate", "escalate"])
    assert result["oos_ticketed"] == 2 and result["oos_ticketed_unasked"] == 1
    assert result["oos_ticket_unasked_rate"] == 0.5


def test_calibrate_from_history_uses_member_feedback(app) -> None:
    with Session(app.engine) as s:
        for i in range(40):
            good = i % 4 != 0  # low-confidence answers were the unhelpful ones
            conf = 0.9 if good else 0.66
            d = Decision(
                conversation_id=1,
                route="answer",
                confidence=conf,
                reasons=json.dumps(["confident_match"]),
            )
            s.add(d)
            s.flush()
            s.add(
                Feedback(
                    conversation_id=1, decision_id=d.id, kind="helpful" if good else "not_helpful"
                )
            )
        s.commit()
    result = calibrate_from_history(app, target_wrong=0.02)
    assert result["labelled"] == 40
    assert 0.66 < result["picked"]["answer"] <= 0.9
    assert result["picked"]["answered_wrong_rate"] == 0


def test_calibrate_from_history_says_when_there_is_too_little_data(app) -> None:
    result = calibrate_from_history(app)
    assert result["picked"] is None and "at least 20" in result["message"]


def test_clarifications_count_when_a_right_article_is_among_the_options() -> None:
    runner_up_right = outcome(0.60, 0.58, right=False)  # gold "b" is offered second
    too_weak = outcome(0.60, 0.20, right=False)  # "b" falls under the options' floor
    out_of_scope = outcome(0.60, 0.58, right=False, in_scope=False)
    outcomes = [runner_up_right, too_weak, out_of_scope]
    result = score(outcomes, ["clarify"] * 3, {"clarify": 0.45})
    assert result["clarified"] == 3
    assert result["clarified_right_offered"] == 1
    assert result["clarified_right_offered_rate"] == round(1 / 3, 4)
    assert score(outcomes, ["escalate"] * 3)["clarified_right_offered"] == 0
