"""Does Flatten level the landscape? Hill volumes and peaks after a flatten, on a real analysis.

On the debian 20k analysis (precomputed MiniLM vectors, default settings, 100 × 100), at the top
level (one hill per topic) and inside every topic with at least two clusters, the weights that
Flatten proposes (max ×3, and uncapped) are applied to the unit hills and each hill's own volume
(summed height) and peak are read. Levelled hills (those that reached the water level) should
hold equal volumes, and their peaks should stay within a stated ratio. Also: whether unweighted
peaks still rank like sizes (Spearman), and the share of rows standing on their own hill.

Peer, in the same run: the rule before (a hill's height ∝ its size whatever its width, radius
2 · spread), plus the footprint variants tried (exponent 1, ⅓, ¼, 0 at volume ∝ mass).
Writes benchmarks/results/terrain_volume.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import REPO, emit

CAP = 3.0


def height_rule_hills(positions: np.ndarray, labels: np.ndarray, sizes: np.ndarray,
                      grid: int) -> np.ndarray:
    """The unit hills as built before: height size / max · 10, radius 2 · spread (≥ 2 cells)."""
    from scipy.ndimage import gaussian_filter

    from level_desktop.core import terrain as t

    k = len(sizes)
    centers, spreads = t.map_geometry(positions, labels, k)
    lo, hi = positions.min(axis=0), positions.max(axis=0)
    side, mid = float(np.max(hi - lo)), (lo + hi) / 2
    half = side * (0.5 + t.MARGIN)
    xs = np.linspace(mid[0] - half, mid[0] + half, grid)
    ys = np.linspace(mid[1] - half, mid[1] + half, grid)
    radii = np.maximum(2.0 * spreads, 2.0 * (xs[1] - xs[0]))
    heights = np.asarray(sizes, dtype=np.float64) / max(float(np.max(sizes)), 1.0) * t.PEAK
    hills = np.empty((k, grid, grid), dtype=np.float32)
    for c in range(k):
        gx = np.exp(-2.0 * (xs - centers[c, 0]) ** 2 / radii[c] ** 2)
        gy = np.exp(-2.0 * (ys - centers[c, 1]) ** 2 / radii[c] ** 2)
        hills[c] = gaussian_filter(heights[c] * np.outer(gx, gy), sigma=t.SMOOTH_CELLS,
                                   mode="constant")
    return hills * (t.PEAK / hills.sum(axis=0).max())


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3:
        return float("nan")
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def own_hill_share(hills: np.ndarray, xs: np.ndarray, ys: np.ndarray, positions: np.ndarray,
                   labels: np.ndarray) -> float:
    from level_desktop.core.terrain import GROUND, PEAK

    owner = np.argmax(hills, axis=0)
    owner[hills.max(axis=0) < GROUND * PEAK] = -1
    i = np.clip(np.searchsorted(xs, positions[:, 0]), 0, len(xs) - 1)
    j = np.clip(np.searchsorted(ys, positions[:, 1]), 0, len(ys) - 1)
    member = labels >= 0
    return float(np.mean(owner[i[member], j[member]] == labels[member]))


def level_figures(hills: np.ndarray, sizes: np.ndarray, xs, ys, positions, labels) -> dict:
    from level_desktop.core.balance import flatten

    sizes = np.asarray(sizes, dtype=np.float64)
    volume = hills.reshape(len(sizes), -1).sum(axis=1)
    peak = hills.reshape(len(sizes), -1).max(axis=1)
    out = {"hills": len(sizes),
           "unweighted_peak_vs_size_spearman": round(spearman(peak, sizes), 3),
           "own_hill_share": round(own_hill_share(hills, xs, ys, positions, labels), 3)}
    for name, cap in (("flatten_max3", CAP), ("flatten_uncapped", 1e9)):
        w = flatten(sizes, cap)
        levelled = w < cap - 1e-9 if cap < 1e8 else np.ones(len(w), dtype=bool)
        v, p = volume[levelled] * w[levelled], peak[levelled] * w[levelled]
        out[name] = {"levelled_hills": int(levelled.sum()),
                     "volume_max_over_min": round(float(v.max() / v.min()), 3),
                     "peak_max_over_min": round(float(p.max() / p.min()), 2)}
    return out


def figures_for(analysis, rule: str) -> dict:
    """The top level and every topic with >= 2 clusters under one rule."""
    from level_desktop.core.terrain import build_terrain

    def build(positions, labels, sizes):
        if rule == "height_follows_size (before)":
            hills = height_rule_hills(positions, labels, sizes, analysis.settings.grid)
            terrain = build_terrain(positions, labels, sizes, analysis.settings.grid)
            return hills, terrain.xs, terrain.ys
        terrain = build_terrain(positions, labels, sizes, analysis.settings.grid)
        return terrain.unit_hills, terrain.xs, terrain.ys

    row_topics = analysis.row_topics
    hills, xs, ys = build(analysis.positions, row_topics, analysis.topic_sizes)
    top = level_figures(hills, analysis.topic_sizes, xs, ys, analysis.positions, row_topics)
    drilled = []
    for topic in analysis.topics:
        if len(topic.cluster_ids) < 2:
            continue
        ids = np.array(topic.cluster_ids)
        local = np.full(len(analysis.clusters), -1)
        local[ids] = np.arange(ids.size)
        rows = np.flatnonzero(row_topics == topic.id)
        labels = local[analysis.labels[rows]]
        hills, xs, ys = build(analysis.positions[rows], labels, analysis.sizes[ids])
        drilled.append(level_figures(hills, analysis.sizes[ids], xs, ys,
                                     analysis.positions[rows], labels))
    worst = {name: {key: max(d[name][key] for d in drilled)
                    for key in ("volume_max_over_min", "peak_max_over_min")}
             for name in ("flatten_max3", "flatten_uncapped")}
    return {"top": top, "drilled_topics": len(drilled), "drilled_worst": worst,
            "drilled_own_hill_share_min": min(d["own_hill_share"] for d in drilled)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "level-bench",
                        help="where the analysis is built once and kept")
    args = parser.parse_args()
    from gui_drill import debian_analysis

    from level_desktop.core import terrain

    args.work.mkdir(parents=True, exist_ok=True)
    analysis, _ = debian_analysis(args.work)
    chosen = (terrain.FOOTPRINT_EXPONENT, terrain.FOOTPRINT_RANGE)
    rules = {"volume_follows_mass (now)": chosen,
             "height_follows_size (before)": chosen}
    variants = {f"volume, exponent {e}, range {r}": (e, r)
                for e, r in ((1.0, 1e9), (1 / 3, 1e9), (0.25, 1e9), (0.0, 1.0))}
    result = {"benchmark": "terrain_volume",
              "data": f"debian 20k precomputed MiniLM vectors, default settings: "
                      f"{analysis.n_rows} rows, {len(analysis.topics)} topics, "
                      f"{len(analysis.clusters)} clusters, grid {analysis.settings.grid}",
              "footprint_now": {"exponent": chosen[0], "range": round(chosen[1], 4),
                                "stated_peak_ratio_bound": terrain.FLATTENED_PEAK_RATIO},
              "levelled": "hills whose flattened weight is below the cap (they reached the "
                          "water level); uncapped: all hills"}
    try:
        for name, (exponent, spread_range) in {**rules, **variants}.items():
            terrain.FOOTPRINT_EXPONENT, terrain.FOOTPRINT_RANGE = exponent, spread_range
            result[name] = figures_for(analysis, name)
    finally:
        terrain.FOOTPRINT_EXPONENT, terrain.FOOTPRINT_RANGE = chosen
    emit(result, REPO / "benchmarks" / "results" / "terrain_volume.json")


if __name__ == "__main__":
    main()
