"""Scope, routes, channels and persona: each change is audited and shapes the next message."""

from __future__ import annotations

import json

from admin_commands import Caller, run_command
from bot.audit import recent_audit
from tests.admin.conftest import ADMIN, DISCORD_OWNER, STAFF, ask

PASSWORD = "How do I reset my password?"


def test_scope_add_retrains_before_the_next_message_and_remove_undoes(app) -> None:
    result = run_command(
        app,
        ADMIN,
        'scope add offline_mode "does lumen work offline" "can I use the app without internet" '
        '"using lumen on a plane with no connection" "offline access to my tasks" --team mobile',
    )
    assert result.ok, result.text
    listed = run_command(app, STAFF, "scope list offline_mode")
    assert dict(listed.fields)["In scope"] == "yes" and dict(listed.fields)["Team"] == "mobile"
    assert "does lumen work offline" in listed.text
    reply = ask(app, "can I use lumen without an internet connection?")
    assert reply.issue_type == "offline_mode"
    more = run_command(app, ADMIN, 'scope add offline_mode "airplane mode support" --handoff')
    assert more.ok and "Updated" in more.text and "5 example" in more.text
    trimmed = run_command(app, ADMIN, 'scope remove offline_mode "airplane mode support"')
    assert trimmed.ok
    removed = run_command(app, ADMIN, "scope remove offline_mode")
    assert removed.ok and all(r.name != "offline_mode" for r in app.scope.all())
    entry = recent_audit(app.engine, 1)[0]
    assert entry.action == "scope remove" and json.loads(entry.before)["handoff"] is True
    undo = run_command(app, ADMIN, f"audit undo {entry.id}")
    assert undo.ok, undo.text
    restored = next(r for r in app.scope.all() if r.name == "offline_mode")
    assert len(json.loads(restored.examples)) == 4 and restored.team == "mobile"
    assert not run_command(app, ADMIN, "scope remove no_such_type").ok


def test_route_set_parses_slack_and_discord_mentions(app) -> None:
    slack = run_command(app, ADMIN, "route set billing <#C0BILLING|billing-staff>")
    discord = run_command(app, DISCORD_OWNER, "route set billing <#998877665544332211>")
    assert slack.ok and discord.ok, (slack.text, discord.text)
    assert app.settings.get("routes") == {
        "billing": {"slack": "C0BILLING", "discord": "998877665544332211"}
    }
    assert app.settings.route_for("slack", "billing", "") == "C0BILLING"
    listed = run_command(app, STAFF, "route list")
    assert ["billing", "#C0BILLING", "#998877665544332211"] in listed.table
    assert ["(default)", "CSTAFF", "—"] in listed.table
    assert not run_command(app, ADMIN, "route set astrology #C0X12345").ok  # unknown type/team
    assert run_command(app, ADMIN, "route remove billing").ok
    assert app.settings.get("routes") == {"billing": {"discord": "998877665544332211"}}


def test_escalation_uses_the_route_on_the_next_message(app) -> None:
    first = ask(app, "I want to talk to a human")
    assert first.route == "escalate" and first.ticket_id
    ticket = app.desk.get(first.ticket_id)
    assert ticket.staff_channel_id == ""
    key = ticket.team or "support"
    assert run_command(app, ADMIN, f"route set {key} <#C0ROUTED>").ok
    second = ask(app, "I want to talk to a human")
    assert app.desk.get(second.ticket_id).staff_channel_id == "C0ROUTED"


def test_channel_enable_mode_and_shadow(app) -> None:
    assert run_command(app, ADMIN, "channel enable <#C0NEWHELP|new-help>").ok
    assert app.settings.channel("slack", "C0NEWHELP")["enabled"] is True
    assert run_command(app, ADMIN, "channel mode all <#C0NEWHELP>").ok
    assert app.settings.channel("slack", "C0NEWHELP")["mode"] == "all"
    shown = run_command(app, STAFF, "channel show <#C0NEWHELP>")
    assert dict(shown.fields)["mode"] == "all"

    on = run_command(app, ADMIN, "channel shadow on")  # defaults to the caller's channel
    assert on.ok and "shadow: False → True" in on.text
    shadowed = ask(app, PASSWORD)
    assert shadowed.shadow is True and shadowed.route == "answer"
    assert run_command(app, ADMIN, "channel shadow off").ok
    assert ask(app, PASSWORD).shadow is False

    assert run_command(app, ADMIN, "channel disable <#C0NEWHELP>").ok
    assert app.settings.channel("slack", "C0NEWHELP")["enabled"] is False
    nowhere = run_command(app, Caller("console", "cli"), "channel enable")
    assert not nowhere.ok and "channel" in nowhere.text


def test_persona_set_shapes_the_next_answer(app) -> None:
    assert "Team Lumen" not in ask(app, PASSWORD).text
    result = run_command(app, ADMIN, 'persona set signoff "— Team Lumen"')
    assert result.ok, result.text
    assert ask(app, PASSWORD).text.rstrip().endswith("— Team Lumen")
    assert run_command(app, ADMIN, "persona set tone FORMAL").ok
    assert run_command(app, ADMIN, "persona set length short").ok
    shown = dict(run_command(app, STAFF, "persona show").fields)
    assert shown["tone"] == "formal" and shown["length"] == "short"
    assert shown["signoff"] == "— Team Lumen"
    assert run_command(app, ADMIN, "persona set signoff none").ok
    assert app.settings.persona()["signoff"] == ""
    assert not run_command(app, ADMIN, "persona set length epic").ok
