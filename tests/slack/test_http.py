"""The HTTP adapter over a real socket: signatures, timestamps, slash command, modal, uploads."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.signature import SignatureVerifier

from tests.slack.conftest import SECRET, Harness, http_post, new_ts, sign, unique

PASSWORD_Q = "how do I reset my password?"


@pytest.fixture
def server_url(harness: Harness) -> Iterator[str]:
    from bot.slack import make_http_server

    server = make_http_server(harness.bolt, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}/slack/events"
    server.shutdown()
    server.server_close()


def post_json(url: str, body: str, **sig: Any) -> tuple[int, str]:
    return http_post(url, body, {"Content-Type": "application/json", **sign(body, **sig)})


def post_form(url: str, body: str) -> tuple[int, str]:
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
    return http_post(url, body, headers)


def test_our_signatures_are_what_slack_sdk_verifies() -> None:
    body = '{"type":"event_callback"}'
    headers = sign(body)
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(body, headers)
    assert not SignatureVerifier("other").is_valid_request(body, headers)


def test_signed_event_over_http_is_acked_and_answered(harness: Harness, server_url: str) -> None:
    channel, user, ts = unique("C"), unique("U"), new_ts()
    event = harness.message_event(f"<@UBOT> {PASSWORD_Q}", channel, user, ts, kind="app_mention")
    status, _ = post_json(server_url, harness.event_body(event))
    assert status == 200
    harness.idle()
    [answer] = [c for c in harness.fake.of("chat.postMessage") if c.params["channel"] == channel]
    assert answer.params["thread_ts"] == ts and answer.params["blocks"]


def test_bad_signature_and_stale_timestamp_are_rejected(harness: Harness, server_url: str) -> None:
    channel = unique("C")
    body = harness.event_body(harness.message_event("<@UBOT> hi", channel, kind="app_mention"))
    forged = {"Content-Type": "application/json", **sign(body, secret="not-the-secret")}
    assert http_post(server_url, body, forged)[0] == 401
    assert post_json(server_url, body, timestamp=int(time.time()) - 600)[0] == 401
    assert http_post(server_url, body, {"Content-Type": "application/json"})[0] == 401
    assert harness.dispatch(body, signed=False).status == 401
    tampered = {"Content-Type": "application/json", **sign(body)}
    assert http_post(server_url, body.replace("hi", "hello"), tampered)[0] == 401
    harness.idle()
    assert not [c for c in harness.fake.of("chat.postMessage") if c.params["channel"] == channel]


def test_url_verification_unknown_events_and_paths(harness: Harness, server_url: str) -> None:
    challenge = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "t"})
    status, body = post_json(server_url, challenge)
    assert status == 200 and "abc123" in body
    before = len(harness.fake.calls)
    odd = harness.event_body({"type": "team_rename", "name": "x", "event_ts": new_ts()})
    assert post_json(server_url, odd)[0] == 200
    harness.idle()
    assert [c.method for c in harness.fake.calls[before:]] in ([], ["auth.test"])
    assert http_post(server_url.replace("/slack/events", "/nope"), "{}", {})[0] == 404


def test_slash_command_help_replies_ephemerally(harness: Harness, server_url: str) -> None:
    status, _ = post_form(server_url, harness.command_body("help"))
    assert status == 200
    harness.idle()
    [reply] = harness.fake.of("response_url")
    assert reply.params["response_type"] == "ephemeral"
    assert reply.params["blocks"][0]["type"] == "header"


def test_slash_command_fallback_when_admin_commands_missing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "admin_commands", None)  # import now raises ImportError
    assert harness.dispatch(harness.command_body("help")).status == 200
    harness.idle()
    [reply] = harness.fake.of("response_url")
    assert "/deskhand help" in json.dumps(reply.params["blocks"])


def test_command_caller_modal_and_submission(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import admin_commands
    from admin_commands import CommandResult, ModalField, ModalSpec

    seen: dict[str, Any] = {}

    def run_command(app: Any, caller: Any, text: str) -> CommandResult:
        seen["caller"], seen["text"] = caller, text
        spec = ModalSpec("kb add", "Add an article", [
            ModalField("title", "Title"),
            ModalField("body", "Body", multiline=True),
            ModalField("topic", "Topic", required=False, default="general"),
        ])  # fmt: skip
        return CommandResult(ok=True, title="kb add", text="", modal=spec)

    def run_command_form(app: Any, caller: Any, command: str, values: dict) -> CommandResult:
        seen["form"] = (caller.user_id, command, values)
        return CommandResult(ok=True, title="Article added", text="Added **#99**")

    monkeypatch.setattr(admin_commands, "run_command", run_command)
    monkeypatch.setattr(admin_commands, "run_command_form", run_command_form)
    assert harness.dispatch(harness.command_body("kb add", user="UADMIN")).status == 200
    harness.idle()
    caller = seen["caller"]
    assert (caller.platform, caller.user_id, caller.channel_id) == ("slack", "UADMIN", "CADMIN")
    assert caller.display_name == "Ada Admin" and caller.is_guild_admin
    [opened] = harness.fake.of("views.open")
    view = opened.params["view"]
    assert opened.params["trigger_id"] == "trig-cmd" and view["callback_id"] == "deskhand:form"
    assert [b["block_id"] for b in view["blocks"]] == ["title", "body", "topic"]
    assert view["blocks"][1]["element"]["multiline"] and view["blocks"][2]["optional"]

    state = {
        "title": {"value": {"type": "plain_text_input", "value": "Export data"}},
        "body": {"value": {"type": "plain_text_input", "value": "Line 1\nLine 2"}},
        "topic": {"value": {"type": "plain_text_input", "value": None}},
    }
    payload = {
        "type": "view_submission",
        "team": {"id": "T0001"},
        "user": {"id": "UADMIN"},
        "api_app_id": "A0001",
        "view": {**view, "id": "V0001", "state": {"values": state}},
    }
    from urllib.parse import urlencode

    response = harness.dispatch(urlencode({"payload": json.dumps(payload)}))
    assert response.status == 200
    harness.idle()
    assert seen["form"] == (
        "UADMIN",
        "kb add",
        {"title": "Export data", "body": "Line 1\nLine 2", "topic": ""},
    )
    [shown] = harness.fake.of("chat.postEphemeral")
    assert shown.params["channel"] == "CADMIN" and shown.params["user"] == "UADMIN"
    assert "Added *#99*" in json.dumps(shown.params["blocks"])


def test_command_image_is_uploaded_privately(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import admin_commands
    from admin_commands import CommandResult

    png = b"\x89PNG\r\n\x1a\nfake"

    def run_command(app: Any, caller: Any, text: str) -> CommandResult:
        return CommandResult(ok=True, title="Stats", text="a chart", table=[["k", "v"], ["a", "1"]],
                             image_png=png, image_name="deskhand-stats.png")  # fmt: skip

    monkeypatch.setattr(admin_commands, "run_command", run_command)
    assert harness.dispatch(harness.command_body("stats", user="UADMIN")).status == 200
    harness.idle()
    methods = harness.fake.methods()
    for expected in (
        "response_url",
        "conversations.open",
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ):
        assert expected in methods, expected  # fmt: skip
    [upload] = harness.fake.of("upload")
    assert png in upload.raw
    [complete] = harness.fake.of("files.completeUploadExternal")
    assert complete.params["channel_id"] == "DADMIN"
