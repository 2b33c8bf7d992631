"""The hot path: one member message costs one embedding, and cached state follows every change."""

from __future__ import annotations

import pytest

from bot.contracts import IncomingMessage, Member


@pytest.fixture
def encodes(embedder, monkeypatch) -> list[list[str]]:
    """Every batch the real MiniLM encoder runs (cache hits never reach it)."""
    calls: list[list[str]] = []
    encoder = embedder._encoder
    real = encoder.encode

    def counted(texts: list[str], *args: object, **kwargs: object) -> object:
        calls.append(list(texts))
        return real(texts, *args, **kwargs)

    monkeypatch.setattr(encoder, "encode", counted)
    return calls


def message(text: str, thread: str, user: str = "hp-user") -> IncomingMessage:
    return IncomingMessage("bench", "hp-channel", thread, f"{thread}-m", text, Member(user, "hp"))


@pytest.mark.parametrize(
    ("thread", "text"),
    [
        ("hp-answer", "how do I reset my password on the hot path 41"),
        ("hp-person", "I want to talk to a human about my refund on the hot path 42"),
        ("hp-vague", "it does not work 43"),
    ],
)
def test_a_new_message_is_embedded_exactly_once(shared_app, encodes, thread, text) -> None:
    shared_app.service.handle(message("warm up the hot path", f"{thread}-warm"))
    encodes.clear()
    reply = shared_app.service.handle(message(text, thread))
    assert reply.route in {"answer", "clarify", "escalate", "decline"}
    assert len(encodes) == 1, encodes  # classify, domain score and retrieval share one vector
    assert encodes[0] == [text]


def test_the_cached_search_matrix_follows_kb_add_edit_and_delete(app) -> None:
    kb = app.kb

    def top_ids(text: str) -> tuple[list[int], list[int]]:
        vector = app.embedder.embed([text])[0]
        by_vector, by_text = kb.index.search_both(vector, text, 5)
        return [r["article_id"] for r in by_vector], [r["article_id"] for r in by_text]

    art = kb.add_article("Zeppelin parking", "Moor the zeppelin at mast seven.", topic="orders")
    by_vector, by_text = top_ids("where do I moor my zeppelin")
    assert by_vector[0] == art.id and by_text[0] == art.id
    kb.edit_article(art.id, body="Tie the hot air balloon to post nine.", actor="t")
    assert kb.search("tie the hot air balloon to a post", k=1)[0].article_id == art.id
    assert art.id not in top_ids("moor at mast seven")[1]  # the old body words are gone
    kb.remove_article(art.id, actor="t")
    by_vector, by_text = top_ids("tie the hot air balloon to post nine")
    assert art.id not in by_vector and art.id not in by_text
