"""`experiment status`: the arms compared on recorded outcomes, with intervals and a verdict.

Enrolment is what the decisions recorded (Decision.experiment / arm), so the comparison counts
exactly the conversations each arm served. Outcomes use the monitoring definitions
(bot.monitoring.facts, docs/metrics.md). Bot resolution (resolved, confirmed or assumed, without
an escalation) is the primary metric and decides the verdict;
the others are reported with their own tests (read them as secondary: four tests at 5 % each).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.improve.experiment import Comparison, sample_size, two_proportions
from bot.models import Decision, Experiment
from bot.monitoring.facts import ConvFacts, load_window, utc

ALPHA = 0.05
POWER = 0.8
DETECT = 0.10  # the difference "how many more conversations" is sized for (status --detect)


@dataclass(frozen=True)
class Metric:
    """A rate over a subset of conversations: who counts (unit) and who hits."""

    key: str
    label: str
    higher_is_better: bool
    unit: Callable[[ConvFacts], bool]
    hit: Callable[[ConvFacts], bool]


METRICS = (
    Metric(  # resolved by the bot: confirmed or assumed, and no person needed
        "resolution",
        "Bot resolution",
        True,
        lambda f: True,
        lambda f: f.resolved and not f.escalated,
    ),
    Metric(
        "wrong_answer",
        "Not helpful after an answer",
        False,
        lambda f: f.answered,
        lambda f: f.not_helpful > 0,
    ),
    Metric("escalation", "Escalation", False, lambda f: True, lambda f: f.escalated),
    Metric(
        "csat",
        "CSAT (4–5 of 5)",
        True,
        lambda f: f.rating is not None,
        lambda f: (f.rating or 0) >= 4,
    ),
)


@dataclass
class MetricResult:
    """One metric for both arms: counts, the test, and how many more conversations it needs."""

    key: str
    label: str
    higher_is_better: bool
    base_hits: int
    base_n: int
    cand_hits: int
    cand_n: int
    comparison: Comparison | None  # None until both arms have a unit
    more_conversations: int | None  # to detect `detect` with 80 % power; None when real already
    detect: float

    @property
    def verdict(self) -> str:
        """better | worse | no real difference yet | no data."""
        if self.comparison is None:
            return "no data"
        if not self.comparison.significant:
            return "no real difference yet"
        up = self.comparison.difference > 0
        return "better" if up == self.higher_is_better else "worse"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        c = self.comparison
        return {
            "key": self.key,
            "label": self.label,
            "baseline": {"hits": self.base_hits, "n": self.base_n},
            "candidate": {"hits": self.cand_hits, "n": self.cand_n},
            "difference": None if c is None else round(c.difference, 4),
            "interval": None if c is None else [round(c.low, 4), round(c.high, 4)],
            "p_value": None if c is None else round(c.p_value, 4),
            "significant": bool(c and c.significant),
            "verdict": self.verdict,
            "more_conversations": self.more_conversations,
            "detect": self.detect,
        }


@dataclass
class ExperimentStatus:
    """Both arms of one experiment, every metric, and the verdict on the primary one."""

    name: str
    status: str
    baseline: int
    candidate: int
    metrics: list[MetricResult]

    @property
    def primary(self) -> MetricResult:
        """Bot resolution."""
        return self.metrics[0]

    @property
    def real(self) -> bool:
        """Whether the primary metric differs beyond chance (two-sided, alpha 5 %)."""
        return self.primary.verdict in ("better", "worse")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "name": self.name,
            "status": self.status,
            "conversations": {"baseline": self.baseline, "candidate": self.candidate},
            "real": self.real,
            "verdict": self.primary.verdict,
            "metrics": [m.to_dict() for m in self.metrics],
        }


def enrolled(engine: Engine, name: str) -> tuple[dict[int, str], datetime | None]:
    """Conversation id → arm for every conversation the experiment served, and the first start."""
    with Session(engine) as session:
        rows = session.execute(
            select(Decision.conversation_id, func.min(Decision.arm), func.min(Decision.created_at))
            .where(Decision.experiment == name, Decision.shadow == False)  # noqa: E712
            .group_by(Decision.conversation_id)
        ).all()
    arms = {int(cid): str(arm) for cid, arm, _ in rows}
    first = min((utc(at) for _, _, at in rows if at is not None), default=None)
    return arms, first


def more_needed(p_base: float, detect: float, base_n: int, cand_n: int, units_per_conv: float,
                share: float) -> int:  # fmt: skip
    """More conversations (both arms) to detect a `detect` difference at 80 % power.

    Sized for a stated difference, not the observed one: early observed differences are noisy
    (and inflated when they look large), so a size based on them would promise too much.
    """
    p_base = min(max(p_base, 0.01), 0.99)
    if p_base + detect > 1:
        detect = -detect  # test the reachable direction
    need_base, need_cand = sample_size(p_base, detect, ALPHA, POWER, share=share)
    units = max(0, need_base - base_n) + max(0, need_cand - cand_n)
    return math.ceil(units / max(units_per_conv, 1e-9))


def experiment_status(
    engine: Engine, exp: Experiment, now: datetime | None = None, detect: float = DETECT
) -> ExperimentStatus:
    """Compare the arms on every metric (conversations the experiment served, outcomes to now)."""
    arms, first = enrolled(engine, exp.name)
    until = now or datetime.now(UTC)
    since = min(utc(exp.started_at) or until, first or until)
    facts = [f for f in load_window(engine, since, until).facts if f.id in arms]
    groups = {arm: [f for f in facts if arms[f.id] == arm] for arm in ("baseline", "candidate")}
    n_base, n_cand = len(groups["baseline"]), len(groups["candidate"])
    share = n_cand / (n_base + n_cand) if n_base + n_cand else exp.share
    share = min(max(share, 0.01), 0.99)
    results = []
    for metric in METRICS:
        base = [f for f in groups["baseline"] if metric.unit(f)]
        cand = [f for f in groups["candidate"] if metric.unit(f)]
        base_hits, cand_hits = sum(map(metric.hit, base)), sum(map(metric.hit, cand))
        comparison = None
        more: int | None = None
        if base and cand:
            comparison = two_proportions(base_hits, len(base), cand_hits, len(cand), ALPHA)
        if comparison is None or not comparison.significant:
            p_base = base_hits / len(base) if base else 0.5
            units_per_conv = (len(base) + len(cand)) / max(n_base + n_cand, 1) or 1.0
            more = more_needed(p_base, detect, len(base), len(cand), units_per_conv, share)
        results.append(
            MetricResult(
                metric.key,
                metric.label,
                metric.higher_is_better,
                base_hits,
                len(base),
                cand_hits,
                len(cand),
                comparison,
                more,
                round(detect, 4),
            )
        )
    return ExperimentStatus(exp.name, exp.status, n_base, n_cand, results)
