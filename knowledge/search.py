"""Hybrid retrieval: cosine similarity with a BM25 boost, one hit per article, absolute 0..1 scores.

score = v + b * (1 - v), where v = 0.2 * cos(title chunk) + 0.8 * max cos(body chunks) and
b = 0.7 * s(bm25 title) + 0.1 * s(bm25 body), s(x) = x / (x + 6). Weighted fusion beat RRF by
~0.03 MRR on CovidFAQ and, unlike RRF, keeps the score an absolute confidence for routing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from knowledge.adapter import adapt
from knowledge.chunking import is_title_chunk
from knowledge.contracts import Embedder, Hit

MAX_QUERY_CHARS = 2_000


class ChunkSearch(Protocol):
    """What retrieval needs from an index: a LanceIndex, or a DraftView over one."""

    def search_vector(self, vector: np.ndarray, k: int = 50) -> list[dict[str, Any]]: ...

    def search_text(self, text: str, k: int = 50) -> list[dict[str, Any]]: ...

    def chunks_of(self, article_id: int) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Weights:
    """Fusion weights, tuned on CovidFAQ with knowledge.evaluation (a flat optimum around these)."""

    title_vec: float = 0.2  # share of the title-only chunk's cosine in the vector score
    title_text: float = 0.7  # lexical boost from matching the title
    body_text: float = 0.1  # lexical boost from matching a body passage
    bm25_half: float = 6.0  # BM25 value that earns half of a boost (saturation bm25/(bm25+h))
    pool: int = 64  # chunks fetched from each search before aggregation
    lead_bonus: float = 0.1  # the first body passage usually holds the direct answer
    overlap_bonus: float = 0.1  # passages sharing the question's words are better to quote


@dataclass
class _Agg:
    """Per-article evidence gathered from both searches."""

    title_cos: float | None = None
    body_cos: float | None = None
    title_bm25: float = 0.0
    body_bm25: float = 0.0
    best_body: dict[str, Any] | None = None
    best_body_key: float = -9.0
    any_row: dict[str, Any] = field(default_factory=dict)


_STOP = frozenset(
    "a an the and or but if to of in on for with at by from is are was were be been it this that "  # noqa: SIM905
    "i you we my your our me do does did how what why when where can could would should will "
    "please not my".split()
)


@lru_cache(maxsize=65_536)
def _words(text: str) -> frozenset[str]:
    """Lower-cased content words (stems by crude prefix) for passage overlap; cached per passage."""
    return frozenset(
        w[:5] for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP and len(w) > 1
    )


class HybridRetriever:
    """Vector + full-text search over a LanceIndex, fused into one confidence-like score per article."""

    def __init__(self, index: ChunkSearch, embedder: Embedder, weights: Weights | None = None):
        self.index = index
        self.embedder = embedder
        self.weights = weights or Weights()
        self.adapter: np.ndarray | None = None  # knowledge.adapter map fitted to this KB, if any

    def embed(self, text: str) -> np.ndarray:
        """Embed a query once (long input is truncated; the model reads ~256 tokens anyway)."""
        return np.asarray(self.embedder.embed([text[:MAX_QUERY_CHARS]])[0])

    def search(
        self,
        text: str,
        k: int = 5,
        vector: np.ndarray | None = None,
        adapter: np.ndarray | None = None,
    ) -> list[Hit]:
        """Top-k articles for `text`, best first; `score` = cosine blend + lexical boost, in [0, 1].

        `vector` is the plain embedding of `text` when the caller has it; it goes through
        `adapter` (default: the map installed for this KB) before the vector search.
        """
        text = text if isinstance(text, str) else str(text)
        if k <= 0 or (not text.strip() and vector is None):
            return []
        vec = self.embed(text) if vector is None else vector
        mapping = self.adapter if adapter is None else adapter
        vec = vec if mapping is None else adapt(vec, mapping)
        pool = max(self.weights.pool, 8 * k)
        both = getattr(self.index, "search_both", None)  # a LanceIndex: one version check
        vec_rows, text_rows = (
            both(vec, text, pool)
            if both is not None
            else (self.index.search_vector(vec, pool), self.index.search_text(text, pool))
        )
        aggs = self._aggregate(vec_rows, text_rows, text)
        scored = sorted(
            ((self._scores(agg), aid, agg) for aid, agg in aggs.items()),
            key=lambda item: (-item[0][0], item[1]),
        )
        return [self._hit(aid, agg, scores) for scores, aid, agg in scored[:k]]

    def _aggregate(
        self, vec_rows: list[dict[str, Any]], text_rows: list[dict[str, Any]], query: str = ""
    ) -> dict[int, _Agg]:
        """Collect the best title/body cosine and BM25 per article, and the passage to quote."""
        aggs: dict[int, _Agg] = {}
        terms = _words(query)
        floor = min((r["cosine"] for r in vec_rows), default=0.0)
        for row in vec_rows:
            agg = aggs.setdefault(row["article_id"], _Agg(any_row=row))
            cos = row["cosine"]
            if is_title_chunk(row["chunk_id"]):
                agg.title_cos = cos
            else:
                agg.body_cos = cos if agg.body_cos is None else max(agg.body_cos, cos)
                key = cos + self._passage_bonus(row, terms)
                if key > agg.best_body_key:  # which passage to quote; scores are unaffected
                    agg.best_body, agg.best_body_key = row, key
        for row in text_rows:
            agg = aggs.setdefault(row["article_id"], _Agg(any_row=row))
            if is_title_chunk(row["chunk_id"]):
                agg.title_bm25 = max(agg.title_bm25, row["bm25"])
            else:
                agg.body_bm25 = max(agg.body_bm25, row["bm25"])
                if agg.best_body is None:
                    agg.best_body = row
        for agg in aggs.values():  # outside the vector pool: bounded by the pool's worst cosine
            agg.title_cos = floor if agg.title_cos is None else agg.title_cos
            agg.body_cos = floor if agg.body_cos is None else agg.body_cos
        return aggs

    def _passage_bonus(self, row: dict[str, Any], terms: frozenset[str]) -> float:
        """Prefer the lead passage and passages whose body uses the question's own words."""
        bonus = self.weights.lead_bonus if row["chunk_id"].endswith(":1") else 0.0
        if terms:
            body = row["text"][len(row.get("title", "")) :]
            bonus += self.weights.overlap_bonus * len(terms & _words(body)) / len(terms)
        return bonus

    def _scores(self, agg: _Agg) -> tuple[float, float, float]:
        """(score, vector score, text score) of one article's evidence."""
        w = self.weights
        cos = w.title_vec * (agg.title_cos or 0.0) + (1 - w.title_vec) * (agg.body_cos or 0.0)
        vec_score = min(1.0, max(0.0, cos))
        sat_title = agg.title_bm25 / (agg.title_bm25 + w.bm25_half)
        sat_body = agg.body_bm25 / (agg.body_bm25 + w.bm25_half)
        boost = min(1.0, w.title_text * sat_title + w.body_text * sat_body)
        # Lexical evidence closes part of the gap left by the cosine: bounded, never saturates early.
        score = vec_score + boost * (1.0 - vec_score)
        return score, vec_score, max(sat_title, sat_body)

    def _hit(self, article_id: int, agg: _Agg, scores: tuple[float, float, float]) -> Hit:
        """Turn one article's evidence into a Hit."""
        score, vec_score, text_score = scores
        row = agg.best_body or self._best_body(article_id) or agg.any_row
        return Hit(
            article_id=int(article_id),
            chunk_id=row["chunk_id"],
            title=row["title"],
            url=row["url"],
            topic=row["topic"],
            text=row["text"],
            score=score,
            vector_score=vec_score,
            text_score=text_score,
        )

    def _best_body(self, article_id: int) -> dict[str, Any] | None:
        """First body chunk of an article whose passages were outside the search pool."""
        chunks = self.index.chunks_of(article_id)
        return chunks[1] if len(chunks) > 1 else (chunks[0] if chunks else None)
