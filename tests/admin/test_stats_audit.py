"""`stats` (numbers and a real PNG whose data matches) and `audit` (before → after, undo)."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import matplotlib.image
from PIL import Image

from admin_commands import run_command
from bot.contracts import Member
from bot.stats import compute_stats, stats_report
from graph.state import DEFAULT_THRESHOLDS
from knowledge.models import utcnow
from tests.admin.conftest import ADMIN, STAFF, ask

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _drive(app) -> None:
    """Six conversations with known outcomes through the real service and desk."""
    a = ask(app, "How do I reset my password?", user="UA")
    assert a.route == "answer"
    key_a = f"slack:CHELP:{_thread_of(app, a.conversation_id)}"
    app.service.handle_action(key_a, "helpful", "", Member("UA"), "slack")  # confirmed
    assert ask(app, "How do I export my data?", user="UB").route == "answer"  # assumed
    assert ask(app, "how do I change my plan", user="UC").route == "clarify"  # unresolved
    d = ask(app, "I want to talk to a human", user="UD")
    assert d.route == "escalate" and d.ticket_id
    app.desk.staff_message(d.ticket_id, "USTAFF", "Sam", "Hi! I can help with that.")
    app.desk.resolve(d.ticket_id, "USTAFF")
    app.desk.record_rating(d.ticket_id, 5, "UD")  # confirmed, CSAT 5
    e = ask(app, "my thing is broken", user="UE")
    assert e.route == "escalate" and e.ticket_id  # open ticket: unresolved
    f = ask(app, "calendar sync", platform="discord", channel="9001", user="UF")
    assert f.route == "answer"  # assumed


def _thread_of(app, conversation_id: int) -> str:
    from sqlmodel import Session

    from bot.models import Conversation

    with Session(app.engine) as session:
        return session.get(Conversation, conversation_id).thread_id


def test_stats_numbers_chart_png_and_its_data(app) -> None:
    _drive(app)
    result = run_command(app, STAFF, "stats 7d")
    assert result.ok, result.text
    fields = dict(result.fields)
    assert fields["Questions"] == "6"
    assert fields["Answered"] == "3 (50%)"
    assert fields["Clarified"] == "1 (17%)"
    assert fields["Escalated"] == "2 (33%)"
    assert fields["Resolved (confirmed)"] == "2 (33%)"
    assert fields["Resolved (assumed)"] == "2 (33%)"
    assert fields["CSAT"].startswith("5.00/5, 100% 4–5 (1 ratings)")
    assert fields["Median first staff reply"] != "—"
    assert fields["Median time to resolution"] != "—"

    png = result.image_png
    assert png and png.startswith(PNG_MAGIC) and result.image_name.endswith(".png")
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels.std() > 0  # not a blank canvas
    embedded = json.loads(Image.open(io.BytesIO(png)).text["Description"])
    assert embedded == {
        "kind": "bars",
        "labels": ["questions", "answered", "clarified", "escalated", "confirmed", "assumed"],
        "series": {"count": [6, 3, 1, 2, 2, 2]},
    }

    stats, chart_png = stats_report(app.engine, days=7)
    assert stats["chart"] == embedded
    assert stats["decisions"]["total"] == 6 and stats["tickets"] == 2
    assert stats["csat"] == {"ratings": 1, "mean": 5.0, "pct_4_5": 100.0}
    assert stats["median_first_reply_s"] >= 0 and stats["median_resolution_s"] >= 0
    assert chart_png.startswith(PNG_MAGIC)


def test_stats_by_platform_and_issue_type(app) -> None:
    _drive(app)
    result = run_command(app, STAFF, "stats 30d by platform")
    assert result.ok, result.text
    assert result.table[0][0] == "platform"
    rows = {row[0]: row[1:] for row in result.table[1:]}
    assert rows == {"discord": ["1", "1", "0", "0"], "slack": ["5", "2", "1", "2"]}
    png = Image.open(io.BytesIO(result.image_png))
    data = json.loads(png.text["Description"])
    assert data["kind"] == "stacked" and data["labels"] == ["discord", "slack"]
    assert data["series"] == {"answered": [1, 2], "clarified": [0, 1], "escalated": [0, 2]}

    by_type = compute_stats(app.engine, days=30, by="issue-type")
    assert sum(g["questions"] for g in by_type["groups"].values()) == 6
    assert by_type["groups"]["password_reset"]["answered"] == 1
    assert run_command(app, STAFF, "stats by issue").ok


def test_stats_window_excludes_old_activity(app) -> None:
    _drive(app)
    later = compute_stats(app.engine, days=7, now=utcnow() + timedelta(days=30))
    assert later["questions"] == 0 and later["chart"]["series"]["count"] == [0] * 6
    empty = run_command(app, STAFF, "stats")
    assert empty.ok


def test_audit_shows_who_and_before_after_and_undo(app) -> None:
    default = DEFAULT_THRESHOLDS["answer"]
    assert run_command(app, ADMIN, "threshold set answer 0.8").ok
    assert run_command(app, ADMIN, "persona set tone formal").ok
    result = run_command(app, ADMIN, "audit 5")
    assert result.ok
    header, *rows = result.table
    assert header == ["ID", "When (UTC)", "Who", "Action", "Target", "Before → after"]
    persona_row, threshold_row = rows[0], rows[1]
    assert persona_row[2].startswith("slack:UADMIN") and persona_row[3] == "set persona"
    assert persona_row[5] == "tone: friendly → formal"
    assert threshold_row[3] == "set thresholds"
    assert threshold_row[5] == f"answer: {default} → 0.8"

    undo = run_command(app, ADMIN, f"audit undo {threshold_row[0]}")
    assert undo.ok, undo.text
    assert app.settings.thresholds()["answer"] == default
    assert not run_command(app, ADMIN, f"audit undo {threshold_row[0]}").ok


def test_undo_refuses_when_the_setting_changed_since(app) -> None:
    default = DEFAULT_THRESHOLDS["answer"]
    assert run_command(app, ADMIN, "threshold set answer 0.75").ok
    first = run_command(app, ADMIN, "audit 1").table[1][0]
    assert run_command(app, ADMIN, "threshold set answer 0.8").ok
    refused = run_command(app, ADMIN, f"audit undo {first}")
    assert not refused.ok and "changed since" in refused.text
    assert app.settings.thresholds()["answer"] == 0.8
    forced = run_command(app, ADMIN, f"audit undo {first} --force")
    assert forced.ok and app.settings.get("thresholds")["answer"] == default
    assert not run_command(app, ADMIN, "audit undo 999999").ok


def test_csat_is_split_by_how_staff_used_the_ai_draft(app) -> None:
    from bot.llm import record_assist_use

    outcomes = [("sent", 5), ("edited", 3), (None, 4), ("sent", 4)]
    for n, (used, rating) in enumerate(outcomes):
        reply = ask(app, "I want to talk to a human", user=f"UR{n}")
        assert reply.route == "escalate" and reply.ticket_id
        if used:
            record_assist_use(app, reply.ticket_id, used, "USTAFF", "final words")
        app.desk.staff_message(reply.ticket_id, "USTAFF", "Sam", "Sorted, thanks for waiting.")
        app.desk.resolve(reply.ticket_id, "USTAFF")
        app.desk.record_rating(reply.ticket_id, rating, f"UR{n}")
    split = compute_stats(app.engine, days=7)["csat_by_assist"]
    assert split == {
        "edited": {"ratings": 1, "mean": 3.0},
        "none": {"ratings": 1, "mean": 4.0},
        "sent": {"ratings": 2, "mean": 4.5},
    }
    fields = dict(run_command(app, STAFF, "stats 7d").fields)
    assert fields["CSAT, AI draft sent as is"] == "4.50/5 (2)"
    assert fields["CSAT, no AI draft"] == "4.00/5 (1)"


def test_no_assist_rows_when_no_draft_was_ever_offered(app) -> None:
    _drive(app)
    fields = dict(run_command(app, STAFF, "stats 7d").fields)
    assert not any(name.startswith("CSAT, ") for name in fields)
