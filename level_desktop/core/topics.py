"""Topics: the landscape's second level — mountains (topics) made of hills (clusters).

Why: k-means puts its centroids where the rows are dense (centroid density follows p^(d/(d+2)),
Vo et al. 2024, arXiv 2405.15613), so its clusters come out nearly equal in size and a dominant
theme shows as many ordinary hills: the landscape calls a lopsided set level. Merging the
clusters' centroids, each counted once whatever its size, gives the imbalance back: a dense theme
has many centroids close together, and they merge into one large topic.

Method: Ward's agglomerative linkage on the clusters' unit centroids (Euclidean distance between
unit vectors, i.e. cosine), unweighted — each cluster counts once. The tree is cut at
`auto_topic_count(k)` topics for k clusters. Every topic is a union of whole clusters, so each
cluster on the landscape belongs to exactly one topic; noise rows (−1) stay noise. Ward needs no
random start: the same clusters give the same topics. A topic's centroid and spread follow exactly
from its clusters' sizes, centroids and spreads (for unit rows a cluster's row sum is
size · (1 − spread) · centroid), so nothing passes over the vectors: the cost is a linkage of at
most 150 points and one lookup per row, ~0.02 s at 63,666 rows.

Chosen by measurement (`benchmarks/topics.py`, table in docs/decisions.md: on debian and fortunes
the topic sizes' Gini lands within 0.06 of the human labels', at 0.96× the NMI of flat k-means with
as many clusters) against size-weighted
Ward, average and complete linkage on cosine, k-means on the centroids (Vo et al.'s hierarchical
k-means) and fine k-means with the shown clusters voted into its topics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from level_desktop.core.clustering import NOISE, ClusterStats
from level_desktop.core.errors import SettingsError
from level_desktop.core.images import attach_thumbnails
from level_desktop.core.labeling import LABELERS, ClusterDocs
from level_desktop.core.progress import CancelToken, ProgressCallback, no_progress
from level_desktop.core.sampling import representatives
from level_desktop.core.settings import Settings
from level_desktop.core.vectors import normalize_rows

CLUSTERS_PER_TOPIC = 3  # `auto_topic_count`: about this many clusters make a topic


@dataclass(frozen=True)
class Topics:
    """Topics over clusters: topic ids 0..t−1 are ordered by size, largest first."""

    of_cluster: np.ndarray  # int32 topic of each cluster id 0..k−1
    labels: np.ndarray  # int32 topic of each row, −1 = noise
    sizes: np.ndarray  # rows per topic
    centroids: np.ndarray  # (t, d) unit vectors: the normalised mean of each topic's rows
    spreads: np.ndarray  # mean cosine distance of a topic's rows to its centroid

    @property
    def count(self) -> int:
        return int(self.sizes.size)

    def clusters_of(self, topic: int) -> np.ndarray:
        """The cluster ids of one topic, ascending (so largest cluster first)."""
        return np.flatnonzero(self.of_cluster == topic)


def auto_topic_count(n_clusters: int) -> int:
    """Topics for k clusters: round(k / 3), at least 1 and at most k (50 for 150 clusters)."""
    if n_clusters <= 0:
        return 0
    return int(min(n_clusters, max(1, round(n_clusters / CLUSTERS_PER_TOPIC))))


def merge_clusters(centroids: np.ndarray, count: int) -> np.ndarray:
    """Group (0..count−1, numbered in order of their lowest cluster) of each cluster: Ward's
    linkage on the unit centroids, each cluster counted once, cut at `count` groups."""
    k = len(centroids)
    count = int(min(max(count, 1), k)) if k else 0
    if k <= 1 or count == k:
        return np.arange(k, dtype=np.int32)
    if count == 1:
        return np.zeros(k, dtype=np.int32)
    from scipy.cluster.hierarchy import fcluster, linkage

    tree = linkage(normalize_rows(centroids).astype(np.float64), method="ward")
    groups = fcluster(tree, count, criterion="maxclust")
    found, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    rank = np.empty(found.size, dtype=np.int32)
    rank[np.argsort(first)] = np.arange(found.size)
    return rank[inverse]


def build_topics(stats: ClusterStats, count: int | None = None) -> Topics:
    """Topics over the clusters of `stats` (from `clustering.cluster_stats` on unit row vectors):
    `count` topics, or `auto_topic_count(k)` for k clusters when None.

    Topics are numbered by size, largest first (ties: the one holding the lower cluster id first).
    """
    k = len(stats.sizes)
    if count is not None and count < 1:
        raise SettingsError(f"The number of topics must be at least 1, not {count}.")
    return topics_of_groups(stats, merge_clusters(
        stats.centroids, auto_topic_count(k) if count is None else count))


def topics_of_groups(stats: ClusterStats, merged: np.ndarray) -> Topics:
    """Topics for a given grouping of the clusters (group of each cluster, 0..t−1), renumbered by
    size, largest first (ties: the group holding the lower cluster id first)."""
    k = len(stats.sizes)
    merged = np.asarray(merged, dtype=np.int64)
    t = int(merged.max(initial=-1)) + 1
    sizes = np.bincount(merged, weights=stats.sizes, minlength=t).astype(np.int64)
    order = np.argsort(-sizes, kind="stable")  # `merged` numbers groups by their lowest cluster
    rank = np.empty(t, dtype=np.int64)
    rank[order] = np.arange(t)
    of_cluster = rank[merged]
    sums = np.zeros((t, stats.centroids.shape[1]), dtype=np.float64)
    resultant = np.asarray(stats.sizes, dtype=np.float64) * (1.0 - np.asarray(stats.spreads))
    np.add.at(sums, of_cluster, resultant[:, None] * stats.centroids.astype(np.float64))
    sizes = sizes[order]
    lengths = np.linalg.norm(sums, axis=1)
    labels = np.asarray(stats.labels)
    row_topics = np.where(labels == NOISE, NOISE, of_cluster[np.maximum(labels, 0)] if k else NOISE)
    return Topics(of_cluster=of_cluster.astype(np.int32), labels=row_topics.astype(np.int32),
                  sizes=sizes, centroids=normalize_rows(sums),
                  spreads=1.0 - lengths / np.maximum(sizes, 1))


@dataclass
class TopicInfo:
    """A named topic, as the analysis, the project file and the views keep it."""

    id: int
    size: int
    label: str
    description: str
    labeler: str
    cluster_ids: list[int]  # ascending (largest cluster first)
    representatives: list[int]  # positions into the analysed rows, nearest the centroid first
    fallback_reason: str | None = None
    user_named: bool = False  # the user gave it this name: naming again keeps it


def name_topics(topics: Topics, texts: list[str], vectors: np.ndarray, settings: Settings,
                progress: ProgressCallback = no_progress, cancel: CancelToken | None = None,
                image_files: list[Path] | None = None, texts_are_file_names: bool = False
                ) -> list[TopicInfo]:
    """Name every topic with the chosen labeler, exactly as clusters are named: a topic is
    handed over as a cluster of its rows, its representatives the rows nearest its centroid
    (with their thumbnails, for an image set and a labeler that looks at pictures)."""
    reps = representatives(vectors, topics.labels, topics.centroids.astype(vectors.dtype),
                           settings.representatives)
    order = np.argsort(topics.labels, kind="stable")
    bounds = np.searchsorted(topics.labels[order], np.arange(topics.count + 1))
    docs = [ClusterDocs(cluster_id=t, texts=[texts[i] for i in order[bounds[t]:bounds[t + 1]]],
                        representatives=[texts[i] for i in reps[t]],
                        texts_are_file_names=texts_are_file_names)
            for t in range(topics.count)]

    def as_topics(stage: str, fraction: float, message: str) -> None:
        progress("topics", fraction, message.replace("clusters", "topics"))

    labeler = LABELERS.create(settings.labeler, settings)
    if image_files is not None and getattr(labeler, "sends_images", False):
        attach_thumbnails(docs, reps, image_files)
    named = labeler.label(docs, as_topics, cancel)
    for t, name in named.items():
        if name.labeler == "numbered":  # numbered, not named: say which level it numbers
            name.label = f"Topic {t}"
    return [TopicInfo(id=t, size=int(topics.sizes[t]), label=named[t].label,
                      description=named[t].description, labeler=named[t].labeler,
                      cluster_ids=topics.clusters_of(t).tolist(), representatives=reps[t].tolist(),
                      fallback_reason=named[t].fallback_reason)
            for t in range(topics.count)]
