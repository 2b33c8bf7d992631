"""Regression gate: decisions on the sample's labelled questions must not get worse."""

from __future__ import annotations

from bot.evaluation.sample_eval import evaluate_sample

# Measured 45/60 with 1 wrong answer (a lost-2FA-device question answered from the 2FA article
# instead of escalating); off-topic rows expect `decline` (no ticket). The floor sits a little under.
MIN_MATCHED = 43
MAX_WRONG = 2


def test_sample_decisions_stay_above_the_floor(shared_app) -> None:
    result = evaluate_sample(shared_app)
    assert result["n"] == 60
    assert result["answered_wrong"] <= MAX_WRONG, result["misses"]
    assert result["matched"] >= MIN_MATCHED, result["misses"]


# The defaults a fresh install picks for itself (self-calibrated at import, nothing set by hand):
# measured answer 0.80 with the query adapter (0.75 without) / domain margin +0.03, 22 of the 35
# answerable questions answered from the right article (23 without the adapter), no off-topic
# question answered. Floors sit a little under.
MIN_IN_SCOPE_RIGHT = 21
MAX_ANSWER_THRESHOLD = 0.85


def test_self_calibrated_defaults_keep_answering_the_sample(shared_app) -> None:
    from bot.app import SAMPLE_DIR
    from bot.evaluation.decisions import load_jsonl

    picked = shared_app.settings.get("calibration")
    assert picked["answer"] <= MAX_ANSWER_THRESHOLD, picked  # not so cautious it never answers
    assert picked["expected_wrong_rate"] <= picked["target_wrong_rate"], picked
    rows = load_jsonl(SAMPLE_DIR / "eval.jsonl")
    result = evaluate_sample(shared_app)
    missed = [m for m in result["misses"] if m["expect"] == "answer"]
    answerable = sum(r["expect"] == "answer" for r in rows)
    assert answerable - len(missed) >= MIN_IN_SCOPE_RIGHT, missed
    off_topic_answered = [
        m for m in result["misses"] if m["expect"] == "decline" and m["got"] == "answer"
    ]
    assert not off_topic_answered, off_topic_answered


# The bundled small-talk set (50 lines: greetings, thanks after an answer, goodbyes, off-topic)
# on the sample help center: measured 50/50 routed as intended, 0 tickets, every thanks after
# an answer recorded as a confirmed resolution.
MIN_SMALLTALK_RIGHT = 0.94
MAX_SMALLTALK_TICKETS = 0.0


def test_small_talk_never_reaches_staff_on_the_sample(shared_app) -> None:
    import itertools

    from bot.contracts import IncomingMessage, Member
    from bot.evaluation.decisions import DATA_DIR, load_jsonl

    rows = load_jsonl(DATA_DIR / "smalltalk.jsonl")
    ids = itertools.count()
    right = tickets = confirmed = thanked = 0
    misses = []
    for row in rows:
        thread = f"gate-st-{next(ids)}"

        def say(text: str, thread: str = thread):
            msg = IncomingMessage(
                "eval", "gate", thread, f"{thread}-{next(ids)}", text, Member(thread, "g")
            )
            return shared_app.service.handle(msg)

        if row["kind"] == "thanks":
            thanked += say("how do I reset my password").route == "answer"
        reply = say(row["text"])
        want = "decline" if row["kind"] == "off_topic" else "smalltalk"
        right += reply.route == want
        tickets += reply.ticket_id is not None
        confirmed += "confirmed_resolution" in reply.reasons
        if reply.route != want:
            misses.append((row["text"], reply.route, reply.reasons))
    assert right / len(rows) >= MIN_SMALLTALK_RIGHT, misses
    assert tickets / len(rows) <= MAX_SMALLTALK_TICKETS, misses
    assert confirmed == thanked == sum(r["kind"] == "thanks" for r in rows)
