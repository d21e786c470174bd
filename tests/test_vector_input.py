"""Bring your own vectors: Parquet, JSON Lines and shard folders read into unit float32 vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from level_desktop.core.errors import (
    InputFileError,
    LevelError,
    NoTextColumnError,
    TooFewRowsError,
    UnknownColumnError,
)
from level_desktop.core.vector_input import has_vector_column, load_vectors

N, DIM = 80, 12


def make_rows(rng: np.random.Generator, n: int = N, dim: int = DIM) -> tuple[list[str], np.ndarray]:
    texts = [f"row {i} about topic {i % 7}" for i in range(n)]
    return texts, rng.normal(size=(n, dim)).astype(np.float64)


def unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def write_parquet(path: Path, texts: list, vectors: list | np.ndarray, fixed: bool = False,
                  metadata: dict | None = None, value_type: pa.DataType | None = None,
                  extra: dict | None = None) -> Path:
    value_type = value_type or pa.float32()
    if fixed:
        dim = len(vectors[0])
        flat = pa.array(np.asarray(vectors).reshape(-1), type=value_type)
        column = pa.FixedSizeListArray.from_arrays(flat, dim)
    else:
        column = pa.array([None if v is None else list(v) for v in vectors],
                          type=pa.list_(value_type))
    table = pa.table({"id": pa.array(range(len(texts))), "text": pa.array(texts),
                      "embedding": column, **(extra or {})})
    if metadata:
        table = table.replace_schema_metadata(metadata)
    pq.write_table(table, path)
    return path


def test_parquet_list_column_is_found_normalised_and_keeps_positions(tmp_path, rng):
    texts, vectors = make_rows(rng)
    path = write_parquet(tmp_path / "v.parquet", texts, vectors,
                         metadata={"level.model": "all-MiniLM-L6-v2"})
    got = load_vectors(path)
    assert got.vector_column == "embedding"
    assert got.text_column == "text"
    assert got.format == "parquet"
    assert got.model_name == "all-MiniLM-L6-v2"
    assert got.texts == texts
    assert got.vectors.dtype == np.float32
    assert got.vectors.shape == (N, DIM)
    np.testing.assert_allclose(got.vectors, unit(vectors), atol=1e-6)
    np.testing.assert_array_equal(got.row_index, np.arange(N))
    assert got.report.kept == N
    assert got.report.skipped == 0


def test_fixed_size_list_and_float64_values_are_read(tmp_path, rng):
    texts, vectors = make_rows(rng)
    path = write_parquet(tmp_path / "v.parquet", texts, vectors, fixed=True,
                         value_type=pa.float64())
    got = load_vectors(path, model_name="my-model")
    assert got.model_name == "my-model"
    np.testing.assert_allclose(got.vectors, unit(vectors), atol=1e-6)


def test_bad_rows_are_skipped_counted_and_named(tmp_path, rng):
    texts, vectors = make_rows(rng)
    rows: list = [list(v) for v in vectors]
    rows[3] = None  # no vector
    rows[5] = [float("nan")] * DIM
    rows[6] = list(vectors[6]); rows[6][2] = float("inf")  # noqa: E702
    rows[8] = [0.0] * DIM
    rows[9] = [1.0, None, *[1.0] * (DIM - 2)]  # a null inside the list counts as NaN
    texts[11] = "   "
    texts[12] = None
    path = write_parquet(tmp_path / "v.parquet", texts, rows)
    got = load_vectors(path)
    report = got.report
    assert report.n_rows == N
    assert report.skipped_no_vector == 1
    assert report.skipped_not_finite == 3
    assert report.skipped_zero == 1
    assert report.skipped_empty_text == 2
    assert report.kept == N - 7
    assert report.examples["skipped_not_finite"] == [5, 6, 9]
    assert report.examples["skipped_empty_text"] == [11, 12]
    dropped = {3, 5, 6, 8, 9, 11, 12}
    expected_rows = [i for i in range(N) if i not in dropped]
    np.testing.assert_array_equal(got.row_index, expected_rows)
    np.testing.assert_allclose(got.vectors, unit(vectors[expected_rows]), atol=1e-6)
    assert got.texts == [texts[i] for i in expected_rows]
    assert np.all(np.isfinite(got.vectors))
    assert "skipped" in report.summary()
    assert "1 with no vector" in report.summary()


def test_inconsistent_dimensions_name_the_rows(tmp_path, rng):
    texts, vectors = make_rows(rng)
    rows = [list(v) for v in vectors]
    rows[17] = rows[17][:-1]
    rows[42] = rows[42][:-1]
    path = write_parquet(tmp_path / "v.parquet", texts, rows)
    with pytest.raises(InputFileError, match=r"rows 17, 42 .*have 11") as info:
        load_vectors(path)
    assert f"most have {DIM}" in str(info.value)


def test_no_vector_column_is_a_clear_error(tmp_path):
    path = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"text": [f"t{i}" for i in range(60)], "n": list(range(60))}), path)
    with pytest.raises(InputFileError, match="no vector column"):
        load_vectors(path)
    assert not has_vector_column(path)


def test_named_columns_and_their_errors(tmp_path, rng):
    texts, vectors = make_rows(rng)
    other = rng.normal(size=(N, 3))
    path = write_parquet(tmp_path / "v.parquet", texts, vectors,
                         extra={"other": pa.array([list(v) for v in other]),
                                "title": pa.array(["x"] * N)})
    with pytest.raises(InputFileError, match="several vector columns"):
        load_vectors(path)
    got = load_vectors(path, vector_column="other", text_column="title")
    assert got.dimension == 3
    assert got.texts == ["x"] * N
    with pytest.raises(UnknownColumnError, match="no column named 'nope'"):
        load_vectors(path, vector_column="nope")
    with pytest.raises(InputFileError, match="not a list of numbers"):
        load_vectors(path, vector_column="text")
    with pytest.raises(UnknownColumnError):
        load_vectors(path, vector_column="other", text_column="nope")
    assert has_vector_column(path)


def test_text_column_is_the_longest_string_column(tmp_path, rng):
    texts, vectors = make_rows(rng)
    path = write_parquet(tmp_path / "v.parquet", texts, vectors,
                         extra={"tag": pa.array(["a"] * N)})
    assert load_vectors(path).text_column == "text"


def test_no_text_column(tmp_path, rng):
    _, vectors = make_rows(rng)
    path = tmp_path / "v.parquet"
    pq.write_table(pa.table({"embedding": pa.array([list(v) for v in vectors])}), path)
    with pytest.raises(NoTextColumnError):
        load_vectors(path)


def test_too_few_usable_rows(tmp_path, rng):
    texts, vectors = make_rows(rng, n=10)
    path = write_parquet(tmp_path / "v.parquet", texts, vectors)
    with pytest.raises(TooFewRowsError, match="Only 10 rows"):
        load_vectors(path)
    assert load_vectors(path, min_rows=5).report.kept == 10


def test_json_lines_with_a_vector_field(tmp_path, rng):
    texts, vectors = make_rows(rng)
    path = tmp_path / "v.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        for i, (t, v) in enumerate(zip(texts, vectors, strict=True)):
            record: dict = {"text": t, "vec": [round(float(x), 6) for x in v]}
            if i == 4:
                record["vec"] = None
            if i == 7:
                del record["vec"]
            handle.write(json.dumps(record) + "\n")
    got = load_vectors(path, model_name="m")
    assert got.format == "jsonl"
    assert got.vector_column == "vec"
    assert got.report.skipped_no_vector == 2
    keep = [i for i in range(N) if i not in (4, 7)]
    np.testing.assert_array_equal(got.row_index, keep)
    np.testing.assert_allclose(got.vectors, unit(np.round(vectors[keep], 6)), atol=1e-6)


def test_folder_of_shards_in_name_order_with_positions_across_files(tmp_path, rng):
    texts, vectors = make_rows(rng, n=90)
    folder = tmp_path / "shards"
    folder.mkdir()
    for k, start in enumerate(range(0, 90, 30)):
        write_parquet(folder / f"part-{k:05d}.parquet", texts[start:start + 30],
                      vectors[start:start + 30], fixed=k == 1)
    (folder / ".part-00003.parquet.x.tmp").write_bytes(b"half written")
    (folder / "_SUCCESS").write_bytes(b"")
    got = load_vectors(folder)
    assert got.format == "parquet-folder"
    assert got.texts == texts
    np.testing.assert_array_equal(got.row_index, np.arange(90))
    np.testing.assert_allclose(got.vectors, unit(vectors), atol=1e-6)


def test_folder_shards_with_another_dimension_are_refused(tmp_path, rng):
    texts, vectors = make_rows(rng, n=60)
    folder = tmp_path / "shards"
    folder.mkdir()
    write_parquet(folder / "a.parquet", texts[:30], vectors[:30])
    write_parquet(folder / "b.parquet", texts[30:], vectors[30:, :5])
    with pytest.raises(InputFileError, match=r"b\.parquet.*most have 12 numbers.*have 5"):
        load_vectors(folder)


def test_not_a_vector_file(tmp_path):
    csv = tmp_path / "a.csv"
    csv.write_text("text\nhello\n", encoding="utf-8")
    with pytest.raises(LevelError, match="not a Parquet or JSON Lines"):
        load_vectors(csv)
    with pytest.raises(LevelError, match="does not exist"):
        load_vectors(tmp_path / "missing.parquet")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(LevelError, match="no Parquet files"):
        load_vectors(empty)


def test_conversion_in_small_batches_gives_the_same_result(tmp_path, rng, monkeypatch):
    from level_desktop.core import vector_input

    texts, vectors = make_rows(rng)
    rows: list = [list(v) for v in vectors]
    rows[10] = None
    rows[50] = [float("nan")] * DIM
    path = write_parquet(tmp_path / "v.parquet", texts, rows)
    whole = load_vectors(path)
    monkeypatch.setattr(vector_input, "BATCH_ROWS", 7)
    pieces = load_vectors(path)
    np.testing.assert_array_equal(pieces.row_index, whole.row_index)
    np.testing.assert_array_equal(pieces.vectors, whole.vectors)
    assert pieces.texts == whole.texts
    assert pieces.report == whole.report
    assert pieces.columns == whole.columns


def test_row_groups_read_whole_or_through_the_iterator_give_the_same_result(tmp_path, rng,
                                                                          monkeypatch):
    """Small row groups are read whole and cut into batches, large ones go through Arrow's
    batch iterator; either way, and mixed in one file, the rows come out the same."""
    from level_desktop.core import vector_input

    texts, vectors = make_rows(rng)
    rows: list = [list(v) for v in vectors]
    rows[3] = None
    path = tmp_path / "groups.parquet"
    table = pa.table({"text": texts, "embedding": rows, "id": list(range(len(texts)))})
    pq.write_table(table, path, row_group_size=23)  # several groups, the last one short
    assert pq.ParquetFile(path).metadata.num_row_groups > 2
    monkeypatch.setattr(vector_input, "BATCH_ROWS", 10)  # batches cut across group ends
    whole = load_vectors(path, vector_column="embedding")
    monkeypatch.setattr(vector_input, "WHOLE_ROW_GROUP_BYTES", 0)  # every group: iterator
    iterated = load_vectors(path, vector_column="embedding")
    first = pq.ParquetFile(path).metadata.row_group(0).total_byte_size
    # Groups up to the first one's size whole, larger ones (longer texts) through the iterator.
    monkeypatch.setattr(vector_input, "WHOLE_ROW_GROUP_BYTES", first)
    mixed = load_vectors(path, vector_column="embedding")
    for other in (iterated, mixed):
        np.testing.assert_array_equal(other.row_index, whole.row_index)
        np.testing.assert_array_equal(other.vectors, whole.vectors)
        assert other.texts == whole.texts
        assert other.report == whole.report
        assert other.columns == whole.columns
    assert whole.report.kept == len(texts) - 1
    np.testing.assert_allclose(whole.vectors, unit(np.delete(vectors, 3, axis=0)), atol=1e-6)


def test_the_files_other_columns_are_kept_for_exports(tmp_path, rng):
    """Every column but the vectors, every row (skipped ones too) as strings in file order;
    with a `level embed` row index, `file_positions` still index the file's own rows."""
    texts, vectors = make_rows(rng, n=60)
    texts[3] = ""
    folder = tmp_path / "shards"
    folder.mkdir()
    for k, start in enumerate((0, 30)):
        write_parquet(folder / f"part-{k:05d}.parquet", texts[start:start + 30],
                      vectors[start:start + 30], metadata={"level.row_index_column": "id"},
                      extra={"id": pa.array(range(start, start + 30)),
                             "score": pa.array([0.5 * i if i % 4 else None
                                                for i in range(start, start + 30)])})
    got = load_vectors(folder)
    assert list(got.columns) == ["id", "text", "score"]
    assert got.columns["id"] == [str(i) for i in range(60)]
    assert got.columns["text"] == texts
    assert got.columns["score"][:3] == ["", "0.5", "1"]
    kept = np.array([i for i in range(60) if i != 3])
    np.testing.assert_array_equal(got.file_positions, kept)
    np.testing.assert_array_equal(got.row_index, kept)  # the ids, which here are the same
    assert got.texts == [got.columns["text"][i] for i in got.file_positions]


def test_has_vector_column_on_json_lines_reads_only_the_head(tmp_path, rng):
    texts, vectors = make_rows(rng)
    with_vectors = tmp_path / "v.jsonl"
    with_vectors.write_text("".join(json.dumps({"text": t, "v": list(v)}) + "\n"
                                    for t, v in zip(texts, vectors, strict=True)), "utf-8")
    plain = tmp_path / "p.jsonl"
    plain.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), "utf-8")
    assert has_vector_column(with_vectors)
    assert not has_vector_column(plain)
    from level_desktop.core.vector_input import _jsonl_head_schema

    assert "v" in _jsonl_head_schema(with_vectors, head_bytes=300).names
