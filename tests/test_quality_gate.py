"""Regression gate: decisions on the sample's labelled questions must not get worse."""

from __future__ import annotations

from bot.evaluation.sample_eval import evaluate_sample

# Measured 48/60 with 1 wrong answer (a lost-2FA-device question answered from the 2FA article
# instead of escalating); off-topic rows expect `decline` (no ticket). The floor sits a little under.
MIN_MATCHED = 44
MAX_WRONG = 2


def test_sample_decisions_stay_above_the_floor(shared_app) -> None:
    result = evaluate_sample(shared_app)
    assert result["n"] == 60
    assert result["answered_wrong"] <= MAX_WRONG, result["misses"]
    assert result["matched"] >= MIN_MATCHED, result["misses"]
