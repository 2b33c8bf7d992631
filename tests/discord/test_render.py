"""Pure renderers: message splitting, embeds, custom ids."""

from __future__ import annotations

import re

import pytest

from bot.contracts import Button, Citation, Reply
from bot.discord import render, views


def test_short_text_is_one_chunk():
    assert render.split_message("hello") == ["hello"]
    assert render.split_message("") == []


def test_splits_on_paragraphs_then_lines_then_words_never_mid_word():
    paras = [f"Paragraph {i}. " + "lorem ipsum dolor " * 40 for i in range(6)]
    text = "\n\n".join(paras)
    chunks = render.split_message(text, limit=2000)
    assert all(len(c) <= 2000 for c in chunks)
    assert chunks[0].endswith(paras[1].strip()) or chunks[0].endswith(paras[0].strip())
    words = text.split()
    assert " ".join(" ".join(chunks).split()) == " ".join(words)
    one_line = " ".join(f"token{i}" for i in range(1000))
    for chunk in render.split_message(one_line, limit=500):
        assert len(chunk) <= 500
        assert all(re.fullmatch(r"token\d+", w) for w in chunk.split())


def test_code_fences_stay_balanced_across_chunks():
    text = (
        "Try this:\n```python\n"
        + "\n".join(f"print({i})" for i in range(400))
        + "\n```\nThen restart."
    )
    chunks = render.split_message(text, limit=1000)
    assert len(chunks) > 2
    for chunk in chunks:
        assert len(chunk) <= 1000
        assert chunk.count("```") % 2 == 0
    assert chunks[1].startswith("```python\n")


def test_unbroken_run_is_hard_cut():
    chunks = render.split_message("x" * 4500)
    assert [len(c) for c in chunks] == [2000 - 4, 2000 - 4, 4500 - 2 * 1996]


def test_citation_embed_links_sources():
    reply = Reply(
        route="answer", text="t", citations=[Citation("Refunds [2024]", "https://h.example/r")]
    )
    embed = render.citation_embed(reply).to_dict()
    assert embed["description"] == "1. [Refunds (2024)](https://h.example/r)"
    assert render.citation_embed(Reply(route="answer", text="t")) is None


def test_context_embed_long_transcript_moves_to_thread():
    view = {
        "id": 7,
        "issue_type": "billing",
        "confidence": 0.41,
        "sentiment": "negative",
        "severity": "high",
        "reasons": ["low_confidence"],
        "summary": "s",
        "question": "q",
        "member": {"user_id": "5", "display_name": "Ann"},
        "permalink": "https://discord.com/channels/1/2/3",
        "articles": [{"title": "Refunds", "url": "https://x", "score": 0.5}],
        "attempted_answer": "maybe",
        "transcript": [{"role": "member", "text": "y" * 2000}],
        "status": "open",
    }
    embed = render.context_embed(view).to_dict()
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Transcript"] == "Posted below in this thread."
    assert fields["Articles"] == "[Refunds](https://x) · 0.50"
    assert render.transcript_needs_followup(view)
    assert all(len(f["value"]) <= 1024 for f in embed["fields"])


def test_member_mentions_never_allow_everyone_or_roles():
    am = render.member_mentions("42").to_dict()
    assert am["parse"] == [] and am["users"] == [42] and "roles" not in am


@pytest.mark.parametrize(
    "custom_id, template",
    [
        ("deskhand:helpful:12", views.MEMBER_TEMPLATE),
        ("deskhand:option:12:__other__", views.MEMBER_TEMPLATE),
        ("deskhand:claim:3", views.STAFF_TEMPLATE),
        ("deskhand:rate:3:5", views.RATE_TEMPLATE),
    ],
)
def test_custom_ids_match_their_templates(custom_id, template):
    assert re.fullmatch(template, custom_id)


def test_member_view_skips_values_that_do_not_fit():
    view = views.member_view([Button("option", "A", "1"), Button("option", "B", "x" * 200)], 9)
    assert [i.custom_id for i in view.children] == ["deskhand:option:9:1"]


def test_command_buttons_become_a_persistent_view_whose_ids_carry_the_command_line():
    from admin_commands import CommandButton, CommandResult
    from admin_commands.contracts import BUTTON_LINE_LIMIT
    from bot.discord.commands import result_message

    longest = CommandButton("Draft", ("kb", "search", "x" * (BUTTON_LINE_LIMIT - 10)))
    result = CommandResult(True, "Knowledge gaps", "2 clusters", buttons=[longest])
    view = result_message(result)["view"]
    [item] = view.children
    assert item.custom_id == f"deskhand:cmd:{longest.line}"
    assert len(item.custom_id) <= views.CUSTOM_ID_LIMIT and view.timeout is None
    assert views.CommandAction.__discord_ui_compiled_template__.fullmatch(item.custom_id)
    assert "view" not in result_message(CommandResult(True, "t", "x"))
