"""Alerts reach Slack from the background loop: once, with the on-call ping and the chart."""

from __future__ import annotations

import io
import json
import time

from PIL import Image
from sqlmodel import Session, select

from bot.models import AlertEvent, Ticket
from bot.monitoring.alerts import alert_settings
from bot.slack.server import start_retry_loop
from tests.slack.conftest import STAFF_CHANNEL, Harness, unique
from tests.slack.test_flows import ask, posts

ONCALL = "<!subteam^S0ONCALL>"


def _alert_posts(h: Harness, needle: str) -> list:
    return [c for c in posts(h, STAFF_CHANNEL) if needle in c.params.get("text", "")]


def _run_loops(h: Harness, needle: str, loops: int = 2, settle_s: float = 1.5) -> list:
    """Run `loops` retry loops (as that many bot processes would) until the alert is out."""
    stops = [start_retry_loop(h.bolt, interval_s=0.1) for _ in range(loops)]
    try:
        deadline = time.monotonic() + 30
        while not _alert_posts(h, needle) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(settle_s)  # many more passes of both loops
    finally:
        for stop in stops:
            stop.set()
        time.sleep(0.3)
    return _alert_posts(h, needle)


def test_urgent_ticket_pings_oncall_once_from_two_loops(harness: Harness) -> None:
    h = harness
    before = h.deskhand.settings.get("alerts")
    h.deskhand.settings.set("alerts", {**(before or {}), "oncall": {"slack": ONCALL}})
    try:
        channel = unique("C")
        ask(h, "Someone hacked my account and changed my password!", channel, unique("U"))
        with Session(h.deskhand.engine) as session:
            ticket = session.exec(select(Ticket).order_by(Ticket.id.desc())).first()
        assert ticket.severity == "urgent"
        needle = f"Urgent ticket #{ticket.id}"
        [call] = _run_loops(h, needle)
        assert call.params["text"].startswith(ONCALL)  # the mention is live, not escaped
        assert {"type": "section", "text": {"type": "mrkdwn", "text": ONCALL}} in call.params[
            "blocks"
        ]
        fields = json.dumps(call.params["blocks"])
        assert f"/deskhand ticket {ticket.id}" in fields and "alerts mute urgent_ticket" in fields
    finally:
        h.deskhand.settings.set("alerts", before or {})


def test_recorded_alert_with_a_chart_posts_once_and_uploads_the_png(harness: Harness) -> None:
    h = harness
    chart = {
        "kind": "lines",
        "title": "Escalation refunds: escalation_rate per 24 h",
        "labels": ["2026-12-01", "2026-12-02", "2026-12-03"],
        "series": {"escalation_rate": [0.1, 0.12, 0.8]},
        "conversations": [40, 38, 41],
    }
    subject = unique("topic")
    with Session(h.deskhand.engine) as session:
        session.add(
            AlertEvent(
                key=f"escalation_spike:{subject}",
                kind="escalation_spike",
                subject=subject,
                severity="critical",
                title=f"Escalation spike: {subject}",
                text="33 of 41 conversations escalated.",
                evidence=json.dumps({"command": "/deskhand stats 14d trend day", "chart": chart}),
            )
        )
        session.commit()
    assert alert_settings(h.deskhand.settings.get("alerts"))["thresholds"]["max_per_hour"] >= 1
    [call] = _run_loops(h, f"Escalation spike: {subject}")
    completes = [
        c
        for c in h.fake.of("files.completeUploadExternal")
        if c.params.get("thread_ts") == call.response["ts"]
    ]
    assert len(completes) == 1 and completes[0].params["channel_id"] == STAFF_CHANNEL
    uploads = [c for c in h.fake.of("upload") if c.raw.startswith(b"\x89PNG")]
    embedded = [json.loads(Image.open(io.BytesIO(u.raw)).text["Description"]) for u in uploads]
    assert chart in embedded  # the picture carries exactly the recorded numbers
