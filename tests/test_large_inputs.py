"""What lets a million rows fit (issue 19): the pieces that work in chunks or on samples give the
same answers as the whole-array versions, checked here with tiny chunks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from level_desktop.core import store, vectors
from level_desktop.core.labeling import keywords
from level_desktop.core.labeling.base import ClusterDocs
from level_desktop.core.store import EmbeddingCache


def test_norms_and_normalising_in_chunks_match_the_direct_formula(
        rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    x = rng.normal(size=(50, 9)).astype(np.float32)
    x[13] = 0.0
    monkeypatch.setattr(vectors, "NORM_CHUNK", 7)
    np.testing.assert_allclose(vectors.row_norms(x), np.linalg.norm(x, axis=1), rtol=1e-6)
    unit = vectors.normalize_rows(x)
    assert unit.dtype == np.float32
    expected = x / np.where(np.linalg.norm(x, axis=1, keepdims=True) == 0, 1.0,
                            np.linalg.norm(x, axis=1, keepdims=True))
    np.testing.assert_allclose(unit, expected, rtol=1e-6, atol=1e-7)
    assert not unit[13].any()
    same = vectors.unit_rows(unit[:13])
    assert np.shares_memory(same, unit)  # already unit: no copy


def test_the_embedding_cache_stores_and_finds_rows_across_chunks(
        rng: np.random.Generator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "CACHE_CHUNK_ROWS", 7)
    cache = EmbeddingCache(tmp_path / "cache.duckdb")
    hashes = [f"h{i:03d}" for i in range(30)]
    x = rng.normal(size=(30, 5)).astype(np.float32)
    assert cache.store("m", hashes[:20] + hashes[:3], np.concatenate([x[:20], x[:3]]))
    found, got = cache.lookup("m", hashes)
    assert found.tolist() == [True] * 20 + [False] * 10
    assert got is not None
    np.testing.assert_array_equal(got, x[:20])
    found, got = cache.lookup("m", hashes[::-1])  # found vectors come in the asked order
    assert got is not None
    np.testing.assert_array_equal(got, x[:20][::-1])
    assert cache.lookup("another model", hashes)[1] is None


def _clusters(rows: int) -> list[ClusterDocs]:
    words = [["espresso", "latte", "barista"], ["glacier", "summit", "crampon"],
             ["violin", "cello", "sonata"]]
    shared = ["today", "really", "people", "thing"]
    out = []
    for c, own in enumerate(words):
        rng = np.random.default_rng(c)
        texts = [" ".join([own[int(rng.integers(3))], own[int(rng.integers(3))],
                           shared[int(rng.integers(4))], f"w{int(rng.integers(5000))}"])
                 for _ in range(rows * (c + 1))]
        out.append(ClusterDocs(cluster_id=c, texts=texts, representatives=texts[:1]))
    return out


def test_keywords_counted_on_a_sample_name_clusters_as_counting_every_row() -> None:
    clusters = _clusters(2_000)  # 2,000 / 4,000 / 6,000 rows
    every = keywords.class_tfidf_terms(clusters, max_rows=None)
    sampled = keywords.class_tfidf_terms(clusters, max_rows=500)
    assert sampled == keywords.class_tfidf_terms(clusters, max_rows=500)  # seeded
    for c in range(3):
        assert set(sampled[c][:3]) == set(every[c][:3])
    assert set(every[0][:3]) == {"espresso", "latte", "barista"}


def test_a_cluster_within_the_cap_is_counted_whole() -> None:
    texts = [f"row {i}" for i in range(10)]
    assert keywords._counted_rows(texts, 10, seed=0) is texts
    picked = keywords._counted_rows(texts, 4, seed=0)
    assert len(picked) == 4
    assert picked == sorted(picked, key=texts.index)  # in the rows' order


def test_the_memory_guard_lets_a_million_rows_through_on_this_class_of_machine(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """16 GB free (this 24 GB machine with other work on it) is enough for a million rows; 8 GB
    free is not, and the refusal names how many rows would fit."""
    from level_desktop.core.errors import TooLargeError
    from level_desktop.core.memory import check_analysis_memory

    monkeypatch.setenv("LEVEL_AVAILABLE_MEMORY", str(16_000_000_000))
    check_analysis_memory(1_000_000, "million.csv")
    monkeypatch.setenv("LEVEL_AVAILABLE_MEMORY", str(8_000_000_000))
    with pytest.raises(TooLargeError, match=r"1,000,000 rows with text.*analyse about 533,333"):
        check_analysis_memory(1_000_000, "million.csv")
