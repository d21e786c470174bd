"""The project stage: a 2-D position per row, for the map view and the hills' placement.

`umap` (n_neighbors 15, cosine, seeded) is the default; `tsne` (PCA to 50 dims first, cosine,
perplexity 30 clamped for small inputs, init pca) and `pca` are alternatives.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Protocol, runtime_checkable

import numpy as np

from level_desktop.core.progress import ProgressCallback, no_progress
from level_desktop.core.registry import Registry
from level_desktop.core.store import cache_dir


@runtime_checkable
class Projector(Protocol):
    name: str

    def fit_transform(self, vectors: np.ndarray) -> np.ndarray:
        """Return finite float32 positions of shape (n, 2)."""
        ...


def _finite(positions: np.ndarray) -> np.ndarray:
    positions = np.asarray(positions, dtype=np.float32)
    return np.nan_to_num(positions, nan=0.0, posinf=0.0, neginf=0.0)


class PCAProjector:
    name = "pca"

    def __init__(self, seed: int = 42) -> None:
        self.seed = seed

    def fit_transform(self, vectors: np.ndarray) -> np.ndarray:
        from sklearn.decomposition import PCA

        return _finite(PCA(n_components=2, random_state=self.seed).fit_transform(vectors))


class TSNEProjector:
    name = "tsne"

    def __init__(self, seed: int = 42, perplexity: float = 30.0, max_iter: int = 1000) -> None:
        self.seed = seed
        self.perplexity = perplexity
        self.max_iter = max_iter

    def fit_transform(self, vectors: np.ndarray) -> np.ndarray:
        from sklearn.decomposition import PCA
        from sklearn.manifold import TSNE

        n = len(vectors)
        reduced = vectors
        if vectors.shape[1] > 50 and n > 50:
            reduced = PCA(n_components=50, random_state=self.seed).fit_transform(vectors)
        perplexity = min(self.perplexity, max(2.0, (n - 1) / 3))
        model = TSNE(n_components=2, perplexity=perplexity, metric="cosine", init="pca",
                     max_iter=self.max_iter, random_state=self.seed)
        return _finite(model.fit_transform(reduced))


def import_umap(progress: ProgressCallback = no_progress):
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

    numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]
    originals = numba.njit, numba.jit

    def caching(decorator):
        def wrapped(*args, **kwargs):
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
    return umap


class UMAPProjector:
    """UMAP to 2-D. Above `max_fit` rows it is fitted on a seeded sample and the other rows are
    placed with `transform`, which keeps 200,000 rows within minutes (measured in benchmarks)."""

    name = "umap"

    def __init__(self, seed: int = 42, n_neighbors: int = 15, max_fit: int = 20_000,
                 progress: ProgressCallback = no_progress) -> None:
        self.seed = seed
        self.n_neighbors = n_neighbors
        self.max_fit = max_fit
        self.progress = progress

    def fit_transform(self, vectors: np.ndarray) -> np.ndarray:
        umap = import_umap(self.progress)
        n = len(vectors)
        n_neighbors = max(2, min(self.n_neighbors, n - 1))
        model = umap.UMAP(n_neighbors=n_neighbors, n_components=2, metric="cosine",
                          random_state=self.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # umap warns that a seed disables parallelism
            if n <= self.max_fit:
                self.progress("project", 0.1, f"UMAP on {n:,} rows")
                return _finite(model.fit_transform(vectors))
            rng = np.random.default_rng(self.seed)
            fit_rows = np.sort(rng.choice(n, self.max_fit, replace=False))
            self.progress("project", 0.1, f"UMAP fitted on {self.max_fit:,} of {n:,} rows")
            out = np.empty((n, 2), dtype=np.float32)
            out[fit_rows] = model.fit_transform(vectors[fit_rows])
            rest = np.setdiff1d(np.arange(n), fit_rows)
            self.progress("project", 0.6, f"Placing the other {rest.size:,} rows")
            out[rest] = model.transform(vectors[rest])
            return _finite(out)


PROJECTORS: Registry[Projector] = Registry("projection")
PROJECTORS.register("umap", lambda seed=42, progress=no_progress, **_: UMAPProjector(
    seed=seed, progress=progress))
PROJECTORS.register("tsne", lambda seed=42, **_: TSNEProjector(seed=seed))
PROJECTORS.register("pca", lambda seed=42, **_: PCAProjector(seed=seed))
