"""Improvement-loop fixtures: the admin app (roles configured) and helpers to drive real traffic."""

from __future__ import annotations

from bot.contracts import Member
from tests.admin.conftest import (
    app,  # noqa: F401  (the real app with Slack/Discord roles)
    ask,
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
