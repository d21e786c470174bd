"""A second dataset (an eval set, production traffic) laid over the training set's landscape.

The comparison rows are embedded with the same model and each is assigned to the nearest
training cluster; the clusters themselves do not change. From that come each hill's share in both
sets, the coverage gaps (hills much larger in the comparison set than in training, and comparison
rows far from every training row), and "level to a target": weights that make the training set's
distribution over clusters match the comparison set's, capped by the same max up-weight as
Flatten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from level_desktop.core.errors import SettingsError
from level_desktop.core.vectors import cosine_knn, unit_rows

FAR_SIMILARITY = 0.5  # a comparison row whose nearest training row is less similar is uncovered
GAP_RATIO = 2.0  # a hill is a coverage gap when its comparison share is this many times its own
GAP_MIN_ROWS = 3  # ... and at least this many comparison rows fall on it
BLOCK_ROWS = 2048  # comparison rows per similarity block in the placement


@dataclass
class Placement:
    """Where each comparison row falls on the training landscape."""

    cluster: np.ndarray  # (m,) int: nearest training cluster (by centroid)
    cluster_similarity: np.ndarray  # (m,) cosine to that centroid
    nearest_row: np.ndarray  # (m,) int: position of the most similar training row
    nearest_similarity: np.ndarray  # (m,) cosine to it


def place(vectors: np.ndarray, centroids: np.ndarray, train_vectors: np.ndarray,
          check: Callable[[float], None] | None = None, train_labels: np.ndarray | None = None,
          clusters_searched: int = 3) -> Placement:
    """Nearest cluster (by centroid) and nearest training row of each comparison row.

    Without `train_labels` the nearest row is exact (blocked cosine products over every
    training row). With them, each row is compared only with the training rows of its
    `clusters_searched` nearest clusters (and the noise rows), as the leak search does: 5,000
    rows against 20,000 cost ~3 × 140 products a row instead of 20,000, and a row whose best
    match sits in a farther cluster is far from its own hills anyway.
    """
    cluster, cluster_distance = cosine_knn(vectors, centroids, 1)
    if train_labels is None or len(centroids) == 0:
        row, row_distance = cosine_knn(vectors, train_vectors, 1, check)
        nearest_row, nearest_similarity = row[:, 0].astype(np.int64), 1.0 - row_distance[:, 0]
    else:
        nearest_row, nearest_similarity = _nearest_in_clusters(
            vectors, centroids, train_vectors, np.asarray(train_labels, dtype=np.int64),
            clusters_searched, check)
    return Placement(cluster=cluster[:, 0].astype(np.int64),
                     cluster_similarity=1.0 - cluster_distance[:, 0],
                     nearest_row=nearest_row, nearest_similarity=nearest_similarity)


def _nearest_in_clusters(vectors: np.ndarray, centroids: np.ndarray, train_vectors: np.ndarray,
                         labels: np.ndarray, clusters_searched: int,
                         check: Callable[[float], None] | None) -> tuple[np.ndarray, np.ndarray]:
    k = len(centroids)
    near = cosine_knn(vectors, centroids, min(k, max(1, clusters_searched)))[0]
    best_row = np.full(len(vectors), -1, dtype=np.int64)
    best_sim = np.full(len(vectors), -np.inf, dtype=np.float32)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(-1, k + 1))
    query, train = unit_rows(vectors), unit_rows(train_vectors)  # once, not once per cluster
    for c in range(-1, k):
        if check is not None:
            check((c + 1) / (k + 1))
        members = order[bounds[c + 1]:bounds[c + 2]]
        rows = (np.arange(len(vectors)) if c < 0
                else np.flatnonzero((near == c).any(axis=1)))
        if not members.size or not rows.size:
            continue
        x_members = train[members]
        for r0 in range(0, rows.size, BLOCK_ROWS):  # ≤ BLOCK_ROWS × cluster of similarities
            block = rows[r0:r0 + BLOCK_ROWS]
            sims = query[block] @ x_members.T
            index = np.argmax(sims, axis=1)  # the first of equals: the lowest row position
            sim = sims[np.arange(block.size), index].astype(np.float32)
            better = sim > best_sim[block]
            best_sim[block[better]] = sim[better]
            best_row[block[better]] = members[index[better]]
    missing = np.flatnonzero(best_row < 0)  # clusters without rows: search everything
    if missing.size:
        index, distance = cosine_knn(vectors[missing], train_vectors, 1)
        best_row[missing] = index[:, 0]
        best_sim[missing] = 1.0 - distance[:, 0]
    return best_row, best_sim


def shares(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts)


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Half the L1 distance between two distributions over the same hills (0 same, 1 disjoint)."""
    return float(0.5 * np.abs(shares(p) - shares(q)).sum())


@dataclass
class Gap:
    cluster: int
    train_share: float
    comparison_share: float
    comparison_rows: int

    @property
    def ratio(self) -> float:
        return self.comparison_share / self.train_share if self.train_share > 0 else float("inf")


def coverage_gaps(train_counts: np.ndarray, comparison_counts: np.ndarray,
                  ratio: float = GAP_RATIO, min_rows: int = GAP_MIN_ROWS) -> list[Gap]:
    """Hills whose comparison share is at least `ratio` times their training share, largest
    shortfall (comparison share − training share) first."""
    p, q = shares(train_counts), shares(comparison_counts)
    gaps = [Gap(int(c), float(p[c]), float(q[c]), int(comparison_counts[c]))
            for c in range(len(p))
            if comparison_counts[c] >= min_rows and q[c] >= ratio * p[c]]
    return sorted(gaps, key=lambda g: g.comparison_share - g.train_share, reverse=True)


def far_rows(placement: Placement, threshold: float = FAR_SIMILARITY) -> np.ndarray:
    """Comparison rows no training row really covers, least covered first."""
    far = np.flatnonzero(placement.nearest_similarity < threshold)
    return far[np.argsort(placement.nearest_similarity[far], kind="stable")]


def match_weights(sizes: np.ndarray, target: np.ndarray, max_up: float = 3.0) -> np.ndarray:
    """Weights w so the effective sizes s·w follow the `target` distribution, keeping the total.

    Where matching would need more than `max_up`, the weight stops there and the rest of the
    total is shared among the other hills in proportion to the target (so their relative shape
    still matches). Hills the target does not have get weight 0.
    """
    if max_up < 1:
        raise SettingsError(f"The max up-weight must be at least 1 (got {max_up}).")
    s = np.asarray(sizes, dtype=np.float64)
    q = shares(target)
    if s.size != q.size:
        raise SettingsError("The target needs one value per cluster.")
    if s.size == 0 or q.sum() == 0:
        return np.ones_like(s)
    total = s.sum()
    capped = np.zeros(s.size, dtype=bool)
    effective = np.zeros_like(s)
    for _ in range(s.size + 1):
        free = ~capped
        room = total - (max_up * s[capped]).sum()
        scale = room / q[free].sum() if q[free].sum() > 0 else 0.0
        effective = np.where(capped, max_up * s, scale * q)
        over = free & (effective > max_up * s + 1e-12)
        if not over.any():
            break
        capped |= over
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(s > 0, effective / s, 0.0)


# ----- the comparison set a project holds -------------------------------------------------------


@dataclass
class Leaks:
    """Pairs (comparison row, training row) that are the same text: an exact copy (same
    normalised text key) or a near-duplicate (cosine at or above `threshold`).

    Every training partner is kept (a training set may hold three copies of one eval row), so
    `training_rows()` is everything "zero the leaks" must remove; `best()` gives one partner per
    leaking comparison row for a list.
    """

    comparison: np.ndarray  # (p,) int64 positions into the comparison rows
    training: np.ndarray  # (p,) int64 positions into the training (analysed) rows
    similarity: np.ndarray  # (p,) float32 cosine (exact copies: their vectors' cosine)
    exact: np.ndarray  # (p,) bool
    threshold: float

    @classmethod
    def none(cls, threshold: float) -> Leaks:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32),
                   np.zeros(0, bool), float(threshold))

    def __len__(self) -> int:
        return len(self.comparison)

    def comparison_rows(self) -> np.ndarray:
        """Comparison rows with a copy in training, ascending."""
        return np.unique(self.comparison)

    def training_rows(self) -> np.ndarray:
        """Training rows that some comparison row copies, ascending."""
        return np.unique(self.training)

    def best(self) -> Leaks:
        """One pair per leaking comparison row: an exact copy first, else the most similar
        partner; ordered by comparison row."""
        if not len(self):
            return self
        order = np.lexsort((-self.similarity, ~self.exact, self.comparison))
        keep = order[np.r_[True, np.diff(self.comparison[order]) != 0]]
        return Leaks(self.comparison[keep], self.training[keep], self.similarity[keep],
                     self.exact[keep], self.threshold)

    def training_mask(self, n_training: int) -> np.ndarray:
        """(n_training,) True for each leaking training row."""
        mask = np.zeros(n_training, dtype=bool)
        mask[self.training] = True
        return mask


@dataclass
class ComparisonSet:
    """A second file laid over the training landscape: its rows, where they fall, its leaks.

    `cluster` is each row's nearest training cluster (by centroid); `nearest_row` and
    `nearest_similarity` its most similar training row. The clusters themselves never change.
    """

    path: str
    content_hash: str
    text_column: str
    n_rows: int  # data rows in the comparison file
    row_index: np.ndarray  # (m,) original positions of the rows with text
    texts: list[str]
    embeddings: np.ndarray  # (m, d) float32 unit vectors, the project's model
    placement: Placement
    leaks: Leaks

    @property
    def n_placed(self) -> int:
        return len(self.row_index)

    def cluster_counts(self, n_clusters: int) -> np.ndarray:
        """Comparison rows per training cluster."""
        return np.bincount(self.placement.cluster, minlength=n_clusters)[:n_clusters]

    def topic_counts(self, cluster_topic: np.ndarray, n_topics: int) -> np.ndarray:
        """Comparison rows per topic (`cluster_topic`: the topic of each cluster)."""
        topic_of = np.asarray(cluster_topic, dtype=np.int64)
        return np.bincount(topic_of[self.placement.cluster], minlength=n_topics)[:n_topics]

    def rows_in_cluster(self, cluster: int) -> np.ndarray:
        """Positions of the comparison rows that fall on one cluster, least covered first."""
        rows = np.flatnonzero(self.placement.cluster == cluster)
        return rows[np.argsort(self.placement.nearest_similarity[rows], kind="stable")]

    def nearest_counts(self, n_training: int) -> np.ndarray:
        """(n_training,) how many comparison rows have each training row as their nearest."""
        return np.bincount(self.placement.nearest_row, minlength=n_training)[:n_training]
