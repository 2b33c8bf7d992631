"""The member's language: detected, fixed phrases sent in it, shown on the card and in stats."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from admin_commands import Caller, run_command
from bot.contracts import IncomingMessage, Member
from bot.stats import compute_stats
from graph.nodes.clarify import default_question
from graph.nodes.respond import respond
from graph.phrases import PHRASES

_ids = itertools.count()
CASES = [  # language, greeting, a question the English help center cannot answer, its name
    ("es", "¡Hola!", "Mi tarjeta fue rechazada, ¿qué hago?", "Spanish"),
    ("de", "Hallo!", "Meine Karte wurde abgelehnt, was soll ich tun?", "German"),
    ("fr", "Bonjour !", "Ma carte a été refusée, que dois-je faire ?", "French"),
    ("pt", "Olá!", "Meu cartão foi recusado, o que eu faço?", "Portuguese"),
]


def ask(app, text: str):
    n = next(_ids)
    msg = IncomingMessage(
        "console", "lang", f"lang-{n}", f"lang-m{n}", text, Member(f"lu{n}", "Ana")
    )
    return app.service.handle(msg)


def opening(lang: str, key: str) -> str:
    """The fixed part of a phrase, before its first placeholder."""
    return PHRASES[lang][key].split("{")[0]


@pytest.mark.parametrize(("lang", "hello", "question", "name"), CASES)
def test_fixed_phrases_come_in_the_members_language_and_the_card_says_which(
    app, lang: str, hello: str, question: str, name: str
) -> None:
    greeting = ask(app, hello)
    assert greeting.route == "smalltalk" and greeting.text.startswith(opening(lang, "greeting"))
    reply = ask(app, question)
    assert reply.route == "escalate", reply.reasons
    assert f"language:{lang}" in reply.reasons
    assert reply.text.startswith(opening(lang, "escalation_notice"))
    assert reply.escalation["language_name"] == name and reply.ticket_id
    stats = compute_stats(app.engine, days=1)
    assert stats["languages"].get(lang) == 2
    shown = run_command(app, Caller("console", "cli"), "stats")
    assert dict(shown.fields)["Languages"] == f"{lang} 2"


@pytest.mark.parametrize("lang", ["en", "es", "de", "fr", "pt"])
def test_decline_and_clarifying_prompt_are_in_the_members_language(lang: str) -> None:
    options = [{"label": "Refunds", "value": "1"}, {"label": "Invoices", "value": "2"}]
    assert default_question(options, lang).startswith(opening(lang, "clarify"))
    runtime = SimpleNamespace(context=SimpleNamespace(help_topics=["billing"]))
    declined = respond({"route": "decline", "language": lang}, runtime)  # type: ignore[arg-type]
    assert declined["reply"].startswith(opening(lang, "decline"))
    assert opening(lang, "decline_person") in declined["reply"]
