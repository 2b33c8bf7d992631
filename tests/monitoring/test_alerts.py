"""Alerts on simulated and real traffic: the drift is caught within a day, the control stays quiet."""

from __future__ import annotations

import io
import json
from datetime import timedelta

from PIL import Image
from sqlmodel import Session, select

from admin_commands import run_command
from admin_commands.alerts_cmd import alert_posts
from bot.db import make_engine
from bot.models import AlertEvent, LlmCall, OutboxItem, Ticket
from bot.monitoring.alerts import backtest, mark_posted, run_checks
from bot.monitoring.facts import load_window
from bot.monitoring.simulate import Drift, SimConfig, simulate
from knowledge.models import utcnow
from tests.admin.conftest import ADMIN, STAFF, ask

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_drift_caught_within_one_simulated_day_and_control_period_silent(app) -> None:
    sim = simulate(app.engine, SimConfig(days=28, seed=7, drift=Drift(day=21)))
    assert sim.drift_article_id is not None  # the sample KB: the bad edit hits a real article
    report = backtest(app.engine, sim)
    print(
        f"\nbacktest: {report['checks']} hourly checks, {report['control_checks']} in control, "
        f"false alarms {report['false_alarms']} (rate {report['false_alarm_rate']}), "
        f"drift caught after {report['detection_delay_h']} h"
    )
    assert report["false_alarms"] == 0, report["alerts"]
    assert report["detection_delay_h"] is not None and report["detection_delay_h"] <= 24
    drift_keys = {a["key"] for a in report["alerts"] if not a["control"]}
    assert f"escalation_spike:{sim.drift_topic}" in drift_keys
    assert f"not_helpful_spike:#{sim.drift_article_id}" in drift_keys


def test_no_drift_run_raises_nothing(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'quiet.sqlite'}")
    sim = simulate(engine, SimConfig(days=21, seed=11, drift=None))
    report = backtest(engine, sim, step_hours=2)
    assert report["checks"] > 100 and report["alerts"] == [], report["alerts"]
    assert report["false_alarm_rate"] == 0.0


def test_live_alert_recorded_once_posted_with_a_chart_whose_data_matches(app) -> None:
    now = utcnow()
    sim = simulate(
        app.engine,
        SimConfig(days=21, seed=3, start=now - timedelta(days=21), drift=Drift(day=20.0)),
    )
    fired = run_checks(app, now)
    spike = next(a for a in fired if a.key == f"escalation_spike:{sim.drift_topic}")
    assert not [a for a in run_checks(app, now) if a.key == spike.key]  # deduplicated
    posts = alert_posts(app, "slack")
    assert {channel for _, channel, _ in posts} == {"CSTAFF"}
    event_id, _, result = next(p for p in posts if sim.drift_topic in p[2].title)
    assert result.image_png.startswith(PNG_MAGIC) and not result.ephemeral
    data = json.loads(Image.open(io.BytesIO(result.image_png)).text["Description"])
    last = spike.evidence["last_24h"]
    assert data["series"]["escalation_rate"][-1] == round(last["bad"] / last["n"], 4)
    assert data["conversations"][-1] == last["n"]
    # the last point, recomputed from the recorded conversations
    facts = load_window(app.engine, now - timedelta(days=1), now).facts
    topic = [f for f in facts if f.issue_type == sim.drift_topic]
    assert len(topic) == last["n"] and sum(f.escalated for f in topic) == last["bad"]
    assert dict(result.fields)["Evidence"].startswith("`/deskhand stats")
    mark_posted(app, event_id, "slack")
    assert event_id not in [p[0] for p in alert_posts(app, "slack")]
    assert alert_posts(app, "discord") == []  # no Discord staff channel configured


def test_mute_and_thresholds_from_chat(app) -> None:
    now = utcnow()
    simulate(
        app.engine,
        SimConfig(days=21, seed=3, start=now - timedelta(days=21), drift=Drift(day=20.0)),
    )
    assert run_command(app, STAFF, "alerts mute escalation_spike 7d").ok
    assert run_command(app, ADMIN, "alerts set rate_delta 0.95").ok  # nothing is that bad
    assert not run_command(app, ADMIN, "alerts set rate_delta lots").ok
    assert not run_command(app, ADMIN, "alerts set nonsense 1").ok
    assert not run_command(app, STAFF, "alerts mute everything").ok
    assert not run_command(app, STAFF, "alerts set rate_delta 0.1").ok  # admins only
    fired = run_checks(app, now)
    assert not [a for a in fired if a.kind in ("escalation_spike", "not_helpful_spike")]
    shown = run_command(app, STAFF, "alerts show")
    assert shown.ok and ["rate_delta", "0.95", "0.3"] in shown.table
    assert "escalation_spike" in dict(shown.fields)["Muted"]


def test_sla_reminder_then_oncall_and_business_hours(app) -> None:
    reply = ask(app, "I want to talk to a human", user="USLA")
    assert reply.ticket_id
    assert run_command(app, ADMIN, "alerts set sla support 30").ok
    assert run_command(app, ADMIN, "alerts set oncall slack <!subteam^S0ONCALL>").ok
    with Session(app.engine) as session:
        ticket = session.get(Ticket, reply.ticket_id)
        team = ticket.team
        created = ticket.created_at
    run_command(app, ADMIN, f"alerts set sla {team or 'default'} 30")
    fired = run_checks(app, created + timedelta(minutes=40))
    assert [a.kind for a in fired if a.subject == f"ticket#{reply.ticket_id}"] == ["sla_reminder"]
    fired = run_checks(app, created + timedelta(minutes=70))
    oncall = [a for a in fired if a.kind == "sla_oncall"]
    assert oncall and oncall[0].oncall
    texts = [r.text for _, _, r in alert_posts(app, "slack")]
    assert any(t.startswith("<!subteam^S0ONCALL>") for t in texts)
    # claimed tickets are never reminded
    app.desk.claim(reply.ticket_id, "USTAFF")
    assert not [a for a in run_checks(app, created + timedelta(days=3)) if "ticket#" in a.key]


def test_business_hours_pause_the_sla_clock(app) -> None:
    reply = ask(app, "I want to talk to a human", user="UBH")
    with Session(app.engine) as session:
        created = session.get(Ticket, reply.ticket_id).created_at
    closed_all_week = {"enabled": True, "days": ["sun"], "start": "09:00", "end": "09:30"}
    app.settings.set("business_hours", closed_all_week)
    fired = run_checks(app, created + timedelta(hours=5))
    if created.weekday() != 6:
        assert not [a for a in fired if a.key.startswith("sla_")]


def test_urgent_ticket_pings_oncall_at_once(app) -> None:
    reply = ask(app, "I want to talk to a human", user="UURG")
    with Session(app.engine) as session:
        ticket = session.get(Ticket, reply.ticket_id)
        ticket.severity = "urgent"
        session.add(ticket)
        session.commit()
    fired = run_checks(app)
    urgent = [a for a in fired if a.kind == "urgent_ticket"]
    assert urgent and urgent[0].oncall and urgent[0].subject == f"ticket#{reply.ticket_id}"


def test_llm_and_outbox_failures(app) -> None:
    with Session(app.engine) as session:
        for _ in range(6):
            session.add(LlmCall(model="m", purpose="answer", ok=False, error="timeout"))
        session.add(LlmCall(model="m", purpose="answer", ok=True))
        session.add(
            OutboxItem(
                platform="discord",
                kind="post",
                payload="{}",
                status="dead",
                last_error="403 Forbidden",
            )
        )
        session.commit()
    kinds = {a.key for a in run_checks(app)}
    assert {"llm_failures:all", "outbox_failures:discord"} <= kinds


def test_unanswered_cluster_from_real_questions(app) -> None:
    for n, text in enumerate(
        [
            "how do I configure the quantum flux capacitor",
            "quantum flux capacitor configuration help",
            "configure my quantum flux capacitor please",
            "the quantum flux capacitor needs configuring",
        ]
    ):
        assert ask(app, text, user=f"UQ{n}").route in ("escalate", "decline")
    fired = [a for a in run_checks(app) if a.kind == "unanswered_cluster"]
    assert fired and len(fired[0].evidence["conversation_ids"]) == 4
    assert "capacitor" in fired[0].subject


def test_volume_spike_and_rising_clarification(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'v.sqlite'}")
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    simulate(engine, SimConfig(days=14, seed=5, start=now - timedelta(days=21), drift=None))
    simulate(
        engine, SimConfig(days=6, seed=6, start=now - timedelta(days=7), drift=None, p_clarify=0.6)
    )
    simulate(
        engine,
        SimConfig(
            days=1,
            seed=8,
            start=now - timedelta(days=1),
            per_day=700,
            weekend_factor=1.0,
            drift=None,
        ),
    )
    from types import SimpleNamespace

    from bot.runtime_settings import SettingsStore

    fired = {
        a.kind
        for a in run_checks(SimpleNamespace(engine=engine, settings=SettingsStore(engine)), now)
    }
    assert {"volume_spike", "rising_clarification"} <= fired
    with Session(engine) as session:
        assert session.exec(select(AlertEvent)).all()
