"""Small talk and off-topic through SupportService: short replies, no staff tickets, thanks = solved."""

from __future__ import annotations

import itertools

import pytest
from sqlmodel import Session, select

from bot.contracts import IncomingMessage, Member
from bot.models import Conversation, Feedback, Ticket
from bot.stats import compute_stats
from graph.language import detect_language
from graph.smalltalk import small_talk_kind

_ids = itertools.count()


def ask(app, text: str, thread: str | None = None, user: str | None = None):
    n = next(_ids)
    msg = IncomingMessage(
        "console", "help", thread or f"st-{n}", f"st-m{n}", text, Member(user or f"st-u{n}", "Ana")
    )
    return app.service.handle(msg)


def tickets(app) -> int:
    with Session(app.engine) as s:
        return len(list(s.exec(select(Ticket))))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hi there", "greeting"),
        ("Good morning team!", "greeting"),
        ("thanks, that worked!", "thanks"),
        ("Thank you so much", "thanks"),
        ("bye!", "goodbye"),
        ("¡Hola! ¿qué tal?", "greeting"),
        ("Danke schön", "thanks"),
        ("hi, how do I reset my password?", ""),
        ("thanks but it still doesn't work", ""),
        ("tell me a joke", ""),
    ],
)
def test_small_talk_is_recognised_only_when_it_is_all_there_is(text: str, kind: str) -> None:
    assert small_talk_kind(text) == kind


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("how do I reset my password?", "en"),
        ("¿Cómo cambio mi contraseña?", "es"),
        ("Wie kann ich mein Passwort ändern?", "de"),
        ("Comment changer mon mot de passe ?", "fr"),
        ("Como faço para mudar minha senha?", "pt"),
        ("la la land movie tickets", "en"),
    ],
)
def test_language_is_guessed_offline(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_greeting_gets_a_greeting_and_what_the_bot_helps_with(shared_app) -> None:
    before = tickets(shared_app)
    reply = ask(shared_app, "hi there")
    assert reply.route == "smalltalk" and reply.reasons == ["greeting"]
    assert reply.text.startswith("Hi!") and "billing" in reply.text
    assert reply.ticket_id is None and tickets(shared_app) == before


@pytest.mark.parametrize(
    "text",
    [
        "tell me a joke",
        "what's the weather in Paris tomorrow?",
        "who won the match last night?",
        "can you recommend a pizza place?",
    ],
)
def test_off_topic_is_declined_politely_with_a_way_to_a_person(shared_app, text: str) -> None:
    before = tickets(shared_app)
    reply = ask(shared_app, text)
    assert reply.route == "decline", reply.reasons
    assert "outside what I can help with" in reply.text and "billing" in reply.text
    assert [b.action for b in reply.buttons] == ["human"]
    assert reply.ticket_id is None and tickets(shared_app) == before


def test_near_domain_chatter_the_kb_cannot_answer_is_declined_not_ticketed(shared_app) -> None:
    """Low confidence and only just in domain (a CLINC-style near-domain line): a decline with
    the Talk-to-a-person button, where it used to become a staff ticket."""
    before = tickets(shared_app)
    reply = ask(shared_app, "how much pto have i used")
    assert reply.route == "decline" and reply.reasons == ["off_topic_low_confidence"]
    assert "outside what I can help with" in reply.text
    assert [b.action for b in reply.buttons] == ["human"]
    assert reply.ticket_id is None and tickets(shared_app) == before


def test_a_low_confidence_question_of_a_known_issue_type_still_reaches_staff(shared_app) -> None:
    """No article fits, but the scope's classifier knows the issue type: a ticket, not a decline."""
    reply = ask(shared_app, "the dark mode toggle disappeared from settings")
    assert reply.route == "escalate" and reply.reasons[0] == "low_confidence"
    assert reply.ticket_id


def test_talk_to_a_person_after_a_decline_still_reaches_staff(shared_app) -> None:
    reply = ask(shared_app, "tell me a joke", thread="st-decline-human", user="st-dh")
    assert reply.route == "decline"
    pressed = shared_app.service.handle_action(
        "console:help:st-decline-human", "human", "", Member("st-dh", "Ana"), "console"
    )
    assert pressed.route == "escalate" and pressed.ticket_id


def test_thanks_after_an_answer_is_a_confirmed_resolution(app) -> None:
    answer = ask(app, "how do I reset my password", thread="st-thx", user="st-thx")
    assert answer.route == "answer"
    thanks = ask(app, "thanks, that worked!", thread="st-thx", user="st-thx")
    assert thanks.route == "smalltalk" and "confirmed_resolution" in thanks.reasons
    assert thanks.ticket_id is None and "solved" in thanks.text
    with Session(app.engine) as s:
        conv = s.get(Conversation, thanks.conversation_id)
        assert conv.status == "resolved"
        kinds = [f.kind for f in s.exec(select(Feedback))]
    assert kinds == ["confirmed"]
    stats = compute_stats(app.engine, days=1)
    assert stats["resolution"]["confirmed"] == 1 and stats["resolution"]["assumed"] == 0
    # a thanks with no answer before it is just polite
    plain = ask(app, "thanks!")
    assert plain.route == "smalltalk" and "confirmed_resolution" not in plain.reasons


def test_out_of_scope_marked_escalate_true_still_opens_a_ticket(app, tmp_path) -> None:
    scope = tmp_path / "scope.yaml"
    scope.write_text(
        "issue_types:\n"
        "  - name: password_reset\n    examples: [forgot my password, reset my password]\n"
        "  - name: billing\n    examples: [update my card, payment failed]\n"
        "out_of_scope:\n"
        "  - name: press\n    escalate: true\n"
        "    examples: [I'm a journalist writing a story, press enquiry about lumen,"
        " can I interview your CEO, media request for a comment]\n",
        encoding="utf-8",
    )
    app.scope.import_file(scope)
    reply = ask(app, "I'm a journalist, can I interview your CEO for a story?")
    assert reply.route == "escalate" and reply.reasons[0] == "out_of_scope"
    assert reply.ticket_id


def test_other_languages_get_fixed_phrases_and_the_card_says_why(shared_app) -> None:
    hola = ask(shared_app, "¡Hola!")
    assert hola.route == "smalltalk" and hola.text.startswith("¡Hola!")
    reply = ask(shared_app, "¿Dónde puedo descargar la factura de este mes en formato PDF?")
    assert reply.route in ("escalate", "clarify", "answer")  # never declined for its language
    if reply.route == "escalate":
        assert "language:es" in reply.reasons and "Una persona" in reply.text
        assert shared_app.desk.get(reply.ticket_id) is not None
        assert reply.escalation["language_name"] == "Spanish"
    stats = compute_stats(shared_app.engine, days=1)
    assert stats["languages"].get("es", 0) >= 2


def test_follow_up_is_read_with_the_article_just_given(shared_app) -> None:
    first = ask(shared_app, "my parcel arrived damaged, can I claim a refund?", "st-fu", "st-fu")
    assert first.route == "answer" and "Refund" in first.citations[0].title
    alone = ask(shared_app, "how long does that take?")  # no history: nothing to go on
    assert alone.route != "answer"
    follow = ask(shared_app, "how long does that take?", "st-fu", "st-fu")
    assert follow.route == "answer", follow.reasons
    assert follow.citations[0].article_id == first.citations[0].article_id


def test_a_new_topic_in_the_same_thread_is_treated_as_new(shared_app) -> None:
    first = ask(shared_app, "how do I reset my password", "st-new", "st-new")
    assert first.route == "answer"
    other = ask(shared_app, "how do I connect slack to lumen?", "st-new", "st-new")
    assert other.route == "answer" and "Slack" in other.citations[0].title
    short = ask(shared_app, "and github?", "st-new", "st-new")
    assert short.route == "answer" and "GitHub" in short.citations[0].title
