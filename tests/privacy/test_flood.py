"""A flood through the Slack HTTP server: at most one card, one flood note, others still answered."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from slack_sdk import WebClient
from sqlmodel import Session, select

from admin_commands import Caller, run_command
from bot.models import Message, OutboxItem, Ticket
from bot.slack.bench import _post
from bot.slack.server import EVENTS_PATH, make_http_server
from tests.conftest import copy_app
from tests.slack.conftest import SECRET, STAFF_CHANNEL, Harness, new_ts, unique

FLOOD = 40
CALM_Q = "how do I reset my password?"


def make_harness(sample_template, tmp_path, embedder, fake) -> Harness:
    from bot.slack import build_slack_app

    app = copy_app(
        sample_template,
        tmp_path / "home",
        embedder,
        slack_signing_secret=SECRET,
        slack_bot_token="xoxb-test",
        slack_escalation_channel=STAFF_CHANNEL,
        slack_admin_users="UADMIN",
        slack_api_url=fake.api_url,
    )
    client = WebClient(token="xoxb-test", base_url=fake.api_url)
    return Harness(app, build_slack_app(app, client, verify_token=False), fake)


def mention(h: Harness, user: str, channel: str, text: str) -> tuple[str, str]:
    ts = new_ts()
    event = h.message_event(f"<@UBOT> {text}", channel, user, ts, kind="app_mention")
    return ts, h.event_body(event)


def answered_in(h: Harness, channel: str, ts: str, posted: float, timeout: float = 120) -> float:
    """Milliseconds from posting until the bot's answer appeared in the thread (a figure)."""
    while time.perf_counter() - posted < timeout:
        if any(
            c.params.get("channel") == channel and c.params.get("thread_ts") == ts
            for c in h.fake.of("chat.postMessage")
        ):
            return (time.perf_counter() - posted) * 1000
        time.sleep(0.005)
    raise AssertionError("the calm member was never answered")


def test_flood_makes_one_card_one_note_and_others_are_still_answered(
    sample_template, tmp_path, embedder, slack_fake
):
    h = make_harness(sample_template, tmp_path, embedder, slack_fake)
    server = make_http_server(h.bolt, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}{EVENTS_PATH}"
    try:
        channel, calm_channel = unique("CFLOOD"), unique("CCALM")
        ts, body = mention(h, "UCALM", calm_channel, CALM_Q)
        started = time.perf_counter()
        assert _post(url, body, SECRET)[0] == 200
        quiet_ms = answered_in(h, calm_channel, ts, started)

        flood = [
            mention(h, "UFLOOD", channel, f"I want to talk to a person NOW, refund #{i}")[1]
            for i in range(FLOOD)
        ]
        with ThreadPoolExecutor(max_workers=8) as pool:
            sent = [pool.submit(_post, url, b, SECRET) for b in flood]
            time.sleep(0.05)  # the flood is under way
            ts, body = mention(h, "UCALM", calm_channel, CALM_Q)
            started = time.perf_counter()
            assert _post(url, body, SECRET)[0] == 200
            flood_ms = answered_in(h, calm_channel, ts, started)
            assert all(f.result()[0] == 200 for f in sent)
        assert h.adapter.wait_idle(300)
        print(
            f"\ncalm member answered in {quiet_ms:.0f} ms alone, {flood_ms:.0f} ms during a "
            f"{FLOOD}-message flood"
        )  # fmt: skip  (a figure to report, not assert)

        cards = [c for c in slack_fake.of("chat.postMessage")
                 if c.params["channel"] == STAFF_CHANNEL and "Escalation #" in c.params["text"]]  # fmt: skip
        assert len(cards) == 1
        with Session(h.deskhand.engine) as session:
            tickets = session.exec(select(Ticket)).all()
            alerts = session.exec(select(OutboxItem).where(OutboxItem.kind == "alert")).all()
            kept = session.exec(select(Message).where(Message.author_id == "UFLOOD")).all()
        assert len(tickets) == 1
        assert [a for a in alerts if "Possible flood" in json.loads(a.payload)["text"]]
        assert len(alerts) == 1
        assert len(kept) >= FLOOD, "every flood message is kept on record"
        cooldowns = [c for c in slack_fake.of("chat.postEphemeral")
                     if c.params["user"] == "UFLOOD" and "faster than I can help" in c.params["text"]]  # fmt: skip
        assert len(cooldowns) == 1
    finally:
        server.shutdown()
        server.server_close()
        h.adapter.stop(5)


def test_block_and_unblock_are_audited_and_obeyed(sample_template, tmp_path, embedder, slack_fake):
    h = make_harness(sample_template, tmp_path, embedder, slack_fake)
    admin = Caller("slack", "UADMIN", "Ada")
    try:
        assert not run_command(h.deskhand, admin, "block <@UPEST> soon").ok
        assert run_command(h.deskhand, admin, "block <@UPEST> 1d").ok
        channel = unique("C")
        h.event(h.message_event(f"<@UBOT> {CALM_Q}", channel, "UPEST", kind="app_mention"))
        h.idle()
        assert not [c for c in slack_fake.of("chat.postMessage") if c.params["channel"] == channel]
        assert run_command(h.deskhand, admin, "unblock <@UPEST>").ok
        h.event(h.message_event(f"<@UBOT> {CALM_Q}", channel, "UPEST", kind="app_mention"))
        h.idle()
        assert [c for c in slack_fake.of("chat.postMessage") if c.params["channel"] == channel]
        assert not run_command(h.deskhand, Caller("slack", "UPEST"), "unblock <@UPEST>").ok
    finally:
        h.adapter.stop(5)


def test_an_escalated_member_asking_again_joins_their_ticket(
    sample_template, tmp_path, embedder, slack_fake
):
    h = make_harness(sample_template, tmp_path, embedder, slack_fake)
    try:
        first, second = unique("C"), unique("C")
        h.event(
            h.message_event("<@UBOT> I want to talk to a person", first, "UESC", kind="app_mention")
        )
        h.idle()
        h.event(
            h.message_event(
                "<@UBOT> a person please, it's urgent", second, "UESC", kind="app_mention"
            )
        )
        h.idle()
        with Session(h.deskhand.engine) as session:
            [ticket] = session.exec(select(Ticket)).all()
        staff_posts = [c for c in slack_fake.of("chat.postMessage")
                       if c.params["channel"] == STAFF_CHANNEL]  # fmt: skip
        assert sum("Escalation #" in c.params["text"] for c in staff_posts) == 1
        assert any("it's urgent" in c.params["text"] for c in staff_posts)
        [joined] = [c for c in slack_fake.of("chat.postEphemeral") if c.params["user"] == "UESC"]
        assert f"#{ticket.id}" in joined.params["text"]
    finally:
        h.adapter.stop(5)


def test_a_relay_that_overtakes_its_card_brings_the_card_up_first(
    sample_template, tmp_path, embedder, slack_fake
):
    """The flood's race, made certain: the member's next message is relayed before the worker
    that escalated posted the card. The card goes first, once, and the relay follows it."""
    from bot.contracts import IncomingMessage, Member

    h = make_harness(sample_template, tmp_path, embedder, slack_fake)
    try:
        first = unique("C")
        escalated = h.deskhand.service.handle(  # decided and recorded; its card not posted yet
            IncomingMessage(
                "slack",
                first,
                "1.0001",
                "1.0001",
                "I want to talk to a person",
                Member("URACE", "Rae"),
                mentioned=True,
            )  # fmt: skip
        )
        assert escalated.route == "escalate" and escalated.ticket_id
        h.event(h.message_event("<@UBOT> a person please, it's urgent", unique("C"), "URACE",
                                kind="app_mention"))  # fmt: skip
        h.idle()
        staff_posts = [c for c in slack_fake.of("chat.postMessage")
                       if c.params["channel"] == STAFF_CHANNEL]  # fmt: skip
        cards = [c for c in staff_posts if "Escalation #" in c.params["text"]]
        assert len(cards) == 1
        relayed = [c for c in staff_posts if "it's urgent" in c.params["text"]]
        assert (
            relayed
            and relayed[0].params["thread_ts"]
            == h.deskhand.desk.get(escalated.ticket_id).staff_thread_id
        )
        assert staff_posts.index(cards[0]) < staff_posts.index(relayed[0])
        # the escalating worker now delivers: the card is already up, nothing is posted twice
        h.adapter.escalate(escalated.ticket_id, escalated.text, "1.0001")
        again = [c for c in slack_fake.of("chat.postMessage")
                 if c.params["channel"] == STAFF_CHANNEL and "Escalation #" in c.params["text"]]  # fmt: skip
        assert len(again) == 1
    finally:
        h.adapter.stop(5)
