"""A corpus of mixed and broken encodings, each with the outcome Level must reach.

Every file is generated here from known text, so each case can check the exact cells read back:
nothing garbled, every replaced byte counted and its row named, and a non-UTF-8 input's export
written as UTF-8 with a note that it was converted.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from level_desktop.core.decoding import REPLACEMENT, decode_bytes
from level_desktop.core.errors import BinaryFileError
from level_desktop.core.export import ExportData, write_weighted
from level_desktop.core.loading import load_input, read_table

N_ROWS = 200
EUROPEAN = ["Café déjà vu, naïve résumé number {i}", "Crème brûlée and façade {i}",
            "“Smart quotes” – an en dash, €{i} and … an ellipsis", "Übermäßig schön, Größe {i}"]
JAPANESE = ["これは日本語の文章です。番号{i}", "東京の天気は晴れでしょう。{i}件目",
            "カタカナとひらがなを混ぜた行{i}"]
CHINESE = ["这是一个中文句子，编号{i}", "北京今天天气很好。第{i}行", "数据平衡与聚类分析{i}"]
MIXED_UTF8 = ["café 中文 naïve résumé {i}", "Ærøskøbing 東京 ñandú {i}"]


def _rows(templates: list[str], n: int = N_ROWS) -> list[list[str]]:
    return [[str(i), templates[i % len(templates)].format(i=i)] for i in range(n)]


def _csv_text(rows: list[list[str]], header: tuple[str, str] = ("id", "text")) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _texts(rows: list[list[str]]) -> list[str]:
    return [r[1] for r in rows]


def _with_byte(data: bytes, row_marker: str, byte: bytes) -> bytes:
    """Insert `byte` right after the first occurrence of `row_marker`."""
    at = data.index(row_marker.encode()) + len(row_marker.encode())
    return data[:at] + byte + data[at:]


# ---- the corpus: input → outcome -------------------------------------------------------------

def test_valid_utf8_is_read_as_is(tmp_path: Path) -> None:
    rows = _rows(MIXED_UTF8)
    path = tmp_path / "utf8.csv"
    path.write_bytes(_csv_text(rows).encode("utf-8"))
    loaded = load_input(path)
    assert loaded.texts == _texts(rows)
    assert loaded.decode_report.encoding == "utf-8"
    assert loaded.decode_report.lossless_utf8
    assert loaded.decode_report.summary() is None


def test_one_invalid_byte_garbles_nothing_and_names_its_row(tmp_path: Path) -> None:
    """The issue's defect: one bad byte in row 150 made the whole file cp1252."""
    rows = _rows(MIXED_UTF8)
    raw = _with_byte(_csv_text(rows).encode("utf-8"), "ñandú 149", b"\xff")
    path = tmp_path / "stray.csv"
    path.write_bytes(raw)
    loaded = load_input(path)
    report = loaded.decode_report
    assert report.encoding == "utf-8"
    assert (report.replaced_bytes, report.replaced_rows, report.replaced_examples) == (1, 1, [149])
    expected = _texts(rows)
    expected[149] = expected[149].replace("ñandú 149", f"ñandú 149{REPLACEMENT}")
    assert loaded.texts == expected  # every other row exactly as written, accents intact
    assert "data rows 150" in report.summary()


def test_several_broken_rows_are_counted_and_the_first_listed(tmp_path: Path) -> None:
    rows = _rows(MIXED_UTF8)
    raw = _csv_text(rows).encode("utf-8")
    for i in (3, 40, 41, 90, 120, 121, 199):  # a lead byte cut short at the end of each row
        raw = raw.replace(f" {i}\n".encode(), f" {i}".encode() + b"\xc3\n", 1)
    path = tmp_path / "broken.csv"
    path.write_bytes(raw)
    report = load_input(path).decode_report
    assert report.encoding == "utf-8"
    assert report.replaced_rows == 7
    assert report.replaced_examples == [3, 40, 41, 90, 120]
    assert report.replaced_bytes == 7


def test_truncated_sequence_at_the_end_of_the_file(tmp_path: Path) -> None:
    rows = _rows(MIXED_UTF8)
    raw = _csv_text(rows).encode("utf-8") + "中".encode()[:2]
    path = tmp_path / "cut.csv"
    path.write_bytes(raw)
    loaded = load_input(path)
    assert loaded.decode_report.replaced_rows == 1
    assert loaded.decode_report.replaced_examples == [N_ROWS]  # a last, partial row
    assert loaded.texts[:N_ROWS] == _texts(rows)


def test_invalid_byte_in_the_header_is_reported(tmp_path: Path) -> None:
    rows = _rows(MIXED_UTF8)
    raw = _csv_text(rows).encode("utf-8").replace(b"id,text\n", b"id,te\xe9xt\n", 1)
    path = tmp_path / "header.csv"
    path.write_bytes(raw)
    loaded = load_input(path)
    assert loaded.table.column_names == ["id", f"te{REPLACEMENT}xt"]
    assert loaded.decode_report.header_replaced
    assert loaded.decode_report.replaced_rows == 0
    assert loaded.texts == _texts(rows)


@pytest.mark.parametrize(("templates", "encoding", "expected"), [
    (EUROPEAN, "cp1252", "cp1252"),  # “quotes”, – and € use bytes 0x80–0x9F
    (EUROPEAN[:2] + EUROPEAN[3:], "latin-1", "latin-1"),  # accents only: no byte in 0x80–0x9F
    (EUROPEAN[:2] + EUROPEAN[3:], "cp1252", "latin-1"),  # the same bytes; both read them alike
    (JAPANESE, "shift_jis", "cp932"),
    (JAPANESE, "cp932", "cp932"),
    (CHINESE, "gb18030", "gb18030"),
    (CHINESE, "gbk", "gb18030"),
    (MIXED_UTF8, "utf-8-sig", "utf-8-sig"),
    (MIXED_UTF8 + JAPANESE, "utf-16", "utf-16"),  # with a BOM
    (MIXED_UTF8 + JAPANESE, "utf-16-le", "utf-16-le"),  # no BOM: the NUL pattern tells
    (MIXED_UTF8 + CHINESE, "utf-16-be", "utf-16-be"),
])
def test_each_real_encoding_reads_back_exactly(tmp_path: Path, templates: list[str],
                                               encoding: str, expected: str) -> None:
    rows = _rows(templates)
    path = tmp_path / f"{encoding}.csv"
    path.write_bytes(_csv_text(rows).encode(encoding))
    loaded = load_input(path)
    assert loaded.texts == _texts(rows)
    assert loaded.decode_report.encoding == expected
    assert loaded.decode_report.replaced_bytes == 0


def test_a_byte_cp1252_leaves_undefined_is_replaced_and_reported(tmp_path: Path) -> None:
    rows = _rows(EUROPEAN)
    raw = _csv_text(rows).encode("cp1252").replace(b"Gr\xf6\xdfe 63", b"Gr\xf6\xdfe 63\x81", 1)
    path = tmp_path / "cp1252-undefined.csv"
    path.write_bytes(raw)
    loaded = load_input(path)
    report = loaded.decode_report
    assert report.encoding == "cp1252"
    assert (report.replaced_bytes, report.replaced_examples) == (1, [63])
    assert report.summary().startswith("Read as Windows-1252; 1 invalid byte in 1 row")
    expected = _texts(rows)
    expected[63] = expected[63].replace("Größe 63", f"Größe 63{REPLACEMENT}")
    assert loaded.texts == expected


def test_cp1252_with_accents_only_inside_words_is_not_taken_for_chinese(tmp_path: Path) -> None:
    """Mid-word accents make valid GB18030 and Shift JIS pairs; the script check refuses them."""
    rows = _rows(["naïve coöperation, señora {i}", "Über façades {i}"])
    path = tmp_path / "midword.csv"
    path.write_bytes(_csv_text(rows).encode("cp1252"))
    loaded = load_input(path)
    assert loaded.decode_report.encoding == "latin-1"
    assert loaded.texts == _texts(rows)


def test_a_file_half_utf8_half_cp1252_keeps_the_utf8_and_names_the_other_rows(
        tmp_path: Path) -> None:
    rows = _rows(MIXED_UTF8, 100)
    text = _csv_text(rows)
    tail = "".join(f"{i},Crème brûlée {i}\n" for i in range(100, 200))
    path = tmp_path / "mixed.csv"
    path.write_bytes(text.encode("utf-8") + tail.encode("cp1252"))
    loaded = load_input(path)
    report = loaded.decode_report
    assert report.encoding == "utf-8"
    assert loaded.texts[:100] == _texts(rows)  # the UTF-8 half is not garbled
    assert report.replaced_rows == 100
    assert report.replaced_examples == [100, 101, 102, 103, 104]
    assert loaded.texts[100] == f"Cr{REPLACEMENT}me br{REPLACEMENT}l{REPLACEMENT}e 100"


@pytest.mark.parametrize("payload", [
    np.arange(4000, dtype=np.int32).tobytes(),  # NULs on both sides of each pair
    np.random.default_rng(1).integers(0, 256, 20000, dtype=np.uint8).tobytes(),
    b"id,text\n" + b"\x00" * 100 + b"hello\n" * 100,
    "id,text\n1,caf\x00é\n".encode("utf-16-le") + b"\x00",  # odd length
])
def test_real_binaries_are_still_refused(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "blob.csv"
    path.write_bytes(payload)
    with pytest.raises(BinaryFileError, match="binary"):
        read_table(path)


def test_jsonl_with_an_invalid_byte_names_the_record(tmp_path: Path) -> None:
    records = [{"id": i, "text": MIXED_UTF8[i % 2].format(i=i)} for i in range(80)]
    raw = "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode("utf-8") + b"\n"
    raw = _with_byte(raw, "résumé 10", b"\x80")
    path = tmp_path / "broken.jsonl"
    path.write_bytes(raw)
    loaded = load_input(path)
    assert loaded.decode_report.replaced_examples == [10]
    assert loaded.texts[11] == records[11]["text"]
    assert loaded.texts[10] == records[10]["text"].replace("résumé 10", f"résumé 10{REPLACEMENT}")


def test_jsonl_in_utf16_is_converted_before_parsing(tmp_path: Path) -> None:
    records = [{"text": JAPANESE[i % 3].format(i=i)} for i in range(60)]
    path = tmp_path / "u16.jsonl"
    path.write_bytes("\n".join(json.dumps(r, ensure_ascii=False) for r in records)
                     .encode("utf-16"))
    assert load_input(path).texts == [r["text"] for r in records]


def test_decode_leaves_plain_ascii_alone() -> None:
    text, report = decode_bytes(b"a,b\n1,2\n", "x.csv")
    assert (text, report.encoding, report.replaced_bytes) == ("a,b\n1,2\n", "utf-8", 0)


# ---- what the export does with each outcome ---------------------------------------------------

def _export(loaded, target: Path) -> ExportData:
    n = len(loaded.row_index)
    labels = (np.arange(n) % 3).astype(np.int32)
    data = ExportData(source_path=str(loaded.table.path), columns=loaded.table.columns,
                      row_index=loaded.row_index, labels=labels,
                      cluster_names={0: "a", 1: "b", 2: "c"}, weights={0: 0.5, 1: 1.0, 2: 2.0},
                      source_decoding=loaded.decode_report)
    write_weighted(data, target)
    return data


def _cells(raw: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))


def test_weighted_export_of_utf8_reproduces_every_cell_byte_for_byte(tmp_path: Path) -> None:
    rows = _rows([*MIXED_UTF8, 'multi\r\nline, "quoted" {i}', "  spaces kept  {i}", "tab\t{i}"])
    source = _csv_text(rows).encode("utf-8")
    path = tmp_path / "in.csv"
    path.write_bytes(source)
    data = _export(load_input(path), tmp_path / "out.csv")
    assert data.conversion_note is None
    written = _cells((tmp_path / "out.csv").read_bytes())
    original = _cells(source)  # strict UTF-8 both ways: equal strings are equal bytes
    assert [r[:2] for r in written] == original
    assert [[c.encode() for c in r[:2]] for r in written] == [[c.encode() for c in r]
                                                             for r in original]


@pytest.mark.parametrize(("encoding", "word"), [("cp1252", "Windows-1252"),
                                                ("shift_jis", "Shift JIS"),
                                                ("utf-16-le", "UTF-16 LE")])
def test_export_of_another_encoding_is_utf8_and_says_it_converted(
        tmp_path: Path, encoding: str, word: str) -> None:
    templates = {"cp1252": EUROPEAN, "shift_jis": JAPANESE, "utf-16-le": MIXED_UTF8}[encoding]
    rows = _rows(templates)
    path = tmp_path / "in.csv"
    path.write_bytes(_csv_text(rows).encode(encoding))
    data = _export(load_input(path), tmp_path / "out.csv")
    assert word in data.conversion_note
    assert "UTF-8" in data.conversion_note
    written = _cells((tmp_path / "out.csv").read_bytes())  # strict UTF-8
    assert [r[1] for r in written[1:]] == _texts(rows)


def test_export_of_utf8_with_replaced_bytes_says_so(tmp_path: Path) -> None:
    rows = _rows(MIXED_UTF8)
    path = tmp_path / "in.csv"
    path.write_bytes(_with_byte(_csv_text(rows).encode("utf-8"), "ñandú 149", b"\xff"))
    data = _export(load_input(path), tmp_path / "out.csv")
    assert "1 invalid byte in 1 row" in data.conversion_note
    written = _cells((tmp_path / "out.csv").read_bytes())
    assert written[150][1].endswith(f"ñandú 149{REPLACEMENT}")


@pytest.mark.slow
def test_cli_reports_the_replaced_rows_and_the_conversion(sample_csv: Path,
                                                         tmp_path: Path) -> None:
    """The issue's steps: one bad byte in row 150, analyze, export; both say what happened."""
    lines = sample_csv.read_bytes().split(b"\n")[:181]
    lines[150] = lines[150].replace(b" ", b" caf\xc3\xa9 \xe4\xb8\xad\xff ", 1)
    source = tmp_path / "broken.csv"
    source.write_bytes(b"\n".join(lines) + b"\n")

    def level(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "level_desktop.cli", *args], cwd=tmp_path,
                              capture_output=True, text=True, env=os.environ.copy(), timeout=900)

    analyzed = level("analyze", "broken.csv", "-o", "b.level", "--projection", "pca",
                     "--method", "kmeans", "--k", "4")
    assert analyzed.returncode == 0, analyzed.stderr
    assert "Encoding: Read as UTF-8; 1 invalid byte in 1 row (data rows 150)" in analyzed.stdout
    info = level("info", "b.level")
    assert info.returncode == 0, info.stderr
    assert "Encoding: Read as UTF-8; 1 invalid byte in 1 row (data rows 150)" in info.stdout
    exported = level("export", "b.level", "--weighted", "w.csv")
    assert exported.returncode == 0, exported.stderr
    assert "written as U+FFFD" in exported.stdout
    cells = _cells((tmp_path / "w.csv").read_bytes())
    assert f"café 中{REPLACEMENT}" in cells[150][2]
