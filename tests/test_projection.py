"""Every projector gives finite (n, 2) positions; UMAP's compiled kernels are cached on disk."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from level_desktop.core.projection import PROJECTORS, Projector, UMAPProjector


@pytest.mark.slow
@pytest.mark.parametrize("name", PROJECTORS.names)
def test_every_projector_is_finite_2d_and_seeded(name: str, sample_analysis) -> None:
    vectors = sample_analysis.embeddings[:300]
    projector = PROJECTORS.create(name, seed=7)
    assert isinstance(projector, Projector)
    first = projector.fit_transform(vectors)
    assert first.shape == (300, 2)
    assert first.dtype == np.float32
    assert np.isfinite(first).all()
    assert first.std() > 0
    np.testing.assert_allclose(PROJECTORS.create(name, seed=7).fit_transform(vectors), first,
                               atol=1e-4)


@pytest.mark.slow
def test_umap_fits_a_sample_and_places_the_rest(sample_analysis) -> None:
    vectors = sample_analysis.embeddings
    messages: list[str] = []
    positions = UMAPProjector(max_fit=300, progress=lambda s, f, m: messages.append(m)
                              ).fit_transform(vectors)
    assert positions.shape == (600, 2)
    assert np.isfinite(positions).all()
    assert any("fitted on 300 of 600 rows" in m for m in messages)
    # Rows of one cluster land near each other whether fitted or placed.
    labels = sample_analysis.labels
    within = np.mean([positions[labels == c].std(axis=0).mean() for c in range(3)])
    assert within < positions.std(axis=0).mean()


@pytest.mark.slow
def test_umap_kernels_are_written_to_the_cache(session_cache_dir: Path) -> None:
    code = ("from level_desktop.core.umap_fit import import_umap; import_umap(); "
            "import numba; print(numba.config.CACHE_DIR)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr
    folder = Path(done.stdout.strip().splitlines()[-1])
    assert folder == session_cache_dir / "numba"
    assert any(folder.rglob("*.nbi")), "no compiled kernel was cached"


def test_unknown_projection_lists_the_choices() -> None:
    from level_desktop.core.errors import UnknownBackendError

    with pytest.raises(UnknownBackendError, match="clusters, umap, tsne, pca"):
        PROJECTORS.create("isomap")


def test_cosine_knn_matches_brute_force_search() -> None:
    from sklearn.neighbors import NearestNeighbors

    from level_desktop.core.vectors import cosine_knn

    rng = np.random.default_rng(3)
    base = rng.normal(size=(700, 24)).astype(np.float32)
    query = rng.normal(size=(130, 24)).astype(np.float32)
    fractions: list[float] = []
    indices, distances = cosine_knn(query, base, 7, check=fractions.append)
    ref_d, ref_i = NearestNeighbors(n_neighbors=7, metric="cosine", algorithm="brute").fit(
        base).kneighbors(query)
    np.testing.assert_array_equal(indices, ref_i)
    np.testing.assert_allclose(distances, ref_d, atol=1e-5)
    assert indices.dtype == np.int32
    assert distances.dtype == np.float32
    assert fractions
    assert fractions[0] == 0.0


def test_placed_rows_land_among_their_nearest_fitted_rows() -> None:
    from level_desktop.core.projection import place_by_neighbours

    rng = np.random.default_rng(5)
    centres = rng.normal(size=(4, 16)).astype(np.float32) * 5
    fitted = np.repeat(centres, 50, axis=0) + rng.normal(size=(200, 16)).astype(np.float32)
    spots = np.repeat(np.array([[0, 0], [10, 0], [0, 10], [10, 10]], np.float32), 50, axis=0)
    new = centres + 0.5 * rng.normal(size=(4, 16)).astype(np.float32)
    placed = place_by_neighbours(new, fitted, spots)
    np.testing.assert_allclose(placed, spots[::50], atol=0.5)


def test_cluster_landscape_puts_every_row_on_its_own_hill(sample_analysis) -> None:
    from level_desktop.core.projection import ClusterLayoutProjector
    from level_desktop.core.terrain import build_terrain

    vectors, labels = sample_analysis.embeddings, sample_analysis.labels
    positions = ClusterLayoutProjector(seed=3).fit_transform(vectors, labels)
    assert positions.shape == (len(vectors), 2)
    assert positions.dtype == np.float32
    sizes = np.bincount(labels)
    terrain = build_terrain(positions, labels, sizes, 100)
    owners = terrain.owners(np.ones(len(sizes)))
    cells = np.array([terrain.cell_of(x, y) for x, y in positions])
    assert np.mean(owners[cells[:, 0], cells[:, 1]] == labels) > 0.95
    # No two clusters' discs overlap: centres lie farther apart than their radii add up to.
    centres = np.array([positions[labels == c].mean(axis=0) for c in range(len(sizes))])
    reach = np.array([np.linalg.norm(positions[labels == c] - centres[c], axis=1).max()
                      for c in range(len(sizes))])
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=2) - (reach[:, None] + reach)
    assert gaps[~np.eye(len(sizes), dtype=bool)].min() > 0


def test_cluster_landscape_places_noise_rows_and_handles_one_cluster() -> None:
    from level_desktop.core.projection import ClusterLayoutProjector

    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 8)) + np.eye(8)[0] * 6
    b = rng.normal(size=(40, 8)) + np.eye(8)[1] * 6
    vectors = np.vstack([a, b, a[:3] + 0.01]).astype(np.float32)
    labels = np.array([0] * 40 + [1] * 40 + [-1] * 3)
    positions = ClusterLayoutProjector().fit_transform(vectors, labels)
    centre_a = positions[:40].mean(axis=0)
    centre_b = positions[40:80].mean(axis=0)
    for noise in positions[80:]:  # near copies of cluster 0's rows land by cluster 0
        assert np.linalg.norm(noise - centre_a) < np.linalg.norm(noise - centre_b)
    single = ClusterLayoutProjector().fit_transform(vectors[:40], np.zeros(40, dtype=int))
    assert np.isfinite(single).all()
    assert single.std() > 0


def test_cluster_landscape_keeps_a_topics_clusters_together() -> None:
    """Two topics of three clusters each: every row lies nearer its own topic's region than the
    other's, and each topic's rows form one massif (the topics' regions do not overlap)."""
    from level_desktop.core.projection import ClusterLayoutProjector

    rng = np.random.default_rng(1)
    axes = np.eye(16)
    centres = [axes[0] + 0.5 * axes[t + 2] for t in range(3)] + [
        axes[1] + 0.5 * axes[t + 5] for t in range(3)]
    vectors = np.vstack([c * 6 + rng.normal(size=(50, 16)) for c in centres]).astype(np.float32)
    labels = np.repeat(np.arange(6), 50)
    # An interleaved grouping, so closeness comes from the grouping and not the input order.
    groups = np.array([0, 1, 0, 1, 0, 1])
    positions = ClusterLayoutProjector(seed=2).fit_transform(vectors, labels, groups=groups)
    topic = groups[labels]
    middle = np.array([positions[topic == t].mean(axis=0) for t in (0, 1)])
    reach = np.array([np.linalg.norm(positions[topic == t] - middle[t], axis=1).max()
                      for t in (0, 1)])
    assert np.linalg.norm(middle[0] - middle[1]) > reach.sum() * 0.9
    nearest = np.argmin(np.linalg.norm(positions[:, None] - middle[None], axis=2), axis=1)
    assert np.mean(nearest == topic) == 1.0
    # Without groups the same call is the one-level layout (each cluster its own disc).
    flat = ClusterLayoutProjector(seed=2).fit_transform(vectors, labels)
    assert flat.shape == positions.shape
