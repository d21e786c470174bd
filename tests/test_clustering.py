"""The cluster stage on real MiniLM vectors (the first 2,000 rows of the debian sample)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from level_desktop.core import clustering
from level_desktop.core.clustering import (
    CLUSTERERS,
    NOISE,
    Clusterer,
    DBSCANClusterer,
    HDBSCANClusterer,
    assign_noise,
    auto_k,
    cluster_stats,
    k_distance_eps,
    knee_index,
    percolation_eps,
    spherical_kmeans,
)
from level_desktop.core.settings import Settings
from level_desktop.core.vectors import normalize_rows

ROWS = 2000
UMAP_METHODS = {"dbscan", "hdbscan"}  # these pay umap's numba JIT (about a minute per process)


@pytest.fixture(scope="module")
def debian(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors and `section` labels of the sample's first 2,000 rows."""
    data = np.load(shared_data / "vectors" / "debian-20k-minilm.npz")
    names = [str(p) for p in data["package"][:ROWS]]
    with (shared_data / "debian-packages.csv").open(encoding="utf-8", newline="") as handle:
        section = {r["package"]: r["section"] for r in csv.DictReader(handle)}
    return normalize_rows(data["vectors"][:ROWS].astype(np.float32)), np.array(
        [section[p] for p in names])


@pytest.fixture(scope="module")
def vectors(debian: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return debian[0]


@pytest.fixture(scope="module")
def low_d(vectors: np.ndarray) -> np.ndarray:
    """A real 5-d space for the density methods' own logic: the top 5 principal components
    (UMAP's numba JIT would take a minute)."""
    from threadpoolctl import threadpool_limits

    centred = vectors - vectors.mean(axis=0)
    with threadpool_limits(1):  # a 384 × 384 problem: threads only wait on each other
        _, basis = np.linalg.eigh(centred.T.astype(np.float64) @ centred)
    return (centred @ basis[:, -5:]).astype(np.float32)


def pipeline_settings(seed: int) -> Settings:
    """What the pipeline hands a clusterer: the settings it reads its declared fields from."""
    return Settings(seed=seed)


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow) if n in UMAP_METHODS else n for n in CLUSTERERS.names])
def test_every_clusterer_labels_every_row_the_same_under_one_seed(
        name: str, vectors: np.ndarray) -> None:
    x = vectors[:800] if name in UMAP_METHODS else vectors
    first = CLUSTERERS.create(name, pipeline_settings(7))
    assert isinstance(first, Clusterer)
    assert first.name == name
    labels = first.fit(x)
    assert labels.shape == (len(x),)
    assert labels.dtype == np.int32
    assert labels.min() >= NOISE
    assert (labels >= 0).any()
    again = CLUSTERERS.create(name, pipeline_settings(7)).fit(x)
    np.testing.assert_array_equal(labels, again)


def test_auto_k_is_the_square_root_rule() -> None:
    assert [auto_k(n) for n in (1, 3, 2000, 15_217, 20_000, 200_000)] == [1, 2, 45, 123, 141, 150]


def test_default_gives_the_rule_s_cluster_count_and_no_noise(
        debian: tuple[np.ndarray, np.ndarray]) -> None:
    from sklearn.metrics import normalized_mutual_info_score

    x, sections = debian
    auto = CLUSTERERS.create("auto", seed=42)
    labels = auto.fit(x)
    assert auto.k_ == auto_k(len(x)) == 45
    assert np.unique(labels).size == 45
    assert (labels != NOISE).all()
    # far above chance on real data (the full 20k table is in benchmarks/README.md)
    assert normalized_mutual_info_score(sections, labels) > 0.35


def test_kmeans_takes_the_given_k_and_seeds_change_the_start(vectors: np.ndarray) -> None:
    a = CLUSTERERS.create("kmeans", k=12, seed=1).fit(vectors)
    b = CLUSTERERS.create("kmeans", k=12, seed=2).fit(vectors)
    assert np.unique(a).size == np.unique(b).size == 12
    assert not np.array_equal(a, b)


def test_kmeans_on_a_training_sample_still_labels_every_row(
        vectors: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clustering, "KMEANS_ROWS_PER_CLUSTER", 20)  # 10 clusters: 200 of 2,000
    labels = spherical_kmeans(vectors, 10, seed=3)
    assert labels.shape == (len(vectors),)
    assert np.unique(labels).size == 10
    np.testing.assert_array_equal(labels, spherical_kmeans(vectors, 10, seed=3))


def test_cluster_stats_renumber_by_size_with_unit_centroids_and_true_spreads(
        vectors: np.ndarray) -> None:
    raw = np.repeat(np.array([7, 3, NOISE, 11, 5]), [100, 400, 50, 250, 1200]).astype(np.int32)
    stats = cluster_stats(vectors, raw)
    assert list(stats.sizes) == [1200, 400, 250, 100]
    assert list(stats.ids) == [0, 1, 2, 3]
    assert stats.noise_size == 50
    for new, old in enumerate([5, 3, 11, 7]):
        np.testing.assert_array_equal(stats.labels == new, raw == old)
        rows = vectors[raw == old].astype(np.float64)
        mean = rows.mean(axis=0)
        centroid = mean / np.linalg.norm(mean)
        np.testing.assert_allclose(stats.centroids[new], centroid, atol=1e-5)
        np.testing.assert_allclose(stats.spreads[new], np.mean(1 - rows @ centroid), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(stats.centroids, axis=1), 1.0, atol=1e-5)
    assert (stats.labels[raw == NOISE] == NOISE).all()


def test_cluster_stats_of_all_noise_is_empty(vectors: np.ndarray) -> None:
    stats = cluster_stats(vectors[:10], np.full(10, NOISE))
    assert stats.sizes.size == 0
    assert stats.centroids.shape == (0, vectors.shape[1])
    assert stats.noise_size == 10


def test_assign_noise_leaves_no_noise_and_picks_the_nearest_centroid(vectors: np.ndarray) -> None:
    labels = spherical_kmeans(vectors, 8, seed=42)
    holed = labels.copy()
    holed[::5] = NOISE
    stats = cluster_stats(vectors, holed)
    filled = assign_noise(vectors, stats.labels, stats.centroids)
    assert (filled != NOISE).all()
    kept = stats.labels != NOISE
    np.testing.assert_array_equal(filled[kept], stats.labels[kept])
    expected = np.argmax(vectors[~kept] @ stats.centroids.T, axis=1)
    np.testing.assert_array_equal(filled[~kept], expected)


def test_knee_of_a_curve_with_a_known_knee() -> None:
    flat = np.linspace(0.0, 1.0, 80)  # slope 1/79 per step up to index 79, then slope 1 a step
    curve = np.concatenate([flat, 1.0 + np.arange(1, 21)])
    assert knee_index(curve) == 79
    assert knee_index(np.linspace(0, 1, 50)) in range(50)  # a straight line has no knee to find
    assert knee_index(np.ones(10)) == 9


def test_eps_rule_is_not_pulled_by_the_top_percent() -> None:
    body = np.concatenate([np.linspace(0.1, 0.2, 900), np.linspace(0.2, 0.6, 90)])
    outliers = np.full(10, 50.0)  # 1 % of rows far from everything
    assert k_distance_eps(np.concatenate([body, outliers])) == pytest.approx(0.2, abs=0.01)


def test_percolation_eps_is_the_grid_eps_with_most_rows_outside_the_largest_cluster(
        low_d: np.ndarray) -> None:
    from sklearn.cluster import DBSCAN
    from sklearn.neighbors import NearestNeighbors

    eps, model = percolation_eps(low_d, 10)
    k_dist = NearestNeighbors(n_neighbors=10).fit(low_d).kneighbors(low_d)[0][:, -1]
    outside = {}
    for e in np.unique(np.quantile(k_dist, clustering.EPS_QUANTILES)):
        sizes = np.bincount(DBSCAN(eps=e, min_samples=10).fit(low_d).labels_ + 1)[1:]
        outside[float(e)] = int(sizes.sum() - sizes.max()) if sizes.size else 0
    assert eps == max(outside, key=lambda e: (outside[e], -e))  # ties go to the smaller eps
    np.testing.assert_array_equal(model.labels_, DBSCAN(eps=eps, min_samples=10).fit(low_d).labels_)


def test_dbscan_past_the_sample_cap_follows_dbscan_s_own_rule(
        low_d: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.neighbors import NearestNeighbors

    monkeypatch.setattr(clustering, "DENSITY_SAMPLE", 600)
    model = DBSCANClusterer(min_samples=5, seed=1)
    labels = model.fit_reduced(low_d)
    np.testing.assert_array_equal(labels, DBSCANClusterer(min_samples=5, seed=1).fit_reduced(low_d))
    sample = clustering._sample(len(low_d), 600, 1)
    rest = np.setdiff1d(np.arange(len(low_d)), sample)
    assert labels.min() >= NOISE
    assert (labels >= 0).any()
    # a row outside the sample is noise exactly when no sampled core row lies within eps
    from sklearn.cluster import DBSCAN

    fitted = DBSCAN(eps=model.eps_, min_samples=5).fit(low_d[sample])
    np.testing.assert_array_equal(labels[sample], fitted.labels_)
    core = low_d[sample][fitted.core_sample_indices_]
    dist = NearestNeighbors(n_neighbors=1).fit(core).kneighbors(low_d[rest])[0][:, 0]
    np.testing.assert_array_equal(labels[rest] == NOISE, dist > model.eps_)


def test_hdbscan_past_the_sample_cap_copies_the_nearest_sampled_row(
        low_d: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.neighbors import NearestNeighbors

    monkeypatch.setattr(clustering, "DENSITY_SAMPLE", 800)
    labels = HDBSCANClusterer(seed=2).fit_reduced(low_d)
    sample = clustering._sample(len(low_d), 800, 2)
    rest = np.setdiff1d(np.arange(len(low_d)), sample)
    nearest = NearestNeighbors(n_neighbors=1).fit(low_d[sample]).kneighbors(low_d[rest])[1][:, 0]
    np.testing.assert_array_equal(labels[rest], labels[sample][nearest])
    assert labels.min() >= NOISE


def test_dbscan_on_raw_cosine_distance_the_original_spec(vectors: np.ndarray) -> None:
    model = DBSCANClusterer(min_samples=10, space="cosine")
    labels = model.fit(vectors)
    assert labels.shape == (len(vectors),)
    assert labels.min() >= NOISE
    assert 0 < model.eps_ <= 2
