"""The alert poster: each alert is claimed by one poster per platform, retried, rate-limited."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import Session, select

from admin_commands import run_command
from bot.models import AlertDelivery, AlertEvent
from bot.monitoring.poster import MAX_ATTEMPTS, AlertPoster, claim_posts
from knowledge.models import utcnow
from tests.admin.conftest import ADMIN, ask


def _urgent(app, user: str) -> int:
    """A real urgent escalation (an account takeover); returns the ticket id."""
    reply = ask(app, "Someone hacked my account and changed my email!", user=user)
    assert reply.route == "escalate" and reply.ticket_id
    return reply.ticket_id


def _event(app, key: str, **extra) -> int:
    kind, _, subject = key.partition(":")
    with Session(app.engine) as session:
        event = AlertEvent(
            key=key, kind=kind, subject=subject, title=f"Test {key}", text="t", **extra
        )
        session.add(event)
        session.commit()
        return event.id


def test_urgent_ticket_is_posted_once_with_the_oncall_mention_across_two_processes(app) -> None:
    assert run_command(app, ADMIN, "alerts set oncall slack <!subteam^S0ONCALL>").ok
    ticket = _urgent(app, "UHACK")
    first, second = AlertPoster(app, "slack"), AlertPoster(app, "slack")
    posts = first.due()
    urgent = [p for p in posts if p.kind == "urgent_ticket"]
    assert len(urgent) == 1 and f"#{ticket}" in urgent[0].title
    post = urgent[0]
    assert post.channel == "CSTAFF" and post.mention == "<!subteam^S0ONCALL>"
    assert ("Evidence", f"`/deskhand ticket {ticket}`") in post.fields
    assert not [p for p in second.due() if p.event_id == post.event_id]  # claimed by the first
    first.sent(post)
    later = utcnow() + timedelta(minutes=30)
    assert not [p for p in first.due(later) + second.due(later) if p.event_id == post.event_id]
    with Session(app.engine) as session:
        [row] = session.exec(select(AlertDelivery).where(AlertDelivery.event_id == post.event_id))
        assert row.status == "posted" and row.platform == "slack"
        assert session.get(AlertEvent, post.event_id).posted_to == "slack"


def test_each_platform_posts_to_its_own_channel(app) -> None:
    event_id = _event(app, "llm_failures:all")
    assert [p.event_id for p in claim_posts(app, "discord")] == []  # no Discord channel set
    assert run_command(app, ADMIN, "alerts set channel discord <#900200000000000001>").ok
    assert run_command(app, ADMIN, "alerts set channel slack <#CALERTS|alerts>").ok
    [d] = claim_posts(app, "discord")
    [s] = claim_posts(app, "slack")
    assert (d.event_id, d.channel) == (event_id, "900200000000000001")
    assert (s.event_id, s.channel) == (event_id, "CALERTS")


def test_failed_send_is_retried_then_given_up(app) -> None:
    event_id = _event(app, "outbox_failures:slack")
    poster = AlertPoster(app, "slack")
    now = utcnow()
    for attempt in range(MAX_ATTEMPTS):
        [post] = [p for p in claim_posts(app, "slack", now) if p.event_id == event_id]
        poster.failed(post, "channel_not_found", now)
        assert not [p for p in claim_posts(app, "slack", now) if p.event_id == event_id]
        now += timedelta(minutes=attempt + 2)  # the backoff grows with each attempt
    assert not [p for p in claim_posts(app, "slack", now + timedelta(hours=1))]
    with Session(app.engine) as session:
        row = session.exec(select(AlertDelivery).where(AlertDelivery.event_id == event_id)).one()
    assert (row.status, row.attempts, row.error) == ("dead", MAX_ATTEMPTS, "channel_not_found")


def test_a_claim_whose_poster_died_is_taken_over_after_the_lease(app) -> None:
    event_id = _event(app, "llm_failures:all")
    now = utcnow()
    assert [p.event_id for p in claim_posts(app, "slack", now)] == [event_id]  # then it crashed
    assert claim_posts(app, "slack", now + timedelta(seconds=30)) == []
    assert [p.event_id for p in claim_posts(app, "slack", now + timedelta(minutes=3))] == [event_id]


def test_hourly_budget_and_racing_duplicates(app) -> None:
    assert run_command(app, ADMIN, "alerts set max_per_hour 2").ok
    ids = [_event(app, "llm_failures:all"), _event(app, "llm_failures:all")]  # a race: same key
    ids += [_event(app, f"sla_reminder:ticket#{n}") for n in (1, 2)]
    poster = AlertPoster(app, "slack")
    posts = claim_posts(app, "slack")
    assert [p.event_id for p in posts] == [ids[0], ids[2]]  # the duplicate is never posted
    for post in posts:
        poster.sent(post, utcnow())
    assert claim_posts(app, "slack") == []  # the hour's budget is spent
    assert [p.event_id for p in claim_posts(app, "slack", utcnow() + timedelta(minutes=61))] == [
        ids[3]
    ]
    with Session(app.engine) as session:
        dup = session.exec(select(AlertDelivery).where(AlertDelivery.event_id == ids[1])).one()
    assert dup.status == "duplicate"


def test_ticket_checks_every_pass_full_checks_every_check_minutes(app) -> None:
    poster = AlertPoster(app, "slack")
    now = utcnow()
    poster.due(now)
    for n, text in enumerate(
        [
            "how do I configure the quantum flux capacitor",
            "quantum flux capacitor configuration help",
            "configure my quantum flux capacitor please",
            "the quantum flux capacitor needs configuring",
        ]
    ):
        ask(app, text, user=f"UQ{n}")
    ticket = _urgent(app, "UHACK2")
    soon = poster.due(now + timedelta(minutes=1))
    assert [p.kind for p in soon if f"#{ticket}" in p.title] == ["urgent_ticket"]
    assert not [p for p in soon if p.kind == "unanswered_cluster"]  # the full check is not due
    later = poster.due(now + timedelta(minutes=11))
    [gap] = [p for p in later if p.kind == "unanswered_cluster"]
    assert "capacitor" in gap.title
    assert json.loads(json.dumps(gap.fields))  # plain data for any renderer
