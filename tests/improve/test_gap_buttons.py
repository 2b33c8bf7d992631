"""The one-press Draft button under `gaps`: a typed CommandButton whose press runs `gaps draft`
through the same dispatcher as typing it (parser, role check, audit), keyed to the cluster seen."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from sqlmodel import Session, select

from admin_commands import CommandButton, run_command, run_press
from admin_commands.contracts import BUTTON_LINE_LIMIT, MAX_BUTTONS
from bot.console import ConsoleSession
from bot.improve.gaps import Cluster, GapsError, GapsReport, find_cluster, gaps_report
from bot.models import AuditEntry
from knowledge.models import KbCandidate, utcnow
from tests.admin.conftest import ADMIN, MEMBER, STAFF
from tests.improve.conftest import crypto_gap


def candidates(app) -> list[KbCandidate]:
    with Session(app.engine) as session:
        return list(session.exec(select(KbCandidate).order_by(KbCandidate.id)))


def refusals(app) -> list[AuditEntry]:
    with Session(app.engine) as session:
        stmt = select(AuditEntry).where(AuditEntry.action == "refused").order_by(AuditEntry.id)
        return list(session.exec(stmt))


def test_a_button_carries_a_command_line_the_one_parser_reads() -> None:
    button = CommandButton("Draft", ("kb", "search", "two words"), "primary")
    assert button.line == 'kb search "two words"'
    with pytest.raises(ValueError):
        CommandButton("Empty", ())
    with pytest.raises(ValueError):
        CommandButton("Long", ("kb", "search", "x" * BUTTON_LINE_LIMIT))
    with pytest.raises(ValueError):
        CommandButton("Quote", ("kb", "search", 'say "hi"'))


def test_gaps_offers_a_draft_button_per_top_cluster_and_a_staff_press_drafts_it(app) -> None:
    crypto = crypto_gap(app)
    report = gaps_report(app.kb, days=1)
    cluster = next(c for c in report.clusters if crypto[0].conversation_id in c.conversation_ids)

    shown = run_command(app, STAFF, "gaps --days 1")
    assert shown.ok and 1 <= len(shown.buttons) <= MAX_BUTTONS
    assert len(shown.buttons) == min(MAX_BUTTONS, len(report.clusters))
    assert "Draft button" in shown.text
    button = shown.buttons[cluster.number - 1]
    assert button.command == (
        "gaps", "draft", str(cluster.number), "--days", "1", "--key", str(cluster.key),
    )  # fmt: skip

    before = candidates(app)
    drafted = run_press(app, STAFF, button.line)
    assert drafted.ok, drafted.text
    new = candidates(app)[len(before) :]
    assert len(new) == 1 and new[0].status == "pending"
    assert "We don't accept bitcoin" in new[0].answer
    assert f"kb approve {new[0].id}" in drafted.text

    again = run_press(app, ADMIN, button.line)  # a double click, or a second admin
    assert again.ok and again.title == "Already drafted" and f"#{new[0].id}" in again.text
    assert len(candidates(app)) == len(before) + 1
    assert run_command(app, ADMIN, f"kb reject {new[0].id}").ok
    redrafted = run_press(app, STAFF, button.line)  # reviewed: a press drafts again
    assert redrafted.title == "Article drafted" and len(candidates(app)) == len(before) + 2


def test_a_member_press_is_refused_audited_and_drafts_nothing(app) -> None:
    crypto_gap(app)
    button = run_command(app, STAFF, "gaps --days 1").buttons[0]
    before, refused = candidates(app), len(refusals(app))
    result = run_press(app, MEMBER, button.line)
    assert not result.ok and "Only staff and admins can run `gaps draft`" in result.text
    assert candidates(app) == before
    entry = refusals(app)[refused]
    assert entry.actor.startswith("slack:UMEMBER") and entry.target == "gaps draft"
    assert json.loads(entry.after)["via"] == "button"


def test_a_press_runs_only_commands_offered_as_buttons(app) -> None:
    refused = len(refusals(app))
    result = run_press(app, ADMIN, "access grant admin <@UMEMBER>")
    assert not result.ok and result.title == "Not a Deskhand button"
    assert app.settings.get("admin_users") in (None, [])  # nothing granted, even for an admin
    assert refusals(app)[refused].target == "button:command"
    assert not run_press(app, ADMIN, "no such thing").ok


def test_a_press_after_the_list_changed_says_so_and_drafts_nothing(app) -> None:
    crypto_gap(app)
    button = run_command(app, STAFF, "gaps --days 1").buttons[0]
    stale = button.line.rsplit(" ", 1)[0] + " 999999"  # a cluster that is no longer a gap
    before = candidates(app)
    result = run_press(app, STAFF, stale)
    assert not result.ok and "gaps list changed since you saw it" in result.text
    assert candidates(app) == before


def _cluster(number: int, ids: list[int]) -> Cluster:
    return Cluster(number, len(ids), len(ids), 0, ["q"], ids, [], "", None)


def test_the_key_finds_the_same_cluster_after_its_number_moved() -> None:
    # listed: gap 1 = conversations 5, 9; gap 2 = 7. Since then conversation 7's cluster grew.
    now = utcnow()
    report = GapsReport(now, now, 6, [_cluster(1, [7, 11, 12, 13]), _cluster(2, [5, 9])])
    assert find_cluster(report, 1, 5, 30).conversation_ids == [5, 9]  # the same questions
    assert find_cluster(report, 1, None, 30).conversation_ids == [7, 11, 12, 13]  # typed: by N
    with pytest.raises(GapsError, match="list changed"):
        find_cluster(report, 1, 6, 30)


def test_the_console_shows_numbered_buttons_and_presses_them_as_admin_or_visitor(app) -> None:
    crypto_gap(app)
    out = io.StringIO()
    session = ConsoleSession(app, Console(file=out, width=200, color_system=None))
    session.run_command("/deskhand gaps --days 1")
    assert "[1] Draft article: gap 1" in out.getvalue() and "(/press N)" in out.getvalue()
    before = candidates(app)
    session.press_command("1", as_visitor=True)
    assert candidates(app) == before and "Only staff and admins" in out.getvalue()
    session.run_command("/press 1")
    assert len(candidates(app)) == len(before) + 1
    assert "Article drafted" in out.getvalue()
