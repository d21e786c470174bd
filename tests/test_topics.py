"""Topics over clusters (core/topics.py) on synthetic unit vectors clustered by Level's k-means."""

from __future__ import annotations

import numpy as np
import pytest

from level_desktop.core.balance import gini
from level_desktop.core.clustering import NOISE, AutoClusterer, ClusterStats, cluster_stats
from level_desktop.core.errors import SettingsError
from level_desktop.core.topics import Topics, auto_topic_count, build_topics, merge_clusters
from level_desktop.core.vectors import normalize_rows

BIG, SMALL, PER_SMALL, DIM = 4000, 8, 100, 64


def lopsided(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One dense blob of 4,000 rows and eight small blobs of 100, on orthogonal axes; the blob
    each row was drawn from (0 = the big one)."""
    rng = np.random.default_rng(seed)
    axes = np.eye(DIM)
    parts = [axes[0] + 0.04 * rng.standard_normal((BIG, DIM))]
    parts += [axes[i + 1] + 0.04 * rng.standard_normal((PER_SMALL, DIM)) for i in range(SMALL)]
    blob = np.repeat(np.arange(SMALL + 1), [BIG] + [PER_SMALL] * SMALL)
    return normalize_rows(np.vstack(parts).astype(np.float32)), blob


@pytest.fixture(scope="module")
def clustered() -> tuple[np.ndarray, np.ndarray, ClusterStats]:
    x, blob = lopsided()
    return x, blob, cluster_stats(x, AutoClusterer(seed=7).fit(x))


def check_consistent(topics: Topics, labels: np.ndarray, k: int) -> None:
    """Every cluster in exactly one topic; each row's topic is its cluster's; noise stays noise."""
    assert topics.of_cluster.shape == (k,)
    assert set(topics.of_cluster.tolist()) == set(range(topics.count))
    member = labels != NOISE
    np.testing.assert_array_equal(topics.labels[member], topics.of_cluster[labels[member]])
    np.testing.assert_array_equal(topics.labels == NOISE, ~member)
    assert topics.sizes.sum() == member.sum()
    np.testing.assert_array_equal(topics.sizes, np.bincount(topics.labels[member],
                                                            minlength=topics.count))
    assert np.all(np.diff(topics.sizes) <= 0)  # numbered by size, largest first
    for t in range(topics.count):
        np.testing.assert_array_equal(topics.clusters_of(t), np.flatnonzero(topics.of_cluster == t))


def test_every_cluster_has_one_topic_and_sizes_add_up(clustered) -> None:
    stats = clustered[2]
    topics = build_topics(stats)
    check_consistent(topics, stats.labels, len(stats.sizes))
    assert topics.count == auto_topic_count(len(stats.sizes))


def test_topic_centroids_and_spreads_are_those_of_their_rows(clustered) -> None:
    x, _, stats = clustered
    topics = build_topics(stats)
    for t in range(topics.count):
        rows = x[topics.labels == t]
        mean = rows.mean(axis=0)
        centroid = mean / np.linalg.norm(mean)
        np.testing.assert_allclose(topics.centroids[t], centroid, atol=1e-5)
        assert topics.spreads[t] == pytest.approx(float(np.mean(1.0 - rows @ centroid)), abs=1e-5)


def test_deterministic_for_the_same_seed() -> None:
    runs = []
    for _ in range(2):
        x, _ = lopsided(seed=3)
        stats = cluster_stats(x, AutoClusterer(seed=11).fit(x))
        runs.append(build_topics(stats))
    np.testing.assert_array_equal(runs[0].of_cluster, runs[1].of_cluster)
    np.testing.assert_array_equal(runs[0].labels, runs[1].labels)
    np.testing.assert_array_equal(runs[0].centroids, runs[1].centroids)


def test_lopsided_set_makes_a_mountain_where_flat_clusters_are_level(clustered) -> None:
    _, blob, stats = clustered
    topics = build_topics(stats)
    assert gini(topics.sizes) >= gini(stats.sizes) + 0.25
    # the largest topic is made of the big blob's rows and dwarfs a whole small blob
    assert set(blob[topics.labels == 0].tolist()) == {0}
    assert topics.sizes[0] >= 4 * PER_SMALL
    # no topic mixes the big blob with a small one
    for t in range(topics.count):
        assert len(set(blob[topics.labels == t].tolist())) == 1


def test_told_the_true_count_topics_are_the_blobs(clustered) -> None:
    _, blob, stats = clustered
    topics = build_topics(stats, count=SMALL + 1)
    assert topics.sizes.tolist() == [BIG] + [PER_SMALL] * SMALL
    for t in range(topics.count):
        assert len(set(blob[topics.labels == t].tolist())) == 1
    assert gini(topics.sizes) > 0.6


def test_noise_stays_noise(clustered) -> None:
    x, _, stats = clustered
    labels = stats.labels.copy()
    labels[::7] = NOISE  # as DBSCAN / HDBSCAN leave rows out
    noisy = cluster_stats(x, labels)
    topics = build_topics(noisy)
    check_consistent(topics, noisy.labels, len(noisy.sizes))
    assert topics.sizes.sum() == len(labels) - len(labels[::7])


def test_counts_at_the_edges(clustered) -> None:
    x, _, stats = clustered
    k = len(stats.sizes)
    assert build_topics(stats, count=1).sizes.tolist() == [len(x)]
    every = build_topics(stats, count=k + 10)
    assert every.count == k
    np.testing.assert_array_equal(every.sizes, stats.sizes)
    with pytest.raises(SettingsError):
        build_topics(stats, count=0)
    none = build_topics(cluster_stats(x, np.full(len(x), NOISE)))
    assert none.count == 0
    assert np.all(none.labels == NOISE)


def test_auto_topic_count() -> None:
    assert [auto_topic_count(k) for k in (0, 1, 2, 4, 24, 123, 150)] == [0, 1, 1, 1, 8, 41, 50]


def test_merge_clusters_keeps_close_centroids_together() -> None:
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(3), [10, 3, 2])
    centroids = normalize_rows((np.eye(8)[groups] + 0.02 * rng.standard_normal((15, 8)))
                               .astype(np.float32))
    merged = merge_clusters(centroids, 3)
    assert len(set(zip(groups.tolist(), merged.tolist(), strict=True))) == 3
