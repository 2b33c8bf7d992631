"""The shipped manifest grants what the adapter calls and subscribes to what it handles."""

from __future__ import annotations

from pathlib import Path

import yaml

import bot.slack

MANIFEST = Path(bot.slack.__file__).parent / "manifest.yaml"


def test_manifest_scopes_events_command_and_socket_mode() -> None:
    data = yaml.safe_load(MANIFEST.read_text())
    scopes = set(data["oauth_config"]["scopes"]["bot"])
    needed = {
        "app_mentions:read", "channels:history", "groups:history", "im:history", "chat:write",
        "chat:write.customize", "commands", "reactions:write", "users:read", "files:write",
        "im:write", "usergroups:read",
    }  # fmt: skip
    assert needed <= scopes
    settings = data["settings"]
    assert {"app_mention", "message.channels", "message.groups", "message.im"} <= set(
        settings["event_subscriptions"]["bot_events"]
    )
    assert settings["interactivity"]["is_enabled"] and settings["socket_mode_enabled"]
    commands = data["features"]["slash_commands"]
    assert [c["command"] for c in commands] == ["/deskhand"]
    for url in (
        commands[0]["url"],
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
    ):
        assert url.endswith("/slack/events")
