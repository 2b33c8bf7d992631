"""Planted secrets and the scanners that look for them wherever the bot keeps or sends text."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.llm.test_openai_compatible import FakeOpenAI
from tests.slack.conftest import fake as slack_fake  # noqa: F401  (the fake Slack Web API)

CARD = "4111 1111 1111 1111"
IBAN = "GB82 WEST 1234 5698 7654 32"
STRIPE = "sk_live_51Hx9Qa8bC7dE6fG5hJ4kL3m"
SLACK_TOKEN = "xoxb-2048-4096-Zq8Rt5Yp3Wm"
GITHUB = "ghp_Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0UvWxYz"
AWS = "AKIAZ7Q3M5P9R2T4W6Y8"
RANDOM_TOKEN = "a8F3kLm92QzXv7TpR4sWn1Yb6Hc0JdEe"
PASSWORD = "Tr0ub4dor&3"
EMAIL = "ann.private@mailbox.example"
PHONE = "+44 20 7946 0958"

SECRETS = [CARD, IBAN, STRIPE, SLACK_TOKEN, GITHUB, AWS, RANDOM_TOKEN, PASSWORD, EMAIL, PHONE]
PLANTED = (
    f"I want to talk to a person about a refund. My card is {CARD} and my IBAN is {IBAN}. "
    f"Our keys: {STRIPE} {SLACK_TOKEN} {GITHUB} {AWS} and token {RANDOM_TOKEN}. "
    f"My password is {PASSWORD}. Reach me at {EMAIL} or {PHONE}."
)


def needles(values: Iterable[str]) -> list[str]:
    """Each value as written and in compact form (digits without spaces), as stores may hold it."""
    out: list[str] = []
    for value in values:
        out.append(value)
        compact = re.sub(r"[\s-]", "", value)
        if compact != value:
            out.append(compact)
        if value.startswith("+"):
            out.append(re.sub(r"\D", "", value)[-8:])
    return out


def scan_files(root: Path, values: Iterable[str]) -> list[str]:
    """`value in path` for every file under root (SQLite + WAL, checkpoints, LanceDB) that holds one."""
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{v!r} in {path}" for v in needles(values) if v.encode() in data]
    return hits


def scan_text(label: str, text: str, values: Iterable[str]) -> list[str]:
    """Which values appear in a blob of text."""
    return [f"{v!r} in {label}" for v in needles(values) if v in text]


@pytest.fixture
def fake_llm(monkeypatch) -> Iterator[FakeOpenAI]:
    """The local OpenAI-compatible fake, answering every request with plain cited text."""
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    fake = FakeOpenAI([{"content": "Please see the article [1]."} for _ in range(200)])
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def llm_overrides(fake: FakeOpenAI) -> dict[str, Any]:
    """Config for a Deskhand in LLM mode against the fake."""
    return {
        "llm": "openai:test-model",
        "llm_base_url": fake.base_url,
        "llm_api_key": "dummy-key",
        "llm_timeout_s": 5.0,
    }


@pytest.fixture
def all_logs(caplog) -> Any:
    """Every log record at DEBUG and above, from every logger."""
    caplog.set_level(logging.DEBUG)
    return caplog


def everything_seen(caplog: Any, fake_llm: FakeOpenAI, platform_calls: list[Any]) -> list[str]:
    """Clear values found in logs, LLM requests and what the platform was asked to show."""
    logs = "\n".join(r.getMessage() for r in caplog.records)
    logs += "\n".join(str(r.args) for r in caplog.records)
    return (
        scan_text("logs", logs, SECRETS)
        + scan_text("LLM requests", json.dumps(fake_llm.requests), SECRETS)
        + scan_text("platform calls", json.dumps(platform_calls, default=str), SECRETS)
    )
