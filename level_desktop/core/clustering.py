"""The cluster stage: a label per row (−1 = noise) and per-cluster statistics.

Methods (chosen by name from `CLUSTERERS`): `auto` (the default: k-means with k chosen from the
data, see `auto_k`), `kmeans` (a given k), `dbscan` (cosine, eps from the knee of the k-distance
curve unless given) and `hdbscan`. Why `auto` is the default is measured in
`benchmarks/clustering.py`; the table is in `benchmarks/README.md`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from level_desktop.core.embedding import normalize_rows
from level_desktop.core.registry import Registry

NOISE = -1


@runtime_checkable
class Clusterer(Protocol):
    name: str

    def fit(self, vectors: np.ndarray) -> np.ndarray:
        """Return one int label per row, ≥ −1; the same for the same seed."""
        ...


def auto_k(n: int) -> int:
    """The number of clusters `auto` uses for n rows: √n / 2, kept within [2, 120].

    A terrain wants tens of hills; the rule's agreement with human labels is measured in
    benchmarks/clustering.py.
    """
    return int(np.clip(round(np.sqrt(n) / 2), 2, 120))


def kmeans_labels(vectors: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Spherical-ish k-means (on unit vectors) with a fixed seed."""
    from sklearn.cluster import KMeans

    k = min(k, len(vectors))
    model = KMeans(n_clusters=k, n_init=1, random_state=seed, max_iter=100)
    return model.fit_predict(vectors).astype(np.int32)


class KMeansClusterer:
    name = "kmeans"

    def __init__(self, k: int = 20, seed: int = 42) -> None:
        self.k = k
        self.seed = seed

    def fit(self, vectors: np.ndarray) -> np.ndarray:
        return kmeans_labels(vectors, self.k, self.seed)


class AutoClusterer:
    """k-means with k from `auto_k`: no noise, tens of clusters, no k to guess."""

    name = "auto"

    def __init__(self, seed: int = 42) -> None:
        self.seed = seed

    def fit(self, vectors: np.ndarray) -> np.ndarray:
        self.k_ = auto_k(len(vectors))
        return kmeans_labels(vectors, self.k_, self.seed)


def knee_of_k_distance(vectors: np.ndarray, k: int, sample: int = 5000, seed: int = 42) -> float:
    """eps at the knee of the sorted k-distance curve (cosine).

    Rule (Kneedle): sort each row's distance to its k-th neighbour ascending, scale both axes to
    [0, 1], and take the point farthest below the chord from the first to the last point.
    """
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(seed)
    x = vectors if len(vectors) <= sample else vectors[rng.choice(len(vectors), sample, False)]
    k = min(k, len(x) - 1)
    nn = NearestNeighbors(n_neighbors=k + 1, metric="cosine").fit(x)
    dist = np.sort(nn.kneighbors(x)[0][:, k])
    if dist[-1] <= dist[0]:
        return float(max(dist[-1], 1e-6))
    xs = np.linspace(0.0, 1.0, dist.size)
    ys = (dist - dist[0]) / (dist[-1] - dist[0])
    return float(max(dist[int(np.argmax(xs - ys))], 1e-6))


class DBSCANClusterer:
    name = "dbscan"

    def __init__(self, eps: float | None = None, min_samples: int = 10, seed: int = 42) -> None:
        self.eps = eps
        self.min_samples = min_samples
        self.seed = seed

    def fit(self, vectors: np.ndarray) -> np.ndarray:
        from sklearn.cluster import DBSCAN

        self.eps_ = self.eps or knee_of_k_distance(vectors, self.min_samples, seed=self.seed)
        model = DBSCAN(eps=self.eps_, min_samples=self.min_samples, metric="cosine",
                       algorithm="brute")
        return model.fit_predict(vectors).astype(np.int32)


class HDBSCANClusterer:
    name = "hdbscan"

    def __init__(self, min_cluster_size: int | None = None, min_samples: int = 10,
                 seed: int = 42) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.seed = seed

    def fit(self, vectors: np.ndarray) -> np.ndarray:
        from sklearn.cluster import HDBSCAN

        size = self.min_cluster_size or max(5, len(vectors) // 500)
        model = HDBSCAN(min_cluster_size=size, min_samples=self.min_samples)
        return model.fit_predict(vectors).astype(np.int32)


CLUSTERERS: Registry[Clusterer] = Registry("clustering")
CLUSTERERS.register("auto", lambda seed=42, **_: AutoClusterer(seed=seed))
CLUSTERERS.register("kmeans", lambda k=None, seed=42, **_: KMeansClusterer(k=k or 20, seed=seed))
CLUSTERERS.register("dbscan", lambda eps=None, min_samples=10, seed=42, **_: DBSCANClusterer(
    eps=eps, min_samples=min_samples, seed=seed))
CLUSTERERS.register("hdbscan", lambda min_cluster_size=None, min_samples=10, seed=42, **_:
                    HDBSCANClusterer(min_cluster_size, min_samples, seed))


@dataclass
class ClusterStats:
    """Per-cluster statistics, clusters renumbered 0.. by size (largest first)."""

    labels: np.ndarray  # int32 per row, −1 = noise
    ids: np.ndarray  # cluster ids, 0..k−1
    sizes: np.ndarray  # rows per cluster
    centroids: np.ndarray  # (k, d) unit vectors
    spreads: np.ndarray  # mean cosine distance of a cluster's rows to its centroid

    @property
    def noise_size(self) -> int:
        return int((self.labels == NOISE).sum())


def cluster_stats(vectors: np.ndarray, labels: np.ndarray) -> ClusterStats:
    """Renumber clusters by size (largest = 0) and compute size, centroid and spread."""
    labels = np.asarray(labels, dtype=np.int64)
    found = np.unique(labels[labels != NOISE])
    sizes = np.array([(labels == c).sum() for c in found], dtype=np.int64)
    order = np.argsort(-sizes, kind="stable")
    remap = np.full(int(found.max()) + 2 if found.size else 1, NOISE, dtype=np.int64)
    remap[found[order]] = np.arange(found.size)
    new = np.where(labels == NOISE, NOISE, remap[np.where(labels == NOISE, 0, labels)])
    k = found.size
    d = vectors.shape[1]
    sums = np.zeros((k, d), dtype=np.float64)
    member = new != NOISE
    np.add.at(sums, new[member], vectors[member])
    centroids = normalize_rows(sums)
    cos = np.einsum("ij,ij->i", vectors[member], centroids[new[member]])
    spreads = np.bincount(new[member], weights=1.0 - cos, minlength=k) / np.maximum(
        np.bincount(new[member], minlength=k), 1)
    return ClusterStats(labels=new.astype(np.int32), ids=np.arange(k), sizes=sizes[order],
                        centroids=centroids.astype(np.float32), spreads=spreads)


def assign_noise(vectors: np.ndarray, labels: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Give each noise row the label of its nearest centroid (cosine)."""
    labels = labels.copy()
    noise = labels == NOISE
    if noise.any() and len(centroids):
        labels[noise] = np.argmax(vectors[noise] @ centroids.T, axis=1)
    return labels
