"""Read the user's file (CSV, TSV, JSON Lines, Parquet) and pick the column that holds the text.

Every data row keeps its original position (`row_index`, 0-based, header not counted), so an
export maps back to the input row for row; rows whose text is empty are skipped and counted.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from level_desktop.core.decoding import (
    DecodeReport,
    decode_bytes,
    repair_columns,
    repair_header,
    repair_lines,
)
from level_desktop.core.errors import (
    EmptyFileError,
    InputFileError,
    NoTextColumnError,
    TooFewRowsError,
    UnknownColumnError,
)
from level_desktop.core.memory import check_analysis_memory, check_load_memory
from level_desktop.core.registry import Registry

MIN_ROWS = 50
DELIMITERS = (",", "\t", ";", "|")
# A second column this close to the longest one's mean length makes the choice "not obvious".
AMBIGUOUS_RATIO = 0.7

csv.field_size_limit(2**31 - 1)


@dataclass
class SourceTable:
    """The input as read: every column as strings, in the file's order."""

    path: Path
    format: str
    columns: dict[str, list[str]]
    encoding: str = "utf-8"
    delimiter: str | None = None
    ragged_rows: int = 0
    ragged_examples: list[int] = field(default_factory=list)
    # How the bytes became text (None for Parquet, which stores text as text).
    decode_report: DecodeReport | None = None

    @property
    def column_names(self) -> list[str]:
        return list(self.columns)

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.columns.values()), []))


@dataclass
class ColumnCandidate:
    name: str
    mean_length: float
    numeric_share: float


@dataclass
class LoadedInput:
    """A table plus the chosen text column and its usable rows."""

    table: SourceTable
    text_column: str
    row_index: np.ndarray  # int64 original positions of the rows that have text
    texts: list[str]
    skipped_empty: int
    candidates: list[ColumnCandidate]
    auto_detected: bool

    @property
    def decode_report(self) -> DecodeReport | None:
        """The encoding used and the rows whose invalid bytes were replaced (see decoding.py)."""
        return self.table.decode_report

    @property
    def ambiguous(self) -> bool:
        """True when a second text column's mean length comes close to the chosen one's."""
        return is_ambiguous(self.candidates)


def load_input(path: str | Path, text_column: str | None = None, min_rows: int = MIN_ROWS
               ) -> LoadedInput:
    """Read `path`, choose the text column (auto-detected unless named) and keep rows with text."""
    return text_rows(read_table(path), text_column, min_rows)


def text_rows(table: SourceTable, text_column: str | None = None, min_rows: int = MIN_ROWS
              ) -> LoadedInput:
    """Of a table already read, choose the text column and keep the rows with text."""
    candidates = text_column_candidates(table)
    if text_column is None:
        if not candidates:
            raise NoTextColumnError(
                f"No column of {table.path.name} holds text: every column is empty or numeric. "
                f"Columns found: {', '.join(table.column_names) or 'none'}.")
        chosen, auto = candidates[0].name, True
    else:
        if text_column not in table.columns:
            raise UnknownColumnError(
                f"{table.path.name} has no column named {text_column!r}. "
                f"Its columns are: {', '.join(table.column_names)}.")
        chosen, auto = text_column, False
    values = table.columns[chosen]
    keep = [i for i, v in enumerate(values) if v.strip()]
    check_analysis_memory(len(keep), table.path.name)
    if len(keep) < min_rows:
        raise TooFewRowsError(
            f"Only {len(keep)} rows of {table.path.name} have text in column {chosen!r}; Level "
            f"needs at least {min_rows} to find clusters. Pick another column or a larger file.")
    return LoadedInput(
        table=table,
        text_column=chosen,
        row_index=np.asarray(keep, dtype=np.int64),
        texts=[values[i] for i in keep],
        skipped_empty=len(values) - len(keep),
        candidates=candidates,
        auto_detected=auto,
    )


def is_ambiguous(candidates: list[ColumnCandidate]) -> bool:
    return (len(candidates) > 1
            and candidates[1].mean_length >= AMBIGUOUS_RATIO * candidates[0].mean_length)


def text_column_candidates(table: SourceTable) -> list[ColumnCandidate]:
    """String columns, longest mean length first; columns that are mostly numbers are left out."""
    out = []
    for name, values in table.columns.items():
        filled = [v for v in values if v.strip()]
        if not filled:
            continue
        numeric = sum(1 for v in filled[:2000] if _is_number(v)) / min(len(filled), 2000)
        if numeric > 0.5:
            continue
        mean_length = sum(map(len, values)) / len(values)
        if mean_length < 2:
            continue
        out.append(ColumnCandidate(name, mean_length, numeric))
    out.sort(key=lambda c: -c.mean_length)
    return out


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def read_table(path: str | Path) -> SourceTable:
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path} does not exist. Check the path and try again.")
    if path.is_dir():
        raise InputFileError(f"{path} is a folder; choose a CSV, TSV, JSON Lines or Parquet file.")
    suffix = path.suffix.lower()
    try:
        check_load_memory(path)
        if suffix in READERS.entry("parquet").suffixes:
            return READERS.create("parquet").read(RawFile(path))
        raw = path.read_bytes()
    except OSError as err:
        raise InputFileError(f"{path.name} cannot be read: {err.strerror or err}.") from err
    if raw[:4] == b"PAR1":
        return READERS.create("parquet").read(RawFile(path))
    if not raw.strip():
        raise EmptyFileError(f"{path.name} is empty. Choose a file with a header row and data rows.")
    text, report = decode_bytes(raw, path.name)
    file = RawFile(path, raw, text, report)
    if suffix in (".jsonl", ".ndjson") or (suffix == ".json" and text.lstrip().startswith("{")):
        return READERS.create("jsonl").read(file)
    if suffix == ".json":
        raise InputFileError(
            f"{path.name} is a JSON document; Level reads JSON Lines (one object per line). "
            f"Save it as .jsonl or CSV.")
    return READERS.create("tsv" if suffix == ".tsv" else "csv").read(file)


def decode(raw: bytes, path: Path) -> tuple[str, str]:
    """The file's text (invalid UTF-8 bytes replaced by U+FFFD) and the codec it was read with."""
    text, report = decode_bytes(raw, path.name)
    return repair_lines(text, report), report.encoding


def sniff_delimiter(text: str) -> str:
    """The candidate delimiter that splits the header into the most fields, consistently."""
    sample_records = []
    reader_input = text[:65536]
    best, best_score = ",", (0, 0)
    for delim in DELIMITERS:
        try:
            sample_records = list(_first_records(reader_input, delim, 20))
        except csv.Error:
            continue
        if not sample_records:
            continue
        width = len(sample_records[0])
        consistent = sum(1 for r in sample_records if len(r) == width)
        score = (width if width > 1 else 0, consistent)
        if score > best_score:
            best, best_score = delim, score
    return best


def _first_records(text: str, delim: str, n: int) -> Iterator[list[str]]:
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    for i, record in enumerate(reader):
        if i >= n:
            break
        yield record


def _unique_names(header: list[str]) -> list[str]:
    names: list[str] = []
    for i, name in enumerate(header):
        base = name.strip() or f"column_{i + 1}"
        candidate, n = base, 2
        while candidate in names:
            candidate, n = f"{base}_{n}", n + 1
        names.append(candidate)
    return names


def _read_delimited(path: Path, text: str, report: DecodeReport, tab: bool) -> SourceTable:
    delim = "\t" if tab else sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as err:
        raise EmptyFileError(f"{path.name} has no header row.") from err
    names = _unique_names(repair_header(header, report))
    width = len(names)
    cols: list[list[str]] = [[] for _ in names]
    ragged = 0
    examples: list[int] = []
    try:
        for record in reader:
            if not record:
                continue  # a blank line is not a data row
            if len(record) != len(header):
                ragged += 1
                if len(examples) < 5:
                    examples.append(reader.line_num)
                if len(record) > width:
                    for j in range(width, len(record)):
                        names.append(f"extra_{j - len(header) + 1}")
                        cols.append([""] * len(cols[0]))
                    width = len(record)
            if len(record) < width:
                record = record + [""] * (width - len(record))
            for col, value in zip(cols, record, strict=True):
                col.append(value)
    except csv.Error as err:
        raise InputFileError(
            f"{path.name} is not valid CSV near line {reader.line_num}: {err}. Check its quoting."
        ) from err
    if not cols or not cols[0]:
        raise EmptyFileError(f"{path.name} has a header row but no data rows.")
    repair_columns(cols, report)
    return SourceTable(path=path, format="tsv" if delim == "\t" else "csv",
                       columns=dict(zip(names, cols, strict=True)), encoding=report.encoding,
                       delimiter=delim, ragged_rows=ragged, ragged_examples=examples,
                       decode_report=report)


def _arrow_to_columns(table: Any) -> dict[str, list[str]]:
    import pyarrow as pa
    import pyarrow.compute as pc

    out: dict[str, list[str]] = {}
    for name, column in zip(_unique_names(table.column_names), table.columns, strict=True):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            values = column.to_pylist()
        else:
            try:
                values = pc.cast(column, pa.string()).to_pylist()
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
                values = [None if v is None else json.dumps(v, default=str, ensure_ascii=False)
                          for v in column.to_pylist()]
        out[name] = ["" if v is None else v for v in values]
    return out


def _read_jsonl(path: Path, raw: bytes, text: str, report: DecodeReport) -> SourceTable:
    import pyarrow as pa
    import pyarrow.json as pj

    if not (report.encoding == "utf-8" and not report.replaced_bytes):
        raw = repair_lines(text, report).encode("utf-8")  # pyarrow reads UTF-8 only
    try:
        table = pj.read_json(io.BytesIO(raw))
    except pa.ArrowException as err:
        raise InputFileError(f"{path.name} is not valid JSON Lines (one JSON object per line): "
                             f"{_first_bad_line(raw) or err}.") from err
    if table.num_rows == 0:
        raise EmptyFileError(f"{path.name} has no records.")
    return SourceTable(path=path, format="jsonl", columns=_arrow_to_columns(table),
                       encoding=report.encoding, decode_report=report)


def _first_bad_line(raw: bytes) -> str | None:
    """Where a JSON Lines file first breaks, in words: pyarrow names only a block-relative row."""
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            return f"line {number:,} is not JSON ({err.msg}): {line[:60]!r}"
        if not isinstance(value, dict):
            return f"line {number:,} is a JSON {type(value).__name__}, not an object"
    return None


def _read_parquet(path: Path) -> SourceTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise InputFileError(f"{path.name} is not a readable Parquet file: {err}.") from err
    if table.num_rows == 0:
        raise EmptyFileError(f"{path.name} has no rows.")
    return SourceTable(path=path, format="parquet", columns=_arrow_to_columns(table))


@dataclass
class RawFile:
    """An input file as `read_table` found it: its path, and (unless it is Parquet, which is read
    from the path) its bytes and their decoded text."""

    path: Path
    raw: bytes = b""
    text: str = ""
    report: DecodeReport | None = None


class Reader(Protocol):
    """Reads one input format into a `SourceTable`."""

    def read(self, file: RawFile) -> SourceTable: ...


class DelimitedReader:
    """CSV (delimiter sniffed among , tab ; |) or TSV (tab)."""

    def __init__(self, tab: bool = False) -> None:
        self.tab = tab

    def read(self, file: RawFile) -> SourceTable:
        if file.report is None:
            raise ValueError("a delimited file is read from its decoded text")
        return _read_delimited(file.path, file.text, file.report, tab=self.tab)


class JSONLinesReader:
    """One JSON object per line."""

    def read(self, file: RawFile) -> SourceTable:
        if file.report is None:
            raise ValueError("a JSON Lines file is read from its decoded text")
        return _read_jsonl(file.path, file.raw, file.text, file.report)


class ParquetReader:
    def read(self, file: RawFile) -> SourceTable:
        return _read_parquet(file.path)


READERS: Registry[Reader] = Registry("input format")
READERS.register("csv", DelimitedReader, suffixes=(".csv", ".txt"), display_name="CSV",
                 description="comma-, semicolon- or pipe-separated text (any other suffix too)")
READERS.register("tsv", lambda: DelimitedReader(tab=True), suffixes=(".tsv",), display_name="TSV",
                 description="tab-separated text")
READERS.register("jsonl", JSONLinesReader, suffixes=(".jsonl", ".ndjson", ".json"),
                 display_name="JSON Lines", description="one JSON object per line")
READERS.register("parquet", ParquetReader, suffixes=(".parquet", ".pq"), display_name="Parquet",
                 description="Apache Parquet")
