"""Adding a comparison set to an analysis: read the file, embed it with the project's own model,
place each row on the training landscape, and find the rows that leak from training.

Why a module of its own: it sequences stages (loading, embedding with the cache, placement, the
leak search) the way pipeline.py sequences a run, and the CLI, the window and the benchmarks all
call this one function. The training clusters never change; only the comparison set is new.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from level_desktop.core.analysis import Analysis
from level_desktop.core.comparison import ComparisonSet
from level_desktop.core.duplicates import DEFAULT_NEIGHBOUR_CLUSTERS, DEFAULT_THRESHOLD
from level_desktop.core.embedding import Embedder, StaticEmbedder, make_embedder
from level_desktop.core.errors import ModelError, UnknownColumnError
from level_desktop.core.loading import LoadedInput, load_input
from level_desktop.core.pipeline import COMPARE_STAGE, embed_texts, place_comparison
from level_desktop.core.progress import CancelToken, ProgressCallback, no_progress
from level_desktop.core.store import EmbeddingCache, file_hash

STAGE = COMPARE_STAGE


def project_embedder(analysis: Analysis) -> Embedder:
    """The embedder that made the project's vectors, so the comparison rows land in the same
    space: the same sentence-transformers model, or the fast path fitted on the same training
    rows. That fit is read from the cache folder, where the analysis left it (named by the
    corpus digest), so adding a set does not learn it again; only when it is gone (another
    machine, a cleared cache) is it refitted (seeded: the same model; its cache key says so)."""
    key = analysis.model_key
    if key.startswith("static:"):
        embedder: Embedder = StaticEmbedder().for_corpus(analysis.texts)
    elif key.startswith("st:"):
        s = analysis.settings
        embedder = make_embedder(analysis.model, s.device, s.batch_size, s.max_seq_length)
    else:
        raise ModelError(
            f"This project's vectors came with its file ({analysis.model}); Level cannot embed "
            f"other rows the same way. Analyse the training file with a Level model (e.g. "
            f"--model fast or the bundled MiniLM) to compare another set with it.")
    if embedder.cache_key != key:
        raise ModelError(
            f"The model that made this project's vectors ({analysis.model}) cannot be rebuilt "
            f"exactly here (this Level makes {embedder.cache_key!r}, the project holds "
            f"{key!r}). Analyse the training file again, then add the comparison set.")
    return embedder


def _load(path: str | Path, text_column: str | None, project_column: str) -> LoadedInput:
    """The comparison file's rows with text; by default from the column the training set used,
    when the file has one of that name, else the auto-detected text column."""
    if text_column is not None:
        return load_input(path, text_column, min_rows=1)
    try:
        return load_input(path, project_column, min_rows=1)
    except UnknownColumnError:
        return load_input(path, None, min_rows=1)


def compare_file(analysis: Analysis, path: str | Path, text_column: str | None = None,
                 cache: EmbeddingCache | None = None, progress: ProgressCallback = no_progress,
                 cancel: CancelToken | None = None, embedder: Embedder | None = None,
                 threshold: float = DEFAULT_THRESHOLD,
                 neighbour_clusters: int = DEFAULT_NEIGHBOUR_CLUSTERS) -> ComparisonSet:
    """The comparison set from `path` on `analysis`'s landscape (the analysis is not changed).

    `embedder` stands in for the project's own (tests and benchmarks with precomputed vectors).
    """
    cancel = cancel or CancelToken()
    progress(STAGE, 0.0, f"Reading {Path(path).name}")
    loaded = _load(path, text_column, analysis.source.text_column)
    cancel.check()
    embedder = embedder or project_embedder(analysis)
    vectors, _ = embed_texts(loaded.texts, embedder, progress, cancel, cache)
    if vectors.shape[1] != analysis.embeddings.shape[1]:
        raise ModelError(f"The comparison rows' vectors have {vectors.shape[1]} dimensions, the "
                         f"project's {analysis.embeddings.shape[1]}.")
    cancel.check()
    n = len(loaded.texts)
    placement, leaks = place_comparison(analysis, loaded.texts, vectors, threshold,
                                        neighbour_clusters, progress, cancel)
    progress(STAGE, 1.0, f"{n:,} rows placed")
    return ComparisonSet(
        path=str(Path(path).resolve()), content_hash=file_hash(path),
        text_column=loaded.text_column, n_rows=loaded.table.n_rows,
        row_index=np.asarray(loaded.row_index, dtype=np.int64), texts=loaded.texts,
        embeddings=np.asarray(vectors, dtype=np.float32), placement=placement, leaks=leaks)


def write_leaks(analysis: Analysis, comparison: ComparisonSet, target: str | Path) -> int:
    """Write every leak pair as CSV (atomically): each row's position in its own file, both
    texts, the cosine and whether the copy is exact; return the pairs written."""
    import csv

    from level_desktop.core.atomic import atomic_text
    from level_desktop.core.errors import ExportError

    target = Path(target)
    if target.suffix.lower() not in (".csv", ".txt"):
        raise ExportError(f"Write the leaks to a .csv file (got {target.name}).")
    if not target.parent.exists():
        raise ExportError(f"The folder {target.parent} does not exist.")
    leaks = comparison.leaks
    order = np.lexsort((-leaks.similarity, leaks.comparison))
    try:
        with atomic_text(target) as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["comparison_row", "comparison_text", "training_row",
                             "training_text", "similarity", "exact"])
            for p in order:
                c, t = int(leaks.comparison[p]), int(leaks.training[p])
                writer.writerow([int(comparison.row_index[c]), comparison.texts[c],
                                 int(analysis.row_index[t]), analysis.texts[t],
                                 f"{float(leaks.similarity[p]):.4f}",
                                 int(bool(leaks.exact[p]))])
    except OSError as err:
        raise ExportError(f"{target} cannot be written: {err.strerror or err}.") from err
    return len(order)
