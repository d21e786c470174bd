"""A hill's volume follows its effective mass, so Flatten levels the massifs instead of leaving a
broad one standing as a plateau (issue 15): at the top level over topics, and inside a topic
over its clusters."""

from __future__ import annotations

import numpy as np
import pytest

from level_desktop.core.balance import Balance
from level_desktop.core.terrain import (
    FLATTENED_PEAK_RATIO,
    PEAK,
    build_terrain,
    footprint_radii,
)

# Clusters (sizes) per topic. Topic 4 is small but its two clusters lie far apart (the broad
# topic that stood as a plateau after Flatten when a hill's height followed its mass alone).
TOPICS = [(500, 400, 300), (260, 150, 90), (120, 80), (70,), (40, 30)]
TOPIC_CENTRES = [(0, 0), (30, 0), (0, 30), (30, 30), (15, 15)]
BROAD_OFFSETS = [(-12, -12), (12, 12)]


def landscape() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows laid out like the cluster landscape: each cluster a disc of area ∝ size, inside its
    topic's region; returns positions, cluster labels, cluster sizes, topic of each cluster."""
    rng = np.random.default_rng(5)
    positions, labels, sizes, topic_of = [], [], [], []
    for t, clusters in enumerate(TOPICS):
        for j, size in enumerate(clusters):
            c = len(sizes)
            if t == 4:
                offset = np.array(BROAD_OFFSETS[j], dtype=float)
            else:
                angle = 2 * np.pi * j / len(clusters)
                offset = 4.0 * np.array([np.cos(angle), np.sin(angle)]) * (len(clusters) > 1)
            radius = np.sqrt(size) / 8
            r = radius * np.sqrt(rng.uniform(size=size))
            a = rng.uniform(0, 2 * np.pi, size=size)
            centre = np.array(TOPIC_CENTRES[t], dtype=float) + offset
            positions.append(centre + np.column_stack([r * np.cos(a), r * np.sin(a)]))
            labels.append(np.full(size, c))
            sizes.append(size)
            topic_of.append(t)
    return (np.vstack(positions).astype(np.float32), np.concatenate(labels),
            np.array(sizes), np.array(topic_of))


def volumes(terrain, scales: np.ndarray) -> np.ndarray:
    return terrain.unit_hills.reshape(len(scales), -1).sum(axis=1) * scales


def peaks(terrain, scales: np.ndarray) -> np.ndarray:
    return terrain.unit_hills.reshape(len(scales), -1).max(axis=1) * scales


@pytest.fixture(scope="module")
def layout():
    positions, labels, sizes, topic_of = landscape()
    balance = Balance(np.arange(len(sizes)), sizes, topic_of_cluster=topic_of)
    top = build_terrain(positions, topic_of[labels], balance.topic_sizes, grid=100)
    return positions, labels, sizes, topic_of, balance, top


def test_volume_follows_effective_mass_at_any_weights(layout, rng) -> None:
    _, _, _, _, balance, top = layout
    balance.reset()
    for _ in range(3):
        balance.set_topic_weights(rng.uniform(0.2, 3.0, size=balance.topic_ids.size))
        balance.set_weights(rng.uniform(0.2, 3.0, size=balance.sizes.size))
        ratio = volumes(top, balance.hill_scales(None)) / balance.topic_effective_sizes
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)
    balance.reset()
    assert top.heights(np.ones(len(TOPICS))).max() == pytest.approx(PEAK, rel=1e-5)


def test_unweighted_height_still_tells_mass(layout) -> None:
    _, _, _, _, balance, top = layout
    balance.reset()
    tallest = peaks(top, balance.hill_scales(None))
    assert int(np.argmax(tallest)) == int(np.argmax(balance.topic_sizes))
    # The broad small topic does not stand above the big ones.
    assert tallest[4] < tallest[0] / 4


def test_flatten_at_the_top_levels_volumes_and_peaks(layout) -> None:
    _, _, _, _, balance, top = layout
    balance.reset()
    before = volumes(top, balance.hill_scales(None))
    assert before.max() / before.min() > 5  # the lopsided start
    balance.flatten_topics(max_up=100.0)  # no cap: every topic can reach the level
    after = volumes(top, balance.hill_scales(None))
    np.testing.assert_allclose(after, after.mean(), rtol=1e-3)
    tops = peaks(top, balance.hill_scales(None))
    assert tops.max() / tops.min() <= FLATTENED_PEAK_RATIO
    balance.reset()


def test_flatten_inside_a_topic_levels_volumes_and_peaks(layout) -> None:
    positions, labels, sizes, topic_of, balance, _ = layout
    for topic in (0, 1, 4):
        ids = np.flatnonzero(topic_of == topic)
        local = np.full(len(sizes), -1)
        local[ids] = np.arange(ids.size)
        rows = np.flatnonzero(topic_of[labels] == topic)
        drilled = build_terrain(positions[rows], local[labels[rows]], sizes[ids], grid=100)
        balance.reset()
        balance.flatten_within(topic, max_up=100.0)
        after = volumes(drilled, balance.hill_scales(topic))
        np.testing.assert_allclose(after, after.mean(), rtol=1e-3)
        tops = peaks(drilled, balance.hill_scales(topic))
        assert tops.max() / tops.min() <= FLATTENED_PEAK_RATIO
    balance.reset()


def test_footprint_radii_stay_within_their_range() -> None:
    spreads = np.array([0.1, 1.0, 2.0, 50.0])
    radii = footprint_radii(spreads, cell=0.05)
    median = float(np.median(np.maximum(2 * spreads, 0.1)))
    assert radii.max() / radii.min() <= FLATTENED_PEAK_RATIO ** 0.5 + 1e-9
    assert np.all(np.diff(radii) >= 0)  # a wider spread never gets a narrower hill
    assert radii.min() >= median / 2 ** 0.5 - 1e-9
    assert footprint_radii(np.array([]), cell=1.0).size == 0
