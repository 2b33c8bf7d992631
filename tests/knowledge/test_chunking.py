"""Chunking keeps passages small, title-prefixed, split on structure, with stable ids."""

from __future__ import annotations

from knowledge.chunking import chunk_article, is_title_chunk, split_body


def test_short_article_is_title_chunk_plus_one_passage():
    chunks = chunk_article(7, 3, "Reset your password", "Click *Forgot password*.")
    assert [c.chunk_id for c in chunks] == ["7:3:0", "7:3:1"]
    assert chunks[0].text == "Reset your password" and chunks[0].is_title
    assert chunks[1].text == "Reset your password\n\nClick *Forgot password*."
    assert is_title_chunk("7:3:0") and not is_title_chunk("7:3:10")


def test_long_body_splits_on_headings_and_paragraphs_within_limit():
    para = "This sentence explains one detail of the billing cycle. " * 6  # ~340 chars
    body = f"## Plans\n\n{para}\n\n{para}\n\n{para}\n\n## Invoices\n\n{para}\n\n```\n# not a heading\n```"
    chunks = chunk_article(1, 1, "Billing", body)
    passages = chunks[1:]
    assert len(passages) >= 3
    assert all(c.text.startswith("Billing\n\n") for c in passages)
    assert all(len(c.text) <= 800 for c in chunks)
    assert any(c.text.startswith("Billing\n\n## Invoices") for c in passages)
    assert not any("## Invoices" in c.text and "## Plans" in c.text for c in passages)
    assert [c.n for c in chunks] == list(range(len(chunks)))
    # deterministic: same input, same ids and texts
    assert chunk_article(1, 1, "Billing", body) == chunks


def test_giant_paragraph_without_spaces_is_hard_split():
    pieces = split_body("x" * 5000, 700)
    assert len(pieces) == 8 and all(len(p) <= 700 for p in pieces)
    assert "".join(pieces) == "x" * 5000


def test_empty_body_gives_only_the_title_chunk():
    assert [c.chunk_id for c in chunk_article(2, 1, "  Only   title ", "  \n\n ")] == ["2:1:0"]
    assert chunk_article(2, 1, "  Only   title ", "")[0].text == "Only title"
