"""Embed a large file as a Ray Data job and write Parquet shards Level reads back as vectors.

Past a few hundred thousand rows the embedding is the cost, and teams already run it as a
distributed batch job. `embed_on_ray` meets them on Ray: the rows Level's own loader keeps are
split into fixed shards, sent through `map_batches` to a pool of actors that each load the model
once with Level's own loading and batching code (`SentenceTransformerEmbedder`), on a GPU when the
cluster has one, and the driver writes each finished shard as Parquet (row_index, text, vector)
through a temporary file renamed into place. The manifest records the input, model and shard
plan, so a job stopped half way is resumed by running it again: shards already written are kept
and skipped. With no address a local Ray is started on this machine; with one, the job joins the
user's cluster, whose workers need level-desktop installed.

Ray is an optional extra: it is imported only inside the functions that need it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from level_desktop.core.atomic import atomic_path
from level_desktop.core.embedding import FAST, SentenceTransformerEmbedder
from level_desktop.core.embedding.sentence_transformer import BUNDLED_ALIASES
from level_desktop.core.errors import Cancelled, LevelError, ModelError
from level_desktop.core.loading import load_input
from level_desktop.core.progress import CancelToken, ProgressCallback, no_progress
from level_desktop.core.settings import DEFAULT_MODEL
from level_desktop.core.store import file_hash
from level_desktop.core.vector_input import MANIFEST_NAME, ROW_INDEX_METADATA_KEY

STAGE = "embed"
MANIFEST_FORMAT = "level-vectors"
MANIFEST_VERSION = 1
DEFAULT_SHARD_ROWS = 10_000
DEFAULT_BATCH_ROWS = 256
SHARD_NAME = "part-{:05d}.parquet"


class RayUnavailableError(LevelError):
    """Ray is not installed, or the cluster cannot be reached."""


class OutputFolderError(LevelError):
    """The output folder holds something other than this job's shards."""


@dataclass
class RayEmbedResult:
    """What a job did: where the shards are, which were computed now and which were kept."""

    output_dir: Path
    model: str
    dimension: int
    n_rows: int
    shards_total: int
    shards_computed: list[int] = field(default_factory=list)
    shards_kept: list[int] = field(default_factory=list)
    seconds: float = 0.0
    gpus_per_worker: float = 0.0
    workers: int = 0


class _EmbedActor:
    """One model per actor, loaded once with Level's own code; embeds a batch of (row, text)."""

    def __init__(self, model: str, device: str, batch_size: int,
                 max_seq_length: int | None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.embedder = SentenceTransformerEmbedder(model, device=device, batch_size=batch_size,
                                                    max_seq_length=max_seq_length)
        self.dimension = self.embedder.dimension  # loads the model now, not in the first batch

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.encode([str(t) for t in batch["text"]])
        return {"shard": batch["shard"], "row_index": batch["row_index"], "vector": vectors}


def embed_on_ray(input_path: str | Path, output_dir: str | Path, address: str | None = None,
                 model: str = DEFAULT_MODEL, text_column: str | None = None,
                 batch_size: int = DEFAULT_BATCH_ROWS, num_workers: int = 2,
                 shard_rows: int = DEFAULT_SHARD_ROWS, device: str = "auto",
                 model_batch_size: int = 32, max_seq_length: int | None = None,
                 num_cpus: int | None = None, progress: ProgressCallback = no_progress,
                 cancel: CancelToken | None = None) -> RayEmbedResult:
    """Embed the text column of `input_path` on Ray into Parquet shards in `output_dir`.

    `address` joins a running cluster ("auto", "host:port" or "ray://host:10001"); without it a
    local Ray with `num_cpus` CPUs (default `num_workers`) is started and stopped again, unless
    this process already has Ray running, which is then used as it is. `batch_size` rows go to an
    actor at a time; `shard_rows` rows make one output shard (the unit of resuming).
    """
    start = time.perf_counter()
    cancel = cancel or CancelToken()
    if num_workers < 1 or batch_size < 1 or shard_rows < 1:
        raise LevelError("num_workers, batch_size and shard_rows must each be at least 1.")
    model_name = _model_name(model)
    progress(STAGE, 0.0, f"Reading {Path(input_path).name}")
    loaded = load_input(input_path, text_column, min_rows=1)
    output_dir = Path(output_dir)
    plan = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "source": {"name": Path(input_path).name, "content_hash": file_hash(input_path),
                   "text_column": loaded.text_column, "n_rows": loaded.table.n_rows,
                   "skipped_empty": loaded.skipped_empty},
        "model": model_name,
        "max_seq_length": max_seq_length,
        "shard_rows": shard_rows,
        "n_rows": len(loaded.texts),
    }
    n = len(loaded.texts)
    bounds = [(k, s, min(s + shard_rows, n)) for k, s in enumerate(range(0, n, shard_rows))]
    plan["shards"] = [{"id": k, "file": SHARD_NAME.format(k), "rows": e - s,
                       "first_row_index": int(loaded.row_index[s]),
                       "last_row_index": int(loaded.row_index[e - 1])} for k, s, e in bounds]
    kept = _prepare_output(output_dir, plan)
    todo = [b for b in bounds if b[0] not in kept]
    progress(STAGE, len(kept) / max(1, len(bounds)),
             f"{len(kept)} of {len(bounds)} shards already written; embedding {len(todo)}"
             if kept else f"Embedding {n:,} rows in {len(bounds)} shards on Ray")
    result = RayEmbedResult(output_dir=output_dir, model=model_name, dimension=0, n_rows=n,
                            shards_total=len(bounds), shards_kept=sorted(kept))
    if todo:
        cancel.check()
        _run_job(loaded, todo, output_dir, plan, result, address=address, model=model_name,
                 batch_size=batch_size, num_workers=num_workers, device=device,
                 model_batch_size=model_batch_size, max_seq_length=max_seq_length,
                 num_cpus=num_cpus, progress=progress, cancel=cancel)
    if not result.dimension:
        result.dimension = _shard_dimension(output_dir / SHARD_NAME.format(bounds[0][0]))
    plan.update(complete=True, dimension=result.dimension)
    _write_manifest(output_dir, plan)
    result.seconds = time.perf_counter() - start
    progress(STAGE, 1.0, f"Embedded {n:,} rows into {len(bounds)} shards in {output_dir}")
    return result


def _model_name(model: str) -> str:
    if model.lower() == FAST:
        raise ModelError(
            "The fast path learns from the whole corpus and runs on the desktop in seconds; "
            "embedding on Ray is for transformer models. Name one with --model.")
    if model.lower() == "auto" or model.lower() in BUNDLED_ALIASES:
        return DEFAULT_MODEL
    return model


def _prepare_output(output_dir: Path, plan: dict[str, Any]) -> set[int]:
    """Create the folder, or check it belongs to this job; return the ids of shards kept."""
    manifest_path = output_dir / MANIFEST_NAME
    if output_dir.exists() and not output_dir.is_dir():
        raise OutputFolderError(f"{output_dir} is a file; name a folder for the vectors.")
    if manifest_path.exists():
        try:
            previous = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise OutputFolderError(f"{manifest_path} cannot be read ({err}); delete the folder "
                                    f"or choose another.") from err
        keys = ("format", "version", "source", "model", "max_seq_length", "shard_rows", "shards")
        if any(previous.get(k) != plan[k] for k in keys):
            raise OutputFolderError(
                f"{output_dir} holds vectors of another input, model or shard size "
                f"({previous.get('source', {}).get('name')}, {previous.get('model')}). Choose an "
                f"empty folder, or delete this one to start again.")
    elif output_dir.exists() and any(not p.name.startswith(".") for p in output_dir.iterdir()):
        raise OutputFolderError(
            f"{output_dir} is not empty and holds no Level manifest; choose an empty or new "
            f"folder so no other file is mixed with the vectors.")
    output_dir.mkdir(parents=True, exist_ok=True)
    for leftover in output_dir.glob(".part-*.tmp"):
        leftover.unlink()  # a temporary file of a job that was killed mid-write
    kept = {s["id"] for s in plan["shards"] if _shard_complete(output_dir / s["file"], s["rows"])}
    _write_manifest(output_dir, {**plan, "complete": False})
    return kept


def _shard_complete(path: Path, rows: int) -> bool:
    import pyarrow.parquet as pq

    if not path.exists():
        return False
    try:
        return pq.ParquetFile(path).metadata.num_rows == rows
    except Exception:
        return False


def _shard_dimension(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).schema_arrow.field("vector").type.list_size)


def _write_manifest(output_dir: Path, manifest: dict[str, Any]) -> None:
    with atomic_path(output_dir / MANIFEST_NAME) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())


def _write_shard(path: Path, row_index: np.ndarray, texts: list[str], vectors: np.ndarray,
                 plan: dict[str, Any]) -> None:
    """One shard through a temporary file, fsynced, renamed into place."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    dim = vectors.shape[1]
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1), type=pa.float32())
    table = pa.table({"row_index": pa.array(row_index, type=pa.int64()),
                      "text": pa.array(texts, type=pa.string()),
                      "vector": pa.FixedSizeListArray.from_arrays(flat, dim)})
    table = table.replace_schema_metadata({
        "level.model": plan["model"],
        ROW_INDEX_METADATA_KEY: "row_index",
        "level.source": plan["source"]["name"],
        "level.text_column": plan["source"]["text_column"],
    })
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        pq.write_table(table, fh)
        fh.flush()
        os.fsync(fh.fileno())


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as err:
        raise RayUnavailableError(
            "Embedding on Ray needs the ray extra: pip install 'level-desktop[ray]'.") from err
    return ray


@contextlib.contextmanager
def ray_session(address: str | None, num_cpus: int) -> Iterator[Any]:
    """Join `address`, or start a local Ray (no dashboard, bound to this machine only), and
    stop what was started here on the way out; a Ray already running in-process is reused."""
    ray = _import_ray()
    if ray.is_initialized():
        yield ray
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                              "configure_logging": False}
    try:
        if address is None:
            ray.init(num_cpus=num_cpus, _node_ip_address="127.0.0.1", **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise RayUnavailableError(f"Could not start or join {where}: {err}") from err
    try:
        yield ray
    finally:
        ray.shutdown()


def _run_job(loaded: Any, todo: list[tuple[int, int, int]], output_dir: Path, plan: dict[str, Any],
             result: RayEmbedResult, *, address: str | None, model: str, batch_size: int,
             num_workers: int, device: str, model_batch_size: int, max_seq_length: int | None,
             num_cpus: int | None, progress: ProgressCallback, cancel: CancelToken) -> None:
    import pyarrow as pa

    with ray_session(address, num_cpus or num_workers) as ray:
        from ray.data import DataContext

        context = DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        gpus = float(ray.cluster_resources().get("GPU", 0))
        gpus_per_worker = min(1.0, gpus / num_workers) if gpus and device != "cpu" else 0.0
        actor_device = ("cuda" if gpus_per_worker else "cpu") if device == "auto" else device
        result.gpus_per_worker, result.workers = gpus_per_worker, num_workers
        # Blocks of one batch each, so every actor has work even when few shards are left;
        # each row carries its shard id, and the driver writes a shard once all its rows are back.
        blocks = [pa.table({"shard": pa.array(np.full(min(b + batch_size, e) - b, k, np.int32)),
                            "row_index": pa.array(loaded.row_index[b:min(b + batch_size, e)]),
                            "text": pa.array(loaded.texts[b:min(b + batch_size, e)],
                                             type=pa.string())})
                  for k, s, e in todo for b in range(s, e, batch_size)]
        dataset = ray.data.from_arrow(blocks).map_batches(
            _EmbedActor,
            fn_constructor_kwargs={"model": model, "device": actor_device,
                                   "batch_size": model_batch_size,
                                   "max_seq_length": max_seq_length},
            batch_size=batch_size, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=num_workers),
            num_cpus=0 if gpus_per_worker else 1, num_gpus=gpus_per_worker or None)
        expected = {k: (s, e) for k, s, e in todo}
        pending: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {k: [] for k in expected}
        counts = dict.fromkeys(expected, 0)
        total = sum(e - s for _, s, e in todo)
        done = 0
        batches = iter(dataset.iter_batches(batch_size=None, batch_format="numpy"))
        try:
            for batch in batches:
                if cancel.cancelled:
                    raise Cancelled(
                        f"Cancelled. The {len(result.shards_computed) + len(result.shards_kept)} "
                        f"shards already written in {output_dir} are kept; run again to resume.")
                for k in np.unique(batch["shard"]):
                    k = int(k)
                    rows = batch["shard"] == k
                    pending[k].append((batch["row_index"][rows], batch["vector"][rows]))
                    counts[k] += int(rows.sum())
                    done += int(rows.sum())
                    s, e = expected[k]
                    if counts[k] == e - s:
                        dim = _finish_shard(k, pending.pop(k), loaded, s, e, output_dir, plan)
                        result.dimension = dim
                        result.shards_computed.append(k)
                progress(STAGE, done / total, f"Embedded {done:,} of {total:,} rows on Ray")
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()
        if pending:
            raise LevelError(f"The Ray job ended with shards {sorted(pending)} incomplete; run "
                             f"it again to resume.")
        result.shards_computed.sort()


def _finish_shard(k: int, parts: list[tuple[np.ndarray, np.ndarray]], loaded: Any, s: int,
                  e: int, output_dir: Path, plan: dict[str, Any]) -> int:
    row_index = np.concatenate([p[0] for p in parts]).astype(np.int64)
    vectors = np.concatenate([np.asarray(p[1], dtype=np.float32) for p in parts])
    order = np.argsort(row_index, kind="stable")
    row_index, vectors = row_index[order], vectors[order]
    if not np.array_equal(row_index, loaded.row_index[s:e]):
        raise RuntimeError(f"Shard {k} came back from Ray with other rows than were sent.")
    _write_shard(output_dir / SHARD_NAME.format(k), row_index, loaded.texts[s:e], vectors, plan)
    return int(vectors.shape[1])
