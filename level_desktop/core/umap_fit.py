"""UMAP, fitted the way Level needs it: kernels cached on disk, neighbours found exactly.

Both the projection stage (a 2-D UMAP map) and the clustering stage (DBSCAN / HDBSCAN in a 5-d
UMAP space) fit UMAP; it lives below both so neither imports the other.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any, cast

import numpy as np

from level_desktop.core.paths import cache_dir
from level_desktop.core.progress import CancelToken, ProgressCallback, no_progress, run_cancellable
from level_desktop.core.vectors import cosine_knn


def import_umap(progress: ProgressCallback = no_progress) -> ModuleType:
    """Import umap-learn with numba's on-disk cache switched on for its kernels.

    umap and pynndescent compile most of their numba kernels without `cache=True`, so every new
    process would pay a ~60 s JIT before its first fit. Importing them while `numba.njit` and
    `numba.jit` default to `cache=True` writes the compiled code under Level's cache folder once
    per installation; later launches load it. Kernels numba cannot cache are compiled as before.
    """
    if "umap" in sys.modules:
        return sys.modules["umap"]
    folder = cache_dir() / "numba"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(folder))
    progress("project", 0.0, "Preparing UMAP (compiled once per installation, then reused)")
    import numba

    numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]  # type: ignore[attr-defined]  # made at run time from the environment; not in numba's stubs
    originals = numba.njit, numba.jit

    def caching(decorator: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("cache", True)
            return decorator(*args, **kwargs)
        return wrapped

    numba.njit, numba.jit = caching(numba.njit), caching(numba.jit)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import umap
    finally:
        numba.njit, numba.jit = originals
    return cast(ModuleType, umap)


def fit_umap(vectors: np.ndarray, n_components: int, seed: int, n_neighbors: int = 15,
             check: Callable[[float], None] | None = None, cancel: CancelToken | None = None,
             **params: Any) -> np.ndarray:
    """UMAP (cosine) on `vectors` with the neighbour graph computed exactly by `cosine_knn`.

    umap-learn would find the neighbours with pynndescent, whose numba kernels are built from
    closures that numba cannot cache, so every new process paid ~50 s of JIT before the first
    fit (measured: a fresh-process 20k fit 61 s with the graph from pynndescent, 10 s plus 7 s of
    exact search without it; `benchmarks/projection.py`). `check` runs between neighbour blocks;
    the fit itself cannot stop half-way, so it runs through `run_cancellable` when `cancel` is
    given.
    """
    umap = import_umap()
    n = len(vectors)
    n_neighbors = max(2, min(n_neighbors, n - 1))
    indices, distances = cosine_knn(vectors, vectors, n_neighbors, check)
    # force_approximation_algorithm makes small inputs use the given graph as well, instead
    # of umap-learn's all-pairs path (whose kernels would also compile in every process).
    model = umap.UMAP(n_neighbors=n_neighbors, n_components=n_components, metric="cosine",
                      random_state=seed, precomputed_knn=(indices, distances),
                      force_approximation_algorithm=True, **params)

    def fit() -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # umap warns that a seed disables parallelism
            return np.asarray(model.fit_transform(vectors), dtype=np.float32)

    return run_cancellable(fit, cancel)
