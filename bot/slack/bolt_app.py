"""Build the slack-bolt App: listeners ack at once and hand the work to the adapter's pool."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.slack.adapter import SlackAdapter
from bot.slack.client import add_retry_handlers, make_web_client
from bot.slack.commands import run_slash_command, submit_form
from bot.slack.render import ACTION_PREFIX

log = logging.getLogger(__name__)
ADAPTER_ATTR = "deskhand_adapter"


def build_slack_app(
    app: Any, client: WebClient | None = None, *, verify_token: bool | None = None
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
        process_before_response=False,
        listener_executor=adapter.listener_pool,
        logger=logging.getLogger("deskhand.slack.bolt"),
    )
    setattr(bolt, ADAPTER_ATTR, adapter)
    register(bolt, adapter)
    return bolt


def adapter_of(bolt: App) -> SlackAdapter:
    """The SlackAdapter behind a Bolt App built here (tests wait on it; the loop reuses it)."""
    return getattr(bolt, ADAPTER_ATTR)


def register(bolt: App, adapter: SlackAdapter) -> None:
    """Bind every listener; each one only filters, dedupes and queues, so the ack is immediate."""

    @bolt.event("app_mention")
    def on_mention(event: dict, body: dict, context: BoltContext) -> None:
        adapter.on_message_event(event, body, context, mention=True)

    @bolt.event("message")
    def on_message(event: dict, body: dict, context: BoltContext) -> None:
        adapter.on_message_event(event, body, context, mention=False)

    @bolt.action(re.compile(rf"^{re.escape(ACTION_PREFIX)}"))
    def on_action(ack: Ack, body: dict, action: dict) -> None:
        ack()
        adapter.pool.submit(adapter.on_action, body, action)

    @bolt.command("/deskhand")
    def on_command(ack: Ack, command: dict, respond: Respond) -> None:
        ack()
        adapter.pool.submit(run_slash_command, adapter, command, respond)

    @bolt.view(f"{ACTION_PREFIX}form")
    def on_form(ack: Ack, body: dict, view: dict) -> None:
        ack()
        adapter.pool.submit(submit_form, adapter, body, view)

    # Anything else Slack sends (other events, foreign buttons) is acknowledged and ignored.
    @bolt.event(re.compile(".*"))
    def ignore_event() -> None:
        return None

    @bolt.action(re.compile(".*"))
    def ignore_action(ack: Ack) -> None:
        ack()
