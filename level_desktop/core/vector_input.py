"""Read vectors the user already has ("bring your own vectors"), so Level can skip embedding.

Teams that embed past a few hundred thousand rows do it as a batch job and keep the result as
Parquet or JSON Lines: a text column plus a vector column (a list of numbers per row, or a
fixed-size list). This module reads such a file, or a folder of Parquet shards (what
`level embed` writes), column-wise with pyarrow: only the text and vector columns are read, and
the vectors go from Arrow's flat value buffer to one float32 matrix chunk by chunk, never through
Python lists. Rows without a vector, or with NaN, infinite or all-zero vectors, are skipped and
counted like rows with empty text; rows whose vector has another length are an error that names
them, since a mix of dimensions means a mix of models.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from level_desktop.core.errors import (
    EmptyFileError,
    InputFileError,
    NoTextColumnError,
    TooFewRowsError,
    UnknownColumnError,
)
from level_desktop.core.loading import MIN_ROWS
from level_desktop.core.vectors import normalize_rows

# Keys of Parquet key-value (schema or field) metadata that may name the model; Level's own first.
MODEL_METADATA_KEYS = ("level.model", "embedding_model", "model_name", "model")
ROW_INDEX_METADATA_KEY = "level.row_index_column"
MANIFEST_NAME = "manifest.json"
MAX_EXAMPLES = 5
PARQUET_SUFFIXES = (".parquet", ".pq")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
BATCH_ROWS = 16_384  # rows converted at a time: ~32 MB of 512-d vectors, and their temporaries
WHOLE_ROW_GROUP_BYTES = 256 << 20  # a Parquet row group up to this (uncompressed) is read whole


@dataclass
class VectorReport:
    """What was kept and what was skipped, with a few example rows of each kind (0-based)."""

    n_rows: int = 0
    kept: int = 0
    skipped_empty_text: int = 0
    skipped_no_vector: int = 0
    skipped_not_finite: int = 0
    skipped_zero: int = 0
    examples: dict[str, list[int]] = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        return (self.skipped_empty_text + self.skipped_no_vector + self.skipped_not_finite
                + self.skipped_zero)

    def summary(self) -> str:
        """One line for the CLI or the window's status bar."""
        parts = [f"{self.kept:,} of {self.n_rows:,} rows have text and a vector"]
        reasons = [(self.skipped_empty_text, "empty text"), (self.skipped_no_vector, "no vector"),
                   (self.skipped_not_finite, "NaN or infinite values"),
                   (self.skipped_zero, "an all-zero vector")]
        skipped = [f"{n:,} with {what}" for n, what in reasons if n]
        if skipped:
            parts.append("skipped: " + ", ".join(skipped))
        return "; ".join(parts)

    def _count(self, kind: str, rows: np.ndarray) -> None:
        setattr(self, kind, getattr(self, kind) + int(rows.size))
        examples = self.examples.setdefault(kind, [])
        room = MAX_EXAMPLES - len(examples)
        if room > 0:
            examples.extend(int(r) for r in rows[:room])


@dataclass
class VectorInput:
    """Texts with their vectors, ready for the stages after embedding."""

    path: Path
    format: str  # "parquet", "jsonl" or "parquet-folder"
    text_column: str
    vector_column: str
    texts: list[str]
    row_index: np.ndarray  # int64 original positions of the kept rows
    vectors: np.ndarray  # float32 (len(texts), dimension), L2-normalised
    model_name: str | None
    report: VectorReport
    # Every other column of the file (all rows, in file order, as strings: what an export
    # writes back) and the kept rows' positions among the file's rows (what `columns` is
    # indexed by; `row_index` may instead be a `level embed` job's positions in its input).
    columns: dict[str, list[str]] = field(default_factory=dict)
    file_positions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])


def load_vectors(path: str | Path, vector_column: str | None = None,
                 text_column: str | None = None, model_name: str | None = None,
                 min_rows: int = MIN_ROWS) -> VectorInput:
    """Read texts and vectors from a Parquet file, a JSON Lines file or a folder of Parquet shards.

    The vector column is the only list-of-numbers column unless named; the text column is the
    string column with the longest mean length unless named. `model_name` overrides the one
    recorded in the file's metadata (or in the folder's `manifest.json`).
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path} does not exist. Check the path and try again.")
    manifest = _read_manifest(path) if path.is_dir() else None
    readers = list(_readers(path))
    first_schema = readers[0].schema
    vector_column = _choose_vector_column(path, first_schema, vector_column)
    text_column = _choose_text_column(path, readers[0], text_column, vector_column)
    recorded = _recorded_model(first_schema, vector_column) or (manifest or {}).get("model")
    row_index_column = (first_schema.metadata or {}).get(ROW_INDEX_METADATA_KEY.encode())
    row_index_column = row_index_column.decode() if row_index_column else None

    report = VectorReport()
    texts: list[str] = []
    index_parts: list[np.ndarray] = []
    position_parts: list[np.ndarray] = []
    # The file's columns but the vectors, in its order, for exports.
    columns: dict[str, list[str]] = {n: [] for n in first_schema.names if n != vector_column}
    other = [n for n in columns if n != text_column]
    total = sum(reader.num_rows for reader in readers)
    matrix: np.ndarray | None = None  # (total, dimension), filled batch by batch
    filled = 0
    dimension: int | None = None
    offset = 0
    for reader in readers:
        for column in (text_column, vector_column):
            if column not in reader.schema.names:
                raise InputFileError(f"{reader.path.name} in {path.name} has no column "
                                     f"{column!r}, unlike the first file; all shards need the "
                                     f"same columns.")
        use_row_index = bool(row_index_column and row_index_column in reader.schema.names)
        wanted = [text_column, vector_column, *[n for n in other if n in reader.schema.names]]
        # Record batches, never the whole file: the temporaries of the conversion stay one
        # batch's worth, and the vectors land straight in one preallocated matrix.
        for batch in reader.batches(wanted):
            file_rows = np.arange(offset, offset + batch.num_rows, dtype=np.int64)
            if use_row_index:
                positions = np.asarray(batch.column(str(row_index_column)).to_numpy(
                    zero_copy_only=False), dtype=np.int64)
            else:
                positions = file_rows
            offset += batch.num_rows
            texts_all, kept, part_vectors, dimension = _convert(
                reader.path.name, vector_column, batch.column(text_column),
                batch.column(vector_column), positions,
                dimension, report)
            for name in other:
                columns[name].extend(_as_strings(batch.column(name))
                                     if name in batch.schema.names else [""] * batch.num_rows)
            columns[text_column].extend("" if t is None else t for t in texts_all)
            texts.extend(texts_all[i] for i in kept)
            index_parts.append(positions[kept])
            position_parts.append(file_rows[kept])
            if kept.size:
                if matrix is None:
                    matrix = np.empty((total, part_vectors.shape[1]), dtype=np.float32)
                matrix[filled:filled + kept.size] = part_vectors
                filled += kept.size
    if report.n_rows == 0:
        raise EmptyFileError(f"{path.name} has no rows.")
    if report.kept < min_rows:
        raise TooFewRowsError(
            f"Only {report.kept} rows of {path.name} have both text in {text_column!r} and a "
            f"usable vector in {vector_column!r} ({report.summary()}); Level needs at least "
            f"{min_rows} to find clusters.")
    if matrix is None:
        matrix = np.zeros((0, dimension or 0), dtype=np.float32)
    _release_arrow_memory()
    return VectorInput(
        path=path,
        format="parquet-folder" if path.is_dir() else readers[0].format,
        text_column=text_column,
        vector_column=vector_column,
        texts=texts,
        row_index=np.concatenate(index_parts),
        vectors=matrix[:filled],
        model_name=model_name or recorded,
        report=report,
        columns=columns,
        file_positions=np.concatenate(position_parts),
    )


def _release_arrow_memory() -> None:
    """Hand the batches' freed buffers back to the system: Arrow's allocator keeps them for
    reuse otherwise, which after a million rows is gigabytes nothing else will use."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def vector_columns(schema: Any) -> list[str]:
    """The columns whose type is a list (variable or fixed size) of numbers."""
    import pyarrow as pa

    out = []
    for f in schema:
        t = f.type
        if (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)) \
                and (pa.types.is_floating(t.value_type) or pa.types.is_integer(t.value_type)):
            out.append(f.name)
    return out


def has_vector_column(path: str | Path) -> bool:
    """Whether a file (or shard folder) holds a list-of-numbers column; reads only the schema
    for Parquet, so the window can offer "use the vectors in this file" cheaply."""
    path = Path(path)
    try:
        if path.is_file() and path.suffix.lower() in JSONL_SUFFIXES:
            return bool(vector_columns(_jsonl_head_schema(path)))
        reader = next(_readers(path))
    except (InputFileError, OSError):
        return False
    return bool(vector_columns(reader.schema))


def _jsonl_head_schema(path: Path, head_bytes: int = 1 << 20) -> Any:
    """The schema pyarrow infers from the first complete lines of a JSON Lines file."""
    import io

    import pyarrow as pa
    import pyarrow.json as pj

    with open(path, "rb") as handle:
        head = handle.read(head_bytes)
    if len(head) == head_bytes and b"\n" in head:
        head = head[:head.rindex(b"\n") + 1]
    try:
        return pj.read_json(io.BytesIO(head)).schema
    except pa.ArrowInvalid as err:
        raise InputFileError(f"{path.name} is not valid JSON Lines: {err}.") from err


# --- reading -----------------------------------------------------------------------------------

class _ParquetReader:
    """One Parquet file: the schema at once, then only the columns asked for."""

    format = "parquet"

    def __init__(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path = path
        try:
            self._file = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as err:
            raise InputFileError(f"{path.name} is not a readable Parquet file: {err}.") from err
        self.schema = self._file.schema_arrow

    @property
    def num_rows(self) -> int:
        return int(self._file.metadata.num_rows)

    def read(self, columns: list[str]) -> Any:
        return self._file.read(columns=columns)

    def batches(self, columns: list[str]) -> Iterator[Any]:
        """Batches of at most BATCH_ROWS rows. A row group of at most WHOLE_ROW_GROUP_BYTES is
        read whole and then cut: over a million 512-d rows in row groups of 65,536, Arrow's
        batch iterator was two to three times slower than that. A larger group (a file written
        as one) goes through the iterator, so memory stays one batch's worth."""
        meta = self._file.metadata
        for group in range(meta.num_row_groups):
            if meta.row_group(group).total_byte_size <= WHOLE_ROW_GROUP_BYTES:
                table = self._file.read_row_group(group, columns=columns)
                yield from table.to_batches(max_chunksize=BATCH_ROWS)
            else:
                yield from self._file.iter_batches(batch_size=BATCH_ROWS, row_groups=[group],
                                                   columns=columns)


class _JsonLinesReader:
    """One JSON Lines file, parsed by pyarrow (arrays of numbers become list<double>)."""

    format = "jsonl"

    def __init__(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.json as pj

        self.path = path
        try:
            self._table = pj.read_json(path)
        except pa.ArrowInvalid as err:
            raise InputFileError(
                f"{path.name} is not valid JSON Lines (one JSON object per line), or a field "
                f"changes type between lines: {err}.") from err
        self.schema = self._table.schema

    @property
    def num_rows(self) -> int:
        return int(self._table.num_rows)

    def read(self, columns: list[str]) -> Any:
        return self._table.select(columns)

    def batches(self, columns: list[str]) -> Iterator[Any]:
        return iter(self._table.select(columns).to_batches(max_chunksize=BATCH_ROWS))


def _readers(path: Path) -> Iterator[_ParquetReader | _JsonLinesReader]:
    """One reader per file; a folder gives its Parquet shards in name order (hidden and
    temporary files left out)."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir()
                       if p.suffix.lower() in PARQUET_SUFFIXES and p.is_file()
                       and not p.name.startswith((".", "_")))
        if not files:
            raise InputFileError(f"The folder {path} holds no Parquet files (*.parquet).")
        for f in files:
            yield _ParquetReader(f)
        return
    suffix = path.suffix.lower()
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if suffix in PARQUET_SUFFIXES or magic == b"PAR1":
        yield _ParquetReader(path)
    elif suffix in JSONL_SUFFIXES:
        if not magic.strip():
            raise EmptyFileError(f"{path.name} is empty.")
        yield _JsonLinesReader(path)
    else:
        raise InputFileError(
            f"{path.name} is not a Parquet or JSON Lines file; vectors can be read from .parquet, "
            f".jsonl or a folder of Parquet shards.")


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    """A `level embed` folder's manifest; refuse a job that has not finished yet."""
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputFileError(f"{manifest_path} cannot be read: {err}.") from err
    shards = manifest.get("shards", [])
    missing = [s["file"] for s in shards if not (folder / s["file"]).exists()]
    if not manifest.get("complete", False) or missing:
        done = len(shards) - len(missing)
        raise InputFileError(
            f"The embedding job that writes {folder} has not finished: {done} of {len(shards)} "
            f"shards are written. Run `level embed` again with the same input and folder to "
            f"resume it.")
    return manifest


def _choose_vector_column(path: Path, schema: Any, named: str | None) -> str:
    candidates = vector_columns(schema)
    if named is not None:
        if named not in schema.names:
            raise UnknownColumnError(
                f"{path.name} has no column named {named!r}. Its columns are: "
                f"{', '.join(schema.names)}.")
        if named not in candidates:
            raise InputFileError(
                f"Column {named!r} of {path.name} is of type {schema.field(named).type}, not a "
                f"list of numbers, so it cannot be read as vectors.")
        return named
    if not candidates:
        raise InputFileError(
            f"{path.name} has no vector column (a column holding a list of numbers per row). "
            f"Its columns are: {', '.join(schema.names)}. Embed it instead, or add the vectors.")
    if len(candidates) > 1:
        raise InputFileError(
            f"{path.name} has several vector columns ({', '.join(candidates)}); name the one to "
            f"use (--vectors-column).")
    return candidates[0]


def _choose_text_column(path: Path, reader: _ParquetReader | _JsonLinesReader, named: str | None,
                        vector_column: str) -> str:
    import pyarrow as pa
    import pyarrow.compute as pc

    schema = reader.schema
    if named is not None:
        if named not in schema.names:
            raise UnknownColumnError(
                f"{path.name} has no column named {named!r}. Its columns are: "
                f"{', '.join(schema.names)}.")
        return named
    strings = [f.name for f in schema if f.name != vector_column
               and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))]
    if not strings:
        raise NoTextColumnError(
            f"No column of {path.name} holds text. Its columns are: {', '.join(schema.names)}.")
    if len(strings) == 1:
        return strings[0]
    # The longest mean length in the first file, as the loader picks a CSV's text column.
    sample = reader.read(strings)
    lengths = {name: pc.mean(pc.fill_null(pc.utf8_length(sample.column(name)), 0)).as_py() or 0
               for name in strings}
    return max(strings, key=lambda name: lengths[name])


def _recorded_model(schema: Any, vector_column: str) -> str | None:
    """The model name from the vector field's metadata, else the schema's key-value metadata."""
    for metadata in (schema.field(vector_column).metadata, schema.metadata):
        for key in MODEL_METADATA_KEYS:
            value = (metadata or {}).get(key.encode())
            if value:
                return value.decode("utf-8", errors="replace")
    return None


def _as_strings(column: Any) -> list[str]:
    """A column's cells as the strings an export writes ("" for null), like a CSV's cells."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        values = pc.cast(column, pa.string()).to_pylist()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = [None if v is None else json.dumps(v, default=str) for v in column.to_pylist()]
    return ["" if v is None else v for v in values]


def _convert(name: str, vector_name: str, text_column: Any, vector_column: Any,
             positions: np.ndarray, dimension: int | None, report: VectorReport
             ) -> tuple[list[str | None], np.ndarray, np.ndarray, int | None]:
    """Keep the rows with text and a usable vector; one float32 matrix via flatten + reshape.

    Returns every row's text (None where missing), the kept rows (indices into the batch),
    their unit vectors, and the dimension."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(text_column)
    report.n_rows += n
    texts_all = text_column.to_pylist()
    if not pa.types.is_string(text_column.type) and not pa.types.is_large_string(text_column.type):
        texts_all = [None if t is None else str(t) for t in texts_all]
    has_text = np.fromiter((bool(t and t.strip()) for t in texts_all), dtype=bool, count=n)

    if pa.types.is_fixed_size_list(vector_column.type):
        lengths = np.full(n, vector_column.type.list_size, dtype=np.int64)
    else:
        lengths = np.asarray(pc.fill_null(pc.list_value_length(vector_column), 0).to_numpy(),
                             dtype=np.int64)
    valid = np.asarray(vector_column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    has_vector = valid & (lengths > 0)
    present = lengths[has_vector]
    if present.size:
        values, counts = np.unique(present, return_counts=True)
        expected = dimension if dimension is not None else int(values[np.argmax(counts)])
        wrong = np.flatnonzero(has_vector & (lengths != expected))
        if wrong.size:
            rows = ", ".join(str(int(positions[i])) for i in wrong[:MAX_EXAMPLES])
            more = f" and {wrong.size - MAX_EXAMPLES:,} more" if wrong.size > MAX_EXAMPLES else ""
            raise InputFileError(
                f"The vectors in column {vector_name!r} of {name} do not all have the same "
                f"length: most have {expected} numbers, but rows {rows}{more} (counting from 0) "
                f"have {int(lengths[wrong[0]])}. Vectors of different lengths come from "
                f"different models; re-embed those rows or drop them.")
        dimension = expected

    report._count("skipped_empty_text", positions[~has_text])
    report._count("skipped_no_vector", positions[has_text & ~has_vector])
    candidates = np.flatnonzero(has_text & has_vector)
    if candidates.size == 0 or dimension is None:
        empty = np.zeros((0, dimension or 0), dtype=np.float32)
        return texts_all, np.zeros(0, dtype=np.int64), empty, dimension

    taken = vector_column.take(pa.array(candidates)) if candidates.size < n else vector_column
    # flatten() honours the array's offset (a slice of a larger batch); nulls inside a list
    # become NaN in to_numpy and so count as "not finite".
    flat = taken.flatten().cast(pa.float32(), safe=False)
    matrix = np.asarray(flat.to_numpy(zero_copy_only=False), dtype=np.float32)
    matrix = matrix.reshape(candidates.size, dimension)
    finite = np.isfinite(matrix).all(axis=1)
    nonzero = np.zeros(candidates.size, dtype=bool)
    nonzero[finite] = np.any(matrix[finite] != 0, axis=1)
    report._count("skipped_not_finite", positions[candidates[~finite]])
    report._count("skipped_zero", positions[candidates[finite & ~nonzero]])
    keep = finite & nonzero
    kept_rows = candidates[keep]
    report.kept += int(kept_rows.size)
    matrix = normalize_rows(matrix if keep.all() else matrix[keep])
    return texts_all, kept_rows, matrix, dimension
