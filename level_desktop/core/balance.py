"""Weights, Gini and flatness of the cluster sizes, and the "flatten" proposal.

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


@dataclass
class Weights:
    """A free-standing WeightHolder, for a Balance that belongs to no analysis."""

    weights: dict[int, float] = field(default_factory=dict)
    noise_weight: float = 1.0


class Balance:
    """Per-cluster weights over fixed sizes; noise rows carry their own weight.

    Gini and flatness are computed over the clusters' effective sizes (noise is not a cluster).
    Listeners are called after every change. A cluster with no entry in the holder weighs 1.
    """

    def __init__(self, cluster_ids: np.ndarray, sizes: np.ndarray, noise_size: int = 0,
                 weights: Mapping[int, float] | None = None, noise_weight: float = 1.0) -> None:
        self._setup(cluster_ids, sizes, noise_size, Weights())
        checked = {self._known(cid): self._checked(w) for cid, w in (weights or {}).items()}
        self._holder.weights = {**self._ones(), **checked}
        self._holder.noise_weight = self._checked(noise_weight)

    @classmethod
    def over(cls, holder: WeightHolder, cluster_ids: np.ndarray, sizes: np.ndarray,
             noise_size: int = 0) -> Balance:
        """A Balance whose reads and writes go to `holder`'s weights (no copy is kept here)."""
        balance = cls.__new__(cls)
        balance._setup(cluster_ids, sizes, noise_size, holder)
        return balance

    def _setup(self, cluster_ids: np.ndarray, sizes: np.ndarray, noise_size: int,
               holder: WeightHolder) -> None:
        self.cluster_ids = np.asarray(cluster_ids, dtype=np.int64)
        self.sizes = np.asarray(sizes, dtype=np.float64)
        self.noise_size = int(noise_size)
        self._position = {int(c): i for i, c in enumerate(self.cluster_ids)}
        self._holder = holder
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
                    noise_weight: float | None = None) -> None:
        if isinstance(weights, np.ndarray):
            if weights.shape != self.sizes.shape:
                raise SettingsError("One weight per cluster is needed.")
            new = {int(c): self._checked(w) for c, w in zip(self.cluster_ids, weights, strict=True)}
        else:
            new = {**self._holder.weights,
                   **{self._known(c): self._checked(w) for c, w in weights.items()}}
        noise = self.noise_weight if noise_weight is None else self._checked(noise_weight)
        self._holder.weights = new
        self._holder.noise_weight = noise
        self._changed()

    def flatten(self, max_up: float = 3.0) -> None:
        self.set_weights(flatten(self.sizes, max_up))

    def reset(self) -> None:
        self.set_weights(np.ones_like(self.sizes), noise_weight=1.0)

    @property
    def effective_sizes(self) -> np.ndarray:
        return self.sizes * self.weights

    @property
    def gini(self) -> float:
        return gini(self.effective_sizes)

    @property
    def flatness(self) -> float:
        return flatness(self.effective_sizes)

    @property
    def is_unweighted(self) -> bool:
        return bool(np.all(self.weights == 1.0)) and self.noise_weight == 1.0
