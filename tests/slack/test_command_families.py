"""One signed `/deskhand <text>` per admin command family through the real Bolt app."""

from __future__ import annotations

from typing import Any

import pytest

from tests.slack.conftest import STAFF_CHANNEL, Harness
from tests.slack.fake_slack import Call

ADMIN, MEMBER, CHANNEL = "UADMIN", "UMEMBER", "CADMIN"


def _strings(node: Any) -> list[str]:
    """Every `text` string inside a Block Kit structure."""
    if isinstance(node, dict):
        found = [node["text"]] if isinstance(node.get("text"), str) else []
        return found + [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


def run(h: Harness, text: str, user: str = ADMIN) -> Call:
    """Send `/deskhand text` signed; return the reply that reached the fake Slack."""
    assert h.dispatch(h.command_body(text, user=user, channel=CHANNEL)).status == 200
    h.idle()
    replies = h.fake.of("response_url") or h.fake.of("chat.postEphemeral")
    assert len(replies) == 1, h.fake.methods()
    return replies[0]


def header(reply: Call) -> str:
    blocks = reply.params["blocks"]
    assert blocks[0]["type"] == "header", blocks
    return blocks[0]["text"]["text"]


def body(reply: Call) -> str:
    return "\n".join(_strings(reply.params["blocks"][1:]))


CASES = [
    (
        "help",
        "Deskhand commands",
        ["You are *admin* on slack", "`kb search TEXT`", "`threshold set"],
    ),
    ("kb search reset password", "Search results", ["Reset your password", "Score"]),
    ("kb list", "Articles", ["Reset your password", "article(s)"]),
    ("threshold show", "Thresholds", ["global", "Answer when confidence"]),
    ("scope list", "Scope", ["password_reset", "issue type(s)"]),
    ("route list", "Routes", ["(default)", STAFF_CHANNEL]),
    ("channel show", f"#{CHANNEL}", ["In config help channels", "mode"]),
    ("persona show", "Persona", ["persona set tone"]),
    ("stats 7d", "Stats, last 7 days", ["Questions", "Escalated", "CSAT"]),
    ("audit 3", "Audit log", []),
    ("access list", "Access", ["SLACK_ADMIN_USERS", ADMIN]),
]


@pytest.mark.parametrize(("text", "title", "expected"), CASES, ids=[c[0] for c in CASES])
def test_admin_command_family_replies_privately(
    harness: Harness, text: str, title: str, expected: list[str]
) -> None:
    reply = run(harness, text)
    assert reply.params.get("response_type") in (None, "ephemeral")  # postEphemeral has none
    assert header(reply) == title, body(reply)
    rendered = body(reply)
    for snippet in expected:
        assert snippet in rendered, f"{snippet!r} missing from {text!r} reply:\n{rendered}"


def test_stats_chart_is_uploaded_to_the_caller(harness: Harness) -> None:
    run(harness, "stats 7d")
    [opened] = harness.fake.of("conversations.open")
    assert opened.params["users"] == ADMIN
    [upload] = harness.fake.of("upload")
    assert upload.raw.startswith(b"\x89PNG")
    [complete] = harness.fake.of("files.completeUploadExternal")
    assert complete.params["channel_id"] == "D" + ADMIN[1:]


def test_member_is_refused_threshold_set_privately(harness: Harness) -> None:
    settings = harness.deskhand.settings
    before = settings.thresholds()
    reply = run(harness, "threshold set answer 0.9", user=MEMBER)
    assert reply.params.get("response_type") in (None, "ephemeral")
    if reply.method == "chat.postEphemeral":
        assert reply.params["user"] == MEMBER
    assert header(reply) == ":warning: Not allowed"
    rendered = body(reply)
    assert "Only admins can run `threshold set`" in rendered
    assert "you are a member" in rendered
    assert settings.thresholds() == before
