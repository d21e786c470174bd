"""Issue 4's figure: recomputing the terrain (heights + owning cluster per vertex) for new weights.

    python benchmarks/terrain_update.py [--runs 3]

The 20,000-row debian sample (precomputed MiniLM vectors), Level's default clusters (141) and a
PCA map (the map's method does not change this cost, which depends on the cluster count and the
grid). 1,000 random weight changes per grid; medians of `--runs` runs. Peers in the same run: the
same update with every cluster competing at every vertex (the naive argmax), and rebuilding the
terrain from scratch.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, emit, median
from labelled_sets import DEBIAN_VECTORS, load_debian

from level_desktop.core.clustering import CLUSTERERS, cluster_stats
from level_desktop.core.projection import PCAProjector
from level_desktop.core.terrain import build_terrain


def one_grid(positions: np.ndarray, labels: np.ndarray, sizes: np.ndarray, grid: int,
             repeats: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    terrain = build_terrain(positions, labels, sizes, grid)
    terrain.owners(np.ones(len(sizes)))  # the per-vertex candidates are found once, at load
    ours, naive = [], []
    for _ in range(repeats):
        w = rng.uniform(0.0, 3.0, len(sizes)).astype(np.float32)
        start = time.perf_counter()
        terrain.heights(w)
        terrain.owners(w)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        terrain.heights(w)
        np.argmax(terrain.unit_hills * w[:, None, None], axis=0)
        naive.append(time.perf_counter() - start)
    start = time.perf_counter()
    build_terrain(positions, labels, sizes, grid).heights(np.ones(len(sizes)))
    rebuild = time.perf_counter() - start
    return {"grid": grid, "update_median_ms": median(ours) * 1e3,
            "update_p95_ms": float(np.percentile(ours, 95)) * 1e3,
            "naive_update_median_ms": median(naive) * 1e3, "rebuild_ms": rebuild * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=1000)
    args = parser.parse_args()
    data = load_debian(DEBIAN_VECTORS)
    stats = cluster_stats(data.vectors, CLUSTERERS.create("auto").fit(data.vectors))
    positions = PCAProjector().fit_transform(data.vectors)
    out = []
    for grid in (100, 200):
        runs = [one_grid(positions, stats.labels, stats.sizes, grid, args.repeats, seed)
                for seed in range(args.runs)]
        row = {k: round(median([r[k] for r in runs]), 3) for k in runs[0] if k != "grid"}
        row["grid"] = grid
        row["ratio_naive_over_ours"] = round(row["naive_update_median_ms"] / row["update_median_ms"], 1)
        row["ratio_rebuild_over_ours"] = round(row["rebuild_ms"] / row["update_median_ms"], 1)
        out.append(row)
    emit({"benchmark": "terrain_update", "rows": len(data.labels), "clusters": len(stats.sizes),
          "runs": args.runs, "grids": out}, REPO / "benchmarks" / "results" / "terrain_update.json")


if __name__ == "__main__":
    main()
