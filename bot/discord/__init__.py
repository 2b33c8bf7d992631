"""Deskhand on Discord (discord.py). Always `import discord` absolutely inside this package."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def main_run(app: Any) -> None:
    """Run the Discord bot until interrupted (`deskhand run discord`)."""
    from bot.discord.client import DeskhandBot

    token = app.config.discord_token
    if not token:
        raise SystemExit("DISCORD_TOKEN is not set: create a bot at discord.com/developers first.")
    if not app.config.discord_escalation_channel:
        log.warning("DISCORD_ESCALATION_CHANNEL is not set: escalations will have nowhere to go")
    bot = DeskhandBot(app)
    bot.run(token, log_handler=None if logging.getLogger().handlers else discord_log_handler())


def discord_log_handler() -> logging.Handler:
    """discord.py's default stream handler, only when the CLI has not configured logging."""
    return logging.StreamHandler()


__all__ = ["main_run"]
