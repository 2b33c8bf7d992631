"""Shadow agreement: staff replies in shadow threads are recorded (not answered) and compared."""

from __future__ import annotations

import itertools

from sqlmodel import Session, select

from admin_commands import run_command
from bot.contracts import IncomingMessage, Member
from bot.improve.shadow import READY_MIN_PAIRS, ShadowPair, agreement, shadow_report, wilson
from bot.models import Decision, Message
from bot.shadow import SHADOW_REPLY_KIND
from tests.admin.conftest import ADMIN, HELP_CHANNEL, STAFF, ask

PASSWORD_ANSWER = (
    "Open the sign-in page, choose Forgot password, and follow the emailed link within an hour "
    "to set a new password. Reset links expire after one hour."
)
_ids = itertools.count(1)


def shadow_on(app) -> None:
    """The help channel runs in shadow mode (the real admin command)."""
    assert run_command(app, ADMIN, f"channel shadow on <#{HELP_CHANNEL}>").ok


def say(app, thread: str, user: str, text: str, name: str = "Sam"):
    """One more message in an existing thread, through the real SupportService."""
    msg = IncomingMessage(
        platform="slack",
        channel_id=HELP_CHANNEL,
        thread_id=thread,
        message_id=f"{thread}-r{next(_ids)}",
        text=text,
        member=Member(user, name),
        mentioned=False,
    )
    return app.service.handle(msg)


def decisions(app, conversation_id: int) -> int:
    with Session(app.engine) as session:
        return len(
            session.exec(select(Decision).where(Decision.conversation_id == conversation_id)).all()
        )


def test_staff_reply_in_a_shadow_thread_is_recorded_not_answered(app) -> None:
    shadow_on(app)
    draft = ask(app, "How do I reset my password?", user="UM1", thread="sh1")
    assert draft.shadow and draft.route == "answer"
    before = decisions(app, draft.conversation_id)

    reply = say(app, "sh1", "USTAFF", PASSWORD_ANSWER)
    assert reply.route == "ignore" and reply.conversation_id == draft.conversation_id
    assert decisions(app, draft.conversation_id) == before  # no graph run on the staff reply
    with Session(app.engine) as session:
        kinds = session.exec(
            select(Message.role, Message.kind, Message.author_id).where(
                Message.conversation_id == draft.conversation_id
            )
        ).all()
    assert ("staff", SHADOW_REPLY_KIND, "USTAFF") in kinds

    # another member writing in the thread is not staff: the bot drafts for them as before
    other = say(app, "sh1", "UOTHER", "How do I reset my password too?", name="Olly")
    assert other.route != "ignore"
    assert decisions(app, draft.conversation_id) == before + 1


def test_staff_reply_outside_shadow_channels_and_staff_own_questions_run_normally(app) -> None:
    answered = ask(app, "How do I reset my password?", user="UM2", thread="live1")
    assert not answered.shadow
    assert say(app, "live1", "USTAFF", "Also, links expire after an hour.").route != "ignore"
    shadow_on(app)
    own = ask(app, "How do I reset my password?", user="USTAFF", thread="sh-own")
    assert own.shadow and own.route == "answer"  # staff asking a question of their own


def test_report_agrees_on_same_article_and_on_handoff_and_flags_disagreement(app) -> None:
    shadow_on(app)
    same = ask(app, "How do I reset my password?", user="UA", thread="sa")
    assert same.route == "answer" and same.shadow
    say(app, "sa", "USTAFF", PASSWORD_ANSWER)
    handoff = ask(app, "I want to talk to a human", user="UB", thread="sb")
    assert handoff.route == "escalate" and handoff.shadow
    say(app, "sb", "USTAFF", "Hi, I'm Sam. I've looked at your account and applied the fix.")
    missed = ask(app, "I want to talk to a human please", user="UC", thread="sc")
    say(app, "sc", "USTAFF", PASSWORD_ANSWER)  # staff answered from the KB: the bot needn't have

    answer = float(app.settings.thresholds()["answer"])
    report = shadow_report(app.engine, app.kb.search, answer)
    by_conv = {d["conversation_id"] for d in report.disagreements}
    assert report.overall.pairs == 3
    assert report.overall.same_article == 1 and report.overall.same_handoff == 1
    assert by_conv == {missed.conversation_id}
    assert not report.overall.ready  # 3 pairs are far too few

    shown = run_command(app, STAFF, "shadow")
    assert shown.ok and shown.table is not None
    assert shown.table[-1][:3] == ["all", "3", "67%"]
    assert f"/deskhand trace {missed.conversation_id}" in shown.text
    assert not run_command(app, STAFF, "shadow extra").ok


def test_shadow_report_is_empty_with_a_pointer_when_nothing_is_paired(app) -> None:
    result = run_command(app, STAFF, "shadow --days 7")
    assert result.ok and "channel shadow on" in result.text


def test_ready_needs_enough_pairs_and_a_high_interval() -> None:
    def pairs(n: int, agree: int) -> list[ShadowPair]:
        return [ShadowPair(i, "billing", "answer", 1, 1 if i < agree else 2) for i in range(n)]

    assert not agreement("billing", pairs(READY_MIN_PAIRS - 1, READY_MIN_PAIRS - 1)).ready
    assert agreement("billing", pairs(40, 40)).ready
    assert not agreement("billing", pairs(40, 30)).ready  # 75 %: interval starts well below 80 %
    low, high = wilson(0, 0)
    assert (low, high) == (0.0, 1.0)
    low, high = wilson(9, 10)
    assert 0.59 < low < 0.6 and 0.98 < high < 0.99
