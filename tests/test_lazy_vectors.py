"""Opening a project leaves its vectors in the file (issue 19): the window, `level info`, weights
and exports never read them; an operation that needs them gets them on first use, once, from
the same file, and refuses a file that was replaced since."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from level_desktop.cli import main
from level_desktop.core import store
from level_desktop.core.document import Document
from level_desktop.core.duplicates import find_duplicates
from level_desktop.core.errors import ProjectFileError
from level_desktop.core.export import write_weighted
from level_desktop.core.store import load_project, save_project, save_weights


@pytest.fixture
def saved(sample_analysis, tmp_path: Path) -> Path:
    return save_project(sample_analysis, tmp_path / "p.level")


def test_open_weigh_draw_and_export_without_reading_vectors(saved: Path, tmp_path: Path) -> None:
    document = Document.open(saved)
    analysis = document.require_analysis()
    assert not analysis.vectors_in_memory
    assert analysis.n_rows > 0
    assert analysis.clusters
    assert analysis.topics
    analysis.terrain()
    analysis.terrain(0)
    document.set_weight(analysis.clusters[0].id, 0.25)
    document.set_topic_weight(0, 2.0)
    document.save()  # weights only: the file holds these rows
    write_weighted(document.snapshot().export_data(), tmp_path / "w.csv")
    assert not analysis.vectors_in_memory
    assert load_project(saved).weights[analysis.clusters[0].id] == 0.25


def test_level_info_reads_no_vectors(saved: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    def refuse(*_args: object) -> np.ndarray:
        raise AssertionError("level info read the vectors")

    monkeypatch.setattr(store, "_read_vectors", refuse)
    assert main(["info", str(saved)]) == 0
    assert "clusters in" in capsys.readouterr().out


def test_vectors_are_read_on_first_use_and_shared_by_snapshots(sample_analysis,
                                                               saved: Path) -> None:
    opened = load_project(saved)
    snapshot = opened.snapshot()  # a snapshot does not read them either
    assert not opened.vectors_in_memory
    assert not snapshot.vectors_in_memory
    np.testing.assert_array_equal(snapshot.embeddings, sample_analysis.embeddings)
    assert snapshot.embeddings.dtype == np.float32
    assert opened.vectors_in_memory  # read once, for both
    assert opened.embeddings is snapshot.embeddings


def test_operations_that_need_vectors_get_them(sample_analysis, saved: Path,
                                               tmp_path: Path) -> None:
    """Duplicates search and a save after them ("Save as") have them."""
    opened = load_project(saved)
    groups = find_duplicates(opened.texts, opened.embeddings, opened.labels, threshold=0.95)
    expected = find_duplicates(sample_analysis.texts, sample_analysis.embeddings,
                               sample_analysis.labels, threshold=0.95)
    np.testing.assert_array_equal(groups.group, expected.group)
    elsewhere = save_project(load_project(saved), tmp_path / "copy.level")
    np.testing.assert_array_equal(load_project(elsewhere).embeddings, sample_analysis.embeddings)


def test_save_as_copies_the_vectors_without_reading_them(sample_analysis, saved: Path,
                                                         tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A Save As of an opened project copies its file's vector blocks into the new file, and the
    project then reads them from there: the old file may go."""
    opened = load_project(saved)
    real_read = store._read_vectors

    def refuse(*_args: object) -> np.ndarray:
        raise AssertionError("Save As read the vectors")

    monkeypatch.setattr(store, "_read_vectors", refuse)
    elsewhere = save_project(opened.snapshot(), tmp_path / "copy.level")  # as the window does
    again = save_project(load_project(elsewhere), elsewhere)  # and over itself
    assert not opened.vectors_in_memory
    monkeypatch.setattr(store, "_read_vectors", real_read)
    saved.unlink()
    np.testing.assert_array_equal(opened.embeddings, sample_analysis.embeddings)
    np.testing.assert_array_equal(load_project(again).embeddings, sample_analysis.embeddings)


def test_save_as_copies_blocks_of_another_size_and_encoding(sample_analysis, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """A file with many rows a block, in float16 (the first layout; a later Level's encoding)
    is copied as it is: the copy reads back the same vectors as the original."""
    monkeypatch.setattr(store, "VECTOR_BLOCK_ROWS", 16)
    monkeypatch.setattr(store, "VECTOR_STORAGE", "float16-blocks")
    original = save_project(sample_analysis, tmp_path / "f16.level")
    monkeypatch.undo()
    expected = load_project(original).embeddings
    copy = save_project(load_project(original), tmp_path / "copy.level")
    np.testing.assert_array_equal(load_project(copy).embeddings, expected)
    np.testing.assert_allclose(expected, sample_analysis.embeddings, atol=2e-3)


def test_save_as_from_a_replaced_file_is_refused(sample_analysis, saved: Path,
                                                 tmp_path: Path) -> None:
    opened = load_project(saved)
    other = dataclasses.replace(sample_analysis, embeddings=sample_analysis.embeddings[::-1])
    save_project(other, saved)
    target = tmp_path / "copy.level"
    with pytest.raises(ProjectFileError, match="replaced by another project"):
        save_project(opened, target)
    assert not target.exists()  # nothing half-written left behind
    assert not list(tmp_path.glob("*.tmp*"))


def test_a_replaced_file_is_refused_not_read(sample_analysis, saved: Path) -> None:
    opened = load_project(saved)
    save_weights(saved, {0: 0.5})  # an edit in place keeps the vectors: still readable
    np.testing.assert_array_equal(load_project(saved).embeddings, sample_analysis.embeddings)
    other = dataclasses.replace(sample_analysis, embeddings=sample_analysis.embeddings[::-1])
    save_project(other, saved)  # a new file with the same rows' count, other vectors
    with pytest.raises(ProjectFileError, match="replaced by another project"):
        _ = opened.embeddings
    again = load_project(saved)
    saved.unlink()
    with pytest.raises(ProjectFileError, match="no longer exists"):
        _ = again.embeddings


def test_a_cut_block_is_an_error_when_the_vectors_are_read(saved: Path) -> None:
    import duckdb

    con = duckdb.connect(str(saved))
    con.execute("UPDATE vector_blocks SET data = ? WHERE block = 0", [bytes(8)])
    con.close()
    opened = load_project(saved)  # the blocks' row counts are whole: it opens
    with pytest.raises(ProjectFileError, match="vectors are incomplete"):
        _ = opened.embeddings


def test_an_opened_analysis_pickles_and_reads_its_vectors_there(sample_analysis,
                                                                saved: Path) -> None:
    import pickle

    copy = pickle.loads(pickle.dumps(load_project(saved)))  # as sent to another process
    np.testing.assert_array_equal(copy.embeddings, sample_analysis.embeddings)
