"""Repeat contact escalates only a member back about something left unresolved or disputed."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from bot.contracts import IncomingMessage, Member
from bot.desk import ticket_view
from bot.models import Conversation
from knowledge.models import utcnow

QUESTION = "how do I reset my password"


def say(app, text: str, thread: str, user: str = "ana"):
    msg = IncomingMessage("console", "help", thread, "", text, Member(user, "Ana"))
    return app.service.handle(msg)


def test_answered_and_quiet_questions_never_count_as_repeats(app) -> None:
    for n in range(4):
        reply = say(app, QUESTION, thread=f"quiet-{n}")
        assert reply.route == "answer", reply.reasons
        assert "repeat_contact" not in reply.reasons


def test_a_not_helpful_answer_makes_the_next_thread_a_repeat_with_the_reason_on_the_card(
    app,
) -> None:
    assert say(app, QUESTION, thread="nh-1").route == "answer"
    app.service.handle_action(
        "console:help:nh-1", "not_helpful", "", Member("ana", "Ana"), "console"
    )
    again = say(app, "I still can't reset my password", thread="nh-2")
    assert again.route == "escalate" and "repeat_contact" in again.reasons
    card = ticket_view(app.desk.get(again.ticket_id))
    assert "Repeat contact: earlier thread #" in card["summary"]
    assert "marked Not helpful" in card["summary"]
    assert "marked Not helpful" in card["extra"]["repeat_of"]
    assert card["severity"] == "high"


def test_coming_back_in_the_same_thread_after_an_answer_counts(app) -> None:
    assert say(app, QUESTION, thread="fu-1").route == "answer"
    assert say(app, "reset password how", thread="fu-1").route == "answer"  # not settled
    again = say(app, QUESTION, thread="fu-2")
    assert again.route == "escalate" and "repeat_contact" in again.reasons
    assert "came back in that thread after the answer" in again.escalation["repeat_of"]


def test_helpful_answers_and_contacts_outside_the_window_do_not_count(app) -> None:
    assert say(app, QUESTION, thread="ok-1").route == "answer"
    say(app, "reset password how", thread="ok-1")
    app.service.handle_action("console:help:ok-1", "helpful", "", Member("ana", "Ana"), "console")
    assert say(app, QUESTION, thread="ok-2").route == "answer"  # resolved: not a repeat

    say(app, QUESTION, thread="old-1", user="bo")
    say(app, "reset password how", thread="old-1", user="bo")
    app.settings.set("repeat_window_days", 3, actor="test")
    with Session(app.engine) as session:
        conv = session.exec(select(Conversation).where(Conversation.thread_id == "old-1")).one()
        conv.updated_at = utcnow() - timedelta(days=5)
        session.add(conv)
        session.commit()
    assert say(app, QUESTION, thread="old-2", user="bo").route == "answer"
    app.settings.set("repeat_window_days", 7, actor="test")
    again = say(app, QUESTION, thread="old-3", user="bo")
    assert "repeat_contact" in again.reasons
    assert "5 days ago" in again.escalation["repeat_of"]


def test_admins_set_the_repeat_window_from_chat(app) -> None:
    from admin_commands import Caller, run_command

    admin = Caller(platform="console", user_id="admin", display_name="Admin")
    shown = run_command(app, admin, "repeat window")
    assert shown.ok and ("Window (days)", "7") in shown.fields
    changed = run_command(app, admin, "repeat window 14")
    assert changed.ok and app.settings.get("repeat_window_days") == 14
    assert not run_command(app, admin, "repeat window soon").ok
    assert app.settings.get("repeat_window_days") == 14
