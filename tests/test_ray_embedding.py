"""Embedding on Ray: a real local Ray job, checked against Level's in-process embedder, resumed."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from level_desktop.core.errors import Cancelled, InputFileError, ModelError
from level_desktop.core.progress import CancelToken
from level_desktop.core.ray_embedding import (
    SHARD_NAME,
    OutputFolderError,
    embed_on_ray,
    ray_session,
)
from level_desktop.core.vector_input import MANIFEST_NAME, load_vectors

ROWS = 40


@pytest.fixture
def small_csv(sample_csv: Path, tmp_path: Path) -> Path:
    """The first 40 rows of sample-small.csv, with one empty text to check row positions."""
    with open(sample_csv, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [row for _, row in zip(range(ROWS), reader, strict=False)]
        columns = reader.fieldnames
    text = max(columns, key=lambda c: sum(len(r[c]) for r in rows))
    rows[5][text] = ""
    path = tmp_path / "small.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_importing_the_module_does_not_import_ray():
    code = ("import sys, level_desktop.core.ray_embedding, level_desktop.core.vector_input; "
            "print('ray' in sys.modules, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["False", "False"]


def test_the_fast_path_is_not_sent_to_ray(small_csv, tmp_path):
    with pytest.raises(ModelError, match="fast path"):
        embed_on_ray(small_csv, tmp_path / "out", model="fast")


def test_a_folder_with_other_files_is_refused_before_any_work(small_csv, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputFolderError, match="not empty"):
        embed_on_ray(small_csv, out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_a_folder_of_another_job_is_refused(small_csv, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST_NAME).write_text(json.dumps({"format": "level-vectors", "version": 1,
                                                 "model": "other-model"}), encoding="utf-8")
    with pytest.raises(OutputFolderError, match="another input, model"):
        embed_on_ray(small_csv, out)


def _stats(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("part-*")}


@pytest.mark.slow
def test_ray_job_matches_in_process_embedding_and_resumes(small_csv, tmp_path):
    pytest.importorskip("ray")
    # One local Ray for the three jobs (a job reuses a Ray running in-process; starting one is
    # covered by test_cli_vectors' `level embed`): each start and stop costs seconds of CPU.
    with ray_session(None, num_cpus=2):
        _cancel_resume_and_recompute(small_csv, tmp_path)


def _cancel_resume_and_recompute(small_csv: Path, tmp_path: Path) -> None:
    from level_desktop.core.embedding import make_embedder
    from level_desktop.core.loading import load_input
    from level_desktop.core.pipeline import embed_texts

    out = tmp_path / "vectors"
    options = {"num_workers": 2, "num_cpus": 2, "shard_rows": 16, "batch_size": 8}

    # 1. Cancelled after the first results: complete shards stay, the folder reads as unfinished.
    cancel = CancelToken()

    def cancel_once_embedding(stage: str, fraction: float, message: str) -> None:
        if message.startswith("Embedded") and fraction > 0:
            cancel.cancel()

    with pytest.raises(Cancelled, match="run again to resume"):
        embed_on_ray(small_csv, out, progress=cancel_once_embedding, cancel=cancel, **options)
    written = _stats(out)
    assert len(written) < 3
    assert not list(out.glob(".part-*"))
    with pytest.raises(InputFileError, match="has not finished"):
        load_vectors(out)

    # 2. Run again: the shards written before are kept, the rest computed.
    result = embed_on_ray(small_csv, out, **options)
    kept_ids = sorted(int(name[5:10]) for name in written)
    assert result.shards_kept == kept_ids
    assert sorted(result.shards_computed + result.shards_kept) == [0, 1, 2]
    assert result.dimension == 384
    assert {k: v for k, v in _stats(out).items() if k in written} == written

    loaded = load_input(small_csv, min_rows=1)
    got = load_vectors(out, min_rows=1)
    assert got.model_name == "all-MiniLM-L6-v2"
    assert got.texts == loaded.texts
    np.testing.assert_array_equal(got.row_index, loaded.row_index)
    assert 5 not in got.row_index
    reference, _ = embed_texts(loaded.texts, make_embedder("all-MiniLM-L6-v2", device="cpu"))
    np.testing.assert_allclose(got.vectors, reference, atol=1e-5)

    # 3. Delete one shard: only it is recomputed, the others are left as they are.
    before = _stats(out)
    (out / SHARD_NAME.format(1)).unlink()
    with pytest.raises(InputFileError, match="has not finished"):
        load_vectors(out)
    result = embed_on_ray(small_csv, out, **options)
    assert result.shards_computed == [1]
    assert result.shards_kept == [0, 2]
    after = _stats(out)
    assert {k: after[k] for k in before if k != SHARD_NAME.format(1)} == \
        {k: v for k, v in before.items() if k != SHARD_NAME.format(1)}
    again = load_vectors(out, min_rows=1)
    np.testing.assert_allclose(again.vectors, reference, atol=1e-5)
    manifest = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["complete"] is True
    assert [s["rows"] for s in manifest["shards"]] == [16, 16, 7]
