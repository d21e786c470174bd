"""Row budgets: exactly N rows, seeded, following the weights, no repeats while avoidable."""

from __future__ import annotations

import numpy as np
import pytest

from level_desktop.core.budget import (
    budget_rows,
    inclusion_probabilities,
    rows_for_fraction,
    systematic_draw,
)
from level_desktop.core.errors import SettingsError


@pytest.mark.parametrize("n", [0, 1, 17, 99, 100, 101, 250])
def test_exactly_n_rows(n):
    weights = np.random.default_rng(0).gamma(0.5, size=100) + 0.01
    assert len(budget_rows(weights, n)) == n


def test_the_same_seed_gives_the_same_rows_and_another_seed_others():
    weights = np.linspace(0.1, 3.0, 500)
    assert np.array_equal(budget_rows(weights, 100, seed=5), budget_rows(weights, 100, seed=5))
    assert not np.array_equal(budget_rows(weights, 100, seed=5), budget_rows(weights, 100, seed=6))


def test_no_row_twice_while_a_distinct_row_is_left():
    weights = np.r_[np.full(10, 50.0), np.full(90, 1.0)]  # heavy rows would ask for copies
    rows = budget_rows(weights, 100)
    assert np.array_equal(rows, np.arange(100))
    more = budget_rows(weights, 130)
    counts = np.bincount(more, minlength=100)
    assert (counts.min(), counts.max(), counts.sum()) == (1, 2, 130)


def test_zero_weight_rows_are_never_drawn():
    weights = np.r_[np.zeros(5), np.ones(5)]
    rows = budget_rows(weights, 12)
    assert rows.min() >= 5
    assert sorted(np.bincount(rows, minlength=10)[5:].tolist()) == [2, 2, 2, 3, 3]


def test_inclusion_probabilities_sum_to_n_and_cap_at_one():
    weights = np.array([10.0, 1, 1, 1, 1, 0])
    pi = inclusion_probabilities(weights, 3)
    assert pi.sum() == pytest.approx(3)
    assert (pi[0], pi[5]) == (1.0, 0.0)
    np.testing.assert_allclose(pi[1:5], 0.5)


def test_rows_follow_the_weights_over_many_seeds():
    # Two clusters of 100 rows, weighted 1 and 3 (cluster × topic × collapse weights multiply).
    weights = np.r_[np.full(100, 1.0), np.full(100, 3.0)] * np.random.default_rng(1).uniform(
        0.5, 1.5, 200)
    n, seeds = 40, 2_000
    expected = inclusion_probabilities(weights, n)
    counts = np.zeros(200)
    for seed in range(seeds):
        counts[budget_rows(weights, n, seed=seed)] += 1
    frequency = counts / seeds
    # Each row's frequency is within 5 binomial standard errors of its π, and the heavy cluster
    # gets its share of the budget: 3 / (1 + 3) of the weight.
    se = np.sqrt(expected * (1 - expected) / seeds) + 1e-9
    assert np.all(np.abs(frequency - expected) <= 5 * se + 1e-3)
    heavy_share = counts[100:].sum() / counts.sum()
    assert heavy_share == pytest.approx(weights[100:].sum() / weights.sum(), abs=0.01)


def test_systematic_draw_gives_k_distinct_rows():
    rng = np.random.default_rng(3)
    weights = rng.exponential(size=1_000)
    for k in (1, 10, 500, 999, 1_000):
        rows = systematic_draw(weights, k, rng)
        assert len(rows) == k == len(np.unique(rows))


def test_at_most_one_row_per_duplicate_group_when_the_budget_allows():
    groups = np.r_[np.repeat(np.arange(10), 10), np.full(20, -1)]  # 10 groups of 10, 20 unique
    weights = np.ones(120)
    weights[:100] = 0.1  # collapse weights: each group weighs as one row
    for seed in range(20):
        rows = budget_rows(weights, 30, groups=groups, seed=seed)
        picked_groups = groups[rows][groups[rows] >= 0]
        assert len(np.unique(rows)) == 30
        assert len(picked_groups) == len(np.unique(picked_groups)) == 10  # 30 units exactly
    # A larger budget takes a second row from groups only after every unit gave one.
    rows = budget_rows(weights, 40, groups=groups)
    per_group = np.bincount(groups[rows][groups[rows] >= 0], minlength=10)
    assert per_group.min() >= 1
    assert per_group.sum() == 20
    assert set(np.flatnonzero(groups == -1)) <= set(rows.tolist())


def test_groups_count_as_one_row_in_the_weights():
    # One group of 50 copies against 50 unique rows, all collapse-weighted: the group is one of
    # 51 units, so a budget of 10 takes it about 10/51 of the time.
    groups = np.r_[np.zeros(50, dtype=int), np.full(50, -1)]
    weights = np.r_[np.full(50, 1 / 50), np.ones(50)]
    hits = sum(bool((budget_rows(weights, 10, groups=groups, seed=s) < 50).any())
               for s in range(1_000))
    assert hits / 1_000 == pytest.approx(10 / 51, abs=0.04)


def test_fraction_of_rows():
    assert rows_for_fraction(1_000, 0.25) == 250
    assert rows_for_fraction(3, 0.01) == 1
    with pytest.raises(SettingsError, match="fraction"):
        rows_for_fraction(100, 0)


def test_bad_weights_and_budgets_are_errors_for_the_user():
    with pytest.raises(SettingsError, match="weight 0"):
        budget_rows(np.zeros(4), 2)
    with pytest.raises(SettingsError, match="finite"):
        budget_rows(np.array([1.0, -1.0]), 1)
    with pytest.raises(SettingsError, match="negative"):
        budget_rows(np.ones(3), -1)
