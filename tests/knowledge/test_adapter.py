"""The query adapter: a ridge map fitted to one KB's phrasings, applied before vector search."""

from __future__ import annotations

import numpy as np

from knowledge.adapter import adapt, fit_adapter


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_fitted_map_moves_phrasings_toward_their_article() -> None:
    rng = np.random.default_rng(0)
    targets = _unit(rng.normal(size=(4, 32)))
    # three noisy phrasings per article, each far from its article's centroid
    inputs = _unit(np.repeat(targets, 3, axis=0) + 1.5 * rng.normal(size=(12, 32)))
    wanted = np.repeat(targets, 3, axis=0)
    mapping = fit_adapter(inputs, wanted)
    before = np.sum(inputs * wanted, axis=1)
    after = np.array([adapt(x, mapping) @ t for x, t in zip(inputs, wanted, strict=True)])
    assert after.mean() > before.mean() + 0.2
    assert all(abs(np.linalg.norm(adapt(x, mapping)) - 1) < 1e-5 for x in inputs)


def test_strong_ridge_keeps_the_embedding_space() -> None:
    rng = np.random.default_rng(1)
    inputs = _unit(rng.normal(size=(6, 16)))
    mapping = fit_adapter(inputs, _unit(rng.normal(size=(6, 16))), ridge=1e6)
    query = _unit(rng.normal(size=16))
    assert float(adapt(query, mapping) @ query) > 0.999
