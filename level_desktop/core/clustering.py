"""The cluster stage: a label per row (−1 = noise) and per-cluster statistics.

Methods, chosen by name from `CLUSTERERS`:

- `auto` (the default): spherical k-means (cosine; Level's own numpy code, k-means++ start) with
  k = round(√n), kept within [2, 150] — see `auto_k`. No noise, no k to guess, no numba JIT.
- `kmeans`: the same k-means with a k the user gives (√n rule when none is given).
- `dbscan`: DBSCAN in the 5-d UMAP space (BERTopic's reduction: 15 neighbours, min_dist 0, cosine,
  seeded), where density means something; eps is read off the k-distance curve (k = min_samples)
  by `percolation_eps`: the last eps before one cluster swallows the others. The original spec,
  DBSCAN on cosine distance in the raw space with eps at the curve's knee (`k_distance_eps`), is
  `DBSCANClusterer(space="cosine")`; it makes one cluster of these sets (NMI < 0.01). In UMAP
  space: 242 / 114 clusters, 8 % / 16 % noise, NMI 1.03× / 0.91× the peer's (debian / fortunes).
- `hdbscan`: HDBSCAN in the same 5-d UMAP space, min_cluster_size = max(10, n // 1000).

Why `auto` is the default (benchmarks/clustering.py; table in benchmarks/README.md; medians of 3
seeds on debian-packages 20k / fortunes 15k, MiniLM): the bar is NMI at least the BERTopic-style
peer's (UMAP 5-d + HDBSCAN: 0.401 / 0.277, with 24 % / 50 % noise and 388 / 205 clusters), ≤ 15 %
noise, 0.5–3× as many clusters as human labels (58 / 43), and ≤ 5 s for 20,000 rows in a fresh
process — which rules out anything needing UMAP's JIT. k-means has no noise and needs no JIT. On
debian its NMI is flat (0.41–0.42) for k = 30–200; on fortunes it rises with k and passes the
peer's only above k = 100. Candidate rules for k (k-means NMI, debian / fortunes):

    √n / 2 (the old placeholder)   k = 71 / 62    0.420 / 0.258   fails fortunes
    √(n / 2)                       k = 100 / 87   0.415 / 0.269   fails fortunes
    elbow of the objective, grid   k = 60 / 60    0.421 / 0.264   fails fortunes
    best silhouette (5k rows)      k = 60 / 200   0.421 / 0.300   200 > 3 × 43 on fortunes
    √n  (chosen)                   k = 141 / 123  0.420 / 0.283   1.05× / 1.03× the peer

√n is the only candidate that passes on both sets; the cap of 150 keeps a terrain readable at
200,000 rows. NMI favours more clusters: chance-corrected AMI is flat from k ≈ 60 on fortunes and best
at k ≈ 40–60 on debian, so the margin over the peer is thin on fortunes (1.03×) and comes from k.
Level's numpy k-means matched scikit-learn's KMeans and faiss in NMI at the same k, in about a tenth
of scikit-learn's time and at about faiss' speed, without a new dependency.

Sizing for 200,000 rows (no n × n memory anywhere): k-means trains on at most 256 rows per cluster
(a seeded sample) and then assigns every row in chunks; DBSCAN and HDBSCAN run on at most 50,000
rows of the 5-d space (a seeded sample) and every other row takes the label of its nearest sampled
row (DBSCAN: of the nearest core row within eps, else noise), so their noise share is kept; cosine
DBSCAN samples at most 20,000 rows. UMAP itself is O(n) in memory but pays a numba JIT of one to
several minutes in every new process, which is why no default depends on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from level_desktop.core.progress import CancelToken, ProgressCallback, no_progress, run_cancellable
from level_desktop.core.registry import Registry
from level_desktop.core.umap_fit import fit_umap
from level_desktop.core.vectors import normalize_rows, unit_rows

NOISE = -1
AUTO_K_MAX = 150
KMEANS_ROWS_PER_CLUSTER = 256  # k-means trains on at most this many rows per cluster
KMEANS_SEED_ROWS_PER_CLUSTER = 20  # and draws its k-means++ start from at most this many
DENSITY_SAMPLE = 50_000  # rows DBSCAN / HDBSCAN fit on in the 5-d space; the rest are assigned
COSINE_DBSCAN_SAMPLE = 20_000  # rows the raw-space (spec) DBSCAN fits on
KNEE_KEEP = 0.99  # the knee is sought on the k-distance curve's lower 99 % (outliers stretch it)
EPS_QUANTILES = np.round(np.arange(0.50, 0.981, 0.02), 2)  # eps candidates for `percolation_eps`
UMAP_PARAMS: dict[str, Any] = {"n_neighbors": 15, "n_components": 5, "min_dist": 0.0,
                               "metric": "cosine"}
_CHUNK = 16_384


@runtime_checkable
class Clusterer(Protocol):
    name: str

    def fit(self, vectors: np.ndarray) -> np.ndarray:
        """Return one int32 label per row, ≥ −1; the same for the same seed."""
        ...


# --- k-means -------------------------------------------------------------------------------------

def auto_k(n: int) -> int:
    """The number of clusters `auto` uses for n rows: round(√n), kept within [2, 150] and ≤ n."""
    return int(min(n, np.clip(round(np.sqrt(n)), 2, AUTO_K_MAX)))


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None:
        cancel.check()


def _nearest(x: np.ndarray, centroids: np.ndarray, cancel: CancelToken | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Index of and cosine similarity to each row's nearest centroid, in row chunks (cancel is
    checked between them)."""
    labels = np.empty(len(x), dtype=np.int32)
    sims = np.empty(len(x), dtype=np.float32)
    for start in range(0, len(x), _CHUNK):
        _check(cancel)
        s = x[start:start + _CHUNK] @ centroids.T
        labels[start:start + _CHUNK] = np.argmax(s, axis=1)
        sims[start:start + _CHUNK] = s[np.arange(len(s)), labels[start:start + _CHUNK]]
    return labels, sims


def _label_sums(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Sum of the rows of each label 0..k−1 (a sparse one-hot product: fast and O(n) memory)."""
    from scipy.sparse import csr_matrix

    onehot = csr_matrix((np.ones(len(x), dtype=np.float32), (labels, np.arange(len(x)))),
                        shape=(k, len(x)))
    return np.asarray(onehot @ x, dtype=np.float32)


def _kmeans_plus_plus(x: np.ndarray, k: int, rng: np.random.Generator,
                      cancel: CancelToken | None = None) -> np.ndarray:
    """k-means++ seeding on cosine distance: each next centre drawn ∝ distance to the nearest."""
    centres = np.empty((k, x.shape[1]), dtype=np.float32)
    centres[0] = x[rng.integers(len(x))]
    dist = np.maximum(1.0 - x @ centres[0], 0.0)
    for j in range(1, k):
        _check(cancel)
        cumulative = np.cumsum(dist, dtype=np.float64)
        if cumulative[-1] > 0:
            i = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
        else:
            i = int(rng.integers(len(x)))
        centres[j] = x[min(i, len(x) - 1)]
        np.minimum(dist, np.maximum(1.0 - x @ centres[j], 0.0), out=dist)
    return centres


def spherical_kmeans(vectors: np.ndarray, k: int, seed: int = 42, max_iter: int = 50,
                     tol: float = 5e-3, progress: ProgressCallback = no_progress,
                     cancel: CancelToken | None = None) -> np.ndarray:
    """Lloyd's k-means on unit vectors with cosine similarity (centroids re-normalised).

    Trains on at most 256 rows per cluster and seeds (k-means++) from at most 20 per cluster
    (seeded samples: the seeding is sequential; sampling it left NMI unchanged in trials), stops
    when at most `tol` of the training rows change cluster, refills an empty cluster with the
    worst-fitting row, then labels every row by its nearest centroid. Cancel is checked in every
    iteration and between row chunks; each iteration reports progress.
    """
    x = unit_rows(vectors)
    n = len(x)
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    cap = KMEANS_ROWS_PER_CLUSTER * k
    train = x if n <= cap else x[np.sort(rng.choice(n, cap, replace=False))]
    seed_cap = KMEANS_SEED_ROWS_PER_CLUSTER * k
    seeds = train if len(train) <= seed_cap else train[rng.choice(len(train), seed_cap, False)]
    centroids = _kmeans_plus_plus(seeds, k, rng, cancel)
    labels = np.full(len(train), -1, dtype=np.int32)
    for iteration in range(max_iter):
        progress("cluster", 0.1 + 0.8 * iteration / max_iter,
                 f"k-means with k = {k}: iteration {iteration + 1}")
        new, sims = _nearest(train, centroids, cancel)
        changed = int((new != labels).sum())
        labels = new
        sums = _label_sums(train, labels, k)
        counts = np.bincount(labels, minlength=k)
        for c, row in zip(np.flatnonzero(counts == 0), np.argsort(sims), strict=False):
            sums[c] = train[row]
        centroids = normalize_rows(sums)
        if changed <= tol * len(train):
            break
    return _nearest(x, centroids, cancel)[0]


class KMeansClusterer:
    """Spherical k-means with a given k (√n rule, as `auto`, when k is None)."""

    name = "kmeans"

    def __init__(self, k: int | None = None, seed: int = 42,
                 progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
                 ) -> None:
        self.k = k
        self.seed = seed
        self.progress = progress
        self.cancel = cancel

    def fit(self, vectors: np.ndarray) -> np.ndarray:
        self.k_ = self.k or auto_k(len(vectors))
        return spherical_kmeans(vectors, self.k_, self.seed, progress=self.progress,
                                cancel=self.cancel)


class AutoClusterer(KMeansClusterer):
    """Level's default: spherical k-means with k from `auto_k` — no noise, no k to guess."""

    name = "auto"

    def __init__(self, seed: int = 42, progress: ProgressCallback = no_progress,
                 cancel: CancelToken | None = None) -> None:
        super().__init__(k=None, seed=seed, progress=progress, cancel=cancel)


# --- density methods ---------------------------------------------------------------------------

def knee_index(curve: np.ndarray) -> int:
    """The knee of an ascending curve (Kneedle): both axes scaled to [0, 1], the point farthest
    below the chord from the first to the last point."""
    y = np.asarray(curve, dtype=np.float64)
    if y.size < 3 or y[-1] <= y[0]:
        return max(0, y.size - 1)
    xs = np.linspace(0.0, 1.0, y.size)
    return int(np.argmax(xs - (y - y[0]) / (y[-1] - y[0])))


def k_distance_eps(k_distances: np.ndarray) -> float:
    """eps for DBSCAN: the knee of the sorted k-distance curve's lower 99 %.

    The top 1 % (isolated rows, far from everything) would otherwise stretch the y axis and push
    the knee to where every cluster has merged.
    """
    d = np.sort(np.asarray(k_distances, dtype=np.float64))
    body = d[:max(3, int(np.ceil(KNEE_KEEP * d.size)))]
    return float(max(body[knee_index(body)], 1e-9))


def percolation_eps(points: np.ndarray, min_samples: int, cancel: CancelToken | None = None
                    ) -> tuple[float, Any]:
    """eps for DBSCAN in a low-dimensional space, and the fitted DBSCAN at that eps.

    Rule: among the quantiles 50 %, 52 %, …, 98 % of the k-distance curve (k = min_samples), the
    eps that puts the most rows in clusters other than the largest — the last eps before one
    cluster swallows the others (DBSCAN's clusters only merge as eps grows). The scan stops once
    rows outside the largest cluster cannot beat the best so far. The knee of the same curve
    (`k_distance_eps`) lands past that point on fortunes and leaves one blob of 70 % of the rows.
    Each scikit-learn call runs through `run_cancellable`, so a cancel is felt between and
    during the fits.
    """
    from sklearn.cluster import DBSCAN
    from sklearn.neighbors import NearestNeighbors

    k_dist = run_cancellable(lambda: NearestNeighbors(n_neighbors=min_samples).fit(points)
                             .kneighbors(points)[0][:, -1], cancel)
    best: tuple[int, float, Any] | None = None
    for eps in np.unique(np.quantile(k_dist, EPS_QUANTILES)):
        eps = float(max(eps, 1e-9))
        model = run_cancellable(partial(DBSCAN(eps=eps, min_samples=min_samples).fit, points),
                                cancel)
        sizes = np.bincount(model.labels_[model.labels_ >= 0])
        largest = int(sizes.max()) if sizes.size else 0
        outside = int(sizes.sum()) - largest
        if best is None or outside > best[0]:
            best = (outside, eps, model)
        if len(points) - largest <= best[0]:
            break
    assert best is not None
    return best[1], best[2]


def umap_5d(vectors: np.ndarray, seed: int = 42, progress: ProgressCallback = no_progress,
            cancel: CancelToken | None = None) -> np.ndarray:
    """BERTopic's reduction: UMAP to 5-d (15 neighbours, min_dist 0, cosine), seeded; the
    neighbour graph is found exactly (see `umap_fit.fit_umap`), which saves the per-process JIT
    of umap-learn's own neighbour search. Cancel is checked between neighbour blocks and felt
    during the fit (`run_cancellable`)."""
    params = {k: v for k, v in UMAP_PARAMS.items() if k not in ("n_components", "n_neighbors",
                                                                 "metric")}

    def check(fraction: float) -> None:
        _check(cancel)
        progress("cluster", 0.05 + 0.3 * fraction, "Finding each row's neighbours for UMAP")

    return fit_umap(vectors, UMAP_PARAMS["n_components"], seed, UMAP_PARAMS["n_neighbors"],
                    check, cancel=cancel, **params)


def _sample(n: int, cap: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded sample of at most `cap` of n rows (all rows when n ≤ cap)."""
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, cap, replace=False))


def _extend_from_sample(n: int, sample: np.ndarray, model: Any, eps: float,
                        nearest_core: Callable[[np.ndarray, np.ndarray],
                                               tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Labels for all n rows from a DBSCAN `model` fitted on the rows `sample`: each other row
    takes the label of its nearest core point if that lies within eps, else it is noise.
    `nearest_core(rest, core)` gives, per row of `rest`, the index into `core` of its nearest
    core point and the distance to it (in the metric DBSCAN ran in)."""
    labels = model.labels_.astype(np.int32)
    if len(sample) == n:
        return labels
    rest = np.setdiff1d(np.arange(n), sample, assume_unique=True)
    core = model.core_sample_indices_
    nearest = np.full(len(rest), NOISE, dtype=np.int32)
    if core.size:
        idx, dist = nearest_core(rest, core)
        near = dist <= eps
        nearest[near] = labels[core[idx[near]]]
    return _fill_from_sample(n, sample, labels, nearest)


def _fill_from_sample(n: int, sample: np.ndarray, sample_labels: np.ndarray,
                      nearest: np.ndarray) -> np.ndarray:
    """Labels for all n rows: sampled rows keep theirs, the others take `nearest`'s (in order)."""
    labels = np.empty(n, dtype=np.int32)
    rest = np.ones(n, dtype=bool)
    rest[sample] = False
    labels[sample] = sample_labels
    labels[rest] = nearest
    return labels


class DBSCANClusterer:
    """DBSCAN in the 5-d UMAP space (default) or on raw cosine distance (the original spec).

    eps, when not given, comes from the min_samples-distances (the row itself counted, as sklearn
    counts it) of the rows DBSCAN runs on: `percolation_eps` in the UMAP space, the knee
    (`k_distance_eps`) on cosine distance. A given eps is a distance in that space. Past the
    sample cap, a row joins the cluster of its nearest core row when that is within eps, else it
    is noise — DBSCAN's own rule.
    """

    name = "dbscan"

    def __init__(self, eps: float | None = None, min_samples: int = 10, seed: int = 42,
                 space: Literal["umap", "cosine"] = "umap",
                 progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
                 ) -> None:
        self.eps = eps
        self.min_samples = min_samples
        self.seed = seed
        self.space = space
        self.progress = progress
        self.cancel = cancel

    def fit(self, vectors: np.ndarray) -> np.ndarray:
        if self.space == "cosine":
            return self._fit_cosine(normalize_rows(vectors))
        return self.fit_reduced(umap_5d(vectors, self.seed, self.progress, self.cancel))

    def fit_reduced(self, points: np.ndarray) -> np.ndarray:
        """DBSCAN (Euclidean) on points already in the low-dimensional space."""
        from sklearn.cluster import DBSCAN
        from sklearn.neighbors import NearestNeighbors

        sample = _sample(len(points), DENSITY_SAMPLE, self.seed)
        x = points[sample]
        ms = max(1, min(self.min_samples, len(x)))
        self.progress("cluster", 0.5, f"DBSCAN on {len(x):,} rows")
        if self.eps is None:
            self.eps_, model = percolation_eps(x, ms, self.cancel)
        else:
            self.eps_ = float(self.eps)
            model = run_cancellable(partial(DBSCAN(eps=self.eps_, min_samples=ms).fit, x),
                                    self.cancel)

        def nearest_core(rest: np.ndarray, core: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            dist, idx = run_cancellable(
                lambda: NearestNeighbors(n_neighbors=1).fit(x[core]).kneighbors(points[rest]),
                self.cancel)
            return idx[:, 0], dist[:, 0]

        return _extend_from_sample(len(points), sample, model, self.eps_, nearest_core)

    def _fit_cosine(self, x_all: np.ndarray) -> np.ndarray:
        from sklearn.cluster import DBSCAN
        from sklearn.neighbors import NearestNeighbors

        sample = _sample(len(x_all), COSINE_DBSCAN_SAMPLE, self.seed)
        x = x_all[sample]
        ms = max(1, min(self.min_samples, len(x)))
        if self.eps is None:
            nn = NearestNeighbors(n_neighbors=ms, metric="cosine", algorithm="brute").fit(x)
            self.eps_ = k_distance_eps(run_cancellable(lambda: nn.kneighbors(x)[0][:, -1],
                                                       self.cancel))
        else:
            self.eps_ = float(self.eps)
        model = run_cancellable(partial(DBSCAN(eps=self.eps_, min_samples=ms, metric="cosine",
                                               algorithm="brute").fit, x), self.cancel)

        def nearest_core(rest: np.ndarray, core: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            idx, sims = _nearest(x_all[rest], x[core], self.cancel)
            return idx, 1.0 - sims

        return _extend_from_sample(len(x_all), sample, model, self.eps_, nearest_core)


class HDBSCANClusterer:
    """HDBSCAN in the 5-d UMAP space; min_cluster_size = max(10, rows // 1000) unless given.

    Past the sample cap, a row takes the label (noise included) of its nearest sampled row.
    """

    name = "hdbscan"

    def __init__(self, min_cluster_size: int | None = None, min_samples: int | None = 10,
                 seed: int = 42, progress: ProgressCallback = no_progress,
                 cancel: CancelToken | None = None) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.seed = seed
        self.progress = progress
        self.cancel = cancel

    def fit(self, vectors: np.ndarray) -> np.ndarray:
        return self.fit_reduced(umap_5d(vectors, self.seed, self.progress, self.cancel))

    def fit_reduced(self, points: np.ndarray) -> np.ndarray:
        """HDBSCAN (Euclidean) on points already in the low-dimensional space."""
        from sklearn.cluster import HDBSCAN
        from sklearn.neighbors import NearestNeighbors

        sample = _sample(len(points), DENSITY_SAMPLE, self.seed)
        x = points[sample]
        self.min_cluster_size_ = min(len(x), self.min_cluster_size or max(10, len(x) // 1000))
        self.min_cluster_size_ = max(2, self.min_cluster_size_)
        ms = None if self.min_samples is None else max(1, min(self.min_samples, len(x) - 1))
        self.progress("cluster", 0.5, f"HDBSCAN on {len(x):,} rows")
        labels = run_cancellable(partial(HDBSCAN(min_cluster_size=self.min_cluster_size_,
                                                 min_samples=ms, copy=True).fit_predict, x),
                                 self.cancel).astype(np.int32)
        if len(sample) == len(points):
            return labels
        rest = np.setdiff1d(np.arange(len(points)), sample, assume_unique=True)
        idx = run_cancellable(lambda: NearestNeighbors(n_neighbors=1).fit(x).kneighbors(
            points[rest])[1][:, 0], self.cancel)
        return _fill_from_sample(len(points), sample, labels, labels[idx])


CLUSTERERS: Registry[Clusterer] = Registry("clustering", runtime=("progress", "cancel"))
CLUSTERERS.register(
    "auto", lambda seed, progress=no_progress, cancel=None: AutoClusterer(
        seed=seed, progress=progress, cancel=cancel), parameters=("seed",),
    display_name="auto — k-means, k from the number of rows (recommended)",
    description="spherical k-means with k = round(√rows), at most 150; no noise")
CLUSTERERS.register(
    "kmeans", lambda k, seed, progress=no_progress, cancel=None: KMeansClusterer(
        k=k, seed=seed, progress=progress, cancel=cancel), parameters=("k", "seed"),
    display_name="k-means with a chosen k", description="spherical k-means with k clusters")
CLUSTERERS.register(
    "dbscan", lambda eps, min_samples, seed, progress=no_progress, cancel=None: DBSCANClusterer(
        eps=eps, min_samples=min_samples, seed=seed, progress=progress, cancel=cancel),
    parameters=("eps", "min_samples", "seed"), makes_noise=True,
    display_name="DBSCAN (in 5-d UMAP space)",
    description="DBSCAN in the 5-d UMAP space, eps from the k-distance curve unless given")
CLUSTERERS.register(
    "hdbscan", lambda min_cluster_size, min_samples, seed, progress=no_progress, cancel=None: (
        HDBSCANClusterer(min_cluster_size, min_samples, seed, progress, cancel)),
    parameters=("min_cluster_size", "min_samples", "seed"), makes_noise=True,
    display_name="HDBSCAN (in 5-d UMAP space)",
    description="HDBSCAN in the 5-d UMAP space, as BERTopic does")


# --- statistics --------------------------------------------------------------------------------

@dataclass
class ClusterStats:
    """Per-cluster statistics, clusters renumbered 0.. by size (largest first)."""

    labels: np.ndarray  # int32 per row, −1 = noise
    ids: np.ndarray  # cluster ids, 0..k−1
    sizes: np.ndarray  # rows per cluster
    centroids: np.ndarray  # (k, d) unit vectors (normalised mean)
    spreads: np.ndarray  # mean cosine distance of a cluster's rows to its centroid

    @property
    def noise_size(self) -> int:
        return int((self.labels == NOISE).sum())


def cluster_stats(vectors: np.ndarray, labels: np.ndarray, cancel: CancelToken | None = None
                  ) -> ClusterStats:
    """Renumber clusters by size (largest = 0, ties by old id) and compute size, centroid, spread.

    Noise rows keep −1 and count in no cluster. Cancel is checked between row chunks.
    """
    x = unit_rows(vectors)
    _check(cancel)
    labels = np.asarray(labels, dtype=np.int64)
    member = labels != NOISE
    found, inverse, counts = np.unique(labels[member], return_inverse=True, return_counts=True)
    k = found.size
    order = np.argsort(-counts, kind="stable")
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    new = np.full(len(labels), NOISE, dtype=np.int64)
    new[member] = rank[inverse]
    sums = np.zeros((k, x.shape[1]), dtype=np.float32)
    for start in range(0, len(x), _CHUNK):
        _check(cancel)
        part = slice(start, start + _CHUNK)
        keep = member[part]
        if k:
            sums += _label_sums(x[part][keep], new[part][keep], k)
    centroids = normalize_rows(sums)
    distance_sums = np.zeros(k, dtype=np.float64)
    for start in range(0, len(x), _CHUNK):
        _check(cancel)
        part = slice(start, start + _CHUNK)
        keep = member[part]
        ids = new[part][keep]
        if k:
            cos = np.einsum("ij,ij->i", x[part][keep], centroids[ids])
            distance_sums += np.bincount(ids, weights=1.0 - cos, minlength=k)
    sizes = counts[order]
    spreads = distance_sums / np.maximum(sizes, 1)
    return ClusterStats(labels=new.astype(np.int32), ids=np.arange(k), sizes=sizes,
                        centroids=centroids.astype(np.float32), spreads=spreads)


def assign_noise(vectors: np.ndarray, labels: np.ndarray, centroids: np.ndarray,
                 cancel: CancelToken | None = None) -> np.ndarray:
    """Give each noise row the label of its nearest centroid (cosine); others keep theirs."""
    labels = np.asarray(labels).copy()
    noise = labels == NOISE
    if noise.any() and len(centroids):
        labels[noise] = _nearest(normalize_rows(vectors[noise]), normalize_rows(centroids),
                                 cancel)[0]
    return labels
