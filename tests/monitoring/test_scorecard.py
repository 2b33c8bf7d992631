"""The scorecard from real recorded conversations: each figure, segments, version, old homes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import timedelta

from sqlmodel import Session, select

from bot.contracts import Member
from bot.db import make_engine
from bot.models import Conversation, Decision
from bot.monitoring.scorecard import compute_report
from knowledge.models import utcnow
from tests.admin.conftest import ADMIN, ask


def _key(app, conversation_id: int) -> str:
    with Session(app.engine) as session:
        return session.get(Conversation, conversation_id).key


def _drive(app) -> dict[str, int]:
    """Known outcomes: confirmed, assumed, clarify-only, hard and soft escalations, a repeat."""
    a = ask(app, "How do I reset my password?", user="UA")
    app.service.handle_action(_key(app, a.conversation_id), "helpful", "", Member("UA"), "slack")
    assert ask(app, "How do I export my data?", user="UB").route == "answer"  # assumed
    assert ask(app, "how do I change my plan", user="UC").route == "clarify"  # unresolved
    d = ask(app, "I want to talk to a human", user="UD")  # hard escalation, staff resolve
    app.desk.claim(d.ticket_id, "USTAFF")
    app.desk.staff_message(d.ticket_id, "USTAFF", "Sam", "Hi! I can help with that.")
    app.desk.resolve(d.ticket_id, "USTAFF")
    app.desk.record_rating(d.ticket_id, 4, "UD")
    e = ask(app, "How do I export my data?", user="UE")  # answered, then Not helpful → person
    soft = app.service.handle_action(
        _key(app, e.conversation_id), "not_helpful", "", Member("UE"), "slack"
    )
    assert soft.route == "escalate"
    again = ask(app, "How do I reset my password?", user="UA")  # UA returns: repeat contact
    assert again.route == "answer"
    return {"confirmed_conv": a.conversation_id}


def test_every_figure_from_recorded_conversations(app) -> None:
    _drive(app)
    now = utcnow()
    data = compute_report(app.engine, now - timedelta(days=1), now + timedelta(seconds=1))
    card = data["scorecard"]
    assert card["conversations"] == 6
    assert (card["answered"], card["clarified"], card["escalated"]) == (3, 1, 2)
    # confirmed: helpful (UA) + staff resolved (UD); assumed: UB and UA's second thread
    assert (card["confirmed"], card["assumed"], card["unresolved"]) == (2, 2, 2)
    assert card["escalation_rate"] == round(2 / 6, 4)
    assert card["soft_escalations"] == 1  # answered, Not helpful, then a person
    assert card["clarification_rate"] == round(1 / 6, 4)
    assert card["repeat_contact_rate"] == round(1 / 6, 4)
    assert card["fcr_rate"] == round(3 / 6, 4)  # 4 resolved minus UA's first (came back)
    assert card["confident_wrong"] == 1 and card["thumbs_down"] == 1 and card["thumbs_up"] == 1
    assert card["not_helpful_rate"] == round(1 / 4, 4)  # of 4 conversations with an answer
    assert card["csat_ratings"] == 1 and card["csat_mean"] == 4.0 and card["csat_pct_4_5"] == 1.0
    assert card["turns_per_resolution"] == 1.0
    assert card["bot_first_response_ms_p50"] > 0
    assert card["staff_first_response_s_p50"] is not None
    assert card["staff_handle_s_p50"] is not None and card["staff_resolution_s_p50"] is not None
    assert card["bot_resolution_s_p50"] is not None
    assert card["llm_calls"] == 0 and card["outbox_items"] == 0


def test_segments_cover_every_conversation_and_version_is_recorded(app) -> None:
    _drive(app)
    now = utcnow()
    since, until = now - timedelta(days=1), now + timedelta(seconds=1)
    for by in (
        "channel",
        "platform",
        "issue-type",
        "team",
        "language",
        "tier",
        "escalation-reason",
        "bot-version",
    ):
        data = compute_report(app.engine, since, until, by=by)
        total = sum(s["scorecard"]["conversations"] for s in data["segments"].values())
        assert total == 6, by
    reasons = compute_report(app.engine, since, until, by="reason")["segments"]
    assert reasons["none"]["scorecard"]["conversations"] == 4
    assert set(reasons) - {"none"}  # the two escalations carry their first reason
    assert set(compute_report(app.engine, since, until, by="language")["segments"]) == {"en"}
    versions = compute_report(app.engine, since, until, by="version")["segments"]
    assert len(versions) == 1 and "unknown" not in versions

    # a configuration change (threshold) gives later decisions a new version
    from admin_commands import run_command

    changed = 0.7 if app.settings.thresholds()["answer"] != 0.7 else 0.75  # a real change
    assert run_command(app, ADMIN, f"threshold set answer {changed}").ok
    ask(app, "How do I reset my password?", user="UZ")
    versions = compute_report(app.engine, since, utcnow(), by="version")["segments"]
    assert len(versions) == 2
    assert sorted(v["scorecard"]["conversations"] for v in versions.values()) == [1, 6]


def test_tier_segment_from_vip_and_role_settings(app) -> None:
    app.settings.set("vip_users", ["slack:UVIP"])
    app.settings.set("member_tiers", {"partner": ["Partners"]})
    ask(app, "How do I export my data?", user="UVIP")
    from bot.contracts import IncomingMessage

    app.service.handle(
        IncomingMessage(
            "discord",
            "9001",
            "tp1",
            "tp1-m",
            "How do I export my data?",
            Member("UP", "P", roles=("Partners",)),
            mentioned=True,
        )
    )
    ask(app, "How do I export my data?", user="UPLAIN")
    now = utcnow()
    tiers = compute_report(app.engine, now - timedelta(hours=1), now, by="tier")["segments"]
    assert {k: v["scorecard"]["conversations"] for k, v in tiers.items()} == {
        "partner": 1,
        "standard": 1,
        "vip": 1,
    }


def test_series_has_every_period_and_sums_to_the_total(app) -> None:
    _drive(app)
    now = utcnow()
    data = compute_report(app.engine, now - timedelta(days=20), now, series="day", by="platform")
    assert len(data["series"]) in (21, 22)
    assert sum(b["conversations"] for b in data["series"]) == 6
    assert data["series"][-1]["conversations"] == 6
    assert sum(b["conversations"] for b in data["segments"]["slack"]["series"]) == 6
    weeks = compute_report(app.engine, now - timedelta(weeks=8), now, series="week")["series"]
    assert 8 <= len(weeks) <= 9 and sum(w["conversations"] for w in weeks) == 6


def test_old_database_gains_the_columns_idempotently(tmp_path) -> None:
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE decision (id INTEGER PRIMARY KEY, conversation_id INTEGER NOT NULL,"
        " message_id INTEGER, platform VARCHAR NOT NULL, channel_id VARCHAR NOT NULL,"
        " route VARCHAR NOT NULL, issue_type VARCHAR NOT NULL, confidence FLOAT NOT NULL,"
        " retrieval_score FLOAT NOT NULL, reasons VARCHAR NOT NULL, top_article_id INTEGER,"
        " question VARCHAR NOT NULL, latency_ms FLOAT NOT NULL, shadow BOOLEAN NOT NULL,"
        " created_at DATETIME NOT NULL)"
    )
    con.execute(
        "INSERT INTO decision VALUES (1, 1, NULL, 'slack', 'C', 'answer', '', 0.9, 0.9, '[]',"
        " NULL, 'q', 1.0, 0, '2026-01-01 00:00:00')"
    )
    con.commit()
    con.close()
    for _ in range(2):
        engine = make_engine(f"sqlite:///{path}")
        with Session(engine) as session:
            row = session.exec(select(Decision)).one()
            assert row.bot_version == "" and row.member_tier == ""
        engine.dispose()
    con = sqlite3.connect(path)
    indexes = {r[1] for r in con.execute("PRAGMA index_list('decision')")}
    plan = " ".join(
        str(r)
        for r in con.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM conversation WHERE created_at >= '2026-01-01'"
        )
    )
    con.close()
    assert "ix_decision_created_at" in indexes
    assert "ix_conversation_created_at" in plan


def test_cli_stats_json_and_one_line_errors(app, tmp_path) -> None:
    _drive(app)
    env = {
        "DESKHAND_HOME": str(app.config.home_path),
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(__import__("pathlib").Path(__file__).resolve().parents[2]),
        "HF_HUB_OFFLINE": "1",
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "stats",
            "--json",
            "--since",
            "8w",
            "--by",
            "platform",
            "--series",
            "week",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["scorecard"]["conversations"] == 6
    assert set(data["segments"]) == {"slack"} and data["series_unit"] == "week"
    bad = subprocess.run(
        [sys.executable, "-m", "bot.cli", "stats", "--since", "eight weeks"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
