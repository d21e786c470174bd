"""Leaks: comparison rows (an eval set) that are copies of training rows, exact or near.

Why: an eval row that also sits in the training data measures memory, not skill. The search is
the redundancy search (core/duplicates.py) run across two sets: the same exact key (`text_key`:
NFKC, case-folded, white space collapsed, trailing full stops dropped) and the same cosine
threshold (0.95, chosen there), compared block by block only where a copy can be — each
comparison row against the training rows of its nearest training cluster and of the
`neighbour_clusters` next nearest (by centroid), so 5,000 eval rows against 63,666 training rows
take about 3 × 424 dot products a row instead of 63,666. Exact copies are found whatever their
vectors. Recall and precision on planted copies, and the time against SemHash's cross-dataset
`deduplicate`: benchmarks/comparison.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from level_desktop.core.comparison import Leaks
from level_desktop.core.duplicates import (
    BLOCK_ROWS,
    DEFAULT_NEIGHBOUR_CLUSTERS,
    DEFAULT_THRESHOLD,
    text_key,
)
from level_desktop.core.errors import SettingsError
from level_desktop.core.progress import CancelToken, ProgressCallback, no_progress
from level_desktop.core.vectors import cosine_knn, unit_rows

STAGE = "leaks"


def exact_leak_pairs(training_texts: Sequence[str], comparison_texts: Sequence[str]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(comparison positions, training positions) of every pair with the same text key."""
    wanted: dict[str, list[int]] = {}
    for j, text in enumerate(comparison_texts):
        wanted.setdefault(text_key(text), []).append(j)
    comp: list[int] = []
    train: list[int] = []
    for i, text in enumerate(training_texts):
        for j in wanted.get(text_key(text), ()):
            comp.append(j)
            train.append(i)
    return np.asarray(comp, dtype=np.int64), np.asarray(train, dtype=np.int64)


def _near_pairs(train: np.ndarray, labels: np.ndarray, centroids: np.ndarray, comp: np.ndarray,
                threshold: float, neighbour_clusters: int, block_rows: int,
                progress: ProgressCallback, cancel: CancelToken | None,
                best: tuple[np.ndarray, np.ndarray] | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cross pairs at or above the threshold, each comparison row against the training rows of
    its nearest clusters (and every comparison row against the training noise rows).
    `best` (row, similarity), when given, is updated with each comparison row's most similar
    training row among those compared."""
    k = len(centroids)
    nearest = (cosine_knn(comp, centroids, min(k, 1 + neighbour_clusters))[0] if k
               else np.zeros((len(comp), 0), dtype=np.int32))
    plan: list[tuple[np.ndarray, np.ndarray]] = []
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(-1, k + 1))
    for c in range(-1, k):
        members = order[bounds[c + 1]:bounds[c + 2]]
        if not members.size:
            continue
        rows = (np.arange(len(comp)) if c < 0
                else np.flatnonzero((nearest == c).any(axis=1)))
        if rows.size:
            plan.append((rows, members))
    total = max(sum(len(r) * len(m) for r, m in plan), 1)
    done = 0
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for rows, members in plan:
        x_rows, x_members = comp[rows], train[members]
        for r0 in range(0, len(rows), block_rows):
            for m0 in range(0, len(members), block_rows):
                if cancel is not None:
                    cancel.check()
                sims = x_rows[r0:r0 + block_rows] @ x_members[m0:m0 + block_rows].T
                i, j = np.nonzero(sims >= threshold)
                found.append((rows[r0 + i], members[m0 + j], sims[i, j]))
                if best is not None:
                    _keep_best(best, rows[r0:r0 + block_rows], members[m0:m0 + block_rows],
                               sims)
        done += len(rows) * len(members)
        progress(STAGE, done / total, "Looking for eval rows copied from training")
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return (np.concatenate([f[0] for f in found]).astype(np.int64),
            np.concatenate([f[1] for f in found]).astype(np.int64),
            np.concatenate([f[2] for f in found]).astype(np.float32))


def _keep_best(best: tuple[np.ndarray, np.ndarray], rows: np.ndarray, members: np.ndarray,
               sims: np.ndarray) -> None:
    """Raise `best` (row, similarity) of `rows` where this block holds a more similar row."""
    best_row, best_sim = best
    index = np.argmax(sims, axis=1)
    sim = sims[np.arange(len(rows)), index].astype(np.float32)
    better = sim > best_sim[rows]
    best_sim[rows[better]] = sim[better]
    best_row[rows[better]] = members[index[better]]


def find_leaks(training_texts: Sequence[str], training_vectors: np.ndarray,
               training_labels: np.ndarray, centroids: np.ndarray,
               comparison_texts: Sequence[str], comparison_vectors: np.ndarray,
               threshold: float = DEFAULT_THRESHOLD,
               neighbour_clusters: int = DEFAULT_NEIGHBOUR_CLUSTERS,
               block_rows: int = BLOCK_ROWS, progress: ProgressCallback = no_progress,
               cancel: CancelToken | None = None,
               nearest: tuple[np.ndarray, np.ndarray] | None = None) -> Leaks:
    """Every (comparison row, training row) pair that is an exact copy or a near-duplicate at
    cosine ≥ `threshold`; see the module docstring.

    `nearest`: (m,) int64 rows filled with −1 and (m,) float32 similarities filled with −inf;
    the search leaves in them each comparison row's most similar training row among those it
    compared (its nearest clusters' and the noise rows) — the placement's nearest row, found
    by the same products instead of a second pass (−1 where none was compared)."""
    if not 0.0 < threshold <= 1.0:
        raise SettingsError(f"The leak threshold must be a cosine above 0 and at most 1; "
                            f"{threshold} was given.")
    if neighbour_clusters < 0 or block_rows < 1:
        raise SettingsError("The leak search needs ≥ 0 neighbouring clusters and ≥ 1 row a block.")
    if len(training_texts) != len(training_vectors) or len(training_labels) != len(
            training_vectors) or len(comparison_texts) != len(comparison_vectors):
        raise ValueError("texts, vectors and labels must describe the same rows")
    progress(STAGE, 0.0, "Looking for eval rows copied from training")
    train = unit_rows(training_vectors)
    comp = unit_rows(comparison_vectors)
    exact_c, exact_t = exact_leak_pairs(training_texts, comparison_texts)
    if cancel is not None:
        cancel.check()
    near_c, near_t, near_s = _near_pairs(
        train, np.asarray(training_labels, dtype=np.int64), unit_rows(centroids), comp,
        threshold, neighbour_clusters, block_rows, progress, cancel, nearest)
    exact_s = np.einsum("ij,ij->i", comp[exact_c], train[exact_t]).astype(np.float32) \
        if exact_c.size else np.zeros(0, np.float32)
    comp_all = np.concatenate([exact_c, near_c])
    train_all = np.concatenate([exact_t, near_t])
    sims = np.concatenate([exact_s, near_s])
    is_exact = np.r_[np.ones(exact_c.size, bool), np.zeros(near_c.size, bool)]
    codes = comp_all * max(len(train), 1) + train_all
    # A pair found both ways is kept once, as exact (the exact pairs come first).
    _, first = np.unique(codes, return_index=True)
    leaks = Leaks(comp_all[first], train_all[first], sims[first], is_exact[first],
                  float(threshold))
    progress(STAGE, 1.0, f"{len(leaks.comparison_rows()):,} eval rows have a copy in training")
    return leaks
