"""`deskhand run discord` can run one gateway shard per process (DISCORD_SHARD_ID of _COUNT)."""

from __future__ import annotations

import pytest

from bot.config import load_config
from bot.discord import shard_options
from bot.discord.client import DeskhandBot


def test_shard_settings_reach_the_discord_client(app) -> None:
    config = load_config({"DISCORD_SHARD_ID": "1", "DISCORD_SHARD_COUNT": "3"})
    options = shard_options(config)
    assert options == {"shard_id": 1, "shard_count": 3}
    bot = DeskhandBot(app, **options)
    assert (bot.shard_id, bot.shard_count) == (1, 3)
    assert shard_options(load_config({})) == {}


@pytest.mark.parametrize(
    ("shard", "count", "message"),
    [("x", "2", "whole numbers"), ("2", "2", "from 0 to 1"), ("0", "", "whole numbers")],
)
def test_bad_shard_settings_stop_with_one_line(shard, count, message) -> None:
    config = load_config({"DISCORD_SHARD_ID": shard, "DISCORD_SHARD_COUNT": count})
    with pytest.raises(SystemExit, match=message):
        shard_options(config)
