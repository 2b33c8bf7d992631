"""Pure renderer tests: Reply / ticket dicts to Block Kit, and text hygiene."""

from __future__ import annotations

import json

from admin_commands import CommandResult
from bot.contracts import Button, Citation, Option, Reply
from bot.slack.render import (
    parse_action_id,
    parse_member_value,
    render_command_result,
    render_escalation_card,
    render_rating_prompt,
    render_reply,
    render_staff_relay,
    render_transcript,
)
from bot.slack.text import chunks, escape, link, mentions, to_plain

KEY = "slack:C1:1700.1"


def dump(blocks: list[dict]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def _buttons(blocks: list[dict]) -> list[dict]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_answer_has_text_sources_and_feedback_buttons() -> None:
    reply = Reply(
        route="answer",
        text="Go to **Settings** & click Reset.",
        citations=[Citation("Reset your password", "https://help.example/reset", 1, 0.9)],
        buttons=[
            Button("helpful", "Helpful"),
            Button("not_helpful", "Not helpful"),
            Button("human", "Talk to a person"),
        ],
    )
    text, blocks = render_reply(reply, KEY)
    assert blocks[0]["text"]["text"] == "Go to *Settings* &amp; click Reset."
    assert "<https://help.example/reset|Reset your password>" in dump(blocks)
    buttons = _buttons(blocks)
    assert [b["action_id"] for b in buttons] == [
        "deskhand:helpful",
        "deskhand:not_helpful",
        "deskhand:human",
    ]
    assert all(b["value"] == KEY for b in buttons)
    assert text.startswith("Go to")


def test_clarify_options_are_buttons_with_key_and_value() -> None:
    reply = Reply(
        route="clarify",
        text="Which one?",
        options=[Option("Invoices", "20"), Option("Something else", "__other__")],
        buttons=[
            Button("option", "Invoices", "20"),
            Button("option", "Something else", "__other__"),
        ],
    )
    _, blocks = render_reply(reply, KEY)
    buttons = _buttons(blocks)
    assert [b["action_id"] for b in buttons] == ["deskhand:option:0", "deskhand:option:1"]
    assert parse_member_value(buttons[0]["value"]) == (KEY, "20")
    assert parse_member_value(buttons[1]["value"]) == (KEY, "__other__")
    assert parse_action_id(buttons[1]["action_id"]) == "option"


def test_member_text_cannot_inject_mentions_or_links() -> None:
    evil = "hey <!channel> <@U123> <https://evil.example|click>"
    reply = Reply(route="answer", text=f"You said: {evil}")
    text, blocks = render_reply(reply, KEY)
    dumped = dump(blocks) + text
    assert "<!channel>" not in dumped and "<@U123>" not in dumped and "<https://evil" not in dumped
    assert "&lt;!channel&gt;" in dumped


def test_to_plain_spells_out_slack_markup() -> None:
    raw = "<@UBOT> hi <!here> ask <@U9|bob> in <#C1|general> &lt;b&gt; <https://x.io|site>"
    assert to_plain(raw, "UBOT") == "hi @here ask @bob in #general <b> site (https://x.io)"
    assert mentions(raw, "UBOT") and not mentions(raw, "UOTHER")


def test_links_only_for_http_urls() -> None:
    assert link("javascript:alert(1)", "x") == "x"
    assert link("https://a.example/?q=1&r=2", "A|B") == "<https://a.example/?q=1&amp;r=2|A¦B>"
    assert escape("<&>") == "&lt;&amp;&gt;"


def test_escalation_card_shows_context_and_desk_buttons() -> None:
    view = {
        "id": 7,
        "status": "open",
        "member": {"user_id": "U1", "display_name": "Ann", "tier": "vip"},
        "member_channel_id": "C1",
        "issue_type": "billing",
        "confidence": 0.42,
        "sentiment": "frustrated",
        "severity": "high",
        "reasons": ["low_confidence", "angry"],
        "summary": "Charged twice <!channel>",
        "question": "why was I charged twice",
        "articles": [{"title": "Refunds", "url": "https://h.example/refunds", "score": 0.61}],
        "attempted_answer": "Try the refund button",
    }
    text, blocks = render_escalation_card(view, "https://example.slack.com/archives/C1/p1")
    dumped = dump(blocks)
    for expected in (
        "<@U1>",
        "<#C1>",
        "billing",
        "0.42",
        "frustrated",
        "high",
        "`low_confidence`",
        "Charged twice &lt;!channel&gt;",
        "<https://h.example/refunds|Refunds> — 0.61",
        "Try the refund button",
        "https://example.slack.com/archives/C1/p1",
    ):
        assert expected in dumped, expected
    assert [b["action_id"] for b in _buttons(blocks)] == [
        "deskhand:claim",
        "deskhand:resolve",
        "deskhand:handback",
    ]
    assert all(b["value"] == "7" for b in _buttons(blocks))
    claimed = render_escalation_card({**view, "status": "claimed", "claimed_by": "U9"})[1]
    assert "Claimed by <@U9>" in dump(claimed)
    assert "deskhand:claim" not in dump(claimed)
    resolved = render_escalation_card({**view, "status": "resolved", "resolved_by": "U9"})[1]
    assert not _buttons(resolved)
    assert "Escalation #7" in text


def test_transcript_staff_relay_rating_and_command_result() -> None:
    parts = render_transcript([{"role": "member", "author": "Ann", "text": "<!here> help"}])
    assert parts[0].startswith(":scroll: *Transcript*") and "&lt;!here&gt;" in parts[0]
    assert render_staff_relay("Try X", "Sam", True)["username"] == "Sam (staff)"
    assert render_staff_relay("Try X", "Sam", False)["text"] == "*Sam (staff):* Try X"
    _, blocks = render_rating_prompt(5)
    assert [b["value"] for b in _buttons(blocks)] == [f"5:{n}" for n in range(1, 6)]

    result = CommandResult(
        ok=True,
        title="Stats",
        text="**42** answers",
        fields=[("Tickets", "3")],
        table=[["id", "title"], ["1", "Reset"]],
    )
    _, blocks = render_command_result(result)
    dumped = dump(blocks)
    assert "*42* answers" in dumped and "*Tickets*" in dumped and "Reset" in dumped
    assert not [b for b in blocks if b["type"] == "actions"], "no buttons, no actions row"


def test_a_monitoring_post_renders_as_a_panel_with_its_mention_and_no_buttons() -> None:
    from bot.monitoring.poster import Post
    from bot.slack.alerts import render_post

    post = Post(
        event_id=1,
        platform="slack",
        channel="C1",
        kind="alert",
        title="Escalation rate up",
        text="12 % of questions escalated in the last hour",
        fields=[("Window", "1 h")],
        mention="<!subteam^S1>",
    )
    text, blocks = render_post(post)
    assert text.startswith("<!subteam^S1> Escalation rate up")
    assert blocks[0]["type"] == "header" and blocks[1]["text"]["text"] == "<!subteam^S1>"
    assert "*Window*" in dump(blocks)
    assert not [b for b in blocks if b["type"] == "actions"]


def test_chunks_respect_limits() -> None:
    parts = chunks("a" * 7000 + "\nb", 2900)
    assert (
        all(len(p) <= 2900 for p in parts) and "".join(parts).replace("\n", "") == "a" * 7000 + "b"
    )


def test_command_buttons_are_one_actions_block_carrying_the_command_line() -> None:
    from admin_commands import CommandButton, CommandResult
    from bot.slack.render import parse_action_id, render_command_result

    result = CommandResult(
        ok=True,
        title="Knowledge gaps",
        text="2 clusters",
        buttons=[
            CommandButton("Draft article: gap 1", ("gaps", "draft", "1", "--key", "7"), "primary"),
            CommandButton("Draft article: gap 2", ("gaps", "draft", "2", "--key", "9")),
        ],
    )
    _, blocks = render_command_result(result)
    actions = [b for b in blocks if b["type"] == "actions"]
    assert len(actions) == 1 and blocks[-1] is actions[0]
    first, second = actions[0]["elements"]
    assert [parse_action_id(e["action_id"]) for e in (first, second)] == ["cmd", "cmd"]
    assert first["action_id"] != second["action_id"]  # unique within the block
    assert (first["value"], first["style"]) == ("gaps draft 1 --key 7", "primary")
    assert second["value"] == "gaps draft 2 --key 9" and "style" not in second
    assert not [
        b for b in render_command_result(CommandResult(True, "t", "x"))[1] if b["type"] == "actions"
    ]
