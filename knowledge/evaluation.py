"""Measure retrieval on an FAQ benchmark (CovidFAQ layout) so tuning and thresholds rest on numbers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.ingest import import_path
from knowledge.store import KnowledgeBase


@dataclass
class RetrievalReport:
    """MRR, hit@k, top-hit score percentiles when right vs wrong, and search latency."""

    queries: int
    mrr: float
    hit_at: dict[int, float]
    score_correct: dict[str, float] = field(default_factory=dict)
    score_wrong: dict[str, float] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "queries": self.queries,
            "mrr": round(self.mrr, 4),
            "hit_at": {str(k): round(v, 4) for k, v in self.hit_at.items()},
            "score_correct": self.score_correct,
            "score_wrong": self.score_wrong,
            "latency_ms": self.latency_ms,
        }


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    arr = np.asarray(values)
    out = {f"p{p}": round(float(np.percentile(arr, p)), 3) for p in (5, 10, 25, 50, 75, 90, 95)}
    return {"n": len(values), "mean": round(float(arr.mean()), 3), **out}


def load_queries(path: Path, limit: int | None = None) -> list[tuple[str, set[str]]]:
    """(text, gold external ids) pairs from a queries.jsonl."""
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                item = json.loads(line)
                out.append((item["text"], {str(x) for x in item["faq_ids"]}))
    return out[:limit] if limit else out


def evaluate_faq(
    kb: KnowledgeBase,
    faq_path: Path,
    queries_path: Path,
    limit: int | None = None,
    k: int = 10,
    ready: Callable[[], None] | None = None,
) -> RetrievalReport:
    """Import the FAQ into `kb` (idempotent) and score its search against labelled queries.

    `ready` runs after the import (the app's calibration, which fits the query adapter).
    """
    report = import_path(kb, faq_path)
    if report.errors:
        raise ValueError("; ".join(report.errors))
    if ready is not None:
        ready()
    source = str(Path(faq_path).resolve())
    ext_of = {a.id: a.external_id for a in kb.list() if a.source == source}
    queries = load_queries(Path(queries_path), limit)
    vectors = kb.embedder.embed([q for q, _ in queries])
    ranks: list[int] = []
    right: list[float] = []
    wrong: list[float] = []
    timings: list[float] = []
    for (text, gold), vec in zip(queries, vectors, strict=True):
        start = time.perf_counter()
        hits = kb.retriever.search(text, k=k, vector=vec)
        timings.append((time.perf_counter() - start) * 1000)
        rank = next((i for i, h in enumerate(hits) if ext_of.get(h.article_id) in gold), k)
        ranks.append(rank)
        if hits:
            (right if rank == 0 else wrong).append(hits[0].score)
    r = np.asarray(ranks)
    return RetrievalReport(
        queries=len(queries),
        mrr=float(np.where(r < k, 1.0 / (r + 1), 0.0).mean()),
        hit_at={n: float((r < n).mean()) for n in (1, 3, 5, 10) if n <= k},
        score_correct=_percentiles(right),
        score_wrong=_percentiles(wrong),
        latency_ms={
            "p50": round(float(np.percentile(timings, 50)), 2),
            "p95": round(float(np.percentile(timings, 95)), 2),
            "mean": round(float(np.mean(timings)), 2),
        },
    )
