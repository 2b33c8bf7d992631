"""`/deskhand outbox`: dead items are visible, and admins retry or drop them (audited)."""

from __future__ import annotations

import json

from admin_commands import run_command
from bot.cli import main
from bot.outbox import MAX_ATTEMPTS
from tests.admin.conftest import ADMIN, STAFF


def kill(app, text: str = "hello") -> int:
    item = app.outbox.put("slack", "relay_to_member", {"ticket_id": 3, "text": text}, "x", "C:1")
    for _ in range(MAX_ATTEMPTS):
        app.outbox.failed(item.id, "channel_not_found", retry_after_s=0)
    return item.id


def test_outbox_lists_dead_items_and_the_alert_they_raised(app):
    dead = kill(app)
    result = run_command(app, ADMIN, "outbox")
    assert result.ok and result.title == "Outbox"
    rows = {row[0]: row for row in result.table[1:]}
    assert rows[str(dead)][2:5] == ["relay_to_member #3", "dead", str(MAX_ATTEMPTS)]
    assert "channel_not_found" in rows[str(dead)][5]
    assert any(row[2] == "alert" and row[3] == "pending" for row in rows.values())
    assert "1 dead" in result.text
    only_dead = run_command(app, ADMIN, "outbox --dead")
    assert [row[0] for row in only_dead.table[1:]] == [str(dead)]


def test_retry_and_drop_are_admin_only_and_audited(app):
    dead = kill(app)
    refused = run_command(app, STAFF, f"outbox retry {dead}")
    assert not refused.ok and "Only admins" in refused.text
    assert app.outbox.get(dead).status == "dead"
    retried = run_command(app, ADMIN, f"outbox retry {dead}")
    assert retried.ok and app.outbox.get(dead).status == "pending"
    dropped = run_command(app, ADMIN, f"outbox drop {dead}")
    assert dropped.ok and app.outbox.get(dead).status == "dropped"
    again = run_command(app, ADMIN, f"outbox drop {dead}")
    assert not again.ok and f"#{dead}" in again.text
    bad = run_command(app, ADMIN, "outbox retry soon")
    assert not bad.ok and "outbox retry ID" in bad.usage
    audit = run_command(app, ADMIN, "audit 5")
    actions = [row[3] for row in audit.table[1:]]
    assert actions[:2] == ["outbox drop", "outbox retry"]


def test_help_lists_the_outbox_family(app):
    assert "outbox retry ID" in run_command(app, ADMIN, "help outbox").text


def test_cli_outbox_json_and_retry(app, capsys, monkeypatch):
    dead = kill(app)
    monkeypatch.setattr("bot.cli._app", lambda: app)
    assert main(["outbox", "--json", "--dead"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [i["id"] for i in data["items"]] == [dead]
    assert data["items"][0]["status"] == "dead" and data["items"][0]["ticket_id"] == 3
    assert main(["outbox", "retry", str(dead)]) == 0
    assert app.outbox.get(dead).status == "pending"
    assert main(["outbox", "drop"]) == 2
    assert "give the item ID" in capsys.readouterr().out
