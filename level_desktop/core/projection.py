"""The project stage: a 2-D position per row, for the map view and the hills' placement.

`clusters` (the cluster landscape, laid out from the clusters) is the default; `umap`
(n_neighbors 15, cosine, seeded), `tsne` (PCA to 50 dims first, cosine, perplexity 30 clamped for
small inputs, init pca) and `pca` are alternatives. Choice measured in `benchmarks/projection.py`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from level_desktop.core.clustering import AutoClusterer
from level_desktop.core.progress import CancelToken, ProgressCallback, no_progress, run_cancellable
from level_desktop.core.registry import Registry
from level_desktop.core.umap_fit import fit_umap, import_umap
from level_desktop.core.vectors import cosine_knn, unit_rows

MAX_FIT = 20_000  # rows UMAP is fitted on; the others are placed among their neighbours
PLACE_NEIGHBOURS = 10


@runtime_checkable
class Projector(Protocol):
    name: str

    def fit_transform(self, vectors: np.ndarray) -> np.ndarray:
        """Return finite float32 positions of shape (n, 2)."""
        ...


class ClusterProjector(Protocol):
    """A projector whose registry entry `needs_clusters`: it lays the map out from the labels."""

    name: str

    def fit_transform(self, vectors: np.ndarray, labels: np.ndarray | None = None,
                      groups: np.ndarray | None = None) -> np.ndarray:
        """`groups`: the topic of each cluster, when the map should keep a topic's clusters
        together (a projector may ignore it)."""
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


def place_by_neighbours(vectors: np.ndarray, fitted: np.ndarray, positions: np.ndarray,
                        k: int = PLACE_NEIGHBOURS,
                        check: Callable[[float], None] | None = None) -> np.ndarray:
    """Positions for rows outside a fitted sample: the mean of their k nearest fitted rows'
    positions, weighted like UMAP's membership strengths (exp(−(d − d_nearest) / mean gap))."""
    indices, distances = cosine_knn(vectors, fitted, k, check)
    gaps = distances - distances[:, :1]
    scale = np.maximum(gaps.mean(axis=1, keepdims=True), 1e-6)
    weights = np.exp(-gaps / scale)
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("nk,nkd->nd", weights, positions[indices]).astype(np.float32)


class UMAPProjector:
    """UMAP to 2-D. Above `max_fit` rows it is fitted on a seeded sample and the other rows are
    placed among their nearest fitted rows (`place_by_neighbours`); measured in
    `benchmarks/projection.py`."""

    name = "umap"

    def __init__(self, seed: int = 42, n_neighbors: int = 15, max_fit: int = MAX_FIT,
                 n_epochs: int | None = None, progress: ProgressCallback = no_progress,
                 cancel: CancelToken | None = None) -> None:
        self.seed = seed
        self.n_epochs = n_epochs  # None: umap-learn's default, 500 below 10,000 rows, 200 above
        self.n_neighbors = n_neighbors
        self.max_fit = max_fit
        self.progress = progress
        self.cancel = cancel or CancelToken()

    def _checker(self, lo: float, hi: float, message: str) -> Callable[[float], None]:
        def check(fraction: float) -> None:
            self.cancel.check()
            self.progress("project", lo + (hi - lo) * fraction, message)
        return check

    def fit_transform(self, vectors: np.ndarray) -> np.ndarray:
        import_umap(self.progress)
        n = len(vectors)
        if n <= self.max_fit:
            self.progress("project", 0.05, f"UMAP on {n:,} rows")
            return _finite(fit_umap(vectors, 2, self.seed, self.n_neighbors,
                                    self._checker(0.05, 0.4, "Finding each row's neighbours"),
                                    cancel=self.cancel, n_epochs=self.n_epochs))
        rng = np.random.default_rng(self.seed)
        fit_rows = np.sort(rng.choice(n, self.max_fit, replace=False))
        message = f"UMAP fitted on {self.max_fit:,} of {n:,} rows"
        self.progress("project", 0.05, message)
        out = np.empty((n, 2), dtype=np.float32)
        out[fit_rows] = fit_umap(vectors[fit_rows], 2, self.seed, self.n_neighbors,
                                 self._checker(0.05, 0.25, message), cancel=self.cancel,
                                 n_epochs=self.n_epochs)
        rest = np.setdiff1d(np.arange(n), fit_rows)
        out[rest] = place_by_neighbours(
            vectors[rest], vectors[fit_rows], out[fit_rows],
            check=self._checker(0.6, 1.0, f"Placing the other {rest.size:,} rows"))
        return _finite(out)


class ClusterLayoutProjector:
    """A map laid out from the clusters: each cluster gets a disc whose area follows its size,
    the discs are placed by t-SNE on the cluster centroids (related clusters side by side) and
    pushed apart until none overlap, and each row sits in its cluster's disc at its offset from
    the centroid along the cluster's two principal directions. Rows outside every cluster
    (noise) are placed among their nearest clustered rows.

    With topics (`groups`, the topic of each cluster) the layout has two levels: each topic's
    clusters are placed as above into a region of their own, then the regions (one per topic,
    as large as its packed clusters) are placed by t-SNE on the topics' centroids and pushed
    apart the same way, so a topic's rows are contiguous (a massif, its clusters the peaks on
    it) and related topics lie near each other.

    No neighbour graph over the rows and no compiled kernels: O(n·d) after a t-SNE on at most
    a few hundred centroids, so 200,000 rows take seconds; every row stands on its own hill.
    Measured against UMAP in `benchmarks/projection.py`.
    """

    name = "clusters"
    needs_clusters = True

    def __init__(self, seed: int = 42, progress: ProgressCallback = no_progress,
                 cancel: CancelToken | None = None) -> None:
        self.seed = seed
        self.progress = progress
        self.cancel = cancel or CancelToken()

    def fit_transform(self, vectors: np.ndarray, labels: np.ndarray | None = None,
                      groups: np.ndarray | None = None) -> np.ndarray:
        vectors = unit_rows(vectors)
        n = len(vectors)
        if labels is None:
            labels = AutoClusterer(seed=self.seed).fit(vectors)
        labels = np.asarray(labels)
        member = labels >= 0
        k = int(labels.max()) + 1 if member.any() else 0
        out = np.zeros((n, 2), dtype=np.float32)
        if k == 0:
            return PCAProjector(self.seed).fit_transform(vectors) if n > 2 else out
        sizes = np.bincount(labels[member], minlength=k).astype(np.float64)
        order = np.argsort(labels, kind="stable")
        bounds = np.searchsorted(labels[order], np.arange(k + 1))
        members = [order[bounds[c]:bounds[c + 1]] for c in range(k)]
        centroids = np.stack([self._mean(vectors, rows) for rows in members])
        self.progress("project", 0.1, f"Placing {k} clusters")
        radii = np.sqrt(np.maximum(sizes, 1) / max(sizes.max(), 1))
        if groups is not None and len(groups) == k and np.unique(groups).size < k:
            centres = self._grouped_centres(centroids, sizes, radii, np.asarray(groups))
        else:
            centres = self._separate(self._centre_layout(centroids), radii,
                                     check=self.cancel.check)
        rng = np.random.default_rng(self.seed)
        self.progress("project", 0.4, f"Placing {int(member.sum()):,} rows in their clusters")
        for c, rows in enumerate(members):
            if rows.size == 0:
                continue
            offsets = self._offsets(vectors[rows] - centroids[c], rng)
            out[rows] = centres[c] + radii[c] * offsets
            self.cancel.check()
        noise = np.flatnonzero(~member)
        if noise.size:
            self.progress("project", 0.8, f"Placing {noise.size:,} rows outside the clusters")
            clustered = np.flatnonzero(member)
            if clustered.size > MAX_FIT:
                clustered = np.sort(rng.choice(clustered, MAX_FIT, replace=False))
            out[noise] = place_by_neighbours(vectors[noise], vectors[clustered], out[clustered],
                                             check=lambda f: self.cancel.check())
        return _finite(out)

    def _mean(self, vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
        self.cancel.check()
        return vectors[rows].mean(axis=0) if rows.size else np.zeros(vectors.shape[1], np.float32)

    def _grouped_centres(self, centroids: np.ndarray, sizes: np.ndarray, radii: np.ndarray,
                         groups: np.ndarray) -> np.ndarray:
        """Cluster disc centres, two levels: each group's clusters packed around its own
        origin, then the groups' regions placed by their centroids and pushed apart."""
        found = np.unique(groups)
        local = np.zeros((len(centroids), 2))
        reach = np.zeros(found.size)
        group_centroids = np.zeros((found.size, centroids.shape[1]))
        for g, group in enumerate(found):
            inside = np.flatnonzero(groups == group)
            packed = self._separate(self._centre_layout(centroids[inside]), radii[inside],
                                    check=self.cancel.check)
            # Centre the group's discs on the middle of their bounding box.
            low = (packed - radii[inside, None]).min(axis=0)
            high = (packed + radii[inside, None]).max(axis=0)
            packed = packed - (low + high) / 2
            local[inside] = packed
            reach[g] = float((np.linalg.norm(packed, axis=1) + radii[inside]).max())
            group_centroids[g] = sizes[inside] @ centroids[inside] / max(sizes[inside].sum(), 1)
            self.cancel.check()
        placed = self._separate(self._centre_layout(group_centroids), reach, gap=1.05,
                                check=self.cancel.check)
        return local + placed[np.searchsorted(found, groups)]

    def _centre_layout(self, centroids: np.ndarray) -> np.ndarray:
        """2-D positions of the centroids, neighbours kept together, scaled to unit spread."""
        k = len(centroids)
        if k == 1:
            return np.zeros((1, 2))
        if k <= 4:
            layout = PCAProjector(self.seed).fit_transform(centroids).astype(np.float64)
            if k == 2 or np.ptp(layout[:, 1]) < 1e-9:
                layout[:, 1] = 0.0 if k == 2 else np.linspace(-1, 1, k)
        else:
            from sklearn.manifold import TSNE

            tsne = TSNE(n_components=2, perplexity=min(30.0, (k - 1) / 3), metric="cosine",
                        init="pca", method="exact", max_iter=500, random_state=self.seed)

            def fit() -> np.ndarray:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return tsne.fit_transform(centroids).astype(np.float64)

            # scikit-learn's t-SNE has no step to check between (seconds on 150 centroids).
            layout = run_cancellable(fit, self.cancel)
        layout -= layout.mean(axis=0)
        return layout / max(float(np.sqrt((layout ** 2).sum(axis=1).mean())), 1e-9)

    @staticmethod
    def _separate(centres: np.ndarray, radii: np.ndarray, gap: float = 1.1,
                  iterations: int = 500, check: Callable[[], None] | None = None) -> np.ndarray:
        """Scale the layout so neighbouring discs touch, then push overlapping discs apart
        (`check` runs before every push, to honour cancel)."""
        k = len(centres)
        if k == 1:
            return centres
        dist = np.linalg.norm(centres[:, None] - centres[None], axis=2)
        need = gap * (radii[:, None] + radii[None])
        np.fill_diagonal(dist, np.inf)
        nearest = np.argmin(dist, axis=1)
        ratio = need[np.arange(k), nearest] / np.maximum(dist[np.arange(k), nearest], 1e-9)
        # Start packed tighter than touching (t-SNE leaves uneven gaps); the pushes below open
        # exactly the room each disc needs.
        centres = centres * 0.5 * float(np.median(ratio))
        for _ in range(iterations):
            if check is not None:
                check()
            delta = centres[:, None] - centres[None]
            dist = np.linalg.norm(delta, axis=2)
            np.fill_diagonal(dist, np.inf)
            overlap = np.maximum(need - dist, 0.0)
            if not overlap.any():
                break
            direction = delta / np.maximum(dist, 1e-9)[..., None]
            centres = centres + 0.5 * (overlap[..., None] * direction).sum(axis=1) / 2
        return centres

    @staticmethod
    def _offsets(residuals: np.ndarray, rng: np.random.Generator, cap: int = 2000) -> np.ndarray:
        """Each row's offset in its disc: its residual along the cluster's two principal
        directions, scaled so the 90th-percentile row sits at 0.9 of the radius, squashed
        inside the disc."""
        m = len(residuals)
        if m < 3:
            return np.zeros((m, 2), dtype=np.float32) if m == 1 else np.array(
                [[-0.5, 0.0], [0.5, 0.0]], dtype=np.float32)[:m]
        fit = residuals if m <= cap else residuals[rng.choice(m, cap, replace=False)]
        # float64 once: a float32 matrix times the float64 basis is converted anew in every
        # product (24 of them), which cost more than the products (70 ms a cluster).
        fit = np.asarray(fit, dtype=np.float64)
        fit = fit - fit.mean(axis=0)
        # The two principal directions by subspace iteration: a few thin products, where a full
        # SVD per cluster cost 17 ms each (2.4 s for 141 clusters).
        basis = np.linalg.qr(fit.T @ rng.normal(size=(len(fit), 2)))[0]
        for _ in range(12):
            basis = np.linalg.qr(fit.T @ (fit @ basis))[0]
        coords = residuals @ basis.astype(residuals.dtype)
        norms = np.linalg.norm(coords, axis=1)
        scale = max(float(np.percentile(norms, 90)), 1e-9) / 0.9
        unit = coords / scale
        r = np.linalg.norm(unit, axis=1, keepdims=True)
        return (unit * (np.tanh(r) / np.maximum(r, 1e-9))).astype(np.float32)


PROJECTORS: Registry[Projector] = Registry("projection", runtime=("progress", "cancel"))
PROJECTORS.register(
    "clusters", lambda seed, progress=no_progress, cancel=None: ClusterLayoutProjector(
        seed=seed, progress=progress, cancel=cancel),
    parameters=("seed",), needs_clusters=True,
    display_name="Cluster landscape (one hill per cluster; fast)",
    description="one hill per cluster, discs placed by t-SNE on the centroids")
PROJECTORS.register(
    "umap", lambda seed, progress=no_progress, cancel=None: UMAPProjector(
        seed=seed, progress=progress, cancel=cancel),
    parameters=("seed",), display_name="UMAP (rows by their neighbours; slower)",
    description="UMAP of the rows, 15 neighbours, cosine")
PROJECTORS.register("tsne", lambda seed, **_: TSNEProjector(seed=seed), parameters=("seed",),
                    display_name="t-SNE", description="t-SNE of the rows after PCA to 50 dims")
PROJECTORS.register("pca", lambda seed, **_: PCAProjector(seed=seed), parameters=("seed",),
                    display_name="PCA (fastest; hills may merge)",
                    description="the first two principal components")
