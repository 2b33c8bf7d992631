"""`/deskhand` through the app command tree: ephemeral results, permissions, the kb add modal."""

from __future__ import annotations

from tests.discord import payloads as P


async def test_help_is_ephemeral_and_synced_to_the_configured_guild(harness):
    bot = await harness.start_bot()
    sync = harness.fake.find(
        "PUT", rf"/applications/{harness.app_id}/guilds/{harness.guild_id}/commands"
    )
    assert sync and sync[0].json[0]["name"] == "deskhand"
    token = harness.slash(bot, harness.channels["general"]["id"], harness.user("Pat"), "help")
    await harness.settle(bot)
    cb = harness.fake.find("POST", rf"/interactions/\d+/{token}/callback")
    assert len(cb) == 1
    assert cb[0].json["type"] in (4, 5)
    sent = cb[0].json if cb[0].json["type"] == 4 else None
    if sent is None:
        sent = harness.fake.find("POST", rf"/webhooks/{harness.app_id}/{token}")[-1].json
        assert sent["flags"] & 64
    else:
        sent = sent["data"]
        assert sent["flags"] & 64
    assert sent["embeds"][0]["description"]


async def test_manage_server_is_admin_and_enables_a_help_channel(harness):
    bot = await harness.start_bot()
    general = harness.channels["general"]["id"]
    member_token = harness.slash(bot, general, harness.user("Quin"), "channel enable")
    await harness.settle(bot)
    assert not harness.app.settings.channel("discord", general)["enabled"]
    admin_token = harness.slash(
        bot, general, harness.user("Rae"), "channel enable", permissions=P.ADMIN_PERMS
    )
    await harness.settle(bot)
    try:
        assert harness.app.settings.channel("discord", general)["enabled"]
    finally:
        harness.app.settings.update_channel("discord", general, "test", enabled=False)
    assert member_token != admin_token


async def test_kb_add_opens_a_modal_and_submit_adds_the_article(harness):
    bot = await harness.start_bot()
    staff = harness.channels["staff"]["id"]
    admin = harness.user("Sol")
    token = harness.slash(bot, staff, admin, "kb add", roles=[harness.roles[1]["id"]])
    await harness.settle(bot)
    cb = harness.fake.find("POST", rf"/interactions/\d+/{token}/callback")[0]
    assert cb.json["type"] == 9  # MODAL
    modal = cb.json["data"]
    inputs = [
        c for row in modal["components"] for c in row.get("components", [row.get("component", {})])
    ]
    assert any(i.get("custom_id") == "body" and i.get("style") == 2 for i in inputs)
    data = P.modal_submit(
        harness.ids.next(),
        "tok-modal",
        harness.app_id,
        harness.guild_id,
        harness.fake.channels[staff],
        admin,
        modal["custom_id"],
        {
            "title": "Discord test article",
            "body": "Line one.\nLine two.",
            "url": "",
            "topic": "general",
            "tags": "",
        },
        roles=[harness.roles[1]["id"]],
    )
    bot._connection.parse_interaction_create(data)
    await harness.settle(bot)
    follow = harness.fake.find("POST", rf"/webhooks/{harness.app_id}/tok-modal")
    assert follow and "Article added" in follow[-1].json["embeds"][0]["title"]
    assert any(a.title == "Discord test article" for a in harness.app.kb.list())
