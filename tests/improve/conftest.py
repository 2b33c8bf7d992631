"""Improvement-loop fixtures: the admin app (roles configured) and helpers to drive real traffic."""

from __future__ import annotations

from admin_commands import run_command
from bot.contracts import Member
from tests.admin.conftest import (
    ADMIN,
    app,  # noqa: F401  (the real app with Slack/Discord roles)
    ask,
)

CRYPTO = [
    "can I pay my invoice with bitcoin?",
    "do you accept crypto payments like bitcoin or ethereum?",
    "can I pay for my plan with bitcoin?",
]
STAFF_ANSWER = (
    "Hi there! We don't accept bitcoin or any other cryptocurrency. "
    "You can pay by credit card, or by bank transfer on annual plans. "
    "Thanks for asking!"
)


def conv_key(app, conversation_id: int) -> str:  # noqa: F811
    """The key of a conversation, for button presses."""
    return app.service.conversation(conversation_id).key


def not_helpful(app, reply, user: str) -> None:  # noqa: F811
    """The member presses Not helpful on an answer (the real button path)."""
    app.service.handle_action(conv_key(app, reply.conversation_id), "not_helpful", "",
                              Member(user), "slack")  # fmt: skip


def escalate_with_staff_answer(app, question: str, user: str, staff_text: str):  # noqa: F811
    """A question the bot escalates, a staff reply relayed to the member, the ticket resolved."""
    reply = ask(app, question, user=user)
    assert reply.route == "escalate" and reply.ticket_id, reply
    app.desk.staff_message(reply.ticket_id, "USTAFF", "Sam", staff_text)
    app.desk.resolve(reply.ticket_id, "USTAFF")
    return reply


def crypto_gap(app) -> list:  # noqa: F811
    """Three members ask about crypto, get an answer that does not help, and staff answer."""
    # the scenario needs the wrong article answered: pin the thresholds, not the calibration's
    assert run_command(app, ADMIN, "threshold set answer 0.5 clarify 0.3").ok
    replies = []
    for i, question in enumerate(CRYPTO):
        user = f"UCRYPTO{i}"
        reply = ask(app, question, user=user)
        assert reply.route == "answer", (question, reply.route)
        not_helpful(app, reply, user)
        ticket = app.desk.open_ticket_for(reply.conversation_id)
        if ticket is None:  # not escalated by the press: the member asks for a person
            key = conv_key(app, reply.conversation_id)
            app.service.handle_action(key, "human", "", Member(user), "slack")
            ticket = app.desk.open_ticket_for(reply.conversation_id)
        assert ticket is not None
        app.desk.staff_message(ticket.id, "USTAFF", "Sam", STAFF_ANSWER)
        app.desk.resolve(ticket.id, "USTAFF")
        replies.append(reply)
    return replies
