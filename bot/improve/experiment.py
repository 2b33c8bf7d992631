"""Staged-rollout statistics: sticky per-conversation assignment and a two-proportion test.

Used by `/deskhand experiment` (bot/experiments.py assigns, bot/improve/experiment_status.py
compares); checked on simulated outcomes (tests/improve/test_experiment_stats.py).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from statistics import NormalDist

NORMAL = NormalDist()


def assign(conversation_key: str, experiment: str, share: float) -> str:
    """'candidate' for `share` of conversations, else 'baseline'; the same key always lands alike."""
    digest = hashlib.sha256(f"{experiment}:{conversation_key}".encode()).hexdigest()
    return "candidate" if int(digest[:12], 16) / 16**12 < share else "baseline"


@dataclass(frozen=True)
class Comparison:
    """Candidate minus baseline for one rate, with its interval and whether it is real."""

    baseline: float
    candidate: float
    difference: float
    low: float  # (1 - alpha) interval of the difference
    high: float
    p_value: float
    significant: bool


def two_proportions(
    base_hits: int, base_n: int, cand_hits: int, cand_n: int, alpha: float = 0.05
) -> Comparison:
    """Two-sided z-test (pooled variance) and a Wald interval (unpooled) for p_cand - p_base."""
    if base_n <= 0 or cand_n <= 0:
        raise ValueError("both arms need at least one conversation")
    p1, p2 = base_hits / base_n, cand_hits / cand_n
    pooled = (base_hits + cand_hits) / (base_n + cand_n)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / base_n + 1 / cand_n))
    z = (p2 - p1) / se0 if se0 > 0 else 0.0
    p_value = 2 * (1 - NORMAL.cdf(abs(z)))
    se = math.sqrt(p1 * (1 - p1) / base_n + p2 * (1 - p2) / cand_n)
    half = NORMAL.inv_cdf(1 - alpha / 2) * se
    diff = p2 - p1
    return Comparison(p1, p2, diff, diff - half, diff + half, p_value, p_value < alpha)


def sample_size(p_base: float, difference: float, alpha: float = 0.05, power: float = 0.8,
                share: float = 0.5) -> tuple[int, int]:  # fmt: skip
    """Conversations needed (baseline, candidate) to detect `difference` with this power.

    Fleiss' formula: the null term uses the pooled variance, as two_proportions' test does (the
    unpooled-only formula under-sized it: 76 % measured power where 80 % was stated).
    """
    p2 = min(max(p_base + difference, 0.0), 1.0)
    za, zb = NORMAL.inv_cdf(1 - alpha / 2), NORMAL.inv_cdf(power)
    ratio = share / (1 - share)  # candidate per baseline conversation
    pooled = (p_base + p2 * ratio) / (1 + ratio)
    null = za * math.sqrt(pooled * (1 - pooled) * (1 + 1 / ratio))
    alternative = zb * math.sqrt(p_base * (1 - p_base) + p2 * (1 - p2) / ratio)
    n_base = math.ceil((null + alternative) ** 2 / difference**2)
    return n_base, math.ceil(n_base * ratio)
