"""Slack harness: the fake Web API, a Bolt app on the shared Deskhand, and signed requests."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient

from tests.slack.fake_slack import FakeSlack

SECRET = "test-signing-secret"
STAFF_CHANNEL = "CSTAFF"
HELP_CHANNEL = "CHELP"
_ids = itertools.count(1)


def unique(prefix: str) -> str:
    """A fresh id so tests sharing one Deskhand never collide."""
    return f"{prefix}{next(_ids):05d}"


def new_ts() -> str:
    """A Slack-like message timestamp, unique in this process."""
    return f"{int(time.time())}.{next(_ids):06d}"


def sign(body: str, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    """Slack's v0 request signature headers for a body."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"x-slack-request-timestamp": ts, "x-slack-signature": f"v0={digest}"}


@dataclass
class Harness:
    """One Bolt app wired to the shared Deskhand and a fresh fake Slack."""

    deskhand: Any
    bolt: App
    fake: FakeSlack

    @property
    def adapter(self) -> Any:
        from bot.slack import adapter_of

        return adapter_of(self.bolt)

    # ---- payload builders --------------------------------------------------------------------
    def event_body(self, event: dict[str, Any], event_id: str | None = None) -> str:
        return json.dumps(
            {
                "token": "legacy",
                "team_id": "T0001",
                "api_app_id": "A0001",
                "event": event,
                "type": "event_callback",
                "event_id": event_id or unique("Ev"),
                "event_time": int(time.time()),
                "authorizations": [
                    {"team_id": "T0001", "user_id": "UBOT", "is_bot": True, "enterprise_id": None}
                ],
            }
        )

    def message_event(
        self,
        text: str,
        channel: str,
        user: str = "UMEMBER",
        ts: str | None = None,
        thread_ts: str | None = None,
        kind: str = "message",
        **extra: Any,
    ) -> dict[str, Any]:
        event = {
            "type": kind,
            "user": user,
            "text": text,
            "ts": ts or new_ts(),
            "channel": channel,
            "channel_type": "channel",
            "client_msg_id": unique("cm-"),
            "event_ts": ts or new_ts(),
            **extra,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return event

    def action_body(
        self, action_id: str, value: str, user: str, channel: str, message: dict[str, Any]
    ) -> str:
        payload = {
            "type": "block_actions",
            "team": {"id": "T0001"},
            "user": {"id": user, "name": user.lower()},
            "api_app_id": "A0001",
            "trigger_id": "trig-1",
            "container": {"type": "message", "channel_id": channel, "message_ts": message["ts"]},
            "channel": {"id": channel},
            "message": message,
            "response_url": f"{self.fake.url}/response/{unique('r')}",
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b",
                    "value": value,
                    "text": {"type": "plain_text", "text": _label(message, action_id)},
                    "action_ts": new_ts(),
                }
            ],
        }
        return urlencode({"payload": json.dumps(payload)})

    def command_body(self, text: str, user: str = "UADMIN", channel: str = "CADMIN") -> str:
        return urlencode(
            {
                "token": "legacy",
                "team_id": "T0001",
                "channel_id": channel,
                "user_id": user,
                "user_name": user.lower(),
                "command": "/deskhand",
                "text": text,
                "response_url": f"{self.fake.url}/response/{unique('r')}",
                "trigger_id": "trig-cmd",
                "api_app_id": "A0001",
            }
        )

    # ---- transports --------------------------------------------------------------------------
    def dispatch(
        self, body: str, headers: dict[str, str] | None = None, signed: bool = True
    ) -> BoltResponse:
        """Send a signed body through App.dispatch, like any Bolt adapter would."""
        all_headers = {**(sign(body) if signed else {}), **(headers or {})}
        if body.startswith("{"):
            all_headers.setdefault("content-type", "application/json")
        else:
            all_headers.setdefault("content-type", "application/x-www-form-urlencoded")
        return self.bolt.dispatch(
            BoltRequest(body=body, headers={k: [v] for k, v in all_headers.items()})
        )

    def event(self, event: dict[str, Any], **kwargs: Any) -> BoltResponse:
        response = self.dispatch(self.event_body(event, kwargs.pop("event_id", None)), **kwargs)
        assert response.status == 200, response.body
        return response

    def press(self, action_id: str, value: str, user: str, channel: str, message: dict) -> None:
        response = self.dispatch(self.action_body(action_id, value, user, channel, message))
        assert response.status == 200, response.body

    def idle(self) -> None:
        assert self.adapter.wait_idle(120), "slack work did not finish"


def _label(message: dict[str, Any], action_id: str) -> str:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return element["text"]["text"]
    return action_id


def http_post(url: str, body: str, headers: dict[str, str]) -> tuple[int, str]:
    """POST over a real socket; returns (status, body) even for 4xx."""
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    server.add_user("UMEMBER", "Ann Member")
    server.add_user("USTAFF", "Sam Staff")
    server.add_user("UADMIN", "Ada Admin", is_admin=True)
    yield server
    server.stop()


@pytest.fixture
def slack_deskhand(shared_app: Any) -> Any:
    """The shared sample-loaded Deskhand configured for Slack tests."""
    config = shared_app.config
    config.slack_signing_secret = SECRET
    config.slack_bot_token = "xoxb-test"
    config.slack_escalation_channel = STAFF_CHANNEL
    config.slack_help_channels = HELP_CHANNEL
    config.slack_admin_users = "UADMIN"
    config.slack_staff_users = "USTAFF"
    return shared_app


@pytest.fixture
def harness(slack_deskhand: Any, fake: FakeSlack) -> Iterator[Harness]:
    from bot.slack import build_slack_app

    slack_deskhand.config.slack_api_url = fake.api_url
    client = WebClient(token="xoxb-test", base_url=fake.api_url)
    bolt = build_slack_app(slack_deskhand, client, verify_token=False)
    h = Harness(slack_deskhand, bolt, fake)
    yield h
    h.adapter.wait_idle(60)
    h.adapter.stop(5)
