"""A comparison set on the training landscape: placement, gaps, far rows, matching a target."""

from __future__ import annotations

import numpy as np
import pytest

from level_desktop.core.comparison import (
    coverage_gaps,
    far_rows,
    match_weights,
    place,
    total_variation,
)
from level_desktop.core.errors import SettingsError
from level_desktop.core.vectors import normalize_rows


def blobs(centers: np.ndarray, counts: list[int], seed: int, noise: float = 0.05) -> tuple:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(counts)), counts)
    x = centers[labels] + noise * rng.standard_normal((labels.size, centers.shape[1]))
    return normalize_rows(x), labels


def test_rows_fall_on_their_own_hill_and_an_unseen_topic_is_far():
    centers = np.eye(4, 32)  # four unrelated topics
    train, train_labels = blobs(centers[:3], [50, 30, 20], seed=1)
    eval_rows, eval_labels = blobs(centers, [5, 5, 5, 5], seed=2)
    centroids = normalize_rows(np.stack([train[train_labels == c].mean(0) for c in range(3)]))
    placement = place(eval_rows, centroids, train)
    assert np.array_equal(placement.cluster[:15], eval_labels[:15])
    assert np.all(placement.nearest_similarity[:15] > 0.9)
    far = far_rows(placement)
    assert set(far.tolist()) == set(range(15, 20))  # the fourth topic has no training rows
    # Searching only the rows of each row's 2 nearest clusters finds the same nearest rows for
    # the covered rows, and the uncovered ones stay far.
    blocked = place(eval_rows, centroids, train, train_labels=train_labels, clusters_searched=2)
    assert np.array_equal(blocked.nearest_row[:15], placement.nearest_row[:15])
    np.testing.assert_allclose(blocked.nearest_similarity[:15],
                               placement.nearest_similarity[:15], atol=1e-6)
    assert set(far_rows(blocked).tolist()) == set(range(15, 20))


def test_gaps_rank_hills_by_their_shortfall():
    train = np.array([100, 50, 10, 40])
    comparison = np.array([10, 10, 40, 2])
    gaps = coverage_gaps(train, comparison)
    assert [g.cluster for g in gaps] == [2]
    assert gaps[0].ratio == pytest.approx((40 / 62) / (10 / 200))
    assert coverage_gaps(train, train) == []


def test_total_variation():
    assert total_variation(np.array([1, 1]), np.array([2, 2])) == 0
    assert total_variation(np.array([1, 0]), np.array([0, 1])) == 1
    assert total_variation(np.array([3, 1]), np.array([1, 1])) == pytest.approx(0.25)


def test_match_weights_reach_the_target_when_the_cap_allows():
    sizes = np.array([600.0, 300.0, 100.0])
    target = np.array([1.0, 1.0, 1.0])
    w = match_weights(sizes, target, max_up=10)
    eff = sizes * w
    assert eff.sum() == pytest.approx(sizes.sum())
    assert total_variation(eff, target) == pytest.approx(0, abs=1e-12)


def test_match_weights_respect_the_cap_and_keep_the_shape_of_the_rest():
    sizes = np.array([600.0, 300.0, 100.0])
    target = np.array([0.2, 0.3, 0.5])
    w = match_weights(sizes, target, max_up=3)
    eff = sizes * w
    assert w.max() <= 3 + 1e-12
    assert w[2] == pytest.approx(3)  # would need 5x: stops at the cap
    assert eff.sum() == pytest.approx(sizes.sum())
    assert eff[0] / eff[1] == pytest.approx(0.2 / 0.3)  # the others still in the target's ratio
    assert total_variation(eff, target) < total_variation(sizes, target)


def test_hills_missing_from_the_target_get_weight_zero():
    w = match_weights(np.array([10.0, 10.0]), np.array([0.0, 5.0]), max_up=3)
    assert w[0] == 0
    assert w[1] == pytest.approx(2)


def test_match_weights_reject_a_bad_cap_or_shape():
    with pytest.raises(SettingsError):
        match_weights(np.array([1.0]), np.array([1.0]), max_up=0.5)
    with pytest.raises(SettingsError):
        match_weights(np.array([1.0, 2.0]), np.array([1.0]))
