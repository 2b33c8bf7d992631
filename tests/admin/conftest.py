"""Admin-command fixtures: the real sample-loaded app, copied per test from one session template."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from admin_commands import Caller
from bot.contracts import IncomingMessage, Member, Reply
from tests.conftest import copy_app

ROLE_CONFIG = {
    "slack_admin_users": "UADMIN",
    "slack_staff_users": "USTAFF, S0SUPPORT",
    "discord_admin_roles": "Admins",
    "discord_staff_roles": "Support,555000000000000001",
    "slack_escalation_channel": "CSTAFF",
}
HELP_CHANNEL = "CHELP"
ADMIN = Caller("slack", "UADMIN", "Ada", channel_id=HELP_CHANNEL)
STAFF = Caller("slack", "USTAFF", "Sam", channel_id=HELP_CHANNEL)
MEMBER = Caller("slack", "UMEMBER", "Max", channel_id=HELP_CHANNEL)
DISCORD_STAFF = Caller("discord", "111111111111111111", "Mo", roles=("Support",), channel_id="9001")
DISCORD_OWNER = Caller("discord", "222222222222222222", "Oz", is_guild_admin=True)
CONSOLE = Caller("console", "cli")
_threads = itertools.count(1)


@pytest.fixture
def app(sample_template, tmp_path, embedder) -> Iterator:
    """A fresh real app per test with Slack/Discord roles configured, copied from the template."""
    deskhand = copy_app(sample_template, tmp_path / "home", embedder, **ROLE_CONFIG)
    yield deskhand
    deskhand.classifier_job.wait()  # a background retrain finishes before its data dir goes
    deskhand.engine.dispose()


def ask(
    app,
    text: str,
    platform: str = "slack",
    channel: str = HELP_CHANNEL,
    user: str = "",
    thread: str | None = None,
) -> Reply:
    """Send one member message through the real SupportService (a new member and thread each)."""
    n = next(_threads)
    thread = thread or f"th{n}"
    user = user or f"UASKER{n}"
    msg = IncomingMessage(
        platform=platform,
        channel_id=channel,
        thread_id=thread,
        message_id=f"{thread}-m",
        text=text,
        member=Member(user, "Asker"),
        mentioned=True,
    )
    return app.service.handle(msg)
