"""Weights, Gini and flatness of the cluster and topic sizes, and the "flatten" proposal.

Two levels (issue 15): clusters belong to topics; a row weighs its topic's weight times its
cluster's weight (noise rows: the noise weight). Gini, flatness and flatten work at either level:
the top level over the topics' effective sizes, a drilled level over one topic's clusters.

The weights have one owner: a `WeightHolder` — the `Analysis` (what is saved and exported) or, for
a Balance on its own, a `Weights`. `Balance` is a live view over a holder: it checks and writes the
holder's weights, computes Gini and flatness from them and tells its listeners after every change,
so the window, the CLI and the project file can never disagree about a weight.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from level_desktop.core.errors import SettingsError


def gini(sizes: np.ndarray) -> float:
    """G = 2·Σ i·s_i / (n·Σ s_i) − (n+1)/n over sizes sorted ascending (0 = flat)."""
    s = np.sort(np.asarray(sizes, dtype=np.float64))
    n = s.size
    total = s.sum()
    if n == 0 or total <= 0:
        return 0.0
    i = np.arange(1, n + 1)
    return float(2.0 * np.dot(i, s) / (n * total) - (n + 1) / n)


def flatness(sizes: np.ndarray) -> float:
    """Pielou's evenness J = −Σ p ln p / ln n (1 = all equal, 0 = one cluster holds all)."""
    s = np.asarray(sizes, dtype=np.float64)
    n = s.size
    total = s.sum()
    if n <= 1 or total <= 0:
        return 1.0
    p = s / total
    p = p[p > 0]  # a size too small for its share to be a float counts as empty
    return float(-(p * np.log(p)).sum() / np.log(n))


def flatten(sizes: np.ndarray, max_up: float = 3.0) -> np.ndarray:
    """Water-filling weights: the level T with Σ min(T, max_up·s) = Σ s; w = min(T, max_up·s)/s.

    Keeps the total row count, never up-weights beyond `max_up`, brings mountains down to T.
    """
    if max_up < 1:
        raise SettingsError(f"The max up-weight must be at least 1 (got {max_up}).")
    s = np.asarray(sizes, dtype=np.float64)
    if s.size == 0:
        return s.copy()
    if np.any(s <= 0):
        raise SettingsError("Every cluster must hold at least one row to be flattened.")
    total = s.sum()
    caps = np.sort(max_up * s)
    # f(T) = Σ min(T, cap_c) is piecewise linear and increasing; find its segment holding `total`.
    below = np.concatenate(([0.0], np.cumsum(caps)[:-1]))  # Σ of caps under the j-th cap
    remaining = s.size - np.arange(s.size)  # clusters whose cap is at or above the j-th cap
    values_at_caps = below + caps * remaining
    j = int(np.searchsorted(values_at_caps, total))
    level = caps[-1] if j >= s.size else (total - below[j]) / remaining[j]
    effective = np.minimum(level, max_up * s)
    return effective / s


Listener = Callable[[], None]
NOISE_ID = -1  # the id that stands for the noise rows wherever one id names "a cluster or noise"


class WeightHolder(Protocol):
    """Whatever owns the weights (`Analysis` does): one weight per cluster id, one for noise.

    A Balance replaces `weights` with a new dict on every write and never mutates it in place, so
    a shallow copy of the holder (a snapshot handed to a worker thread) keeps its weights.
    """

    weights: dict[int, float]
    noise_weight: float
    topic_weights: dict[int, float]
    collapse_duplicates: bool  # each near-duplicate group counts as one row (issue 16)


@dataclass
class Weights:
    """A free-standing WeightHolder, for a Balance that belongs to no analysis."""

    weights: dict[int, float] = field(default_factory=dict)
    noise_weight: float = 1.0
    topic_weights: dict[int, float] = field(default_factory=dict)
    collapse_duplicates: bool = False


class Balance:
    """Per-cluster and per-topic weights over fixed sizes; noise rows carry their own weight.

    A cluster's effective size is size × cluster weight × its topic's weight; with duplicates
    collapsed the size counts each near-duplicate group once (`counted_sizes`). `gini`/`flatness`
    are over all clusters' effective sizes; `level_gini(level)`/`level_flatness(level)` over the
    level in view (None: the topics; a topic id: that topic's clusters). Noise is neither a
    cluster nor a topic. Listeners are called after every change. A cluster or topic with no
    entry in the holder weighs 1. Without `topic_of_cluster` every cluster is its own topic.
    """

    def __init__(self, cluster_ids: np.ndarray, sizes: np.ndarray, noise_size: int = 0,
                 weights: Mapping[int, float] | None = None, noise_weight: float = 1.0,
                 topic_of_cluster: np.ndarray | None = None,
                 topic_weights: Mapping[int, float] | None = None) -> None:
        self._setup(cluster_ids, sizes, noise_size, Weights(), topic_of_cluster)
        checked = {self._known(cid): self._checked(w) for cid, w in (weights or {}).items()}
        self._holder.weights = {**self._ones(), **checked}
        self._holder.noise_weight = self._checked(noise_weight)
        self._holder.topic_weights = {
            **{int(t): 1.0 for t in self.topic_ids},
            **{self._known_topic(t): self._checked(w) for t, w in (topic_weights or {}).items()}}

    @classmethod
    def over(cls, holder: WeightHolder, cluster_ids: np.ndarray, sizes: np.ndarray,
             noise_size: int = 0, topic_of_cluster: np.ndarray | None = None) -> Balance:
        """A Balance whose reads and writes go to `holder`'s weights (no copy is kept here)."""
        balance = cls.__new__(cls)
        balance._setup(cluster_ids, sizes, noise_size, holder, topic_of_cluster)
        return balance

    def _setup(self, cluster_ids: np.ndarray, sizes: np.ndarray, noise_size: int,
               holder: WeightHolder, topic_of_cluster: np.ndarray | None = None) -> None:
        self.cluster_ids = np.asarray(cluster_ids, dtype=np.int64)
        self.sizes = np.asarray(sizes, dtype=np.float64)
        self.noise_size = int(noise_size)
        self._position = {int(c): i for i, c in enumerate(self.cluster_ids)}
        if topic_of_cluster is None or len(topic_of_cluster) != len(self.cluster_ids):
            topic_of_cluster = np.arange(len(self.cluster_ids))
        self.topic_of_cluster = np.asarray(topic_of_cluster, dtype=np.int64)
        self.topic_ids = np.unique(self.topic_of_cluster)
        self._topic_position = {int(t): i for i, t in enumerate(self.topic_ids)}
        self._topic_index = np.searchsorted(self.topic_ids, self.topic_of_cluster)
        self.topic_sizes = np.bincount(self._topic_index, weights=self.sizes,
                                       minlength=self.topic_ids.size).astype(np.float64)
        self._holder = holder
        self._collapsed_sizes: np.ndarray | None = None  # see `set_collapsed_sizes`
        self._collapsed_noise = float(noise_size)
        self._listeners: list[Listener] = []
        self.original_gini = gini(self.sizes)
        self.original_flatness = flatness(self.sizes)

    def _ones(self) -> dict[int, float]:
        return {int(c): 1.0 for c in self.cluster_ids}

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def _index(self, cluster_id: int) -> int:
        try:
            return self._position[int(cluster_id)]
        except KeyError:
            raise SettingsError(
                f"There is no cluster {cluster_id}; clusters are numbered "
                f"{int(self.cluster_ids.min())} to {int(self.cluster_ids.max())}.") from None

    def _known(self, cluster_id: int) -> int:
        self._index(cluster_id)
        return int(cluster_id)

    def _known_topic(self, topic: int) -> int:
        if int(topic) not in self._topic_position:
            span = (f"topics are numbered {int(self.topic_ids.min())} to "
                    f"{int(self.topic_ids.max())}" if self.topic_ids.size else "there are none")
            raise SettingsError(f"There is no topic {topic}; {span}.")
        return int(topic)

    def clusters_in(self, topic: int) -> np.ndarray:
        """Positions (into `cluster_ids`) of one topic's clusters, in cluster-id order."""
        return np.flatnonzero(self.topic_of_cluster == self._known_topic(topic))

    @staticmethod
    def _checked(weight: float) -> float:
        w = float(weight)
        if not np.isfinite(w) or w < 0:
            raise SettingsError(f"A weight must be a number ≥ 0 (got {weight}).")
        return w

    @property
    def weights(self) -> np.ndarray:
        """Every cluster's weight, in the order of `cluster_ids` (a new array: read, not write)."""
        held = self._holder.weights
        return np.array([held.get(int(c), 1.0) for c in self.cluster_ids], dtype=np.float64)

    @property
    def noise_weight(self) -> float:
        return float(self._holder.noise_weight)

    def weight(self, cluster_id: int) -> float:
        """A cluster's weight; NOISE_ID gives the noise weight."""
        if int(cluster_id) == NOISE_ID:
            return self.noise_weight
        return float(self._holder.weights.get(self._known(cluster_id), 1.0))

    def weight_map(self) -> dict[int, float]:
        held = self._holder.weights
        return {int(c): float(held.get(int(c), 1.0)) for c in self.cluster_ids}

    def set_weight(self, cluster_id: int, weight: float) -> None:
        """One cluster's weight; NOISE_ID sets the noise weight."""
        if int(cluster_id) == NOISE_ID:
            self._holder.noise_weight = self._checked(weight)
        else:
            self._holder.weights = {**self._holder.weights,
                                    self._known(cluster_id): self._checked(weight)}
        self._changed()

    def set_weights(self, weights: Mapping[int, float] | np.ndarray,
                    noise_weight: float | None = None,
                    topic_weights: Mapping[int, float] | np.ndarray | None = None) -> None:
        """Cluster weights (an array in `cluster_ids` order, or some clusters by id), and
        optionally the noise weight and topic weights (array in `topic_ids` order, or by id)."""
        if isinstance(weights, np.ndarray):
            if weights.shape != self.sizes.shape:
                raise SettingsError("One weight per cluster is needed.")
            new = {int(c): self._checked(w) for c, w in zip(self.cluster_ids, weights, strict=True)}
        else:
            new = {**self._holder.weights,
                   **{self._known(c): self._checked(w) for c, w in weights.items()}}
        noise = self.noise_weight if noise_weight is None else self._checked(noise_weight)
        topics = self._topic_map(topic_weights)
        self._holder.weights = new
        self._holder.noise_weight = noise
        self._holder.topic_weights = topics
        self._changed()

    def _topic_map(self, topic_weights: Mapping[int, float] | np.ndarray | None
                   ) -> dict[int, float]:
        held = dict(self._holder.topic_weights)
        if topic_weights is None:
            return held
        if isinstance(topic_weights, np.ndarray):
            if topic_weights.shape != self.topic_ids.shape:
                raise SettingsError("One weight per topic is needed.")
            return {int(t): self._checked(w)
                    for t, w in zip(self.topic_ids, topic_weights, strict=True)}
        return {**held, **{self._known_topic(t): self._checked(w)
                           for t, w in topic_weights.items()}}

    # ----- the topic level ---------------------------------------------------------------------

    @property
    def topic_weights(self) -> np.ndarray:
        """Every topic's weight, in the order of `topic_ids` (a new array)."""
        held = self._holder.topic_weights
        return np.array([held.get(int(t), 1.0) for t in self.topic_ids], dtype=np.float64)

    def topic_weight(self, topic: int) -> float:
        return float(self._holder.topic_weights.get(self._known_topic(topic), 1.0))

    def topic_weight_map(self) -> dict[int, float]:
        held = self._holder.topic_weights
        return {int(t): float(held.get(int(t), 1.0)) for t in self.topic_ids}

    def set_topic_weight(self, topic: int, weight: float) -> None:
        self._holder.topic_weights = {**self._holder.topic_weights,
                                      self._known_topic(topic): self._checked(weight)}
        self._changed()

    def set_topic_weights(self, weights: Mapping[int, float] | np.ndarray) -> None:
        self._holder.topic_weights = self._topic_map(weights)
        self._changed()

    @property
    def row_weights_of_clusters(self) -> np.ndarray:
        """The weight a row of each cluster carries: cluster weight × topic weight."""
        return self.weights * self.topic_weights[self._topic_index]

    # ----- duplicates collapsed (issue 16) -----------------------------------------------------

    def set_collapsed_sizes(self, sizes: np.ndarray | None, noise_size: float) -> None:
        """Each cluster's rows (in `cluster_ids` order) and the noise rows counted with every
        near-duplicate group as one row; None: no groups known. Used while the holder's
        `collapse_duplicates` is on."""
        self._collapsed_sizes = None if sizes is None else np.asarray(sizes, dtype=np.float64)
        self._collapsed_noise = float(noise_size)
        self._changed()

    @property
    def collapsed(self) -> bool:
        """Whether duplicate groups are known and each counts as one row."""
        return self._collapsed_sizes is not None and bool(self._holder.collapse_duplicates)

    def set_collapse(self, collapse: bool) -> None:
        self._holder.collapse_duplicates = bool(collapse)
        self._changed()

    @property
    def counted_sizes(self) -> np.ndarray:
        """The sizes the weights multiply: the rows, or with duplicates collapsed the rows
        counting each group once."""
        sizes = self._collapsed_sizes
        return sizes if sizes is not None and self._holder.collapse_duplicates else self.sizes

    @property
    def counted_noise_size(self) -> float:
        return self._collapsed_noise if self.collapsed else float(self.noise_size)

    @property
    def cluster_effective_sizes(self) -> np.ndarray:
        """size × cluster weight × topic weight (× collapse), in `cluster_ids` order."""
        return self.counted_sizes * self.row_weights_of_clusters

    @property
    def topic_effective_sizes(self) -> np.ndarray:
        """Each topic's clusters' effective sizes summed, in `topic_ids` order."""
        return np.bincount(self._topic_index, weights=self.cluster_effective_sizes,
                           minlength=self.topic_ids.size)

    def level_sizes(self, level: int | None) -> np.ndarray:
        """The effective sizes Gini and flatness read at a level: None = the topics; a topic id
        = that topic's clusters."""
        if level is None:
            return self.topic_effective_sizes
        return self.cluster_effective_sizes[self.clusters_in(level)]

    def level_gini(self, level: int | None) -> float:
        return gini(self.level_sizes(level))

    def level_flatness(self, level: int | None) -> float:
        return flatness(self.level_sizes(level))

    def original_level_gini(self, level: int | None) -> float:
        return gini(self.topic_sizes if level is None else self.sizes[self.clusters_in(level)])

    def original_level_flatness(self, level: int | None) -> float:
        return flatness(self.topic_sizes if level is None else self.sizes[self.clusters_in(level)])

    def hill_scales(self, topic: int | None) -> np.ndarray:
        """Per-hill multipliers for `Terrain.heights` at a level: the top level's hills are the
        topics (effective / unweighted size); a drilled level's are that topic's clusters
        (cluster weight × topic weight, × the share of rows left when duplicates are
        collapsed), in cluster-id order."""
        if topic is None:
            return self.topic_effective_sizes / np.maximum(self.topic_sizes, 1e-12)
        inside = self.clusters_in(topic)
        return self.cluster_effective_sizes[inside] / np.maximum(self.sizes[inside], 1e-12)

    def flattened_topic_weights(self, max_up: float = 3.0) -> np.ndarray:
        """Topic weights (in `topic_ids` order) that level the topics: water-filling over their
        sizes under the present cluster weights; keeps the total and the cap `max_up`."""
        base = np.bincount(self._topic_index, weights=self.counted_sizes * self.weights,
                           minlength=self.topic_ids.size)
        weights = np.ones_like(base)
        live = base > 0  # a topic whose clusters all weigh 0 keeps its weight
        weights[live] = flatten(base[live], max_up)
        return weights

    def flattened_within(self, topic: int, max_up: float = 3.0) -> np.ndarray:
        """All cluster weights (in `cluster_ids` order) with one topic's clusters levelled:
        water-filling over their sizes, which keeps the topic's row total and the cap."""
        weights = self.weights
        inside = self.clusters_in(topic)
        weights[inside] = flatten(self.counted_sizes[inside], max_up)
        return weights

    def flatten_topics(self, max_up: float = 3.0) -> None:
        self.set_topic_weights(self.flattened_topic_weights(max_up))

    def flatten_within(self, topic: int, max_up: float = 3.0) -> None:
        self.set_weights(self.flattened_within(topic, max_up))

    # ----- all clusters ------------------------------------------------------------------------

    def flatten(self, max_up: float = 3.0) -> None:
        """Level all clusters at once (topic weights back to 1)."""
        self.set_weights(flatten(self.counted_sizes, max_up),
                         topic_weights=np.ones_like(self.topic_sizes))

    def reset(self) -> None:
        """Every weight, at both levels and the noise weight, back to 1."""
        self.set_weights(np.ones_like(self.sizes), noise_weight=1.0,
                         topic_weights=np.ones_like(self.topic_sizes))

    @property
    def effective_sizes(self) -> np.ndarray:
        """Each cluster's effective size (size × cluster weight × topic weight)."""
        return self.cluster_effective_sizes

    @property
    def gini(self) -> float:
        return gini(self.effective_sizes)

    @property
    def flatness(self) -> float:
        return flatness(self.effective_sizes)

    @property
    def is_unweighted(self) -> bool:
        return (bool(np.all(self.weights == 1.0)) and bool(np.all(self.topic_weights == 1.0))
                and self.noise_weight == 1.0)
