"""Bring your own vectors through the CLI: `level analyze FILE --vectors-column C`, and
`level embed` (a local Ray job) followed by `level analyze SHARDS --vectors-column vector`."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "level_desktop" / "resources" / "sample.csv"


def level(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "level_desktop.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=900)


def vector_file(path: Path, n: int = 120, dim: int = 16) -> Path:
    rng = np.random.default_rng(0)
    topic = np.arange(n) % 3
    vectors = np.eye(3, dim)[topic] + 0.05 * rng.standard_normal((n, dim))
    texts = [f"{['apples pears', 'trains buses', 'guitars drums'][t]} row {i}"
             for i, t in enumerate(topic)]
    texts[5] = ""  # skipped like an empty text
    vectors[7] = np.nan  # skipped and counted
    table = pa.table({"id": np.arange(n), "text": texts,
                      "embedding": pa.array(list(vectors.astype(np.float32)),
                                            type=pa.list_(pa.float32(), dim)),
                      "lang": [["en", "de", None][i % 3] for i in range(n)]})
    table = table.replace_schema_metadata({"level.model": "my-encoder-v1"})
    pq.write_table(table, path)
    return path


def test_analyze_uses_the_files_vectors_and_records_the_model(tmp_path):
    source = vector_file(tmp_path / "data.parquet")
    done = level("analyze", str(source), "--vectors-column", "embedding", "-o", "v.level",
                 "--method", "kmeans", "--k", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Embedded with my-encoder-v1 (vectors read from column 'embedding')" in done.stdout
    assert "118 with text, 2 empty skipped" in done.stdout  # an empty text and a NaN vector
    assert "3 clusters" in done.stdout
    info = level("info", "v.level", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    exported = level("export", "v.level", "--weighted", "out.csv", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 1 + 120  # every input row, skipped ones included
    # The file's other columns come back in its order (the vectors left out), every cell as
    # it was, with Level's columns after them.
    assert rows[0] == ["id", "text", "lang", "cluster_id", "cluster_label", "topic_id",
                       "topic_label", "weight"]
    assert [r[0] for r in rows[1:]] == [str(i) for i in range(120)]
    assert [r[2] for r in rows[1:4]] == ["en", "de", ""]
    assert rows[1 + 9][1] == "apples pears row 9"
    assert rows[1 + 9][3] != ""
    assert rows[1 + 7][1] == "trains buses row 7"  # NaN vector: kept, not analysed
    assert rows[1 + 7][3] == ""
    assert rows[1 + 7][-1] == "0"
    assert rows[1 + 5][1] == ""
    assert rows[1 + 5][3] == ""


def test_a_missing_vector_column_is_a_clear_error(tmp_path):
    source = vector_file(tmp_path / "data.parquet")
    done = level("analyze", str(source), "--vectors-column", "nope", cwd=tmp_path)
    assert done.returncode == 2
    assert "nope" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_embed_on_a_local_ray_then_analyze_the_shards(tmp_path):
    pytest.importorskip("ray")
    rows = SAMPLE.read_text(encoding="utf-8").splitlines()[:81]  # header + 80 rows
    small = tmp_path / "small.csv"
    small.write_text("\n".join(rows) + "\n", encoding="utf-8")
    embedded = level("embed", str(small), "-o", "shards", "--workers", "1", "--shard-rows", "40",
                     cwd=tmp_path)
    assert embedded.returncode == 0, embedded.stderr
    assert "2 shards computed" in embedded.stdout
    analysed = level("analyze", "shards", "--vectors-column", "vector", "-o", "s.level",
                     "--k", "4", cwd=tmp_path)
    assert analysed.returncode == 0, analysed.stderr
    assert "all-MiniLM-L6-v2" in analysed.stdout
