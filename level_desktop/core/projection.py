"""The project stage: a 2-D position per row, for the map view and the hills' placement.

`umap` (n_neighbors 15, cosine, seeded) is the default; `tsne` (PCA to 50 dims first, cosine,
perplexity 30 clamped for small inputs, init pca) and `pca` are alternatives.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from level_desktop.core.registry import Registry


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


class UMAPProjector:
    name = "umap"

    def __init__(self, seed: int = 42, n_neighbors: int = 15) -> None:
        self.seed = seed
        self.n_neighbors = n_neighbors

    def fit_transform(self, vectors: np.ndarray) -> np.ndarray:
        import umap

        n_neighbors = min(self.n_neighbors, len(vectors) - 1)
        model = umap.UMAP(n_neighbors=n_neighbors, n_components=2, metric="cosine",
                          random_state=self.seed)
        return _finite(model.fit_transform(vectors))


PROJECTORS: Registry[Projector] = Registry("projection")
PROJECTORS.register("umap", lambda seed=42, **_: UMAPProjector(seed=seed))
PROJECTORS.register("tsne", lambda seed=42, **_: TSNEProjector(seed=seed))
PROJECTORS.register("pca", lambda seed=42, **_: PCAProjector(seed=seed))
