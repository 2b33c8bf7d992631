"""One `/deskhand` slash command per admin command family, rendered through the real bot."""

from __future__ import annotations

from typing import Any

import pytest

from tests.discord.conftest import HELP, STAFF, Harness

EPHEMERAL = 64


def reply(harness: Harness, token: str) -> tuple[dict[str, Any], list[str]]:
    """The message the interaction produced (direct response or deferred followup), and its files."""
    callbacks = harness.fake.find("POST", rf"/interactions/\d+/{token}/callback")
    assert len(callbacks) == 1
    cb = callbacks[0]
    if cb.json["type"] == 4:
        return cb.json["data"], cb.files
    assert cb.json["type"] == 5
    assert cb.json["data"]["flags"] & EPHEMERAL
    follow = harness.fake.find("POST", rf"/webhooks/{harness.app_id}/{token}")
    assert follow, "deferred command never sent a followup"
    return follow[-1].json, follow[-1].files


def rendered(message: dict[str, Any]) -> str:
    """Everything readable in the reply: content, embed description and fields."""
    embed = message["embeds"][0]
    parts = [message.get("content") or "", embed.get("description") or ""]
    parts += [f"{f['name']}: {f['value']}" for f in embed.get("fields", [])]
    return "\n".join(parts)


FAMILIES = [
    pytest.param(
        "help", "general", "Deskhand commands", ["You are **admin** on discord"], id="help"
    ),
    pytest.param(
        "kb search reset password",
        "staff",
        "Search results",
        ["Top matches for “reset password”", "Reset your password"],
        id="kb-search",
    ),
    pytest.param(
        "kb list", "staff", "Articles", ["article(s)", "Reset your password"], id="kb-list"
    ),
    pytest.param(
        "threshold show", "help", "Thresholds", ["global", f"In #{HELP}: answer ≥"], id="threshold"
    ),
    pytest.param("scope list", "staff", "Scope", ["issue type(s)", "in scope"], id="scope"),
    pytest.param("route list", "staff", "Routes", ["(default)", STAFF], id="route"),
    pytest.param(
        "channel show",
        "help",
        f"#{HELP}",
        ["Help channel (answers every message)", "In config help channels: yes"],
        id="channel",
    ),
    pytest.param("persona show", "staff", "Persona", ["tone: ", "length: "], id="persona"),
    pytest.param("stats 7d", "staff", "Stats, last 7 days", ["Questions: ", "CSAT: "], id="stats"),
    pytest.param(
        "audit 3", "staff", "Audit log", ["change(s), newest first", "Before → after"], id="audit"
    ),
    pytest.param(
        "access list", "staff", "Access", ["DISCORD_ADMIN_ROLES", "Manage Server"], id="access"
    ),
]


@pytest.mark.parametrize(("text", "where", "title", "needles"), FAMILIES)
async def test_admin_runs_each_command_family(harness, text, where, title, needles):
    bot = await harness.start_bot()
    admin_role = harness.roles[1]["id"]
    token = harness.slash(
        bot, harness.channels[where]["id"], harness.user("Ada"), text, roles=[admin_role]
    )
    await harness.settle(bot)
    message, files = reply(harness, token)
    assert message["flags"] & EPHEMERAL
    embed = message["embeds"][0]
    assert embed["title"] == title
    body = rendered(message)
    for needle in needles:
        assert needle in body
    assert "Not allowed" not in body and "Usage:" not in body
    if text.startswith("stats"):
        assert "deskhand-stats-7d.png" in files
        assert embed["image"]["url"] == "attachment://deskhand-stats-7d.png"
    else:
        assert not files


async def test_member_is_refused_threshold_set_and_told_the_role(harness):
    bot = await harness.start_bot()
    before = harness.app.settings.thresholds()
    token = harness.slash(
        bot, harness.channels["general"]["id"], harness.user("Moe"), "threshold set answer 0.9"
    )
    await harness.settle(bot)
    message, files = reply(harness, token)
    assert message["flags"] & EPHEMERAL
    embed = message["embeds"][0]
    assert embed["title"] == "Not allowed"
    assert "Only admins can run `threshold set`" in embed["description"]
    assert "you are a member" in embed["description"]
    assert not files
    assert harness.app.settings.thresholds() == before
