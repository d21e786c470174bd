"""The project file (.level, a DuckDB database) and the embedding cache.

A project holds the input table, the analysed rows, their embeddings (with the model's name),
clusters, topics (schema 2: a `topics` table and `clusters.topic_id`), labels, 2-D positions,
weights at both levels, settings, a comparison set (schema 3: `comparison_rows` and
`comparison_leaks`, empty when there is none) and a schema version. A full save and a
migration write a new file beside the old one (fsynced) and rename it into place; weight and label
edits are one DuckDB transaction, which its write-ahead log makes all-or-nothing. Either way a
process killed at any moment leaves the previous project, or the complete new one
(`benchmarks/kill_test.py` kills each kind of write at random moments to show it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np

from level_desktop import __version__
from level_desktop.core.analysis import Analysis, ClusterInfo, SourceInfo, TopicInfo
from level_desktop.core.atomic import atomic_path, remove_stale
from level_desktop.core.comparison import ComparisonSet, Leaks, Placement
from level_desktop.core.decoding import DecodeReport
from level_desktop.core.errors import ProjectFileError
from level_desktop.core.paths import cache_dir
from level_desktop.core.settings import Settings
from level_desktop.core.topics import build_topics, name_topics

SCHEMA_VERSION = 3
SUFFIX = ".level"

# Ordered migrations: MIGRATIONS[v] turns a version-v file into a version-(v+1) file and returns
# what the user should be told about it (or None).
MIGRATIONS: dict[int, Callable[[Any], str | None]] = {}


def file_hash(path: str | Path) -> str:
    """SHA-256 of a file's bytes; of a folder (Parquet shards), of its files' names and bytes."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode("utf-8"))
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def text_hashes(texts: list[str]) -> list[str]:
    return [hashlib.blake2b(t.encode("utf-8"), digest_size=16).hexdigest() for t in texts]


def vectors_to_arrow(vectors: np.ndarray) -> Any:
    import pyarrow as pa

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), vectors.shape[1])


def _list_array(vectors: np.ndarray) -> Any:
    import pyarrow as pa

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = vectors.shape
    offsets = pa.array(np.arange(0, n * d + 1, d, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(vectors.ravel()))


def arrow_to_vectors(column: Any, dim: int) -> np.ndarray:
    array = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    flat = array.flatten().to_numpy(zero_copy_only=False)
    return np.asarray(flat, dtype=np.float32).reshape(-1, dim)


@contextlib.contextmanager
def _connect(path: Path, read_only: bool = False) -> Iterator[Any]:
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as err:
        raise ProjectFileError(
            f"{path.name} cannot be opened as a Level project: {_first_line(err)}") from err
    try:
        # No progress bar: DuckDB draws one on stdout for queries over 2 s (a million rows).
        con.execute("SET enable_progress_bar = false")
        yield con
    finally:
        con.close()


def arrow_table(con: Any, query: str, params: list[Any] | None = None) -> Any:
    """A query's result as a pyarrow Table (DuckDB 2 renamed fetch_arrow_table)."""
    relation = con.sql(query, params=params)
    fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
    return fetch()


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _meta(con: Any) -> dict[str, str]:
    return dict(con.execute("SELECT key, value FROM meta").fetchall())


def save_project(analysis: Analysis, path: str | Path) -> Path:
    """Write the whole analysis to `path` atomically (temporary file, then rename)."""
    import duckdb
    import pyarrow as pa

    path = Path(path)
    if not path.parent.exists():
        raise ProjectFileError(f"The folder {path.parent} does not exist.")
    # A project opened and not yet asked for its vectors: its file's blocks are copied into the
    # new file as they are, never read into memory (a million rows' Save As: 2 GB).
    unread = analysis.vectors_loader if isinstance(analysis.vectors_loader, StoredVectors) \
        and not analysis.vectors_in_memory and analysis.vectors_loader.in_blocks else None
    d = unread.d if unread is not None else analysis.embeddings.shape[1]
    names = list(analysis.columns)
    meta = {
        "schema_version": str(SCHEMA_VERSION),
        "level_version": __version__,
        "saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "input_path": analysis.source.path,
        "input_hash": analysis.source.content_hash,
        "input_format": analysis.source.format,
        "text_column": analysis.source.text_column,
        "input_rows": str(analysis.source.n_rows),
        "skipped_empty": str(analysis.source.skipped_empty),
        "ragged_rows": str(analysis.source.ragged_rows),
        "decode_report": json.dumps(analysis.source.decode_report.to_dict()
                                    if analysis.source.decode_report else None),
        "image_problems": json.dumps(analysis.source.image_problems),
        "model": analysis.model,
        "model_key": analysis.model_key,
        "device": analysis.device,
        "dimension": str(d),
        "settings": analysis.settings.to_json(),
        "noise_weight": repr(float(analysis.noise_weight)),
        "timings": json.dumps(analysis.timings),
        "fingerprints": json.dumps(analysis.fingerprints),
        "source_columns": json.dumps(names),
        "collapse_duplicates": "1" if analysis.collapse_duplicates else "0",
    }
    if analysis.duplicate_groups is not None:
        meta["duplicates_threshold"] = repr(float(analysis.duplicate_threshold or float("nan")))
    try:
        with atomic_path(path) as tmp:
            tmp.unlink()  # DuckDB creates its own file
            with _connect(tmp) as con:
                con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
                con.executemany("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
                source = pa.table({f"c{i}": pa.array(analysis.columns[name], pa.string())
                                   for i, name in enumerate(names)})
                con.register("source_view", source)
                con.execute("CREATE TABLE source AS SELECT * FROM source_view")
                con.unregister("source_view")
                n = analysis.n_rows
                rows = pa.table({
                    "pos": pa.array(np.arange(n, dtype=np.int32)),
                    "row": pa.array(analysis.row_index.astype(np.int64)),
                    "text": pa.array(analysis.texts, pa.string()),
                    "cluster_id": pa.array(analysis.labels.astype(np.int32)),
                    "x": pa.array(analysis.positions[:, 0].astype(np.float32)),
                    "y": pa.array(analysis.positions[:, 1].astype(np.float32)),
                })
                con.register("rows_view", rows)
                con.execute("CREATE TABLE rows AS SELECT pos, row, text, cluster_id, x, y "
                            "FROM rows_view")
                con.unregister("rows_view")
                del rows
                if unread is not None:
                    unread.copy_blocks_into(con)
                else:
                    _write_compact_vectors(con, analysis.embeddings)
                _write_clusters(con, analysis, d)
                _write_topics(con, analysis.topics, analysis.topic_weights)
                _create_comparison_tables(con, d)
                _write_comparison(con, analysis.comparison, analysis.zero_leaks)
                if analysis.duplicate_groups is not None:
                    _write_duplicate_groups(con, analysis.duplicate_groups)
                # Into the file itself before it is renamed into place: a closing connection
                # leaves in the write-ahead log what is under its checkpoint threshold.
                con.execute("CHECKPOINT")
    except ProjectFileError:
        raise
    except (OSError, duckdb.Error) as err:
        raise ProjectFileError(f"{path.name} cannot be written: {_first_line(err)}") from err
    if unread is not None:
        unread.moved_to(path)  # the same vectors, now (also) in the new file
    return path


# ----- vectors in blocks (issue 19) -----------------------------------------------------------
# The rows' vectors are kept in blocks of rows (one BLOB each, little-endian, row-major) in a
# `vector_blocks` table, and meta `vector_storage` names the encoding; files without that key keep
# them as float32 in `rows.vector` and are read as before. Writing is float32 (VECTOR_STORAGE):
# float16 would halve the file, but clusters recomputed from float16 vectors agreed with those
# from float32 at ARI 0.982 / NMI 0.985 on a million rows, under the 0.99 the issue set
# (benchmarks/results/million_rows.json, "agreement"); the reader also takes float16 blocks
# (renormalising each row), should a later Level adopt them.

VECTOR_STORAGE_KEY = "vector_storage"
BLOCK_DTYPES = {"float32-blocks": "<f4", "float16-blocks": "<f2"}
VECTOR_STORAGE = "float32-blocks"
VECTOR_BLOCK_ROWS = 1  # rows per BLOB (2 KB at 512 dimensions): see _write_compact_vectors
BATCH_BLOCKS = 8_192  # blocks handed to DuckDB (or read back) in one Arrow batch
ROW_GROUP_ROWS = 122_880  # DuckDB's rows per row group: what it holds before writing one out
MIN_SAVE_MEMORY = 512 << 20  # DuckDB's memory cap while it writes the vectors


def _write_compact_vectors(con: Any, vectors: np.ndarray) -> None:
    """The vectors as BLOBs of VECTOR_BLOCK_ROWS rows in VECTOR_STORAGE's encoding, streamed to
    DuckDB in one statement from batches converted one at a time.

    One row per block, so that a million rows fill several of DuckDB's row groups: it writes each
    full row group to the file as the statement runs (under a memory cap of two row groups), and
    memory stays flat whatever the rows. Blocks of 16,384 rows (one row group for them all) either
    stayed in memory until the commit, or, checkpointed every 256 MB, had every checkpoint rewrite
    the whole table: a million rows' save took 75 s at 9.5 GB peak and left a 4 GB file
    (benchmarks/results/million_rows.json). DuckDB's string compression is off for the table:
    vectors do not compress, and trying cost most of the time."""
    import pyarrow as pa

    dtype = np.dtype(BLOCK_DTYPES[VECTOR_STORAGE])
    n, d = vectors.shape
    block_bytes = VECTOR_BLOCK_ROWS * d * dtype.itemsize

    def batches() -> Iterator[Any]:
        for first_block in range(0, max(1, -(-n // VECTOR_BLOCK_ROWS)), BATCH_BLOCKS):
            lo = first_block * VECTOR_BLOCK_ROWS
            hi = min(n, lo + BATCH_BLOCKS * VECTOR_BLOCK_ROWS)
            firsts = np.arange(lo, hi, VECTOR_BLOCK_ROWS, dtype=np.int64)
            counts = np.minimum(firsts + VECTOR_BLOCK_ROWS, hi) - firsts
            raw = np.ascontiguousarray(vectors[lo:hi], dtype=dtype).view(np.uint8).reshape(-1)
            offsets = np.concatenate([[0], np.cumsum(counts * d * dtype.itemsize)])
            data = pa.Array.from_buffers(pa.large_binary(), len(firsts), [
                None, pa.py_buffer(offsets.astype(np.int64)), pa.py_buffer(raw)])
            yield pa.record_batch([
                pa.array(np.arange(first_block, first_block + len(firsts), dtype=np.int32)),
                pa.array(firsts.astype(np.int32)), pa.array(counts.astype(np.int32)), data],
                names=["block", "first_pos", "n", "data"])

    schema = pa.schema([("block", pa.int32()), ("first_pos", pa.int32()), ("n", pa.int32()),
                        ("data", pa.large_binary())])
    with _block_writing(con, block_bytes):
        con.register("blocks_view", pa.RecordBatchReader.from_batches(schema, batches()))
        con.execute("CREATE TABLE vector_blocks AS SELECT block, first_pos, n, "
                    "data::BLOB AS data FROM blocks_view WHERE n > 0")
        con.unregister("blocks_view")
    con.execute("INSERT INTO meta VALUES (?, ?)", [VECTOR_STORAGE_KEY, VECTOR_STORAGE])
    con.execute("INSERT INTO meta VALUES (?, ?)", [VECTORS_ID_KEY, uuid.uuid4().hex])


@contextlib.contextmanager
def _block_writing(con: Any, block_bytes: int) -> Iterator[None]:
    """DuckDB set to write the vector_blocks table row group by row group (see
    _write_compact_vectors): earlier tables checkpointed first, memory capped at two row groups
    and string compression off while it runs, then the last row group checkpointed."""
    con.execute("CHECKPOINT")  # the tables written so far (the texts) may now leave memory
    cap = max(MIN_SAVE_MEMORY, 2 * ROW_GROUP_ROWS * block_bytes)
    con.execute(f"SET memory_limit = '{cap >> 20}MB'")
    with contextlib.suppress(Exception):  # an older DuckDB without the setting compresses
        con.execute("SET disabled_compression_methods = 'fsst,dict_fsst,dictionary'")
    yield
    con.execute("CHECKPOINT")  # the last row group, under the same settings
    with contextlib.suppress(Exception):
        con.execute("RESET disabled_compression_methods")
    con.execute("RESET memory_limit")


def _block_batches(con: Any, columns: str, blocks: int = BATCH_BLOCKS) -> Iterator[Any]:
    """The vector_blocks table's `columns` as Arrow batches, in the order the blocks were written
    (DuckDB keeps insertion order; the readers check it, so a reordering is an error, never
    wrong vectors). No ORDER BY: sorting would hold every block at once."""
    relation = con.sql(f"SELECT {columns} FROM vector_blocks")
    reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch
    return iter(reader(blocks))


def _read_vectors(con: Any, meta: dict[str, str], n: int, d: int) -> np.ndarray:
    """The rows' vectors as float32 (n, d): from blocks (float16 ones renormalised row by row),
    or from the float32 `rows.vector` column of a file written before blocks."""
    import pyarrow as pa

    from level_desktop.core.vectors import normalize_rows

    storage = meta.get(VECTOR_STORAGE_KEY)
    if storage is None:
        rows = arrow_table(con, "SELECT vector FROM rows ORDER BY pos")
        return arrow_to_vectors(rows.column("vector"), d)
    if storage not in BLOCK_DTYPES:
        raise ProjectFileError(f"This project keeps its vectors as {storage!r}, which this Level "
                               f"cannot read. Update Level to open it.")
    dtype = np.dtype(BLOCK_DTYPES[storage])
    out = np.empty((n, d), dtype=np.float32)
    filled = 0
    largest = con.execute("SELECT max(n) FROM vector_blocks").fetchall()[0][0] or 1
    per_batch = max(1, BATCH_BLOCKS // int(largest))  # files with large blocks: fewer a batch
    for batch in _block_batches(con, "first_pos, n, data", per_batch):  # a batch at a time
        firsts = batch.column(0).to_numpy()
        counts = batch.column(1).to_numpy().astype(np.int64)
        data = batch.column(2)
        width = 8 if pa.types.is_large_binary(data.type) else 4
        offsets = np.frombuffer(data.buffers()[1], dtype=f"<i{width}")[
            data.offset:data.offset + len(data) + 1]
        expected = filled + np.concatenate([[0], np.cumsum(counts)])
        rows = int(counts.sum())
        if (not np.array_equal(firsts, expected[:-1]) or filled + rows > n
                or not np.array_equal(np.diff(offsets), counts * d * dtype.itemsize)):
            raise ProjectFileError("The project's vectors are incomplete (a block is missing or "
                                   "cut short).")
        raw = np.frombuffer(data.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
        block = raw.view(dtype).reshape(rows, d)
        out[filled:filled + rows] = block if dtype == np.float32 else normalize_rows(block)
        filled += rows
    if filled != n:
        raise ProjectFileError(f"The project's vectors are incomplete ({filled:,} of {n:,} rows).")
    return out


VECTORS_ID_KEY = "vectors_id"  # meta: a fresh id per full save, so a reader knows the same vectors


class StoredVectors:
    """A project file's vectors, read from it when first asked for and then kept (issue 19).

    Opening reads everything else (a million rows' clusters, topics, positions and weights in a
    few seconds) and checks the blocks' row counts, not their bytes. The vectors are read by the
    first operation that needs them (through `Analysis.embeddings`), from the same file: if it
    was replaced since (a full save writes a new file and a new `vectors_id`), reading refuses
    rather than give another project's vectors. Thread-safe: a worker and the window may ask at
    once; the file is read once."""

    def __init__(self, path: Path, identity: tuple[str, ...], n: int, d: int,
                 in_blocks: bool = False) -> None:
        self.path, self.identity, self.n, self.d = path, identity, n, d
        self.in_blocks = in_blocks  # kept as vector_blocks (False: a file from before them)
        self._vectors: np.ndarray | None = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, con: Any, path: Path, meta: dict[str, str], n: int, d: int) -> StoredVectors:
        """The vectors of the open project `con` (read from `path`), their blocks checked."""
        _check_vector_blocks(con, meta, n)
        return cls(path, _vectors_identity(meta, n, d), n, d,
                   in_blocks=meta.get(VECTOR_STORAGE_KEY) in BLOCK_DTYPES)

    def copy_blocks_into(self, con: Any) -> None:
        """Copy the file's vector blocks, as they are, into the project being written on `con`
        (a Save As of a project whose vectors were never read), with their encoding and id."""
        import duckdb

        with self._lock:
            self._check_file()
            if Path(f"{self.path}.wal").exists():
                _apply_pending_log(self.path)
            quoted = str(self.path).replace("'", "''")
            try:
                con.execute(f"ATTACH '{quoted}' AS vectors_source (READ_ONLY)")
            except duckdb.Error as err:
                raise ProjectFileError(f"The vectors of {self.path.name} cannot be read: "
                                       f"{_first_line(err)}") from err
            try:
                meta = dict(con.execute("SELECT key, value FROM vectors_source.meta").fetchall())
                self._check_identity(meta)
                # The memory cap from the source's own blocks (a file of the first layout holds
                # 16,384 rows a block), as its writer sized it.
                largest = con.execute("SELECT max(n) FROM vectors_source.vector_blocks"
                                      ).fetchall()[0][0] or 1
                itemsize = np.dtype(BLOCK_DTYPES[meta[VECTOR_STORAGE_KEY]]).itemsize
                with _block_writing(con, int(largest) * self.d * itemsize):
                    con.execute("CREATE TABLE vector_blocks AS SELECT block, first_pos, n, data "
                                "FROM vectors_source.vector_blocks")
            finally:
                con.execute("DETACH vectors_source")
            con.executemany("INSERT INTO meta VALUES (?, ?)", [
                [VECTOR_STORAGE_KEY, meta[VECTOR_STORAGE_KEY]],
                [VECTORS_ID_KEY, self.identity[0]]])  # the same vectors: the same id

    def moved_to(self, path: Path) -> None:
        """Read the vectors, when asked for, from `path` (a file just saved with a copy of
        them): the file they came from may now be renamed, deleted or replaced."""
        with self._lock:
            self.path = path

    @property
    def loaded(self) -> bool:
        return self._vectors is not None

    def __getstate__(self) -> dict[str, Any]:  # an analysis sent to another process
        return {**self.__dict__, "_lock": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _lock=threading.Lock())

    def __call__(self) -> np.ndarray:
        with self._lock:
            if self._vectors is None:
                self._vectors = self._read()
            return self._vectors

    def _check_file(self) -> None:
        if not self.path.exists():
            raise ProjectFileError(f"{self.path} no longer exists: its vectors cannot be read. "
                                   f"Open the project again.")

    def _check_identity(self, meta: dict[str, str]) -> None:
        if _vectors_identity(meta, self.n, self.d) != self.identity:
            raise ProjectFileError(
                f"{self.path.name} was replaced by another project since it was opened, "
                f"so its vectors cannot be read. Open it again.")

    def _read(self) -> np.ndarray:
        import duckdb

        self._check_file()
        try:
            if Path(f"{self.path}.wal").exists():
                _apply_pending_log(self.path)
            with _connect(self.path, read_only=True) as con:
                meta = _meta(con)
                self._check_identity(meta)
                return _read_vectors(con, meta, self.n, self.d)
        except duckdb.Error as err:
            raise ProjectFileError(f"The vectors of {self.path.name} cannot be read: "
                                   f"{_first_line(err)}") from err


def _vectors_identity(meta: dict[str, str], n: int, d: int) -> tuple[str, ...]:
    """What says a file still holds the vectors it was opened with (files before the id: the
    time of their save)."""
    return (meta.get(VECTORS_ID_KEY) or meta.get("saved_at", ""), str(n), str(d))


def _check_vector_blocks(con: Any, meta: dict[str, str], n: int) -> None:
    """Blocks that cover rows 0..n−1 in order (their counts, without reading their bytes)."""
    if meta.get(VECTOR_STORAGE_KEY) not in BLOCK_DTYPES:
        return  # older vectors in `rows`; an unknown encoding is refused when they are read
    firsts, counts = [], []
    for batch in _block_batches(con, "first_pos, n"):
        firsts.append(batch.column(0).to_numpy().astype(np.int64))
        counts.append(batch.column(1).to_numpy().astype(np.int64))
    first = np.concatenate(firsts) if firsts else np.zeros(0, np.int64)
    count = np.concatenate(counts) if counts else np.zeros(0, np.int64)
    in_order = np.flatnonzero(first != np.cumsum(count) - count)  # the blocks before a gap
    filled = int(count[:in_order[0]].sum() if in_order.size else count.sum())
    if filled != n:
        raise ProjectFileError(f"The project's vectors are incomplete ({filled:,} of {n:,} rows "
                               f"in order).")


def _write_clusters(con: Any, analysis: Analysis, d: int) -> None:
    import pyarrow as pa

    cl = analysis.clusters
    table = pa.table({
        "cluster_id": pa.array([c.id for c in cl], pa.int32()),
        "size": pa.array([c.size for c in cl], pa.int64()),
        "spread": pa.array([c.spread for c in cl], pa.float64()),
        "label": pa.array([c.label for c in cl], pa.string()),
        "description": pa.array([c.description for c in cl], pa.string()),
        "labeler": pa.array([c.labeler for c in cl], pa.string()),
        "fallback_reason": pa.array([c.fallback_reason for c in cl], pa.string()),
        "user_named": pa.array([c.user_named for c in cl], pa.bool_()),
        "weight": pa.array([analysis.weights.get(c.id, 1.0) for c in cl], pa.float64()),
        "topic_id": pa.array([int(analysis.cluster_topic[c.id]) if analysis.topics else c.id
                              for c in cl], pa.int32()),
        "representatives": pa.array([list(map(int, c.representatives)) for c in cl],
                                    pa.list_(pa.int32())),
        "centroid": vectors_to_arrow(analysis.centroids.reshape(len(cl), d)),
    })
    con.register("clusters_view", table)
    con.execute(f"CREATE TABLE clusters AS SELECT * EXCLUDE (centroid), "
                f"centroid::FLOAT[{d}] AS centroid FROM clusters_view")
    con.unregister("clusters_view")


def _write_topics(con: Any, topics: list[TopicInfo], weights: dict[int, float]) -> None:
    import pyarrow as pa

    table = pa.table({
        "topic_id": pa.array([t.id for t in topics], pa.int32()),
        "size": pa.array([t.size for t in topics], pa.int64()),
        "label": pa.array([t.label for t in topics], pa.string()),
        "description": pa.array([t.description for t in topics], pa.string()),
        "labeler": pa.array([t.labeler for t in topics], pa.string()),
        "fallback_reason": pa.array([t.fallback_reason for t in topics], pa.string()),
        "weight": pa.array([weights.get(t.id, 1.0) for t in topics], pa.float64()),
        "representatives": pa.array([list(map(int, t.representatives)) for t in topics],
                                    pa.list_(pa.int32())),
        "user_named": pa.array([t.user_named for t in topics], pa.bool_()),
    })
    con.register("topics_view", table)
    con.execute("CREATE TABLE topics AS SELECT * FROM topics_view")
    con.unregister("topics_view")


def _topics_from_clusters(con: Any) -> str:
    """Schema 1 → 2: group the stored clusters into topics (from their stored centroids, sizes
    and spreads, as a run would) and name them offline with keywords from their rows."""
    from level_desktop.core.clustering import ClusterStats

    meta = _meta(con)
    d = int(meta["dimension"])
    settings = Settings.from_json(meta["settings"]).replace(labeler="keywords")
    cl = arrow_table(con, "SELECT cluster_id, size, spread, centroid FROM clusters "
                          "ORDER BY cluster_id")
    rows = arrow_table(con, "SELECT text, cluster_id, vector FROM rows ORDER BY pos")
    k = cl.num_rows
    labels = rows.column("cluster_id").to_numpy().astype(np.int32)
    stats = ClusterStats(
        labels=labels, ids=np.arange(k), sizes=cl.column("size").to_numpy().astype(np.int64),
        centroids=arrow_to_vectors(cl.column("centroid"), d) if k else np.zeros((0, d)),
        spreads=cl.column("spread").to_numpy().astype(np.float64))
    grouped = build_topics(stats)
    topics = name_topics(grouped, rows.column("text").to_pylist(),
                         arrow_to_vectors(rows.column("vector"), d), settings)
    con.execute("ALTER TABLE clusters ADD COLUMN topic_id INTEGER")
    con.executemany("UPDATE clusters SET topic_id = ? WHERE cluster_id = ?",
                    [(int(grouped.of_cluster[c]), c) for c in range(k)])
    _write_topics(con, topics, {})
    plural = "topic" if len(topics) == 1 else "topics"
    return (f"This project was saved by an older Level: its {k} clusters are now grouped into "
            f"{len(topics)} {plural}, named offline from their rows (keywords).")


MIGRATIONS[1] = _topics_from_clusters


def _comparison_tables(con: Any) -> str | None:
    """Schema 2 → 3: the (empty) tables a comparison set is kept in; nothing to tell the user."""
    _create_comparison_tables(con, int(_meta(con)["dimension"]))
    return None


MIGRATIONS[2] = _comparison_tables


def _migrate(con: Any, path: Path) -> list[str]:
    """Run the migrations this file needs; what to tell the user about them."""
    notices: list[str] = []
    meta = _meta(con)
    version = int(meta.get("schema_version", "0"))
    if version > SCHEMA_VERSION:
        raise ProjectFileError(
            f"{path.name} was saved by a newer Level (file format {version}; this Level reads up "
            f"to {SCHEMA_VERSION}). Update Level to open it.")
    while version < SCHEMA_VERSION:
        if version not in MIGRATIONS:
            raise ProjectFileError(f"{path.name} has an unknown file format ({version}).")
        notice = MIGRATIONS[version](con)
        if notice:
            notices.append(notice)
        version += 1
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(version)])
    return notices


def load_project(path: str | Path) -> Analysis:
    """Read a project file written by this or an older Level (upgrading an older one in place,
    atomically)."""
    import duckdb

    path = Path(path)
    if not path.exists():
        raise ProjectFileError(f"{path} does not exist.")
    remove_stale(path)
    try:
        if Path(f"{path}.wal").exists():
            _apply_pending_log(path)
        with _connect(path, read_only=True) as con:
            tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
            if "meta" not in tables:
                raise ProjectFileError(f"{path.name} is a DuckDB file but not a Level project.")
            version = int(_meta(con).get("schema_version", "0"))
        notices = migrate_file(path) if version < SCHEMA_VERSION else []
        with _connect(path, read_only=True) as con:
            _migrate(con, path)  # refuses files from a newer Level
            analysis = _read(con, path)
        analysis.notices = notices
        return analysis
    except ProjectFileError:
        raise
    except duckdb.Error as err:
        raise ProjectFileError(f"{path.name} cannot be read: {_first_line(err)}") from err


def _apply_pending_log(path: Path) -> None:
    """Fold a write-ahead log left by an interrupted edit into the file (DuckDB replays only
    committed transactions), so copies and read-only opens see the same project."""
    with _connect(path) as con:
        con.execute("CHECKPOINT")


def migrate_file(path: str | Path) -> list[str]:
    """Upgrade an older project to this schema version on a copy that replaces the file only
    when complete; if anything fails the file is left as it was. Returns what to tell the user
    (e.g. that topics were computed)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        shutil.copyfile(path, tmp)
        with _connect(tmp) as con:
            con.execute("BEGIN TRANSACTION")
            notices = _migrate(con, path)
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
    return notices


def _read(con: Any, path: Path | None = None) -> Analysis:
    """The project in `con`; with `path`, its vectors are left in the file, read when first
    asked for (StoredVectors)."""
    meta = _meta(con)
    d = int(meta["dimension"])
    names = json.loads(meta["source_columns"])
    source = arrow_table(con, "SELECT * FROM source")
    columns = {name: source.column(f"c{i}").to_pylist() for i, name in enumerate(names)}
    rows = arrow_table(con, "SELECT row, text, cluster_id, x, y FROM rows ORDER BY pos")
    cl = arrow_table(con, "SELECT * FROM clusters ORDER BY cluster_id")
    clusters = [
        ClusterInfo(id=r["cluster_id"], size=r["size"], spread=r["spread"], label=r["label"],
                    description=r["description"], labeler=r["labeler"],
                    representatives=list(r["representatives"]),
                    fallback_reason=r["fallback_reason"],
                    user_named=bool(r.get("user_named")))  # absent in files before issue 18
        for r in cl.drop_columns(["centroid", "weight", "topic_id"]).to_pylist()
    ]
    tp = arrow_table(con, "SELECT * FROM topics ORDER BY topic_id")
    cluster_topic = cl.column("topic_id").to_numpy().astype(np.int32)
    topics = [
        TopicInfo(id=r["topic_id"], size=r["size"], label=r["label"],
                  description=r["description"], labeler=r["labeler"],
                  cluster_ids=np.flatnonzero(cluster_topic == r["topic_id"]).tolist(),
                  representatives=list(r["representatives"]),
                  fallback_reason=r["fallback_reason"],
                  user_named=bool(r.get("user_named")))  # absent before topics could be renamed
        for r in tp.drop_columns(["weight"]).to_pylist()
    ]
    weights = dict(zip(cl.column("cluster_id").to_pylist(), cl.column("weight").to_pylist(),
                       strict=True))
    groups = _read_duplicate_groups(con)
    return Analysis(
        settings=Settings.from_json(meta["settings"]),
        source=SourceInfo(path=meta["input_path"], content_hash=meta["input_hash"],
                          format=meta["input_format"], text_column=meta["text_column"],
                          n_rows=int(meta["input_rows"]), skipped_empty=int(meta["skipped_empty"]),
                          ragged_rows=int(meta.get("ragged_rows", "0")),
                          decode_report=_decode_report(meta.get("decode_report")),
                          image_problems=json.loads(meta.get("image_problems", "null"))),
        columns=columns,
        row_index=rows.column("row").to_numpy().astype(np.int64),
        texts=rows.column("text").to_pylist(),
        model=meta["model"], model_key=meta["model_key"], device=meta["device"],
        embeddings=cast(np.ndarray, None) if path is not None  # read on first use
        else _read_vectors(con, meta, rows.num_rows, d),
        vectors_loader=StoredVectors.of(con, path, meta, rows.num_rows, d)
        if path is not None else None,
        labels=rows.column("cluster_id").to_numpy().astype(np.int32),
        centroids=arrow_to_vectors(cl.column("centroid"), d) if cl.num_rows else
        np.zeros((0, d), np.float32),
        clusters=clusters,
        positions=np.stack([rows.column("x").to_numpy(), rows.column("y").to_numpy()],
                           axis=1).astype(np.float32),
        weights={int(k): float(v) for k, v in weights.items()},
        noise_weight=float(meta.get("noise_weight", "1.0")),
        timings=json.loads(meta.get("timings", "{}")),
        fingerprints=json.loads(meta.get("fingerprints", "{}")),
        topics=topics, cluster_topic=cluster_topic,
        topic_weights={int(t): float(w) for t, w in zip(
            tp.column("topic_id").to_pylist(), tp.column("weight").to_pylist(), strict=True)},
        comparison=_read_comparison(con, meta, d),
        zero_leaks=meta.get("zero_leaks", "0") == "1",
        duplicate_groups=groups,
        duplicate_threshold=(float(meta.get("duplicates_threshold", "nan"))
                             if groups is not None else None),
        collapse_duplicates=groups is not None and meta.get("collapse_duplicates", "0") == "1",
    )


def _decode_report(stored: str | None) -> DecodeReport | None:
    data = json.loads(stored) if stored else None
    return DecodeReport.from_dict(data) if data else None


def save_weights(path: str | Path, weights: dict[int, float], noise_weight: float = 1.0,
                 topic_weights: dict[int, float] | None = None) -> None:
    """Store new weights (clusters, noise, and topics when given) in an existing project, in one
    transaction."""
    import duckdb

    path = Path(path)
    try:
        with _connect(path) as con:
            con.execute("BEGIN TRANSACTION")
            con.executemany("UPDATE clusters SET weight = ? WHERE cluster_id = ?",
                            [(float(w), int(c)) for c, w in weights.items()])
            con.execute("UPDATE meta SET value = ? WHERE key = 'noise_weight'",
                        [repr(float(noise_weight))])
            if topic_weights:
                con.executemany("UPDATE topics SET weight = ? WHERE topic_id = ?",
                                [(float(w), int(t)) for t, w in topic_weights.items()])
            con.execute("COMMIT")
    except duckdb.Error as err:
        raise ProjectFileError(f"Weights cannot be saved to {path.name}: {_first_line(err)}"
                               ) from err


def save_labels(path: str | Path, clusters: list[ClusterInfo], settings: Settings,
                fingerprints: dict[str, str], topics: list[TopicInfo] | None = None,
                weights: dict[int, float] | None = None, noise_weight: float | None = None,
                topic_weights: dict[int, float] | None = None) -> None:
    """Store new cluster (and topic) names (after relabelling or a rename by the user, with
    whether the user gave them), the settings that made them and the stages' fingerprints, so a
    later run knows the names are current; with `weights`, the weights in the same
    transaction."""
    import duckdb

    path = Path(path)
    try:
        with _connect(path) as con:
            con.execute("BEGIN TRANSACTION")
            # Files written before names could be edited lack the column; a reader that does
            # not know it ignores it, so the schema version stays.
            con.execute("ALTER TABLE clusters ADD COLUMN IF NOT EXISTS user_named BOOLEAN "
                        "DEFAULT false")
            con.executemany(
                "UPDATE clusters SET label = ?, description = ?, labeler = ?, fallback_reason = ?, "
                "user_named = ? WHERE cluster_id = ?",
                [(c.label, c.description, c.labeler, c.fallback_reason, c.user_named, c.id)
                 for c in clusters])
            if topics:
                con.execute("ALTER TABLE topics ADD COLUMN IF NOT EXISTS user_named BOOLEAN "
                            "DEFAULT false")
                con.executemany(
                    "UPDATE topics SET label = ?, description = ?, labeler = ?, "
                    "fallback_reason = ?, user_named = ? WHERE topic_id = ?",
                    [(t.label, t.description, t.labeler, t.fallback_reason, t.user_named, t.id)
                     for t in topics])
            con.execute("UPDATE meta SET value = ? WHERE key = 'settings'", [settings.to_json()])
            con.execute("UPDATE meta SET value = ? WHERE key = 'fingerprints'",
                        [json.dumps(fingerprints)])
            if weights is not None:  # the same transaction: names and weights land together
                con.executemany("UPDATE clusters SET weight = ? WHERE cluster_id = ?",
                                [(float(w), int(c)) for c, w in weights.items()])
            if noise_weight is not None:
                con.execute("UPDATE meta SET value = ? WHERE key = 'noise_weight'",
                            [repr(float(noise_weight))])
            if topic_weights:
                con.executemany("UPDATE topics SET weight = ? WHERE topic_id = ?",
                                [(float(w), int(t)) for t, w in topic_weights.items()])
            con.execute("COMMIT")
    except duckdb.Error as err:
        raise ProjectFileError(f"Labels cannot be saved to {path.name}: {_first_line(err)}"
                               ) from err


# ----- near-duplicate groups (issue 16) -----------------------------------------------------
# A `duplicates` table (pos, grp: −1 = unique) and meta keys `duplicates_threshold` and
# `collapse_duplicates`. Files without the table (every v1 file, and later ones before `level
# duplicates` ran) simply have no groups computed; older Levels ignore the extra table.

DUPLICATES_TABLE = "duplicates"


def _set_meta(con: Any, key: str, value: str) -> None:
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])


def _write_duplicate_groups(con: Any, groups: np.ndarray) -> None:
    """(Re)create the duplicates table from a group per analysed row."""
    import pyarrow as pa

    groups = np.asarray(groups, dtype=np.int32)
    table = pa.table({"pos": pa.array(np.arange(len(groups), dtype=np.int32)),
                      "grp": pa.array(groups)})
    con.execute(f"DROP TABLE IF EXISTS {DUPLICATES_TABLE}")
    con.register("groups_view", table)
    con.execute(f"CREATE TABLE {DUPLICATES_TABLE} AS SELECT pos, grp FROM groups_view")
    con.unregister("groups_view")


def _read_duplicate_groups(con: Any) -> np.ndarray | None:
    """The stored group per analysed row, or None when the file has none."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if DUPLICATES_TABLE not in tables:
        return None
    groups = arrow_table(con, f"SELECT grp FROM {DUPLICATES_TABLE} ORDER BY pos")
    return groups.column("grp").to_numpy().astype(np.int32)


def save_duplicate_groups(path: str | Path, groups: np.ndarray, threshold: float) -> None:
    """Store each analysed row's duplicate group (−1 = unique) in an existing project, in one
    transaction that replaces any earlier groups."""
    import duckdb

    path = Path(path)
    try:
        with _connect(path) as con:
            con.execute("BEGIN TRANSACTION")
            _write_duplicate_groups(con, groups)
            _set_meta(con, "duplicates_threshold", repr(float(threshold)))
            con.execute("COMMIT")
    except duckdb.Error as err:
        raise ProjectFileError(f"Duplicate groups cannot be saved to {path.name}: "
                               f"{_first_line(err)}") from err


def load_duplicate_groups(path: str | Path) -> tuple[np.ndarray, float] | None:
    """(group per analysed row, threshold) or None when the project has no groups computed."""
    import duckdb

    path = Path(path)
    try:
        with _connect(path, read_only=True) as con:
            groups = _read_duplicate_groups(con)
            if groups is None:
                return None
            threshold = float(_meta(con).get("duplicates_threshold", "nan"))
    except duckdb.Error as err:
        raise ProjectFileError(f"{path.name} cannot be read: {_first_line(err)}") from err
    return groups, threshold


def save_collapse_duplicates(path: str | Path, collapse: bool) -> None:
    """Store whether each duplicate group counts as one row in the effective weights."""
    import duckdb

    path = Path(path)
    try:
        with _connect(path) as con:
            con.execute("BEGIN TRANSACTION")
            _set_meta(con, "collapse_duplicates", "1" if collapse else "0")
            con.execute("COMMIT")
    except duckdb.Error as err:
        raise ProjectFileError(f"The setting cannot be saved to {path.name}: "
                               f"{_first_line(err)}") from err


def load_collapse_duplicates(path: str | Path) -> bool:
    """Whether the project counts each duplicate group as one row (default: no)."""
    import duckdb

    path = Path(path)
    try:
        with _connect(path, read_only=True) as con:
            return _meta(con).get("collapse_duplicates", "0") == "1"
    except duckdb.Error as err:
        raise ProjectFileError(f"{path.name} cannot be read: {_first_line(err)}") from err


CACHE_CHUNK_ROWS = 50_000  # rows the cache looks up or stores in one query


class EmbeddingCache:
    """Vectors keyed by (model key, text hash), in a DuckDB file shared by every project.

    If another Level process holds the file, the cache is skipped (the run just embeds).
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else cache_dir() / "embeddings.duckdb"

    @contextlib.contextmanager
    def _open(self) -> Iterator[Any]:
        import duckdb

        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self.path))
        try:
            con.execute("CREATE TABLE IF NOT EXISTS vectors (model VARCHAR, hash VARCHAR, "
                        "vector FLOAT[], PRIMARY KEY (model, hash))")
            yield con
        finally:
            con.close()

    def lookup(self, model_key: str, hashes: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """(found mask, vectors of the found rows in order) — (all False, None) on a miss."""
        import duckdb
        import pyarrow as pa

        found = np.zeros(len(hashes), dtype=bool)
        if not hashes or not self.path.exists():
            return found, None
        positions: list[np.ndarray] = []
        parts: list[np.ndarray] = []
        try:
            with self._open() as con:
                # In chunks of rows: DuckDB's join and Arrow's result stay a chunk's worth.
                for start in range(0, len(hashes), CACHE_CHUNK_ROWS):
                    chunk = hashes[start:start + CACHE_CHUNK_ROWS]
                    wanted = pa.table({
                        "pos": pa.array(np.arange(start, start + len(chunk), dtype=np.int64)),
                        "hash": pa.array(chunk, pa.string())})
                    con.register("wanted", wanted)
                    got = arrow_table(
                        con, "SELECT w.pos, v.vector FROM wanted w JOIN vectors v "
                        "ON v.hash = w.hash AND v.model = ? ORDER BY w.pos", [model_key])
                    con.unregister("wanted")
                    if got.num_rows:
                        vectors_col = got.column("vector").combine_chunks()
                        dim = len(vectors_col[0])
                        positions.append(got.column("pos").to_numpy())
                        parts.append(np.asarray(
                            vectors_col.flatten().to_numpy(zero_copy_only=False),
                            dtype=np.float32).reshape(-1, dim))
        except duckdb.Error:
            return found, None
        if not parts:
            return found, None
        for pos in positions:
            found[pos] = True
        return found, np.concatenate(parts) if len(parts) > 1 else parts[0]

    def store(self, model_key: str, hashes: list[str], vectors: np.ndarray) -> bool:
        """Add vectors (existing keys are kept); False if the cache could not be written."""
        import duckdb
        import pyarrow as pa

        if not hashes:
            return True
        try:
            with self._open() as con:
                # In chunks of rows, so DuckDB never holds a million incoming vectors at once.
                for start in range(0, len(hashes), CACHE_CHUNK_ROWS):
                    chunk = hashes[start:start + CACHE_CHUNK_ROWS]
                    table = pa.table({
                        "model": pa.array([model_key] * len(chunk), pa.string()),
                        "hash": pa.array(chunk, pa.string()),
                        "vector": _list_array(vectors[start:start + CACHE_CHUNK_ROWS]),
                    })
                    con.register("incoming", table)
                    con.execute("INSERT OR IGNORE INTO vectors SELECT DISTINCT ON (model, hash) "
                                "* FROM incoming")
                    con.unregister("incoming")
        except duckdb.Error:
            return False
        return True


# ----- the comparison set (issue 17, schema 3) ----------------------------------------------
# `comparison_rows`: one row per comparison row with text (its position in the comparison file,
# text, nearest cluster and training row with their cosines, vector); `comparison_leaks`: every
# (comparison row, training row) copy pair. Meta keys `comparison_*` describe the file; without
# `comparison_path` the project holds no comparison set. `zero_leaks`: "1" when the leaking
# training rows weigh 0.

COMPARISON_META = ("comparison_path", "comparison_hash", "comparison_text_column",
                   "comparison_rows", "leak_threshold")


def _create_comparison_tables(con: Any, d: int) -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS comparison_rows (pos INTEGER, row BIGINT, "
                f"text VARCHAR, cluster_id INTEGER, cluster_similarity FLOAT, "
                f"nearest_pos INTEGER, nearest_similarity FLOAT, vector FLOAT[{d}])")
    con.execute("CREATE TABLE IF NOT EXISTS comparison_leaks (comparison_pos INTEGER, "
                "training_pos INTEGER, similarity FLOAT, exact BOOLEAN)")


def _write_comparison(con: Any, comparison: ComparisonSet | None, zero_leaks: bool) -> None:
    """Replace the stored comparison set (None: remove it) inside the caller's transaction."""
    import pyarrow as pa

    con.execute("DELETE FROM comparison_rows")
    con.execute("DELETE FROM comparison_leaks")
    con.execute(f"DELETE FROM meta WHERE key IN ({', '.join('?' * len(COMPARISON_META))})",
                list(COMPARISON_META))
    _set_meta(con, "zero_leaks", "1" if zero_leaks and comparison is not None else "0")
    if comparison is None:
        return
    d = comparison.embeddings.shape[1]
    p = comparison.placement
    rows = pa.table({
        "pos": pa.array(np.arange(comparison.n_placed, dtype=np.int32)),
        "row": pa.array(comparison.row_index.astype(np.int64)),
        "text": pa.array(comparison.texts, pa.string()),
        "cluster_id": pa.array(p.cluster.astype(np.int32)),
        "cluster_similarity": pa.array(p.cluster_similarity.astype(np.float32)),
        "nearest_pos": pa.array(p.nearest_row.astype(np.int32)),
        "nearest_similarity": pa.array(p.nearest_similarity.astype(np.float32)),
        "vector": vectors_to_arrow(comparison.embeddings),
    })
    con.register("comparison_view", rows)
    con.execute(f"INSERT INTO comparison_rows SELECT pos, row, text, cluster_id, "
                f"cluster_similarity, nearest_pos, nearest_similarity, vector::FLOAT[{d}] "
                f"FROM comparison_view")
    con.unregister("comparison_view")
    leaks = comparison.leaks
    table = pa.table({"comparison_pos": pa.array(leaks.comparison.astype(np.int32)),
                      "training_pos": pa.array(leaks.training.astype(np.int32)),
                      "similarity": pa.array(leaks.similarity.astype(np.float32)),
                      "exact": pa.array(leaks.exact.astype(bool))})
    con.register("leaks_view", table)
    con.execute("INSERT INTO comparison_leaks SELECT * FROM leaks_view")
    con.unregister("leaks_view")
    for key, value in zip(COMPARISON_META, (comparison.path, comparison.content_hash,
                                            comparison.text_column, str(comparison.n_rows),
                                            repr(float(leaks.threshold))), strict=True):
        _set_meta(con, key, value)


def _read_comparison(con: Any, meta: dict[str, str], d: int) -> ComparisonSet | None:
    if "comparison_path" not in meta:
        return None
    rows = arrow_table(con, "SELECT * FROM comparison_rows ORDER BY pos")
    leaks = arrow_table(con, "SELECT * FROM comparison_leaks ORDER BY comparison_pos, "
                             "training_pos")

    def column(table: Any, name: str, dtype: Any) -> np.ndarray:
        return table.column(name).to_numpy().astype(dtype)

    return ComparisonSet(
        path=meta["comparison_path"], content_hash=meta["comparison_hash"],
        text_column=meta["comparison_text_column"], n_rows=int(meta["comparison_rows"]),
        row_index=column(rows, "row", np.int64), texts=rows.column("text").to_pylist(),
        embeddings=arrow_to_vectors(rows.column("vector"), d) if rows.num_rows
        else np.zeros((0, d), np.float32),
        placement=Placement(cluster=column(rows, "cluster_id", np.int64),
                            cluster_similarity=column(rows, "cluster_similarity", np.float32),
                            nearest_row=column(rows, "nearest_pos", np.int64),
                            nearest_similarity=column(rows, "nearest_similarity", np.float32)),
        leaks=Leaks(column(leaks, "comparison_pos", np.int64),
                    column(leaks, "training_pos", np.int64),
                    column(leaks, "similarity", np.float32), column(leaks, "exact", bool),
                    float(meta["leak_threshold"])))


def save_comparison(path: str | Path, comparison: ComparisonSet | None,
                    zero_leaks: bool = False) -> None:
    """Store (or, with None, remove) the comparison set in an existing project, in one
    transaction."""
    import duckdb

    path = Path(path)
    try:
        with _connect(path) as con:
            con.execute("BEGIN TRANSACTION")
            _write_comparison(con, comparison, zero_leaks)
            con.execute("COMMIT")
    except duckdb.Error as err:
        raise ProjectFileError(f"The comparison set cannot be saved to {path.name}: "
                               f"{_first_line(err)}") from err


def save_zero_leaks(path: str | Path, zero_leaks: bool) -> None:
    """Store whether the leaking training rows weigh 0."""
    import duckdb

    path = Path(path)
    try:
        with _connect(path) as con:
            con.execute("BEGIN TRANSACTION")
            _set_meta(con, "zero_leaks", "1" if zero_leaks else "0")
            con.execute("COMMIT")
    except duckdb.Error as err:
        raise ProjectFileError(f"The setting cannot be saved to {path.name}: "
                               f"{_first_line(err)}") from err
