"""kb hygiene catches close article pairs that disagree on amounts of the same unit."""

from __future__ import annotations

from knowledge.hygiene import conflicting_amounts, find_contradictions


def test_conflicting_amounts_compare_numbers_of_the_same_unit() -> None:
    a = "Refunds within 7 days of purchase. A processing fee of 15 EUR is kept. Call 555 0100."
    b = "Refunds within 30 days of purchase; we keep a €20 processing fee. Call 555 0100."
    assert conflicting_amounts(a, b) == ["7 vs 30 day", "15 vs 20 eur"]
    assert conflicting_amounts("Open 9 to 5 on 2 floors.", "Wait 10 minutes.") == []


def test_a_close_pair_under_the_title_gate_with_conflicting_amounts_is_reported(kb) -> None:
    a = kb.add_article(
        "Refunds for annual plans",
        "Annual plans can be refunded within 7 days of purchase. A processing fee of 15 EUR is kept.",
    )
    b = kb.add_article(
        "Getting your money back on a yearly plan",
        "Yearly plans are refundable within 30 days of purchase. We keep a 20 EUR processing fee.",
    )
    kb.add_article(  # close in topic, same units, but no conflicting amounts
        "Refund fees on monthly plans",
        "Monthly plans are refunded within 7 days of purchase. A processing fee of 15 EUR is kept.",
    )
    kb.add_article("Do you ship to Canada?", "Yes, we ship to Canada in 5 days for 20 EUR.")
    found = find_contradictions(kb)
    assert [(x.a, x.b) for x in found] == [(a.id, b.id)]
    assert "7 vs 30 day" in found[0].reason and "15 vs 20 eur" in found[0].reason
