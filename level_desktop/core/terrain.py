"""The terrain: one Gaussian hill per cluster (or topic) on a square grid over the 2-D map.

A hill stands at the centre of its rows' 2-D positions. Its VOLUME (summed height over the grid)
is proportional to its size, so at any weights a hill's volume follows its effective mass
(size × weight) whatever its width: a broad hill is lower than a narrow one of the same mass, and
after Flatten the hills hold equal volumes instead of one broad hill standing as a plateau.
Its footprint radius starts from `2 · spread` (spread: the mean distance of its rows to that
centre in the map; the hill falls to e^-2 of its peak at the radius), compressed towards the
median radius (square root of the ratio) and kept within a factor FOOTPRINT_RANGE of it, so
widths differ less than the map's regions do and height still tells mass: hills of equal volume
differ in peak by at most FOOTPRINT_RANGE⁴ (4×). See docs/decisions.md ("Volume, not height").
Each unit hill is smoothed once; since hills and smoothing are linear, the terrain for any
weights is the weighted sum of the unit hills, so a weight change recomputes nothing upstream.
The height scale is fixed by the unweighted terrain, whose peak is 10.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

PEAK = 10.0
MARGIN = 0.08  # of the map's extent, on each side
SMOOTH_CELLS = 1.0  # sigma of the smoothing filter, in grid cells
GROUND = 0.02  # a vertex lower than this share of the peak belongs to no hill
CANDIDATES = 8  # clusters considered per vertex when finding the dominating one
FOOTPRINT_EXPONENT = 0.5  # a radius moves towards the median: r_med · (r / r_med) ** this
FOOTPRINT_RANGE = 2.0 ** 0.5  # and stays within this factor of the median radius
FLATTENED_PEAK_RATIO = FOOTPRINT_RANGE ** 4  # peaks of equal-volume hills differ by at most this


@dataclass
class Terrain:
    xs: np.ndarray  # (G,) grid coordinates in map units
    ys: np.ndarray  # (G,)
    unit_hills: np.ndarray  # (k, G, G) float32: each cluster's hill at weight 1, on PEAK's scale
    centers: np.ndarray  # (k, 2) in map units
    radii: np.ndarray  # (k,) in map units
    candidates: np.ndarray | None = None  # (m, G, G) the m highest unit hills' ids per vertex
    candidate_hills: np.ndarray | None = None  # (m, G, G) those hills' heights

    @property
    def grid(self) -> int:
        return self.xs.size

    def heights(self, weights: np.ndarray) -> np.ndarray:
        """The terrain (G, G) for per-cluster weights: Σ w_c · unit_hill_c.

        einsum's own loop, not tensordot: tensordot hands this to multi-threaded BLAS, which on a
        busy machine waits for its second thread, many times longer than the loop takes."""
        w = np.asarray(weights, dtype=np.float32)
        return np.einsum("k,kij->ij", w, self.unit_hills)

    def owners(self, weights: np.ndarray) -> np.ndarray:
        """Per vertex, the cluster whose weighted hill is highest there (−1 on bare ground).

        Only the CANDIDATES highest unit hills at each vertex compete (found once), so a weight
        change costs O(CANDIDATES · G²) instead of O(k · G²); with weights within [0, max_up] a
        hill outside a vertex's top candidates practically never wins there.
        """
        if self.candidates is None or self.candidate_hills is None:
            m = min(CANDIDATES, len(self.unit_hills))
            top = np.argpartition(-self.unit_hills, m - 1, axis=0)[:m] if m < len(
                self.unit_hills) else np.broadcast_to(
                np.arange(m)[:, None, None], self.unit_hills.shape).copy()
            self.candidates = top.astype(np.int32)
            self.candidate_hills = np.take_along_axis(self.unit_hills, top, axis=0)
        w = np.asarray(weights, dtype=np.float32)
        weighted = self.candidate_hills * w[self.candidates]
        best = np.argmax(weighted, axis=0)
        owner = np.take_along_axis(self.candidates, best[None], axis=0)[0]
        owner[np.take_along_axis(weighted, best[None], axis=0)[0] < GROUND * PEAK] = -1
        return owner

    def cell_of(self, x: float, y: float) -> tuple[int, int]:
        i = int(np.clip(np.searchsorted(self.xs, x), 0, self.grid - 1))
        j = int(np.clip(np.searchsorted(self.ys, y), 0, self.grid - 1))
        return i, j


def map_geometry(positions: np.ndarray, labels: np.ndarray, k: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Each cluster's centre (mean 2-D position) and spread (mean distance to that centre)."""
    member = labels >= 0
    counts = np.maximum(np.bincount(labels[member], minlength=k), 1)
    centers = np.stack([np.bincount(labels[member], weights=positions[member, a], minlength=k)
                        for a in (0, 1)], axis=1) / counts[:, None]
    dist = np.linalg.norm(positions[member] - centers[labels[member]], axis=1)
    spreads = np.bincount(labels[member], weights=dist, minlength=k) / counts
    return centers, spreads


def footprint_radii(spreads: np.ndarray, cell: float) -> np.ndarray:
    """Hill radii from the rows' spreads: `2 · spread`, never under two cells (so a tight
    cluster still shows), compressed towards their median and kept within FOOTPRINT_RANGE of it.

    With volume ∝ mass a hill's peak is ∝ mass / radius², so the narrower the spread of radii,
    the more height alone tells mass; the map's regions have areas ∝ size, whose raw radii would
    make every hill about as tall as any other.
    """
    raw = np.maximum(2.0 * np.asarray(spreads, dtype=np.float64), 2.0 * cell)
    if raw.size == 0:
        return raw
    median = float(np.median(raw))
    radii = median * (raw / median) ** FOOTPRINT_EXPONENT
    radii = np.clip(radii, median / FOOTPRINT_RANGE, median * FOOTPRINT_RANGE)
    return np.maximum(radii, 2.0 * cell)


def build_terrain(positions: np.ndarray, labels: np.ndarray, sizes: np.ndarray,
                  grid: int = 100, check: Callable[[], None] | None = None) -> Terrain:
    """The unit hills over the map; `check` runs before each hill (to honour cancel)."""
    from scipy.ndimage import gaussian_filter

    k = len(sizes)
    positions = np.asarray(positions, dtype=np.float64)
    centers, spreads = map_geometry(positions, labels, k)
    lo, hi = positions.min(axis=0), positions.max(axis=0)
    extent = np.maximum(hi - lo, 1e-6)
    side = float(extent.max())
    mid = (lo + hi) / 2
    half = side * (0.5 + MARGIN)
    xs = np.linspace(mid[0] - half, mid[0] + half, grid)
    ys = np.linspace(mid[1] - half, mid[1] + half, grid)
    cell = xs[1] - xs[0]
    radii = footprint_radii(spreads, cell)
    masses = np.asarray(sizes, dtype=np.float64)
    hills = np.empty((k, grid, grid), dtype=np.float32)
    for c in range(k):
        if check is not None:
            check()
        gx = np.exp(-2.0 * (xs - centers[c, 0]) ** 2 / radii[c] ** 2)
        gy = np.exp(-2.0 * (ys - centers[c, 1]) ** 2 / radii[c] ** 2)
        hill = gaussian_filter(np.outer(gx, gy), sigma=SMOOTH_CELLS, mode="constant")
        volume = float(hill.sum())  # on the grid, after smoothing: what falls off the edge counts
        hills[c] = hill * (masses[c] / volume) if volume > 0 else 0.0
    total = hills.sum(axis=0)
    peak = float(total.max()) if k else 0.0
    if peak > 0:
        hills *= PEAK / peak
    return Terrain(xs=xs, ys=ys, unit_hills=hills, centers=centers, radii=radii)
