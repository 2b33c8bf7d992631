"""Deskhand on Discord (discord.py). Always `import discord` absolutely inside this package."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # adapters receive the running app
    from bot.app import Deskhand
    from bot.config import Config
    from bot.discord.client import DeskhandBot

log = logging.getLogger(__name__)


def main_run(app: Deskhand) -> None:
    """Run the Discord bot until interrupted (`deskhand run discord`)."""
    from bot.discord.client import DeskhandBot

    token = app.config.discord_token
    if not token:
        raise SystemExit("DISCORD_TOKEN is not set: create a bot at discord.com/developers first.")
    if not app.config.discord_escalation_channel:
        log.warning("DISCORD_ESCALATION_CHANNEL is not set: escalations will have nowhere to go")
    if not logging.getLogger().handlers:
        import discord

        discord.utils.setup_logging(handler=discord_log_handler())
    bot = DeskhandBot(app, **shard_options(app.config))
    asyncio.run(serve(bot, token))


def shard_options(config: Config) -> dict[str, Any]:
    """One gateway shard per process (DISCORD_SHARD_ID of DISCORD_SHARD_COUNT), or no sharding."""
    if not config.discord_shard_count and not config.discord_shard_id:
        return {}
    try:
        count, shard = int(config.discord_shard_count), int(config.discord_shard_id)
    except ValueError:
        raise SystemExit(
            "DISCORD_SHARD_ID and DISCORD_SHARD_COUNT must both be whole numbers "
            "(e.g. DISCORD_SHARD_ID=0 DISCORD_SHARD_COUNT=2)."
        ) from None
    if count < 1 or not 0 <= shard < count:
        raise SystemExit(
            f"DISCORD_SHARD_ID must be from 0 to {count - 1} when DISCORD_SHARD_COUNT is {count}."
        )
    return {"shard_id": shard, "shard_count": count}


async def serve(bot: DeskhandBot, token: str) -> None:
    """Connect and run; SIGTERM/SIGINT close the client, which lets inbox work in flight finish
    (DESKHAND_STOP_GRACE_S) and hands the rest back for the next start, then the process exits 0."""
    loop = asyncio.get_running_loop()

    def stop(signame: str) -> None:
        log.info("%s received: stopping", signame)
        loop.create_task(bot.close(), name="deskhand-discord-stop")

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not POSIX / main thread
            loop.add_signal_handler(sig, stop, sig.name)
    async with bot:
        await bot.start(token)


def discord_log_handler() -> logging.Handler:
    """discord.py's default stream handler, only when the CLI has not configured logging."""
    return logging.StreamHandler()


__all__ = ["main_run"]
