"""One policy for every platform: roles, staff-channel fallback, button ownership, safe staff text."""

from __future__ import annotations

import json

import pytest

from bot.audit import recent_audit
from bot.policy import Actor, CachedGroups, safe_staff_text


def refusals(app) -> list:
    return [e for e in recent_audit(app.engine, 50) if e.action == "refused"]


@pytest.mark.parametrize("platform", ["slack", "discord", "console"])
def test_with_nobody_named_the_staff_channel_decides_on_every_platform(app, platform) -> None:
    app.config.slack_staff_users = app.config.slack_admin_users = ""  # the fixture names some
    policy = app.policy
    inside = Actor(platform, "U1", in_staff_channel=True)
    outside = Actor(platform, "U2", in_staff_channel=False)
    assert policy.is_staff(inside)
    assert not policy.is_staff(outside)
    assert policy.may_press(inside, "claim")
    assert not policy.may_press(outside, "claim")


@pytest.mark.parametrize(
    ("platform", "setting", "value", "staffer"),
    [
        ("slack", "slack_staff_users", "USTAFF", Actor("slack", "USTAFF")),
        ("discord", "discord_staff_roles", "Support", Actor("discord", "7", roles=("Support",))),
    ],
)
def test_once_staff_are_named_the_channel_no_longer_makes_anyone_staff(
    app, platform, setting, value, staffer
) -> None:
    setattr(app.config, setting, value)
    bystander = Actor(platform, "U9", in_staff_channel=True)
    assert app.policy.is_staff(staffer)
    assert not app.policy.is_staff(bystander)
    assert not app.policy.may_speak_for_staff(bystander, 42)
    entry = refusals(app)[0]
    assert entry.target == "staff_reply:ticket:42" and entry.actor.startswith(f"{platform}:U9")


def test_a_chat_grant_names_staff_for_its_own_platform_only(app) -> None:
    app.settings.set("staff_users", ["slack:UGRANTED"], actor="test")
    assert app.policy.staff_named("slack")
    assert not app.policy.staff_named("discord")
    assert app.policy.is_staff(Actor("slack", "UGRANTED"))
    assert not app.policy.is_staff(Actor("slack", "UOTHER", in_staff_channel=True))
    assert app.policy.is_staff(Actor("discord", "5", in_staff_channel=True))


def test_member_buttons_belong_to_the_member_who_asked_even_against_staff(app) -> None:
    app.config.slack_staff_users = "USTAFF"
    owner, staff = Actor("slack", "UOWNER"), Actor("slack", "USTAFF", in_staff_channel=True)
    for button in ("helpful", "not_helpful", "human", "option", "rate"):
        assert app.policy.may_press(owner, button, owner_id="UOWNER")
        verdict = app.policy.may_press(staff, button, owner_id="UOWNER")
        assert not verdict and verdict.reason
    audited = {e.target for e in refusals(app)}
    assert {"button:helpful", "button:rate", "button:option"} <= audited


def test_staff_buttons_refusal_is_audited_with_role_and_reason(app) -> None:
    app.config.discord_staff_roles = "Support"
    verdict = app.policy.may_press(Actor("discord", "99", "Eve"), "resolve")
    assert not verdict and "staff" in verdict.reason.lower()
    entry = refusals(app)[0]
    assert entry.target == "button:resolve" and entry.platform == "discord"
    assert json.loads(entry.before) == {"role": "member"}
    assert "staff" in json.loads(entry.after)["reason"].lower()


def test_slack_group_grant_matches_its_members_through_the_directory(app) -> None:
    calls: list[str] = []

    def lookup(group: str) -> list[str]:
        calls.append(group)
        return ["UINGROUP"] if group == "S0SUPPORT" else []

    app.settings.set("staff_users", ["slack:S0SUPPORT"], actor="test")
    app.policy.use_directory("slack", CachedGroups(lookup))
    assert app.policy.role_of(Actor("slack", "UINGROUP")) == "staff"
    assert app.policy.role_of(Actor("slack", "UOUTSIDE")) == "member"
    assert calls == ["S0SUPPORT"]  # cached: one API call for both checks


def test_a_failing_group_lookup_grants_nothing(app) -> None:
    def broken(group: str) -> list[str]:
        raise RuntimeError("slack is down")

    app.settings.set("staff_users", ["slack:S0SUPPORT"], actor="test")
    app.policy.use_directory("slack", CachedGroups(broken))
    assert app.policy.role_of(Actor("slack", "UINGROUP")) == "member"


@pytest.mark.parametrize(
    ("raw", "shown", "hidden"),
    [
        (
            "<https://evil.example/login|help.example/refunds>",
            "help.example/refunds (https://evil.example/login)",
            "<https://evil",
        ),
        (
            "[help.example/refunds](https://evil.example/login)",
            "help.example/refunds (https://evil.example/login)",
            "](https://evil",
        ),
        ("<!channel> look", "@channel look", "<!channel>"),
        ("hey @everyone and @here", "@\u200beveryone and @\u200bhere", "@everyone"),
    ],
)
def test_staff_text_cannot_ping_everyone_or_disguise_a_link(raw, shown, hidden) -> None:
    safe = safe_staff_text(raw)
    assert hidden not in safe
    assert shown.replace("@channel", "@\u200bchannel") in safe


def test_help_channels_and_staff_channels_come_from_one_place(app) -> None:
    app.config.slack_help_channels = "CHELP"
    app.config.discord_escalation_channel = "900"
    assert app.policy.answers_everything("slack", "CHELP")
    assert app.policy.answers_everything("slack", "DANY", channel_type="im")
    assert not app.policy.answers_everything("slack", "CRANDOM")
    assert app.policy.is_staff_channel("discord", "900")
    assert not app.policy.is_staff_channel("discord", "901")
