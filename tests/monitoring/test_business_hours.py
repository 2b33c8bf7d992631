"""Outside business hours the member is told honestly when a person will reply, on every platform."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from bot.contracts import Member
from bot.models import Conversation, Message
from bot.monitoring.hours import BusinessHours, with_next_reply
from knowledge.models import utcnow
from tests.admin.conftest import ask

ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _closed_today() -> dict:
    """Open every day 09:00–17:00 UTC except today (a holiday): closed now, open tomorrow."""
    today = utcnow().date()
    return {
        "enabled": True,
        "timezone": "UTC",
        "days": ALL_DAYS,
        "start": "09:00",
        "end": "17:00",
        "holidays": [today.isoformat()],
    }


def test_escalation_outside_hours_says_when_a_person_will_reply(app) -> None:
    app.settings.set("business_hours", _closed_today())
    for platform, channel in (("slack", "CHELP"), ("discord", "9001")):
        reply = ask(app, "I want to talk to a human", platform=platform, channel=channel)
        assert reply.route == "escalate" and reply.ticket_id
        assert "a person will reply tomorrow at 09:00 (UTC) at the earliest" in reply.text
        with Session(app.engine) as session:  # what a repaired escalation re-sends is the same
            stored = session.exec(
                select(Message.text)
                .where(Message.conversation_id == reply.conversation_id, Message.role == "bot")
                .order_by(col(Message.id).desc())
            ).first()
        assert stored == reply.text


def test_not_helpful_then_person_outside_hours_gets_the_note_too(app) -> None:
    app.settings.set("business_hours", _closed_today())
    answer = ask(app, "How do I export my data?", user="UNH")
    assert answer.route == "answer"
    with Session(app.engine) as session:
        key = session.get(Conversation, answer.conversation_id).key
    soft = app.service.handle_action(key, "not_helpful", "", Member("UNH"), "slack")
    assert soft.route == "escalate" and "tomorrow at 09:00" in soft.text


def test_inside_hours_or_disabled_no_note_and_a_bad_setting_never_breaks_the_notice(app) -> None:
    plain = ask(app, "I want to talk to a human")
    assert plain.route == "escalate" and "offline" not in plain.text
    app.settings.set("business_hours", {"enabled": True, "timezone": "Mars/Olympus"})
    broken = ask(app, "I want to talk to a human")
    assert broken.route == "escalate" and broken.text == plain.text
    answer = ask(app, "How do I export my data?")
    assert answer.route == "answer" and "offline" not in answer.text


BERLIN_WEEKDAYS = {"enabled": True, "timezone": "Europe/Berlin", "days": ALL_DAYS[:5]}


def test_next_reply_wording_over_a_weekend_in_a_time_zone() -> None:
    friday_evening = datetime(2026, 12, 4, 19, 0, tzinfo=UTC)  # 20:00 in Berlin
    assert with_next_reply("A person will reply here.", BERLIN_WEEKDAYS, friday_evening) == (
        "A person will reply here. Our team is offline right now, so a person will reply "
        "on Monday at 09:00 (Europe/Berlin) at the earliest."
    )
    monday_early = friday_evening + timedelta(days=2, hours=12)  # Monday 08:00 in Berlin
    assert "today at 09:00" in with_next_reply("", BERLIN_WEEKDAYS, monday_early)
    assert with_next_reply("x", BERLIN_WEEKDAYS, monday_early + timedelta(hours=2)) == "x"
    assert BusinessHours.from_settings(BERLIN_WEEKDAYS).is_open(monday_early + timedelta(hours=2))
