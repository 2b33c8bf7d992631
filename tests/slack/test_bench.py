"""Burst of 200 signed mentions at the HTTP adapter: every one acked, answered exactly once."""

from __future__ import annotations

import json

from bot.slack.bench import run_burst
from tests.slack.conftest import Harness, unique


def test_burst_of_200_events_is_acked_and_answered_once(harness: Harness) -> None:
    channel = unique("CBENCH")
    figures = run_burst(harness.bolt, n=200, concurrency=50, channel=channel, wait_s=900)
    print("\nslack burst ack figures:", json.dumps(figures))  # a figure to report, not assert
    assert figures["statuses"] == {200: 200}
    assert figures["drained"]
    answers = [c for c in harness.fake.of("chat.postMessage") if c.params["channel"] == channel]
    assert len(answers) == 200
    assert len({c.params["thread_ts"] for c in answers}) == 200
