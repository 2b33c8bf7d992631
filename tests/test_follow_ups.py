"""Follow-ups through SupportService: read with the conversation, unless a clear new topic."""

from __future__ import annotations

import itertools

import pytest

from bot.contracts import IncomingMessage, Member, Reply

_ids = itertools.count()
VAGUE = "a billing thing"  # clarified: several billing articles match it about equally


def ask(app, text: str, thread: str | None = None) -> Reply:
    """One member message; the same thread (and member) continues a conversation."""
    n = next(_ids)
    thread = thread or f"fu-alone-{n}"
    msg = IncomingMessage("console", "help", thread, f"fu-m{n}", text, Member(f"u-{thread}", "Ana"))
    return app.service.handle(msg)


def article(reply: Reply) -> int | None:
    return reply.citations[0].article_id if reply.citations else None


@pytest.mark.parametrize(
    "question", ["my hub arrived broken", "my phone app shows yesterday's tasks"]
)
def test_a_clear_new_topic_after_a_clarifying_question_is_answered_as_if_alone(
    shared_app, question: str
) -> None:
    thread = f"fu-new-{next(_ids)}"
    assert ask(shared_app, VAGUE, thread).route == "clarify"
    alone = ask(shared_app, question)
    assert alone.route == "answer", alone.reasons
    new = ask(shared_app, question, thread)
    # read with the billing question it dropped to medium confidence and was clarified (#17)
    assert new.route == "answer", new.reasons
    assert article(new) == article(alone)
    assert new.confidence == pytest.approx(alone.confidence)


def test_the_conversation_moves_to_the_new_topic(shared_app) -> None:
    thread = f"fu-moves-{next(_ids)}"
    assert ask(shared_app, VAGUE, thread).route == "clarify"
    hub = ask(shared_app, "my hub arrived broken", thread)
    assert hub.route == "answer" and "Hub" in hub.citations[0].title
    # a follow-up is now read with the Hub answer, not with the billing question
    follow = ask(shared_app, "how long does that take?", thread)
    assert follow.route == "answer", follow.reasons
    assert article(follow) == article(hub)


def test_a_new_topic_after_an_answer_is_answered_as_if_alone(shared_app) -> None:
    thread = f"fu-after-{next(_ids)}"
    first = ask(shared_app, "my parcel arrived damaged, can I claim a refund?", thread)
    assert first.route == "answer" and "Refund" in first.citations[0].title
    alone = ask(shared_app, "how do I turn on quiet hours?")
    new = ask(shared_app, "how do I turn on quiet hours?", thread)
    assert new.route == alone.route == "answer"
    assert article(new) == article(alone) != article(first)
    assert new.confidence == pytest.approx(alone.confidence)


def test_an_ambiguous_reply_to_a_clarifying_question_still_clarifies(shared_app) -> None:
    thread = f"fu-amb-{next(_ids)}"
    first = ask(shared_app, VAGUE, thread)
    assert first.route == "clarify"
    again = ask(shared_app, "the one about my card", thread)
    assert again.route == "clarify", again.reasons
    assert len(again.options) >= 2 and again.ticket_id is None
