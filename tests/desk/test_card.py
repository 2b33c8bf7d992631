"""The escalation card is built once: same articles and history on Slack, Discord and console."""

from __future__ import annotations

import io
import json

from rich.console import Console

from bot.card import MAX_ARTICLES, card_of
from bot.console import ConsoleSession
from bot.discord.render import context_embed
from bot.policy import Actor
from bot.slack.render import render_escalation_card
from tests.desk.conftest import MEMBER, escalate, staff


def with_articles(view: dict, n: int) -> dict:
    arts = [{"title": f"Art {i}", "url": f"https://h.example/{i}", "score": 0.5} for i in range(n)]
    return {**view, "articles": arts}


def test_every_platform_lists_the_same_five_articles(staffed_app) -> None:
    app = staffed_app
    view = with_articles(app.desk_service.card_view(escalate(app)), 9)
    assert len(card_of(view).articles) == MAX_ARTICLES
    _, blocks = render_escalation_card(view)
    slack = json.dumps(blocks)
    discord_field = next(f for f in context_embed(view).fields if f.name == "Articles")
    for i in range(9):
        shown = i < MAX_ARTICLES
        assert (f"https://h.example/{i}" in slack) is shown
        assert (f"https://h.example/{i}" in discord_field.value) is shown


def test_the_card_shows_the_members_earlier_tickets_and_outcomes(staffed_app) -> None:
    app = staffed_app
    first = escalate(app)
    app.desk_service.press(staff(), first, "resolve")
    app.desk_service.rate(Actor("slack", MEMBER), first, 4)
    second = escalate(app)
    other_member = escalate(app, user="UOTHER")
    view = app.desk_service.card_view(second)
    (past,) = card_of(view).history
    assert past.ticket_id == first and past.status == "resolved" and past.rating == 4
    assert f"#{first}" in past.line and "rated 4/5" in past.line
    assert "rated 4/5" in json.dumps(render_escalation_card(view)[1])
    earlier = next(f for f in context_embed(view).fields if f.name == "Earlier tickets")
    assert "rated 4/5" in earlier.value
    assert card_of(app.desk_service.card_view(other_member)).history == ()
    out = io.StringIO()
    session = ConsoleSession(app, console=Console(file=out, width=200))
    session.show_card(second)
    assert "rated 4/5" in out.getvalue()
