"""The sample stage: each cluster's k rows nearest its centroid (cosine), most central first."""

from __future__ import annotations

import numpy as np

from level_desktop.core.progress import CancelToken

CHUNK = 16_384  # rows compared with their centroid at a time, cancel checked between


def representatives(vectors: np.ndarray, labels: np.ndarray, centroids: np.ndarray,
                    k: int = 5, cancel: CancelToken | None = None) -> list[np.ndarray]:
    """For cluster c, the positions (into `vectors`) of its k most central rows."""
    member = np.flatnonzero(labels >= 0)
    sims = np.empty(len(member), dtype=np.float32)
    for start in range(0, len(member), CHUNK):
        if cancel is not None:
            cancel.check()
        rows = member[start:start + CHUNK]
        sims[start:start + CHUNK] = np.einsum("ij,ij->i", vectors[rows], centroids[labels[rows]])
    # Sort by cluster, then by similarity descending, and cut each cluster's run after k.
    order = np.lexsort((-sims, labels[member]))
    sorted_labels = labels[member][order]
    starts = np.searchsorted(sorted_labels, np.arange(len(centroids)))
    ends = np.searchsorted(sorted_labels, np.arange(len(centroids)), side="right")
    return [member[order[s:min(e, s + k)]] for s, e in zip(starts, ends, strict=True)]
