"""Burst of 200 signed mentions at the HTTP adapter: every one acked, answered exactly once."""

from __future__ import annotations

import json
import os

from bot.slack.bench import run_burst
from tests.slack.conftest import Harness, unique


def test_burst_of_200_events_is_acked_and_answered_once(harness: Harness) -> None:
    channel = unique("CBENCH")
    n = int(os.environ.get("DESKHAND_BURST_N") or 200)  # README figure: DESKHAND_BURST_N=300
    figures = run_burst(harness.bolt, n=n, concurrency=50, channel=channel, wait_s=900)
    print("\nslack burst ack figures:", json.dumps(figures))  # a figure to report, not assert
    assert figures["statuses"] == {200: n}
    assert figures["drained"]
    answers = [c for c in harness.fake.of("chat.postMessage") if c.params["channel"] == channel]
    assert len(answers) == n
    assert len({c.params["thread_ts"] for c in answers}) == n
