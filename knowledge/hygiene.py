"""Knowledge hygiene: near-duplicate, stale and possibly contradictory articles, for staff review."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from knowledge.lint import lint_article
from knowledge.store import KnowledgeBase

_NUMBER = re.compile(r"(?<![\w-])\d+(?:[.,]\d+)?(?![\w-])")
_AMOUNT = re.compile(
    r"(?P<pre>[€$£])?\s?(?P<num>(?<![\w-])\d+(?:[.,]\d+)?)(?![\w-]|[.,]\d)\s*(?P<unit>%|[^\W\d_]+)?"
)
_UNITS = {"€": "eur", "euro": "eur", "euros": "eur", "$": "usd", "dollars": "usd", "dollar": "usd"}
_UNITS |= {"£": "gbp", "percent": "%", "hrs": "hour", "mins": "minute", "min": "minute"}
_NEGATION = re.compile(r"\b(?:not|no|never|cannot|can't|don't|doesn't|isn't|won't|without)\b", re.I)


@dataclass(frozen=True)
class NearDuplicate:
    """Two articles whose content vectors are nearly the same."""

    a: int
    b: int
    a_title: str
    b_title: str
    similarity: float


@dataclass(frozen=True)
class StaleArticle:
    """An article nobody has touched for a while."""

    article_id: int
    title: str
    owner: str
    days_old: int


@dataclass(frozen=True)
class Contradiction:
    """Two articles answering the same question with different numbers or opposite polarity."""

    a: int
    b: int
    a_title: str
    b_title: str
    reason: str


def _pairs(vectors: dict[int, np.ndarray], threshold: float) -> list[tuple[int, int, float]]:
    """Article id pairs (a < b) whose unit vectors have cosine >= threshold, most similar first."""
    ids = sorted(vectors)
    if len(ids) < 2:
        return []
    mat = np.stack([vectors[i] for i in ids])
    sims = mat @ mat.T
    rows, cols = np.where(np.triu(sims, k=1) >= threshold)
    found = [(ids[r], ids[c], float(sims[r, c])) for r, c in zip(rows, cols, strict=True)]
    return sorted(found, key=lambda p: -p[2])


def find_near_duplicates(kb: KnowledgeBase, threshold: float = 0.92) -> list[NearDuplicate]:
    """Pairs of articles whose mean body vectors are near-identical."""
    vectors = {
        aid: body for aid, (_, body) in kb.index.article_vectors().items() if body is not None
    }
    titles = {a.id: a.title for a in kb.list()}
    return [
        NearDuplicate(a, b, titles.get(a, "?"), titles.get(b, "?"), round(sim, 4))
        for a, b, sim in _pairs(vectors, threshold)
        if a in titles and b in titles
    ]


def find_stale(kb: KnowledgeBase, days: int = 180) -> list[StaleArticle]:
    """Articles not updated for at least `days` days, oldest first."""
    now = datetime.now(UTC)
    out = []
    for art in kb.list():
        updated = art.updated_at if art.updated_at.tzinfo else art.updated_at.replace(tzinfo=UTC)
        age = now - updated
        if age >= timedelta(days=days):
            out.append(StaleArticle(art.id or 0, art.title, art.owner, age.days))
    return sorted(out, key=lambda s: -s.days_old)


def amounts(text: str) -> dict[str, set[str]]:
    """Numbers by the unit written with them: '15 EUR', '€15' -> eur: {15}; '7 days' -> day: {7}."""
    found: dict[str, set[str]] = {}
    for m in _AMOUNT.finditer(text):
        unit = (m.group("pre") or m.group("unit") or "").lower()
        unit = _UNITS.get(unit, unit)
        if len(unit) > 3 and unit.endswith("s"):
            unit = unit[:-1]  # days -> day, hours -> hour
        if unit:
            found.setdefault(unit, set()).add(m.group("num"))
    return found


def conflicting_amounts(a: str, b: str) -> list[str]:
    """'15 eur vs 20 eur'-style conflicts: the same unit with different values in each text."""
    left, right = amounts(a), amounts(b)
    out = []
    for unit in sorted(left.keys() & right.keys()):
        only_a, only_b = left[unit] - right[unit], right[unit] - left[unit]
        if only_a and only_b:
            out.append(f"{'/'.join(sorted(only_a))} vs {'/'.join(sorted(only_b))} {unit}")
    return out


def find_contradictions(
    kb: KnowledgeBase,
    threshold: float = 0.85,
    body_threshold: float = 0.8,
    close_threshold: float = 0.65,
) -> list[Contradiction]:
    """Similar answers to the same question that disagree on numbers or polarity.

    Same question (title cosine >= threshold): any differing numbers or a negation differing.
    Close questions (title cosine >= close_threshold): only numbers of the same unit that differ
    (15 EUR vs 20 EUR, 7 vs 30 days), a stronger sign than wording alone.
    """
    vectors = kb.index.article_vectors()
    titles = {aid: title for aid, (title, _) in vectors.items()}
    arts = {a.id: a for a in kb.list()}
    out = []
    for a, b, title_sim in _pairs(titles, min(threshold, close_threshold)):
        body_a, body_b = vectors[a][1], vectors[b][1]
        if a not in arts or b not in arts or body_a is None or body_b is None:
            continue
        if float(body_a @ body_b) < body_threshold:
            continue  # different answers altogether: a near-duplicate question, not a contradiction
        reason = ""
        conflicts = conflicting_amounts(arts[a].body, arts[b].body)
        if title_sim < threshold:
            reason = f"numbers differ: {'; '.join(conflicts)}" if conflicts else ""
        else:
            nums_a, nums_b = set(_NUMBER.findall(arts[a].body)), set(_NUMBER.findall(arts[b].body))
            if conflicts:
                reason = f"numbers differ: {'; '.join(conflicts)}"
            elif nums_a - nums_b and nums_b - nums_a:
                reason = f"numbers differ: {sorted(nums_a - nums_b)} vs {sorted(nums_b - nums_a)}"
            elif bool(_NEGATION.search(arts[a].body)) != bool(_NEGATION.search(arts[b].body)):
                reason = "one answer is negated, the other is not"
        if reason:
            out.append(Contradiction(a, b, arts[a].title, arts[b].title, reason))
    return out


@dataclass(frozen=True)
class UnsafeArticle:
    """An article the safety lint flags (injected instructions, credential requests, outside links)."""

    article_id: int
    title: str
    findings: list[str]


def find_unsafe(kb: KnowledgeBase, allowed_domains: list[str] | None = None) -> list[UnsafeArticle]:
    """Published articles that would not pass the import lint today."""
    out = []
    for art in kb.list():
        findings = lint_article(art.title, art.body, art.url, allowed_domains)
        if findings:
            out.append(UnsafeArticle(art.id or 0, art.title, [str(f) for f in findings]))
    return out
