"""The rollout statistics on simulated outcomes: power at the stated sample size, A/A error rate."""

from __future__ import annotations

import random

import pytest

from bot.improve.experiment import assign, sample_size, two_proportions
from bot.improve.experiment_status import more_needed

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


def test_the_number_status_quotes_detects_ten_points_and_keeps_the_error_rate() -> None:
    """`experiment status` says "about N more conversations" (more_needed): at that N, a real
    10-point difference is found ~80 % of the time and an A/A run calls one ~5 % of the time."""
    total = more_needed(0.65, 0.10, 0, 0, 1.0, share=0.2)  # from nothing, at a 20 % share
    n_cand = round(total * 0.2)
    n_base = total - n_cand
    assert 800 < total < 1100  # the order the rollout tests simulate
    rng = random.Random(23)
    runs = 400
    power = sum(_run(rng, 0.65, 0.75, n_base, n_cand) for _ in range(runs)) / runs
    assert 0.74 <= power <= 0.88, power  # stated 0.8; Monte Carlo SE about 0.02
    false = sum(_run(rng, 0.65, 0.65, n_base, n_cand) for _ in range(runs)) / runs
    assert false <= 0.085, false  # stated alpha 0.05; Monte Carlo SE about 0.011
    half = sum(_run(rng, 0.65, 0.75, n_base // 2, n_cand // 2) for _ in range(runs)) / runs
    assert half < 0.62, half  # half the stated size is clearly underpowered: the size matters


def test_interval_and_bad_input() -> None:
    result = two_proportions(60, 100, 75, 100)
    assert result.difference == pytest.approx(0.15)
    assert result.low < result.difference < result.high
    assert result.high - result.low == pytest.approx(2 * 1.96 * 0.0654, abs=0.002)  # Wald, unpooled
    assert result.significant and result.p_value < 0.05
    with pytest.raises(ValueError):
        two_proportions(0, 0, 1, 1)
