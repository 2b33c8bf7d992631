"""Two bot instances on one database, fed the same events at once: each event answered once.

Each instance is a separate Deskhand (own engine, connection pool, Bolt app and inbox workers), as
two processes behind one load balancer would be; the unique inbox key decides, not timing.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from tests.slack.conftest import HELP_CHANNEL, SECRET, STAFF_CHANNEL, Harness, new_ts, unique
from tests.slack.fake_slack import FakeSlack

EVENTS = 20


def _configure(app: Any, fake: FakeSlack) -> Harness:
    from bot.slack import build_slack_app

    config = app.config
    config.slack_signing_secret, config.slack_bot_token = SECRET, "xoxb-test"
    config.slack_escalation_channel, config.slack_help_channels = STAFF_CHANNEL, HELP_CHANNEL
    config.slack_api_url = fake.api_url
    client = WebClient(token="xoxb-test", base_url=fake.api_url)
    return Harness(app, build_slack_app(app, client, verify_token=False), fake)


def _feed_both(first: Harness, second: Harness) -> list[str]:
    """The same signed bodies to both instances at the same time; returns the message ts."""
    stamps = [new_ts() for _ in range(EVENTS)]
    bodies = [
        first.event_body(
            first.message_event(
                "how do I reset my password?", HELP_CHANNEL, user=unique("U"), ts=ts
            )
        )  # fmt: skip
        for ts in stamps
    ]
    statuses: list[int] = []

    def send(h: Harness) -> None:
        for body in bodies:
            statuses.append(h.dispatch(body).status)

    threads = [threading.Thread(target=send, args=(h,)) for h in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert statuses == [200] * (2 * EVENTS)
    for h in (first, second):
        h.idle()
    return stamps


def _assert_once(fake: FakeSlack, stamps: list[str], instances: list[Harness]) -> None:
    answered: dict[str, int] = {}
    for call in fake.of("chat.postMessage"):
        if call.params.get("channel") == HELP_CHANNEL:
            ts = call.params.get("thread_ts", "")
            answered[ts] = answered.get(ts, 0) + 1
    assert {ts: answered.get(ts, 0) for ts in stamps} == dict.fromkeys(stamps, 1)
    for h in instances:
        h.adapter.stop(5)


def test_two_instances_on_one_sqlite_home(
    sample_template: Path, tmp_path: Path, embedder: Any
) -> None:
    from tests.conftest import copy_app

    fake = FakeSlack().start()
    try:
        first = copy_app(sample_template, tmp_path / "home", embedder)
        from bot.app import Deskhand
        from bot.config import Config

        second = Deskhand(Config(home=str(tmp_path / "home")), embedder=embedder)
        assert first.engine is not second.engine
        harnesses = [_configure(first, fake), _configure(second, fake)]
        stamps = _feed_both(*harnesses)
        _assert_once(fake, stamps, harnesses)
    finally:
        fake.stop()


def test_two_instances_on_one_postgres(pg_deployment: Any) -> None:
    fake = FakeSlack().start()
    try:
        first, second = pg_deployment.start(), pg_deployment.start()
        harnesses = [_configure(first, fake), _configure(second, fake)]
        stamps = _feed_both(*harnesses)
        _assert_once(fake, stamps, harnesses)
    finally:
        fake.stop()


@pytest.fixture(autouse=True)
def _no_leftover_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DESKHAND_DATABASE_URL", raising=False)
