"""What a perfect system could score on a labelled set whose identical questions carry different labels.

Public FAQ sets are labelled by people, one query at a time; the same text often appears several
times with different answers marked right. No ranker can satisfy all copies, so we measure the
ceiling before blaming the retriever.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from itertools import permutations

Row = tuple[str, frozenset[str]]
MAX_EXACT_ARTICLES = 7  # orderings searched exhaustively up to this many candidate articles


def _key(text: str) -> str:
    """Questions that read the same: case and spacing ignored."""
    return re.sub(r"\s+", " ", text.strip().lower())


def group_by_text(rows: Iterable[Row]) -> list[list[frozenset[str]]]:
    """The gold-label sets of each distinct question text."""
    groups: dict[str, list[frozenset[str]]] = defaultdict(list)
    for text, gold in rows:
        groups[_key(text)].append(gold)
    return list(groups.values())


def _best_order(labels: Sequence[frozenset[str]]) -> tuple[str, ...]:
    """The single ranking of articles with the highest total reciprocal rank for these copies."""
    counts = Counter(a for gold in labels for a in gold)
    candidates = [a for a, _ in counts.most_common()]
    if len(candidates) > MAX_EXACT_ARTICLES:  # greedy: most-labelled first (exact for hit@1)
        return tuple(candidates)

    def total(order: tuple[str, ...]) -> float:
        return sum(next((1 / (i + 1) for i, a in enumerate(order) if a in g), 0.0) for g in labels)

    return max(permutations(candidates), key=total)


def retrieval_ceiling(rows: Sequence[Row]) -> dict[str, float]:
    """MRR and hit@1 of a perfect ranker that must rank identical questions identically."""
    scored = [row for row in rows if row[1]]
    if not scored:
        return {"mrr": 0.0, "hit_at_1": 0.0, "distinct_texts": 0}
    rr = hits = 0.0
    groups = group_by_text(scored)
    for labels in groups:
        order = _best_order(labels)
        for gold in labels:
            rank = next((i for i, a in enumerate(order) if a in gold), None)
            rr += 0.0 if rank is None else 1 / (rank + 1)
            hits += rank == 0
    return {
        "mrr": round(rr / len(scored), 4),
        "hit_at_1": round(hits / len(scored), 4),
        "distinct_texts": len(groups),
    }


def decisions_ceiling(rows: Sequence[Row], max_wrong_rate: float) -> dict[str, float]:
    """Best answered-correctly rate of a perfect system allowed `max_wrong_rate` wrong answers.

    Each distinct text is answered (with its most-labelled article) or not; out-of-scope rows are
    never answered. Choosing which texts to answer is a small knapsack, solved exactly.
    """
    if not rows:
        return {"answered_correct_rate": 0.0, "max_wrong_rate": max_wrong_rate}
    budget = int(max_wrong_rate * len(rows) + 1e-9)
    items = []
    for labels in group_by_text(r for r in rows if r[1]):
        article, right = Counter(a for gold in labels for a in gold).most_common(1)[0]
        right = sum(article in gold for gold in labels)
        items.append((right, len(labels) - right))
    best = [0] * (budget + 1)  # best[w] = most right answers with at most w wrong ones
    for right, wrong in items:
        for w in range(budget, wrong - 1, -1):
            best[w] = max(best[w], best[w - wrong] + right)
    return {
        "answered_correct_rate": round(best[budget] / len(rows), 4),
        "max_wrong_rate": max_wrong_rate,
        "everything_answered_correct_rate": round(sum(r for r, _ in items) / len(rows), 4),
    }
