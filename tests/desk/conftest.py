"""Desk fixtures: a fresh real app (SQLite + LanceDB) and an escalated ticket on it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from bot.contracts import IncomingMessage, Member
from bot.policy import Actor
from tests.conftest import copy_app

_threads = itertools.count(1)
STAFF = "USTAFF"
MEMBER = "UMEMBER"


@pytest.fixture
def staffed_app(sample_template, tmp_path, embedder) -> Iterator:
    """A fresh sample-loaded app with one named staff member and one admin on Slack."""
    deskhand = copy_app(
        sample_template,
        tmp_path / "home",
        embedder,
        slack_staff_users=STAFF,
        slack_admin_users="UADMIN",
        slack_escalation_channel="CSTAFF",
    )
    yield deskhand
    deskhand.engine.dispose()


def escalate(app, user: str = MEMBER, platform: str = "slack") -> int:
    """A member asks for a person; returns the new ticket's id."""
    thread = f"th{next(_threads)}"
    msg = IncomingMessage(
        platform=platform,
        channel_id="CHELP",
        thread_id=thread,
        message_id=f"{thread}-m",
        text="my 2FA codes stopped working, can I talk to a real person?",
        member=Member(user, "Ann Member"),
        mentioned=True,
    )
    reply = app.service.handle(msg)
    assert reply.route == "escalate" and reply.ticket_id
    return int(reply.ticket_id)


def staff(user: str = STAFF, name: str = "Sam Staff") -> Actor:
    """A named staff member acting in the staff channel."""
    return Actor("slack", user, name, in_staff_channel=True)


def bystander(user: str = "UBYSTANDER") -> Actor:
    """Someone in the staff channel who is not staff."""
    return Actor("slack", user, "Bea Bystander", in_staff_channel=True)
