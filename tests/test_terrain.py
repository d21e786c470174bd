"""The terrain is the weighted sum of unit hills, on a scale the unweighted terrain fixes."""

from __future__ import annotations

import numpy as np
import pytest

from level_desktop.core.terrain import PEAK, build_terrain


@pytest.fixture(scope="module")
def terrain_inputs(sample_analysis):
    a = sample_analysis
    return a.positions, a.labels, a.sizes


def test_weighted_terrain_equals_sum_of_unit_hills(terrain_inputs, rng) -> None:
    positions, labels, sizes = terrain_inputs
    t = build_terrain(positions, labels, sizes, grid=60)
    w = rng.uniform(0, 3, size=len(sizes))
    expected = sum(w[c] * t.unit_hills[c] for c in range(len(sizes)))
    np.testing.assert_allclose(t.heights(w), expected, rtol=1e-5, atol=1e-5)


def test_unweighted_peak_is_ten_and_weights_are_not_normalised_away(terrain_inputs) -> None:
    positions, labels, sizes = terrain_inputs
    t = build_terrain(positions, labels, sizes, grid=100)
    ones = np.ones(len(sizes))
    assert t.heights(ones).max() == pytest.approx(PEAK, rel=1e-5)
    lowered = ones.copy()
    lowered[0] = 0.25
    assert t.heights(lowered).max() <= PEAK
    cx, cy = t.cell_of(*t.centers[0])
    assert t.heights(lowered)[cx, cy] < t.heights(ones)[cx, cy]
    assert t.heights(ones * 2).max() == pytest.approx(2 * PEAK, rel=1e-5)


def test_biggest_cluster_has_the_highest_hill(terrain_inputs) -> None:
    positions, labels, sizes = terrain_inputs
    t = build_terrain(positions, labels, sizes, grid=80)
    peaks = t.unit_hills.reshape(len(sizes), -1).max(axis=1)
    assert np.argmax(peaks) == np.argmax(sizes)


def test_owners_name_the_dominating_cluster(terrain_inputs) -> None:
    positions, labels, sizes = terrain_inputs
    t = build_terrain(positions, labels, sizes, grid=50)
    w = np.ones(len(sizes))
    owners = t.owners(w)
    assert owners.shape == (50, 50)
    assert set(np.unique(owners)) <= {-1, *range(len(sizes))}
    cx, cy = t.cell_of(*t.centers[0])
    assert owners[cx, cy] == 0


def test_owners_match_the_full_argmax_for_any_weights(terrain_inputs, rng) -> None:
    positions, labels, sizes = terrain_inputs
    t = build_terrain(positions, labels, sizes, grid=60)
    for _ in range(5):
        w = rng.uniform(0, 3, size=len(sizes)).astype(np.float32)
        weighted = t.unit_hills * w[:, None, None]
        expected = np.argmax(weighted, axis=0)
        expected[weighted.max(axis=0) < 0.2] = -1
        np.testing.assert_array_equal(t.owners(w), expected)
