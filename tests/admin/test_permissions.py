"""Roles, help per role, refusals (private, reasoned, audited) and usage on bad input."""

from __future__ import annotations

import json

import pytest

from admin_commands import Caller, CommandResult, role_of, run_command
from bot.audit import recent_audit
from tests.admin.conftest import (
    ADMIN,
    CONSOLE,
    DISCORD_OWNER,
    DISCORD_STAFF,
    HELP_CHANNEL,
    MEMBER,
    STAFF,
)


def test_role_of_reads_config_roles_guild_admin_and_console(app) -> None:
    assert role_of(app, ADMIN) == "admin"
    assert role_of(app, STAFF) == "staff"
    assert role_of(app, MEMBER) == "member"
    assert role_of(app, Caller("slack", "UOTHER", roles=("S0SUPPORT",))) == "staff"  # user group
    assert role_of(app, DISCORD_STAFF) == "staff"  # role name
    assert role_of(app, Caller("discord", "3", roles=("555000000000000001",))) == "staff"  # role id
    assert role_of(app, Caller("discord", "4", roles=("admins",))) == "admin"  # case-insensitive
    assert role_of(app, DISCORD_OWNER) == "admin"  # Manage Server implies admin
    assert role_of(app, Caller("discord", "UADMIN")) == "member"  # Slack ids don't leak across
    assert role_of(app, CONSOLE) == "admin"


def test_help_lists_only_what_the_caller_may_run(app) -> None:
    member = run_command(app, MEMBER, "help")
    staff = run_command(app, STAFF, "help")
    admin = run_command(app, ADMIN, "")
    assert member.ok and staff.ok and admin.ok
    assert "/deskhand help" in member.text and "kb search" not in member.text
    assert "kb search" in staff.text and "kb candidates" in staff.text and "stats" in staff.text
    assert "threshold set" not in staff.text and "kb add" not in staff.text
    assert "threshold set" in admin.text and "audit undo" in admin.text
    assert "e.g. `/deskhand" in admin.text  # examples
    kb_only = run_command(app, ADMIN, "help kb")
    assert "kb add" in kb_only.text and "threshold" not in kb_only.text
    assert member.ephemeral


@pytest.mark.parametrize(
    "caller, line",
    [
        (MEMBER, "threshold set answer 0.7"),
        (MEMBER, "kb search password"),
        (MEMBER, "stats"),
        (STAFF, "threshold set answer 0.7 clarify 0.4"),
        (STAFF, 'kb add "T" "B"'),
        (STAFF, "audit"),
        (DISCORD_STAFF, "channel shadow on"),
        (MEMBER, "tickets"),
        (MEMBER, "ticket 1 transfer billing"),
    ],
)
def test_refusals_say_why_privately_and_are_audited(app, caller, line) -> None:
    before = app.settings.get("thresholds")
    result = run_command(app, caller, line)
    assert not result.ok and result.ephemeral
    assert result.title == "Not allowed"
    assert "Only" in result.text and "you are" in result.text
    assert app.settings.get("thresholds") == before
    entry = recent_audit(app.engine, 1)[0]
    assert entry.action == "refused" and caller.user_id in entry.actor
    assert json.loads(entry.after)["command"] == line


def test_staff_may_use_candidates_stats_and_search(app) -> None:
    for line in ("kb candidates", "stats", "kb search reset my password", "threshold show"):
        result = run_command(app, STAFF, line)
        assert result.ok, (line, result.text)


@pytest.mark.parametrize(
    "line, fragment",
    [
        ("threshold set answer 2", "between 0 and 1"),
        ("threshold set answer 0.3 clarify 0.5", "0 ≤ clarify ≤ answer ≤ 1"),
        ("threshold set answer", "NAME VALUE"),
        ("threshold set speed 0.5", "Unknown threshold"),
        ("threshold preview", "at least one"),
        ("kb show abc", "whole number"),
        ("kb show", "Give the article ID"),
        ("kb edit 1 surprise", "options"),
        ("kb edit 1 --colour red", "Unknown option"),
        ('kb add "unclosed title', "not closed"),
        ("kb revert 1", "version"),
        ("persona set tone grumpy", "friendly, neutral, formal"),
        ("persona set mood happy", "Unknown persona field"),
        ("stats 9000d", "1h to 730d"),
        ("stats by colour", "Segment by one of"),
        ("channel mode sometimes", "mention-only"),
        ("channel shadow maybe", "on"),
        ("route set billing", "#channel"),
        ("route set billing nowhere", "not a channel"),
        ("scope add refunds", "example phrasings"),
        ('scope add warranty "only one phrase"', "two example"),
        ("audit lots", "whole number"),
        ("access grant wizard @x", "admin or staff"),
        ("tickets everything", "open, unclaimed, mine or all"),
        ("ticket", "Give the ticket ID"),
        ("ticket abc", "whole number"),
        ("ticket 4242", "no ticket #4242"),
        ("ticket 1 transfer", "transfer TEAM"),
        ("ticket 1 type", "type ISSUE_TYPE"),
    ],
)
def test_bad_arguments_get_the_usage_line(app, line, fragment) -> None:
    result = run_command(app, ADMIN, line)
    assert isinstance(result, CommandResult)
    assert not result.ok
    assert fragment in result.text or fragment in result.usage, result.text
    assert result.usage, "argument errors carry the command's usage line"
    assert "Traceback" not in result.text


@pytest.mark.parametrize("line", ["frobnicate", "kb frobnicate 3", "threshold sett answer 1"])
def test_unknown_commands_point_at_usage(app, line) -> None:
    result = run_command(app, ADMIN, line)
    assert not result.ok and result.usage
    assert "help" in result.text or "/deskhand" in result.text


def test_command_help_flag_and_smart_quotes(app) -> None:
    result = run_command(app, ADMIN, "threshold set --help")
    assert result.ok and result.usage.startswith("threshold set")
    added = run_command(app, ADMIN, "kb add “Smart title” “Body with don’t inside” --topic misc")
    assert added.ok, added.text
    assert app.kb.list("misc")[0].body == "Body with don't inside"


def test_unexpected_failure_is_a_result_not_a_traceback(app, monkeypatch) -> None:
    def boom(*_a, **_k):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(app.kb, "list", boom)
    result = run_command(app, ADMIN, "kb list")
    assert not result.ok and "database on fire" not in result.text
    assert "went wrong" in result.title


def test_access_grant_changes_role_immediately_and_is_reversible(app) -> None:
    newbie = Caller("slack", "UNEW", channel_id=HELP_CHANNEL)
    assert run_command(app, newbie, "kb search password").ok is False
    granted = run_command(app, ADMIN, "access grant staff <@UNEW|newbie>")
    assert granted.ok, granted.text
    assert role_of(app, newbie) == "staff"
    assert run_command(app, newbie, "kb search password").ok
    assert run_command(app, newbie, "threshold set answer 0.7").ok is False
    revoked = run_command(app, ADMIN, "access revoke staff <@UNEW>")
    assert revoked.ok and role_of(app, newbie) == "member"
    rows = run_command(app, ADMIN, "audit 5").table
    assert any(r[3] == "set staff_users" and "slack:UNEW" in r[5] for r in rows[1:])
