"""Alerts reach Discord from the background loop: once, pinging only the on-call role."""

from __future__ import annotations

import asyncio
import json

from sqlmodel import Session, select

from bot.discord.delivery import retry_loop
from bot.models import AlertEvent, Ticket
from tests.discord.conftest import STAFF, STAFF_ROLE


def _alert_posts(harness, needle: str) -> list:
    return [
        c
        for c in harness.fake.posts_to(STAFF)
        if any(needle in (e.get("title") or "") for e in (c.json or {}).get("embeds") or [])
    ]


async def _run_loops(harness, bot, needle: str, loops: int = 2) -> list:
    """Run `loops` retry loops (as that many bot processes would) until the alert is out."""
    tasks = [asyncio.create_task(retry_loop(bot, 0.05)) for _ in range(loops)]
    try:
        for _ in range(600):
            if _alert_posts(harness, needle):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # many more passes of both loops
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return _alert_posts(harness, needle)


async def test_urgent_ticket_pings_the_oncall_role_once_from_two_loops(harness) -> None:
    app = harness.app
    before = app.settings.get("alerts")
    app.settings.set("alerts", {**(before or {}), "oncall": {"discord": f"<@&{STAFF_ROLE}>"}})
    try:
        bot = await harness.start_bot()
        harness.say(
            bot,
            harness.channels["help"]["id"],
            harness.user("Hana"),
            "Someone hacked my account and changed my email",
            mention=True,
        )
        await harness.settle(bot)
        with Session(app.engine) as session:
            ticket = session.exec(select(Ticket).order_by(Ticket.id.desc())).first()
        assert ticket.severity == "urgent"
        [call] = await _run_loops(harness, bot, f"Urgent ticket #{ticket.id}")
        assert call.json["content"] == f"<@&{STAFF_ROLE}>"
        allowed = call.json["allowed_mentions"]
        assert [str(r) for r in allowed["roles"]] == [
            str(STAFF_ROLE)
        ] and "everyone" not in allowed["parse"]
        fields = {f["name"]: f["value"] for f in call.json["embeds"][0]["fields"]}
        assert fields["Evidence"] == f"`/deskhand ticket {ticket.id}`"
    finally:
        app.settings.set("alerts", before or {})


async def test_recorded_alert_with_a_chart_is_sent_once_as_an_embed_with_the_png(harness) -> None:
    app = harness.app
    chart = {
        "kind": "lines",
        "title": "Not helpful #3 per 24 h",
        "labels": ["2026-12-01", "2026-12-02"],
        "series": {"not_helpful_rate": [0.05, 0.7]},
        "conversations": [30, 33],
    }
    with Session(app.engine) as session:
        event = AlertEvent(
            key="not_helpful_spike:#3",
            kind="not_helpful_spike",
            subject="#3",
            severity="critical",
            title="Not helpful spike: #3",
            text="23 of 33 answers from article #3 got Not helpful.",
            evidence=json.dumps({"command": "/deskhand kb show 3", "chart": chart}),
        )
        session.add(event)
        session.commit()
        event_id = event.id
    bot = await harness.start_bot()
    [call] = await _run_loops(harness, bot, "Not helpful spike: #3")
    name = f"deskhand-not_helpful_spike-{event_id}.png"
    assert call.files == [name]
    embed = call.json["embeds"][0]
    assert embed["image"]["url"] == f"attachment://{name}"
    assert call.json.get("content") in (None, "")  # no on-call ping for this kind
    assert call.json["allowed_mentions"]["parse"] == []
