"""Reading real files: column detection, encodings, formats, and every bad input's message."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from level_desktop.core.errors import (
    BinaryFileError,
    EmptyFileError,
    NoTextColumnError,
    TooFewRowsError,
    UnknownColumnError,
)
from level_desktop.core.loading import is_ambiguous, load_input, read_table


def _slice(path: Path, n: int) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [r for _, r in zip(range(n), reader, strict=False)]
    return header, rows


def _write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8",
               delimiter: str = ",") -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@pytest.mark.parametrize(("name", "expected"), [
    ("sample-small.csv", "description"),
    ("debian-packages.csv", "description"),
    ("fortunes.csv", "text"),
    ("pypi-summaries.csv", "summary"),
])
def test_detects_the_text_column_of_each_shared_file(shared_data: Path, tmp_path: Path,
                                                     name: str, expected: str) -> None:
    header, rows = _slice(shared_data / name, 400)
    loaded = load_input(_write_csv(tmp_path / name, header, rows))
    assert loaded.text_column == expected
    assert loaded.auto_detected


def test_reads_the_whole_sample_with_original_indices(sample_csv: Path) -> None:
    loaded = load_input(sample_csv)
    assert loaded.table.n_rows == 600
    assert loaded.row_index.tolist() == list(range(600))
    assert loaded.table.column_names == ["package", "section", "description"]


def test_quoted_fields_with_newlines_stay_one_row(shared_data: Path, tmp_path: Path) -> None:
    header, rows = _slice(shared_data / "fortunes.csv", 300)
    assert any("\n" in r[0] for r in rows)
    loaded = load_input(_write_csv(tmp_path / "f.csv", header, rows))
    assert loaded.table.n_rows == 300
    assert loaded.texts == [r[0] for r in rows if r[0].strip()]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252"])
def test_each_encoding_reads_back_the_same_text(sample_csv: Path, tmp_path: Path,
                                                encoding: str) -> None:
    header, rows = _slice(sample_csv, 80)
    rows[0][2] = "Café déjà vu – naïve “quotes” " + rows[0][2]
    loaded = load_input(_write_csv(tmp_path / f"{encoding}.csv", header, rows, encoding))
    assert loaded.texts[0].startswith("Café déjà vu – naïve “quotes”")
    assert loaded.table.column_names == header


@pytest.mark.parametrize(("suffix", "delimiter"), [(".tsv", "\t"), (".csv", ";"), (".txt", "|"),
                                                   (".csv", "\t")])
def test_delimiter_is_sniffed(sample_csv: Path, tmp_path: Path, suffix: str,
                              delimiter: str) -> None:
    header, rows = _slice(sample_csv, 60)
    loaded = load_input(_write_csv(tmp_path / f"d{suffix}", header, rows, delimiter=delimiter))
    assert loaded.table.column_names == header
    assert loaded.texts[5] == rows[5][2]


def test_jsonl_and_parquet(sample_csv: Path, tmp_path: Path) -> None:
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    header, rows = _slice(sample_csv, 70)
    records = [dict(zip(header, r, strict=True)) | {"n": i} for i, r in enumerate(rows)]
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    parquet = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(records), parquet)
    for path in (jsonl, parquet):
        loaded = load_input(path)
        assert loaded.text_column == "description"
        assert loaded.texts == [r[2] for r in rows]
        assert loaded.table.columns["n"][3] == "3"


def test_empty_texts_are_skipped_and_counted_but_keep_indices(sample_csv: Path,
                                                              tmp_path: Path) -> None:
    header, rows = _slice(sample_csv, 100)
    for i in (0, 7, 50):
        rows[i][2] = "   "
    loaded = load_input(_write_csv(tmp_path / "gaps.csv", header, rows))
    assert loaded.skipped_empty == 3
    assert 7 not in loaded.row_index
    assert 8 in loaded.row_index
    assert loaded.texts[loaded.row_index.tolist().index(8)] == rows[8][2]


def test_ragged_rows_are_reported_and_nothing_is_dropped(sample_csv: Path,
                                                         tmp_path: Path) -> None:
    header, rows = _slice(sample_csv, 60)
    rows[3] = rows[3][:2]
    rows[10] = [*rows[10], "surplus"]
    table = read_table(_write_csv(tmp_path / "ragged.csv", header, rows))
    assert table.ragged_rows == 2
    assert table.columns["description"][3] == ""
    assert table.columns["extra_1"][10] == "surplus"


def test_too_few_rows(sample_csv: Path, tmp_path: Path) -> None:
    header, rows = _slice(sample_csv, 49)
    with pytest.raises(TooFewRowsError, match=r"Only 49 rows .* at least 50"):
        load_input(_write_csv(tmp_path / "small.csv", header, rows))


def test_no_text_column(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "nums.csv", ["a", "b"], [[str(i), str(i * 2.5)] for i in range(80)])
    with pytest.raises(NoTextColumnError, match=r"No column of nums.csv holds text"):
        load_input(path)


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "blob.csv"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(BinaryFileError, match="binary"):
        load_input(path)


def test_excel_workbook_is_named(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(BinaryFileError, match="Excel"):
        load_input(path)


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"a,b,c\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(EmptyFileError, match=r"empty\.csv"):
        load_input(path)


def test_unknown_column_lists_the_real_ones(sample_csv: Path) -> None:
    with pytest.raises(UnknownColumnError, match=r"no column named 'body'.*package, section"):
        load_input(sample_csv, text_column="body")


def test_missing_file(tmp_path: Path) -> None:
    from level_desktop.core.errors import InputFileError

    with pytest.raises(InputFileError, match="does not exist"):
        load_input(tmp_path / "nope.csv")


def test_ambiguity_when_two_columns_are_alike(sample_csv: Path, tmp_path: Path) -> None:
    _header, rows = _slice(sample_csv, 60)
    rows2 = [[r[2], r[2][::-1], r[1]] for r in rows]
    loaded = load_input(_write_csv(tmp_path / "two.csv", ["a", "b", "c"], rows2))
    assert is_ambiguous(loaded.candidates)
    assert not load_input(sample_csv).ambiguous
