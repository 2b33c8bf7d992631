"""The rollout statistics on simulated outcomes: power at the stated sample size, A/A error rate."""

from __future__ import annotations

import random

import pytest

from bot.improve.experiment import assign, sample_size, two_proportions

ALPHA = 0.05


def _run(rng: random.Random, p_base: float, p_cand: float, n_base: int, n_cand: int) -> bool:
    base = sum(rng.random() < p_base for _ in range(n_base))
    cand = sum(rng.random() < p_cand for _ in range(n_cand))
    return two_proportions(base, n_base, cand, n_cand, ALPHA).significant


def test_assignment_is_sticky_and_near_its_share() -> None:
    keys = [f"slack:C1:{i}" for i in range(20_000)]
    arms = [assign(k, "exp1", 0.2) for k in keys]
    assert arms == [assign(k, "exp1", 0.2) for k in keys]
    assert 0.19 < arms.count("candidate") / len(arms) < 0.21
    assert arms != [assign(k, "exp2", 0.2) for k in keys]  # each experiment draws anew


def test_detects_a_real_ten_point_difference_at_the_size_it_asks_for() -> None:
    n_base, n_cand = sample_size(0.60, 0.10, ALPHA, 0.8, share=0.2)
    assert n_cand == pytest.approx(n_base / 4, abs=1)
    rng = random.Random(7)
    runs = 400
    power = sum(_run(rng, 0.60, 0.70, n_base, n_cand) for _ in range(runs)) / runs
    assert 0.74 <= power <= 0.88  # stated power 0.8, Monte Carlo error about ±0.02


def test_a_a_runs_declare_a_difference_about_alpha_of_the_time() -> None:
    rng = random.Random(11)
    runs = 1000
    false = sum(_run(rng, 0.6, 0.6, 800, 200) for _ in range(runs)) / runs
    assert 0.03 <= false <= 0.07  # alpha 0.05, Monte Carlo error about ±0.007


def test_interval_and_bad_input() -> None:
    result = two_proportions(60, 100, 75, 100)
    assert result.difference == pytest.approx(0.15)
    assert result.low < result.difference < result.high
    assert result.high - result.low == pytest.approx(2 * 1.96 * 0.0654, abs=0.002)  # Wald, unpooled
    assert result.significant and result.p_value < 0.05
    with pytest.raises(ValueError):
        two_proportions(0, 0, 1, 1)
