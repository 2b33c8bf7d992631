"""Agent assist: a manual staff reply after a draft is recorded as an edit or as ignoring it."""

from __future__ import annotations

import json

from bot.contracts import IncomingMessage, Member
from bot.llm import classify_staff_reply, suggest_reply


def _ticket(app, thread: str) -> int:
    msg = IncomingMessage(
        "console", "help", thread, "", "how do I reset my password? get me a human", Member(thread)
    )
    reply = app.service.handle(msg)
    assert reply.route == "escalate" and reply.ticket_id
    return reply.ticket_id


def test_edit_of_the_draft_is_recorded_once(app) -> None:
    ticket_id = _ticket(app, "assist-1")
    draft = suggest_reply(app, ticket_id)["text"]
    assert draft
    assert classify_staff_reply(app, ticket_id, draft.split("\n\n")[1] + " Cheers, Sam") == "edited"
    assert (
        classify_staff_reply(app, ticket_id, "something else entirely") is None
    )  # once per ticket
    extra = json.loads(app.desk.get(ticket_id).extra)
    assert extra["assist"]["used"] == "edited"


def test_unrelated_reply_means_the_draft_was_ignored(app) -> None:
    ticket_id = _ticket(app, "assist-2")
    assert classify_staff_reply(app, ticket_id, "hello") is None  # no draft yet
    suggest_reply(app, ticket_id)
    assert (
        classify_staff_reply(app, ticket_id, "We refunded you manually, sorry about that!")
        == "ignored"
    )
