"""The label ceiling: what a perfect system can score when identical questions disagree."""

from __future__ import annotations

import pytest

from bot.evaluation import decisions as d
from bot.evaluation.ceiling import decisions_ceiling, group_by_text, retrieval_ceiling

A, B, AB, NONE = frozenset("a"), frozenset("b"), frozenset("ab"), frozenset()


def test_consistent_labels_allow_a_perfect_score():
    rows = [("reset password", A), ("refund", B), ("Refund ", B)]
    assert retrieval_ceiling(rows) == {"mrr": 1.0, "hit_at_1": 1.0, "distinct_texts": 2}
    assert decisions_ceiling(rows, 0.0)["answered_correct_rate"] == 1.0


def test_conflicting_copies_cap_the_ranker():
    rows = [("masks?", A), ("Masks?", A), ("masks?", B), ("pets", AB)]
    assert len(group_by_text(rows)) == 2
    ceiling = retrieval_ceiling(rows)
    assert ceiling["hit_at_1"] == pytest.approx(0.75)  # one copy of "masks?" must lose
    assert ceiling["mrr"] == pytest.approx((1 + 1 + 0.5 + 1) / 4)


def test_decisions_ceiling_spends_the_wrong_budget_where_it_buys_most():
    rows = [("x", A)] * 3 + [("x", B)] + [("y", A)] * 2 + [("oos", NONE)] * 4
    # 10 rows; "y" is free (2 right), "x" costs 1 wrong for 3 right; out-of-scope never answered
    assert decisions_ceiling(rows, 0.0)["answered_correct_rate"] == pytest.approx(0.2)
    assert decisions_ceiling(rows, 0.1)["answered_correct_rate"] == pytest.approx(0.5)
    assert decisions_ceiling([], 0.02)["answered_correct_rate"] == 0.0


def test_covidfaq_target_is_beyond_the_ceiling(datasets):
    """Documents why #7's decisions target cannot be met on the full set by any system."""
    rows = d.load_labelled(
        datasets / "covidfaq" / "queries.jsonl", datasets / "clinc150" / "val.jsonl"
    )
    assert decisions_ceiling(rows, 0.02)["answered_correct_rate"] < 0.60
    retrieval = retrieval_ceiling(rows)
    assert retrieval["hit_at_1"] < 0.80 and retrieval["mrr"] < 0.90
