"""`deskhand bench` measures the floor a message costs: one uncached single-query embedding."""

from __future__ import annotations

import numpy as np

from bot.evaluation.bench import embed_floor, overhead_ratio, overhead_ratio_cpu


def test_embed_once_is_the_same_vector_and_bypasses_the_cache(embedder) -> None:
    text = "a sentence the bench embeds from scratch every time 7f3a"
    before = len(embedder._cache)
    once = embedder.embed_once(text)
    assert len(embedder._cache) == before  # nothing cached: every call pays the full encode
    assert float(np.dot(once, embedder.embed([text])[0])) > 0.9999


def test_embed_floor_and_overhead_ratio(embedder) -> None:
    floor = embed_floor(embedder, [f"how do I export report {i}" for i in range(12)])
    assert 0 < floor["embed_p50_ms"] <= floor["embed_p95_ms"]
    assert overhead_ratio({"p50_ms": 9.0, **floor}) == round(9.0 / floor["embed_p50_ms"], 2)


def test_the_cpu_time_ratio_uses_the_cpu_figures(embedder) -> None:
    floor = embed_floor(embedder, [f"how do I invite teammate {i}" for i in range(12)])
    assert floor["embed_cpu_p50_ms"] > 0
    result = {"p50_ms": 1.0, "handle_cpu_p50_ms": 9.0, **floor}
    assert overhead_ratio_cpu(result) == round(9.0 / floor["embed_cpu_p50_ms"], 2)
