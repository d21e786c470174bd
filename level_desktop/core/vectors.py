"""Unit vectors and exact cosine neighbours: the helpers every stage that reads vectors shares.

Kept below the stages (embedding, clustering, projection, sampling) so none of them has to import
another just to normalise a row or find its neighbours.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

NORM_CHUNK = 65_536  # rows normalised at a time: temporaries stay a chunk, not n × d


def row_norms(vectors: np.ndarray) -> np.ndarray:
    """Each row's L2 length (float32), in row chunks: no n × d temporary (np.linalg.norm makes
    one, 2 GB for a million 512-d rows)."""
    out = np.empty(len(vectors), dtype=np.float32)
    for start in range(0, len(vectors), NORM_CHUNK):
        part = np.asarray(vectors[start:start + NORM_CHUNK], dtype=np.float32)
        out[start:start + NORM_CHUNK] = np.sqrt(np.einsum("ij,ij->i", part, part))
    return out


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows in float32 (a new array); an all-zero row stays zero."""
    vectors = np.asarray(vectors)
    if vectors.ndim != 2:
        vectors = vectors.astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return vectors / norms
    out = np.empty(vectors.shape, dtype=np.float32)
    for start in range(0, len(vectors), NORM_CHUNK):
        part = np.asarray(vectors[start:start + NORM_CHUNK], dtype=np.float32)
        norms = row_norms(part)[:, None]
        norms[norms == 0] = 1.0
        np.divide(part, norms, out=out[start:start + NORM_CHUNK])
    return out


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; the input itself when it already is (no 400 MB copy of
    200,000 fast-path vectors)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if np.allclose(row_norms(vectors), 1.0, atol=1e-4):
        return vectors
    return normalize_rows(vectors)


def cosine_knn(query: np.ndarray, base: np.ndarray, k: int,
               check: Callable[[float], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest rows of `base` for each row of `query` by cosine distance, nearest first.

    Blocked matrix products (BLAS, no compiled kernels to wait for), ≤ 128 MB of similarities at
    a time. Returns int32 indices and float32 distances (1 − cosine), both (len(query), k).
    `check(fraction)` is called between blocks (to report progress and honour cancel).
    """
    q = unit_rows(query)
    b = unit_rows(base)
    k = min(k, len(b))
    indices = np.empty((len(q), k), dtype=np.int32)
    distances = np.empty((len(q), k), dtype=np.float32)
    block = int(max(64, min(len(q), (32 << 20) // max(len(b), 1))))
    for start in range(0, len(q), block):
        if check is not None:
            check(start / max(len(q), 1))
        sims = q[start:start + block] @ b.T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < len(b) else np.broadcast_to(
            np.arange(k), sims.shape).copy()
        near = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-near, axis=1, kind="stable")
        indices[start:start + block] = np.take_along_axis(part, order, axis=1)
        distances[start:start + block] = np.clip(
            1.0 - np.take_along_axis(near, order, axis=1), 0.0, 2.0)
    return indices, distances
