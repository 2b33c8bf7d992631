"""Build the slack-bolt App: listeners store each event in the inbox, then Bolt acks it."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import TYPE_CHECKING

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.slack.adapter import SlackAdapter
from bot.slack.client import add_retry_handlers, make_web_client
from bot.slack.render import ACTION_PREFIX

if TYPE_CHECKING:  # adapters receive the running app
    from bot.app import Deskhand

log = logging.getLogger(__name__)
ADAPTER_ATTR = "deskhand_adapter"


def build_slack_app(
    app: Deskhand, client: WebClient | None = None, *, verify_token: bool | None = None
) -> App:
    """A Bolt App for one Deskhand; pass `client` to point it at a fake or proxy Web API.

    `verify_token` (auth.test at start-up) defaults to on unless a client is injected.
    """
    config = app.config
    injected = client is not None
    if client is None:
        client = make_web_client(config)
    else:
        add_retry_handlers(client)
    adapter = SlackAdapter(app, client)
    secret = config.slack_signing_secret or ""
    bolt = App(
        client=client,
        signing_secret=secret or None,
        request_verification_enabled=bool(secret),
        token_verification_enabled=(not injected) if verify_token is None else verify_token,
        process_before_response=True,  # the ack waits for the inbox write, never for the answer
        logger=logging.getLogger("deskhand.slack.bolt"),
    )
    setattr(bolt, ADAPTER_ATTR, adapter)
    register(bolt, adapter)
    return bolt


def adapter_of(bolt: App) -> SlackAdapter:
    """The SlackAdapter behind a Bolt App built here (tests wait on it; the loop reuses it)."""
    return getattr(bolt, ADAPTER_ATTR)


def register(bolt: App, adapter: SlackAdapter) -> None:
    """Bind every listener; each one only filters and stores, so the ack is fast and durable."""

    @bolt.event("app_mention")
    def on_mention(event: dict, body: dict, context: BoltContext) -> None:
        adapter.on_message_event(event, body, context, mention=True)

    @bolt.event("message")
    def on_message(event: dict, body: dict, context: BoltContext) -> None:
        adapter.on_message_event(event, body, context, mention=False)

    @bolt.action(re.compile(rf"^{re.escape(ACTION_PREFIX)}"))
    def on_action(ack: Ack, body: dict, action: dict) -> None:
        adapter.accept("action", action_key(body, action), {"body": body, "action": action},
                       action_lane(body))  # fmt: skip
        ack()

    @bolt.command("/deskhand")
    def on_command(ack: Ack, command: dict) -> None:
        key = f"command:{command.get('response_url') or command.get('trigger_id') or ''}"
        adapter.accept("command", key, {"command": command})
        ack()

    @bolt.view(f"{ACTION_PREFIX}form")
    def on_form(ack: Ack, body: dict, view: dict) -> None:
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]
        key = f"form:{view.get('id', '')}:{digest}"
        adapter.accept("form", key, {"body": body, "view": view})
        ack()

    # Anything else Slack sends (other events, foreign buttons) is acknowledged and ignored.
    @bolt.event(re.compile(".*"))
    def ignore_event() -> None:
        return None

    @bolt.action(re.compile(".*"))
    def ignore_action(ack: Ack) -> None:
        ack()


def action_key(body: dict, action: dict) -> str:
    """One button press: who pressed what, when (Slack's action_ts), on which message."""
    user = (body.get("user") or {}).get("id", "")
    container = body.get("container") or {}
    stamp = action.get("action_ts") or body.get("trigger_id") or ""
    where = container.get("message_ts") or container.get("view_id") or ""
    return f"action:{user}:{where}:{action.get('action_id', '')}:{stamp}"


def action_lane(body: dict) -> str:
    """Buttons in a thread run in order with that thread's messages."""
    message = body.get("message") or {}
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
    thread = message.get("thread_ts") or message.get("ts") or container.get("message_ts", "")
    return f"{channel}:{thread}" if channel and thread else ""
