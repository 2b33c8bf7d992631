"""The LLM sentiment card travels to staff on both platforms' context cards."""

from __future__ import annotations

import json

from bot.desk import sentiment_card_text, ticket_view
from bot.discord.render import context_embed
from bot.models import Ticket
from bot.slack.render import render_escalation_card

CARD = {
    "primary_emotion": "anger",
    "severity_1_10": 8,
    "key_concerns": ["double charge", "no reply for a week"],
    "relationship_risk": "high",
    "recommended_strategy": "apologise, refund first, then explain",
    "source": "llm",
}


def view(extra: dict) -> dict:
    ticket = Ticket(
        id=7, conversation_id=1, platform="slack", issue_type="billing", extra=json.dumps(extra)
    )
    return ticket_view(ticket)


def test_card_text_lists_emotion_severity_risk_concerns_strategy() -> None:
    text = sentiment_card_text(view({"analysis": CARD}))
    assert "anger · severity 8/10 · relationship risk high" in text
    assert "double charge; no reply for a week" in text and "refund first" in text
    assert sentiment_card_text(view({})) == ""


def test_both_platform_cards_show_it_only_when_present() -> None:
    _, blocks = render_escalation_card(view({"analysis": CARD}))
    assert any("Sentiment card" in json.dumps(b) for b in blocks)
    _, plain = render_escalation_card(view({}))
    assert not any("Sentiment card" in json.dumps(b) for b in plain)
    embed = context_embed(view({"analysis": CARD}))
    assert [f.value for f in embed.fields if f.name == "Sentiment card"][0].startswith("anger")
    assert not [f for f in context_embed(view({})).fields if f.name == "Sentiment card"]
