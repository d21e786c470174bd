"""The pipeline end to end: determinism, reuse of still-valid stages, progress and cancel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from level_desktop.core.errors import Cancelled
from level_desktop.core.pipeline import analyze, overall_fraction
from level_desktop.core.progress import CancelToken
from level_desktop.core.settings import Settings
from level_desktop.core.store import EmbeddingCache

pytestmark = pytest.mark.slow


@pytest.fixture
def cache(session_cache_dir: Path) -> EmbeddingCache:
    return EmbeddingCache(session_cache_dir / "embeddings.duckdb")


def test_same_seed_same_result(sample_csv: Path, sample_analysis, cache) -> None:
    again = analyze(sample_csv, Settings(projection="pca"), cache=cache)
    np.testing.assert_array_equal(again.labels, sample_analysis.labels)
    np.testing.assert_allclose(again.positions, sample_analysis.positions, atol=1e-5)
    assert [c.label for c in again.clusters] == [c.label for c in sample_analysis.clusters]


def test_every_cluster_has_a_distinct_short_name(sample_analysis) -> None:
    names = [c.label for c in sample_analysis.clusters]
    assert len(set(names)) == len(names)
    assert all(2 <= len(n.split()) <= 4 for n in names)
    assert all(len(c.representatives) == min(5, c.size) for c in sample_analysis.clusters)


def test_new_clustering_reuses_embeddings_and_map(sample_analysis) -> None:
    stages: list[str] = []
    redo = analyze(None, sample_analysis.settings.replace(method="kmeans", k=6),
                   progress=lambda s, f, m: stages.append(m), previous=sample_analysis)
    assert "Embeddings reused from the previous run" in stages
    assert "Map reused from the previous run" in stages
    assert len(redo.clusters) == 6
    assert redo.weights == {c: 1.0 for c in range(6)}


def test_a_cluster_landscape_is_laid_out_again_for_new_clusters(sample_analysis) -> None:
    landscape = analyze(None, sample_analysis.settings.replace(projection="clusters"),
                        previous=sample_analysis)
    stages: list[str] = []
    same = analyze(None, landscape.settings, progress=lambda s, f, m: stages.append(m),
                   previous=landscape)
    assert "Map reused from the previous run" in stages
    np.testing.assert_array_equal(same.positions, landscape.positions)
    stages.clear()
    redo = analyze(None, landscape.settings.replace(method="kmeans", k=6),
                   progress=lambda s, f, m: stages.append(m), previous=landscape)
    assert "Embeddings reused from the previous run" in stages
    assert "Map reused from the previous run" not in stages
    # Each of the six new clusters is one compact group on the new map.
    centres = np.array([redo.positions[redo.labels == c].mean(axis=0) for c in range(6)])
    nearest = np.argmin(((redo.positions[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    assert np.mean(nearest == redo.labels) > 0.95


def test_new_projection_reuses_clusters_and_weights(sample_analysis) -> None:
    previous = sample_analysis
    previous.weights = {**previous.weights, 0: 0.5}
    messages: list[str] = []
    redo = analyze(None, previous.settings.replace(projection="clusters"),
                   progress=lambda s, f, m: messages.append(m), previous=previous)
    previous.weights[0] = 1.0
    assert "Clusters reused from the previous run" in messages
    np.testing.assert_array_equal(redo.labels, previous.labels)
    assert redo.weights[0] == 0.5
    assert not np.allclose(redo.positions, previous.positions)


def test_cancel_during_the_run(sample_csv: Path, cache) -> None:
    token = CancelToken()

    def progress(stage: str, fraction: float, message: str) -> None:
        if stage == "cluster":
            token.cancel()

    with pytest.raises(Cancelled):
        analyze(sample_csv, Settings(projection="pca"), progress=progress, cancel=token,
                cache=cache)


def test_overall_fraction_is_monotonic() -> None:
    points = [overall_fraction(s, f) for s in ("load", "embed", "cluster", "project", "terrain")
              for f in (0.0, 0.5, 1.0)]
    assert points == sorted(points)
    assert points[-1] == pytest.approx(1.0)


def test_the_run_groups_its_clusters_into_named_topics(sample_analysis) -> None:
    from level_desktop.core.topics import auto_topic_count

    a = sample_analysis
    k = len(a.clusters)
    assert len(a.topics) == auto_topic_count(k)
    assert sorted(c for t in a.topics for c in t.cluster_ids) == list(range(k))
    assert [t.size for t in a.topics] == sorted((t.size for t in a.topics), reverse=True)
    names = [t.label for t in a.topics]
    assert len(set(names)) == len(names)
    for topic in a.topics:
        assert topic.size == sum(a.clusters[c].size for c in topic.cluster_ids)
        assert all(a.cluster_topic[c] == topic.id for c in topic.cluster_ids)
        assert topic.labeler == "keywords"
        assert len(topic.representatives) == min(5, topic.size)
        assert all(a.row_topics[r] == topic.id for r in topic.representatives)
    assert a.topic_weights == {t.id: 1.0 for t in a.topics}
    assert "topics" in a.fingerprints
    assert "topics" in a.timings


def test_topics_and_their_weights_are_kept_with_the_clusters(sample_analysis) -> None:
    previous = sample_analysis
    previous.topic_weights = {**previous.topic_weights, 0: 2.0}
    messages: list[str] = []
    try:
        redo = analyze(None, previous.settings.replace(projection="clusters"),
                       progress=lambda s, f, m: messages.append(m), previous=previous)
    finally:
        previous.topic_weights = {**previous.topic_weights, 0: 1.0}
    assert "Topics reused from the previous run" in messages
    assert redo.topics is previous.topics
    assert redo.topic_weights[0] == 2.0
    fresh = analyze(None, previous.settings.replace(method="kmeans", k=6), previous=previous)
    assert fresh.topic_weights == {t.id: 1.0 for t in fresh.topics}
    assert len(fresh.topics) == 2
