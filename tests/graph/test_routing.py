"""Every routing rule as a table: state in, route and reason out."""

from __future__ import annotations

import pytest

from graph.routing import confidence_of, decide, too_close_to_call
from graph.state import DEFAULT_THRESHOLDS


def hit(article_id: int, score: float) -> dict:
    return {"article_id": article_id, "title": f"A{article_id}", "url": "", "score": score}


BASE = {"thresholds": dict(DEFAULT_THRESHOLDS)}
CASES = [
    # (name, state, route, first reason)
    ("empty", {"guard_flags": ["empty"]}, "clarify", "empty_message"),
    (
        "button: talk to a person",
        {"turn_kind": "ask_person", "hits": [hit(1, 0.9)], "confidence": 0.9},
        "escalate",
        "member_requested_human",
    ),
    (
        "trigger beats a perfect match",
        {"signals": {"triggers": ["legal"]}, "hits": [hit(1, 0.99)], "confidence": 0.99},
        "escalate",
        "legal",
    ),
    (
        "human requested",
        {"signals": {"triggers": ["human_requested"]}, "hits": [hit(1, 0.9)], "confidence": 0.9},
        "escalate",
        "human_requested",
    ),
    (
        "vip",
        {"signals": {"triggers": ["vip"]}, "hits": [hit(1, 0.9)], "confidence": 0.9},
        "escalate",
        "vip",
    ),
    (
        "out of scope topic is declined, no ticket",
        {
            "classification": {"out_of_scope_topic": "jokes", "confidence": 0.8},
            "hits": [hit(1, 0.9)],
            "confidence": 0.9,
        },
        "decline",
        "out_of_scope:jokes",
    ),
    (
        "out of scope topic marked escalate: true",
        {
            "classification": {
                "out_of_scope_topic": "press",
                "confidence": 0.8,
                "escalate_out_of_scope": True,
            },
            "hits": [hit(1, 0.9)],
            "confidence": 0.9,
        },
        "escalate",
        "out_of_scope",
    ),
    (
        "small talk",
        {"small_talk": "greeting", "hits": [hit(1, 0.9)], "confidence": 0.9},
        "smalltalk",
        "greeting",
    ),
    (
        "a person asked for beats small talk",
        {"small_talk": "greeting", "signals": {"triggers": ["human_requested"]}},
        "escalate",
        "human_requested",
    ),
    (
        "far from the help center: declined",
        {"domain_score": -0.2, "hits": [hit(1, 0.9)], "confidence": 0.9},
        "decline",
        "off_topic",
    ),
    (
        "near the help center: the usual rules",
        {"domain_score": 0.2, "hits": [hit(1, 0.9)], "confidence": 0.9},
        "answer",
        "confident_match",
    ),
    (
        "a reply to a clarifying question is never declined",
        {
            "domain_score": -0.2,
            "pending_question": "sync",
            "hits": [hit(1, 0.9)],
            "confidence": 0.9,
        },
        "answer",
        "confident_match",
    ),
    (
        "a follow-up read with the conversation is never declined",
        {"domain_score": -0.2, "follow_up": True, "hits": [hit(1, 0.9)], "confidence": 0.9},
        "answer",
        "confident_match",
    ),
    (
        "unknown domain score (no KB, other language): the usual rules",
        {"domain_score": None, "hits": [hit(1, 0.3)], "confidence": 0.3},
        "escalate",
        "low_confidence",
    ),
    (
        "low confidence and only just in domain: near-domain chatter, declined without a ticket",
        {"domain_score": 0.05, "hits": [hit(1, 0.3)], "confidence": 0.3},
        "decline",
        "off_topic_low_confidence",
    ),
    (
        "low confidence but clearly in domain: a gap in the knowledge base, escalated",
        {"domain_score": 0.3, "hits": [hit(1, 0.3)], "confidence": 0.3},
        "escalate",
        "low_confidence",
    ),
    (
        "low confidence, only just in domain, but the scope names an issue type: escalated",
        {
            "domain_score": 0.05,
            "classification": {"issue_type": "bug_report", "in_scope": True, "confidence": 0.8},
            "hits": [hit(1, 0.3)],
            "confidence": 0.3,
        },
        "escalate",
        "low_confidence",
    ),
    (
        "a low-confidence reply to a clarifying question is never declined",
        {"domain_score": 0.05, "pending_question": "x", "hits": [hit(1, 0.3)], "confidence": 0.3},
        "escalate",
        "low_confidence",
    ),
    (
        "weak out of scope guess is ignored",
        {
            "classification": {"out_of_scope_topic": True, "confidence": 0.3},
            "hits": [hit(1, 0.9)],
            "confidence": 0.9,
        },
        "answer",
        "confident_match",
    ),
    (
        "handoff issue type",
        {
            "classification": {
                "handoff": True,
                "issue_type": "account_deletion",
                "confidence": 0.9,
            },
            "hits": [hit(1, 0.9)],
            "confidence": 0.9,
        },
        "escalate",
        "needs_person:account_deletion",
    ),
    (
        "repeat contact",
        {
            "classification": {"repeat_contact": True, "confidence": 0.9},
            "hits": [hit(1, 0.9)],
            "confidence": 0.9,
        },
        "escalate",
        "repeat_contact",
    ),
    (
        "picked option",
        {"turn_kind": "option", "picked_option": "1", "hits": [hit(1, 0.5)], "confidence": 0.5},
        "answer",
        "member_picked_option",
    ),
    ("no hits", {"hits": [], "confidence": 0.0}, "escalate", "no_knowledge_match"),
    ("below clarify", {"hits": [hit(1, 0.30)], "confidence": 0.30}, "escalate", "low_confidence"),
    (
        "confident",
        {"hits": [hit(1, 0.80), hit(2, 0.50)], "confidence": 0.80},
        "answer",
        "confident_match",
    ),
    (
        "same article twice is not ambiguous",
        {"hits": [hit(1, 0.80), hit(1, 0.79)], "confidence": 0.80},
        "answer",
        "confident_match",
    ),
    (
        "between thresholds",
        {"hits": [hit(1, 0.55)], "confidence": 0.55},
        "clarify",
        "medium_confidence",
    ),
    (
        "too close to call",
        {"hits": [hit(1, 0.80), hit(2, 0.795)], "confidence": 0.80},
        "clarify",
        "ambiguous_candidates",
    ),
    (
        "near-duplicate articles: offer both instead of picking one",
        {"hits": [hit(1, 0.85), hit(2, 0.70)], "confidence": 1.0, "twin_articles": True},
        "clarify",
        "near_duplicate_articles",
    ),
    (
        "a twin too weak to offer does not hold back the answer",
        {"hits": [hit(1, 0.85), hit(2, 0.30)], "confidence": 1.0, "twin_articles": True},
        "answer",
        "confident_match",
    ),
    (
        "clarify limit",
        {"hits": [hit(1, 0.55)], "confidence": 0.55, "clarify_turns": 2},
        "escalate",
        "clarify_limit_reached",
    ),
    (
        "clarify limit does not block a confident answer",
        {"hits": [hit(1, 0.9)], "confidence": 0.9, "clarify_turns": 5},
        "answer",
        "confident_match",
    ),
]


@pytest.mark.parametrize(("name", "state", "route", "reason"), CASES, ids=[c[0] for c in CASES])
def test_routing_rule(name: str, state: dict, route: str, reason: str) -> None:
    decided, reasons = decide({**BASE, **state})
    assert decided == route
    assert reasons[0] == reason


def test_thresholds_come_from_state() -> None:
    state = {"hits": [hit(1, 0.70)], "confidence": 0.70}
    assert decide({**state, "thresholds": {**DEFAULT_THRESHOLDS, "answer": 0.6}})[0] == "answer"
    assert decide({**state, "thresholds": {**DEFAULT_THRESHOLDS, "answer": 0.8}})[0] == "clarify"
    assert (
        decide({**state, "thresholds": {**DEFAULT_THRESHOLDS, "answer": 0.9, "clarify": 0.75}})[0]
        == "escalate"
    )


def test_too_close_needs_a_worthy_runner_up() -> None:
    th = dict(DEFAULT_THRESHOLDS)
    assert not too_close_to_call([hit(1, 0.5), hit(2, 0.2)], th)
    assert too_close_to_call([hit(1, 0.70), hit(2, 0.69)], th)


VAGUE = [
    ("one broad word, two plausible articles", 1, [hit(1, 0.70), hit(2, 0.62)], "clarify"),
    ("short but one clear winner", 2, [hit(1, 0.95), hit(2, 0.50)], "answer"),
    ("a real sentence", 6, [hit(1, 0.62), hit(2, 0.58)], "clarify"),
    ("a real sentence with a clear lead", 6, [hit(1, 0.62), hit(2, 0.40)], "answer"),
]


@pytest.mark.parametrize(("name", "words", "hits", "route"), VAGUE, ids=[v[0] for v in VAGUE])
def test_vague_questions_and_margin_weighted_confidence(name, words, hits, route) -> None:
    th = dict(DEFAULT_THRESHOLDS)
    state = {
        "thresholds": th,
        "hits": hits,
        "confidence": confidence_of(hits, th),
        "content_words": words,
    }
    assert decide(state)[0] == route


def test_confidence_rewards_a_clear_lead_only() -> None:
    th = dict(DEFAULT_THRESHOLDS)
    assert confidence_of([], th) == 0.0
    assert confidence_of([hit(1, 0.6)], th) == 0.6
    assert confidence_of([hit(1, 0.6), hit(2, 0.59)], th) == pytest.approx(0.61)
    assert confidence_of([hit(1, 0.6), hit(2, 0.3)], th) == pytest.approx(0.9)
    assert confidence_of([hit(1, 0.9), hit(2, 0.1)], th) == 1.0


def test_context_is_preferred_only_when_it_clearly_helps() -> None:
    from graph.nodes.retrieve import looks_like_follow_up, prefer_context

    th = {**DEFAULT_THRESHOLDS, "answer": 0.7}
    last = {"article_id": 1, "question": "can I get a refund?"}
    assert looks_like_follow_up("how long does that take?")
    assert looks_like_follow_up("and github?")
    assert not looks_like_follow_up("how do I export all our projects to a spreadsheet file")
    same = [hit(1, 0.8)]
    ask = "how long does that take?"
    # a confident match on its own is a new topic
    assert not prefer_context("and github?", [hit(2, 0.9)], 0.9, same, 0.95, last, th)
    # context leads back to the article just given: take it
    assert prefer_context(ask, [hit(2, 0.3)], 0.35, same, 0.6, last, th)
    # context finds another article: only with a clear lead
    other = [hit(3, 0.5)]
    assert not prefer_context(ask, [hit(2, 0.3)], 0.45, other, 0.5, last, th)
    assert prefer_context(ask, [hit(2, 0.3)], 0.35, other, 0.6, last, th)
    # pointing back and matched alone: the conversation wins only when clearly better
    assert prefer_context(ask, [hit(2, 0.7)], 0.72, same, 0.9, last, th)
    assert not prefer_context(ask, [hit(2, 0.7)], 0.85, same, 0.9, last, th)
    # pointing at nothing and matched alone: a new topic however well the context reads
    assert not prefer_context(
        "how do I reset my password", [hit(2, 0.8)], 0.72, same, 0.99, last, th
    )


@pytest.mark.parametrize(
    ("text", "alone", "context", "new"),
    [
        ("How do I enable dark mode?", 1.0, 0.91, True),  # the #17 case: a clear new question
        ("How do I enable dark mode?", 1.0, 1.0, True),
        ("How do I enable dark mode?", 0.6, 0.95, False),  # weak alone: read with the conversation
        ("why is it called covid-19?", 0.95, 0.94, True),  # "it" points at nothing here
        (
            "how long does that take?",
            0.82,
            0.97,
            False,
        ),  # points back and context is clearly better
        ("how long does that take?", 0.45, 0.97, False),
    ],
)
def test_a_message_stands_alone_when_matched_alone_and_context_adds_nothing(
    text: str, alone: float, context: float, new: bool
) -> None:
    from graph.nodes.retrieve import stands_alone

    th = {**DEFAULT_THRESHOLDS, "answer": 0.8}
    assert stands_alone(text, alone, context, th) is new
