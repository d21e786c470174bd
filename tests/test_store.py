"""The project file: round trip, atomic saves, transactions, and versions."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from level_desktop.core import store
from level_desktop.core.errors import ProjectFileError
from level_desktop.core.store import EmbeddingCache, load_project, save_project, save_weights


def test_round_trip_keeps_everything(sample_analysis, tmp_path: Path) -> None:
    path = save_project(sample_analysis, tmp_path / "p.level")
    back = load_project(path)
    a = sample_analysis
    assert back.settings == a.settings
    assert back.source == a.source
    assert back.columns == a.columns
    assert back.texts == a.texts
    np.testing.assert_array_equal(back.row_index, a.row_index)
    np.testing.assert_array_equal(back.embeddings, a.embeddings)
    assert back.embeddings.dtype == np.float32
    np.testing.assert_array_equal(back.labels, a.labels)
    np.testing.assert_allclose(back.positions, a.positions)
    np.testing.assert_allclose(back.centroids, a.centroids)
    assert back.clusters == a.clusters
    assert back.model == a.model
    assert back.fingerprints == a.fingerprints


@pytest.mark.parametrize("storage", ["float32-blocks", "float16-blocks"])
def test_vectors_are_stored_in_blocks(sample_analysis, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch, storage: str) -> None:
    """In several blocks when the rows span more than one (float32 as written, float16 as a
    later Level may write: half the bytes, rows renormalised); a missing block is a clear
    error, not wrong vectors."""
    import duckdb

    monkeypatch.setattr(store, "VECTOR_BLOCK_ROWS", 7)
    monkeypatch.setattr(store, "BATCH_BLOCKS", 3)  # several Arrow batches each way
    monkeypatch.setattr(store, "VECTOR_STORAGE", storage)
    path = save_project(sample_analysis, tmp_path / "p.level")
    n, d = sample_analysis.embeddings.shape
    width = 4 if storage == "float32-blocks" else 2
    con = duckdb.connect(str(path))
    blocks = con.execute("SELECT first_pos, n, octet_length(data) FROM vector_blocks "
                         "ORDER BY block").fetchall()
    assert [b[0] for b in blocks] == list(range(0, n, 7))
    assert sum(b[1] for b in blocks) == n
    assert sum(b[2] for b in blocks) == n * d * width
    assert "vector" not in [c[0] for c in con.execute("DESCRIBE rows").fetchall()]
    con.close()
    back = load_project(path)
    if width == 4:
        np.testing.assert_array_equal(back.embeddings, sample_analysis.embeddings)
    else:
        np.testing.assert_allclose(back.embeddings, sample_analysis.embeddings, atol=1e-3)
        np.testing.assert_allclose(np.linalg.norm(back.embeddings, axis=1), 1.0, atol=1e-5)
    con = duckdb.connect(str(path))
    con.execute("DELETE FROM vector_blocks WHERE block = 1")
    con.close()
    with pytest.raises(ProjectFileError, match="vectors are incomplete"):
        load_project(path)


def test_resave_replaces_never_duplicates(sample_analysis, tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "p.level"
    save_project(sample_analysis, path)
    save_project(sample_analysis, path)
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT count(*) FROM rows").fetchone()[0] == sample_analysis.n_rows
    con.close()


def test_failed_save_leaves_the_previous_project_readable(sample_analysis, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_project(sample_analysis, tmp_path / "p.level")
    save_weights(path, {0: 0.5})

    def explode(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "_write_clusters", explode)
    with pytest.raises((ProjectFileError, OSError)):
        save_project(sample_analysis, path)
    back = load_project(path)
    assert back.weights[0] == 0.5
    assert back.n_rows == sample_analysis.n_rows
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.level"]


def test_weights_are_saved_in_place(sample_analysis, tmp_path: Path) -> None:
    path = save_project(sample_analysis, tmp_path / "p.level")
    save_weights(path, {0: 0.25, 3: 2.0}, noise_weight=0.0)
    back = load_project(path)
    assert back.weights[0] == 0.25
    assert back.weights[3] == 2.0
    assert back.weights[1] == 1.0
    assert back.noise_weight == 0.0


def test_newer_file_format_is_refused(sample_analysis, tmp_path: Path) -> None:
    import duckdb

    path = save_project(sample_analysis, tmp_path / "p.level")
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(ProjectFileError, match="newer Level"):
        load_project(path)


def test_not_a_project(tmp_path: Path, sample_csv: Path) -> None:
    import duckdb

    other = tmp_path / "other.level"
    duckdb.connect(str(other)).close()
    with pytest.raises(ProjectFileError, match="not a Level project"):
        load_project(other)
    with pytest.raises(ProjectFileError, match="cannot be"):
        load_project(sample_csv)


DATA = Path(__file__).parent / "data"


def _assert_float32_vectors_as_stored(committed: Path, vectors: np.ndarray) -> None:
    """A file from before compact vectors gives back its float32 `rows.vector`, bit for bit."""
    import duckdb

    con = duckdb.connect(str(committed), read_only=True)
    stored = con.execute("SELECT vector FROM rows ORDER BY pos").fetchall()
    con.close()
    assert vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors, np.array([r[0] for r in stored], dtype=np.float32))


def test_committed_version_1_file_still_opens(tmp_path: Path) -> None:
    """A tiny project saved by schema version 1, committed, must keep opening field by field."""
    path = tmp_path / "v1.level"  # a copy: opening upgrades the file in place
    shutil.copyfile(DATA / "project-v1.level", path)
    a = load_project(path)
    assert a.source.text_column == "description"
    assert a.n_rows == 60
    assert a.embeddings.shape == (60, 384)
    _assert_float32_vectors_as_stored(DATA / "project-v1.level", a.embeddings)
    assert len(a.clusters) == 4
    assert a.clusters[0].label
    assert a.weights[0] == 0.5
    assert a.settings.projection == "pca"
    assert list(a.columns) == ["package", "section", "description"]
    # Schema 2 computed its topics on open: 4 clusters make round(4/3) = 1 topic.
    assert a.notices == ["This project was saved by an older Level: its 4 clusters are now "
                         "grouped into 1 topic, named offline from their rows (keywords)."]
    assert a.cluster_topic.tolist() == [0, 0, 0, 0]
    assert len(a.topics) == 1
    topic = a.topics[0]
    assert (topic.id, topic.size, topic.cluster_ids) == (0, 60, [0, 1, 2, 3])
    assert topic.labeler == "keywords"
    assert topic.label
    assert topic.description.startswith("About ")
    assert len(topic.representatives) == a.settings.representatives
    assert a.topic_weights == {0: 1.0}
    # The upgrade was written: the file is now version 2 and opens without a notice.
    again = load_project(path)
    assert again.notices == []
    assert again.topics == a.topics
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v1.level"]


def test_committed_version_2_file_opens_with_its_topics(tmp_path: Path) -> None:
    path = tmp_path / "v2.level"
    shutil.copyfile(DATA / "project-v2.level", path)
    a = load_project(path)  # upgraded to 3 on disk: empty comparison tables, nothing to say
    assert a.notices == []
    assert a.comparison is None
    assert a.n_rows == 60
    _assert_float32_vectors_as_stored(DATA / "project-v2.level", a.embeddings)
    assert len(a.clusters) == 4
    assert a.weights == {0: 0.5, 1: 1.0, 2: 1.0, 3: 1.0}
    assert a.cluster_topic.tolist() == [0, 0, 1, 1]
    assert [(t.id, t.size, t.cluster_ids) for t in a.topics] == [(0, 34, [0, 1]), (1, 26, [2, 3])]
    assert [t.label for t in a.topics] == ["package library haskell", "library python provides"]
    assert [t.representatives[0] for t in a.topics] == [13, 25]
    assert a.topic_weights == {0: 1.0, 1: 2.0}
    balance = a.balance()
    assert balance.topic_effective_sizes.tolist() == [19 * 0.5 + 15, 26 * 2.0]


def test_committed_version_3_file_opens_with_its_comparison_set(tmp_path: Path) -> None:
    path = tmp_path / "v3.level"
    shutil.copyfile(DATA / "project-v3.level", path)
    before = path.read_bytes()
    a = load_project(path)
    assert path.read_bytes() == before  # nothing to upgrade
    assert a.notices == []
    assert a.topic_weights == {0: 1.0, 1: 2.0}
    c = a.comparison
    assert c is not None
    assert (c.path, c.text_column, c.n_rows, c.n_placed) == ("eval.csv", "description", 6, 5)
    assert c.row_index.tolist() == [0, 1, 2, 3, 4]  # row 5 had no text
    assert c.texts[0] == a.texts[5]
    assert c.texts[1] == a.texts[40].upper()
    assert c.placement.cluster.tolist() == [0, 2, 3, 3, 3]
    assert c.placement.nearest_row.tolist() == [5, 40, 32, 27, 51]
    assert c.embeddings.shape == (5, 384)
    assert c.leaks.comparison.tolist() == [0, 1]
    assert c.leaks.training.tolist() == [5, 40]
    assert c.leaks.exact.tolist() == [True, True]
    assert c.leaks.threshold == 0.95
    assert a.zero_leaks


def test_topics_and_topic_weights_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "v2.level"
    shutil.copyfile(DATA / "project-v2.level", path)
    a = load_project(path)
    save_weights(path, {1: 3.0}, 0.25, topic_weights={0: 0.75})
    back = load_project(path)
    assert back.weights[1] == 3.0
    assert back.noise_weight == 0.25
    assert back.topic_weights == {0: 0.75, 1: 2.0}
    saved = save_project(back, tmp_path / "again.level")
    again = load_project(saved)
    assert again.topics == a.topics
    assert again.cluster_topic.tolist() == a.cluster_topic.tolist()
    assert again.topic_weights == back.topic_weights


def test_embedding_cache_hits_and_misses(tmp_path: Path, rng) -> None:
    cache = EmbeddingCache(tmp_path / "c.duckdb")
    v = rng.normal(size=(5, 8)).astype(np.float32)
    assert cache.lookup("m", ["a", "b"])[1] is None
    assert cache.store("m", ["a", "b", "c", "d", "e"], v)
    assert cache.store("m", ["a"], v[:1] * 0)  # existing keys are kept
    found, got = cache.lookup("m", ["x", "c", "a"])
    assert found.tolist() == [False, True, True]
    np.testing.assert_array_equal(got, v[[2, 0]])
    assert cache.lookup("other-model", ["a"])[1] is None
