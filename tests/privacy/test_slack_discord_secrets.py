"""Secrets planted through the real Slack and Discord adapters are nowhere in clear afterwards."""

from __future__ import annotations

import json
from dataclasses import asdict

from slack_sdk import WebClient
from sqlmodel import Session, select

from bot.models import Message, Ticket
from tests.conftest import copy_app
from tests.discord.conftest import GUILD, HELP, STAFF
from tests.discord.conftest import Harness as DiscordHarness
from tests.privacy.conftest import (
    PASSWORD,
    PLANTED,
    SECRETS,
    STRIPE,
    everything_seen,
    llm_overrides,
    scan_files,
)
from tests.slack.conftest import SECRET, STAFF_CHANNEL, Harness, new_ts, unique

SUPPORT = "billing@lumen.example"  # staff may share the support address; secrets they may not


def slack_app(sample_template, tmp_path, embedder, fake_llm, fake):
    """A fresh Deskhand in LLM mode wired to the fake Slack."""
    from bot.slack import build_slack_app

    app = copy_app(
        sample_template,
        tmp_path / "home",
        embedder,
        slack_signing_secret=SECRET,
        slack_bot_token="xoxb-test",
        slack_escalation_channel=STAFF_CHANNEL,
        slack_admin_users="UADMIN",
        slack_staff_users="USTAFF",
        slack_api_url=fake.api_url,
        **llm_overrides(fake_llm),
    )
    bolt = build_slack_app(
        app, WebClient(token="xoxb-test", base_url=fake.api_url), verify_token=False
    )
    return Harness(app, bolt, fake)


def test_slack_secrets_never_stored_logged_sent_or_shown(
    sample_template, tmp_path, embedder, fake_llm, slack_fake, all_logs
):
    fake = slack_fake
    h = slack_app(sample_template, tmp_path, embedder, fake_llm, fake)
    try:
        channel, user, ts = unique("C"), "UMEMBER", new_ts()
        h.event(h.message_event(f"<@UBOT> {PLANTED}", channel, user, ts, kind="app_mention"))
        h.idle()
        # a follow-up while a person has it goes down the relay path, and staff answer
        h.event(h.message_event(f"also my pwd: {PASSWORD}", channel, user, thread_ts=ts))
        h.idle()
        with Session(h.deskhand.engine) as session:
            ticket = session.exec(select(Ticket)).one()
            stored = [m.text for m in session.exec(select(Message))]
        card_ts = ticket.staff_thread_id
        assert card_ts, "the escalation card was posted"
        h.event(
            h.message_event(
                f"Try key {STRIPE} — or mail {SUPPORT}", STAFF_CHANNEL, "USTAFF", thread_ts=card_ts
            )
        )
        h.idle()
        assert fake_llm.requests, "LLM mode really called the model"
        h.deskhand.engine.dispose()
        leaks = scan_files(h.deskhand.config.home_path, SECRETS)
        leaks += everything_seen(all_logs, fake_llm, [asdict(c) for c in fake.calls])
        assert leaks == []

        # meaning is kept: placeholders are stored, the ticket says what was there
        joined = "\n".join(stored)
        assert "[card ending 1111]" in joined and "[IBAN ending 5432]" in joined
        assert "[api key]" in joined and "[password]" in joined and "[email]" in joined
        assert "[phone]" in joined
        # the member was told privately to rotate; nothing else saw the warning
        notices = [c for c in fake.of("chat.postEphemeral") if "rotate" in c.params["text"]]
        assert [(n.params["channel"], n.params["user"]) for n in notices] == [(channel, user)] * 2
        # the staff relay lost the key but kept the support address
        relayed = [c for c in fake.of("chat.postMessage") if c.params.get("channel") == channel]
        assert any("[api key]" in c.params["text"] and SUPPORT in c.params["text"] for c in relayed)
    finally:
        h.adapter.wait_idle(60)
        h.adapter.stop(5)


async def test_discord_secrets_never_stored_logged_sent_or_shown(
    sample_template, tmp_path, embedder, fake_llm, all_logs
):
    import discord

    from tests.discord.conftest import APP_ID, BOT, IDS
    from tests.discord.fake_api import FakeDiscord

    app = copy_app(
        sample_template,
        tmp_path / "home",
        embedder,
        discord_escalation_channel=STAFF,
        discord_help_channels=HELP,
        discord_guilds=GUILD,
        discord_staff_roles="Staff",
        **llm_overrides(fake_llm),
    )
    fake = FakeDiscord(IDS, BOT, APP_ID)
    await fake.start()
    old, discord.http.Route.BASE = discord.http.Route.BASE, fake.base
    h = DiscordHarness(app, fake)
    try:
        bot = await h.start_bot()
        ann = h.user("Ann")
        msg = h.say(bot, h.channels["help"]["id"], ann, PLANTED)
        await h.settle(bot)
        assert fake_llm.requests
        # the message itself was deleted and the member told in a DM to rotate
        assert fake.find("DELETE", rf"/channels/{HELP}/messages/{msg['id']}")
        [dm] = fake.find("POST", r"/users/@me/channels")
        assert str(dm.json["recipient_id"]) == ann["id"]
        [warning] = fake.posts_to(dm.response["id"])
        assert "rotate" in warning.json["content"]
        # the thread title and the staff card show placeholders only
        [thread] = fake.find("POST", rf"/channels/{HELP}/messages/{msg['id']}/threads")
        assert fake.posts_to(STAFF), "the escalation card was posted"
        app.engine.dispose()
        leaks = scan_files(app.config.home_path, SECRETS)
        calls = [{"path": c.path, "json": c.json, "response": c.response} for c in fake.calls]
        leaks += everything_seen(all_logs, fake_llm, calls)
        assert leaks == []
        assert json.dumps(calls).count("[card ending 1111]") >= 1
    finally:
        for b in h.bots:
            await b.close()
        discord.http.Route.BASE = old
        await fake.stop()
