"""Deskhand on Slack: Bolt app, Block Kit renderers, escalation desk UI, Socket Mode and HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.slack.bolt_app import adapter_of, build_slack_app
from bot.slack.delivery import deliver_pending
from bot.slack.server import make_http_server, run_http, run_socket_mode

if TYPE_CHECKING:  # adapters receive the running app
    from bot.app import Deskhand

__all__ = [
    "adapter_of",
    "build_slack_app",
    "deliver_pending",
    "main_run",
    "make_http_server",
    "run_http",
    "run_socket_mode",
]


def main_run(app: Deskhand, http: bool, port: int) -> None:
    """CLI entry for `deskhand run slack [--http --port N]`."""
    if http:
        run_http(app, port)
    else:
        run_socket_mode(app)
