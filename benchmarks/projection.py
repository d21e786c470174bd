"""Issue 7: what the 2-D map costs and what it keeps, on the 20,000-row debian sample.

    python benchmarks/projection.py [--runs 3] [--variants ...]

Each variant lays out the same precomputed MiniLM vectors in a fresh process (imports and numba
JIT included, the on-disk kernel cache warm, as on a user's second launch):

- peer `umap_learn`: umap-learn's own `UMAP(n_neighbors=15, cosine).fit_transform` on all rows,
  its neighbour graph from pynndescent — what Level did before this benchmark.
- `exact_graph`: Level's `UMAPProjector` fitted on all rows, the graph found by exact blocked
  cosine search (`vectors.cosine_knn`).
- `fit10k`, `fit5k`, `fit2500`: fitted on a seeded sample, the other rows placed among their 10
  nearest fitted rows (`projection.place_by_neighbours`); `e200` = 200 epochs at any size.
- `clusters`: `ClusterLayoutProjector`, the map laid out from Level's clusters (given, as in the
  pipeline, where they are computed before the map).

What the map keeps, per variant:
- `knn_recall_10`: for 2,000 seeded rows, the share of their 10 nearest neighbours by cosine (all
  rows) that are also among their 10 nearest in the map.
- `own_hill_share`: the share of rows standing on their own cluster's hill in the terrain
  (100x100, weights 1; clusters from Level's default k-means), i.e. how often the landscape
  puts a row where the user will look for it.
Medians over runs; time ratio = peer / variant.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, emit, median

VARIANTS = {
    "umap_learn": None,
    "exact_graph": {"max_fit": 20_000},
    "fit10k": {"max_fit": 10_000},
    "fit10k_e200": {"max_fit": 10_000, "n_epochs": 200},
    "fit5k": {"max_fit": 5_000},
    "fit5k_e200": {"max_fit": 5_000, "n_epochs": 200},
    "fit2500": {"max_fit": 2_500},
    "clusters": "clusters",
}

CHILD = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, {bench!r})
import numpy as np
from common import debian_20k
rows, vectors = debian_20k()
params = json.loads({params!r})
start = time.perf_counter()
if params == "clusters":
    from level_desktop.core.projection import ClusterLayoutProjector
    positions = ClusterLayoutProjector(seed=42).fit_transform(vectors, np.load({labels!r}))
elif params is None:
    from level_desktop.core.umap_fit import import_umap
    umap = import_umap()
    positions = umap.UMAP(n_neighbors=15, n_components=2, metric="cosine",
                          random_state=42).fit_transform(vectors)
else:
    from level_desktop.core.projection import UMAPProjector
    positions = UMAPProjector(seed=42, **params).fit_transform(vectors)
wall = time.perf_counter() - start
np.save({out!r}, np.asarray(positions, dtype=np.float32))
print(json.dumps({{"wall_s": wall}}))
"""


def knn_recall(vectors: np.ndarray, positions: np.ndarray, k: int = 10, queries: int = 2000,
               seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    q = rng.choice(len(vectors), queries, replace=False)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = unit[q] @ unit.T
    sims[np.arange(queries), q] = -np.inf
    high = np.argpartition(-sims, k, axis=1)[:, :k]
    d2 = ((positions[q, None, :] - positions[None, :, :]) ** 2).sum(-1)
    d2[np.arange(queries), q] = np.inf
    low = np.argpartition(d2, k, axis=1)[:, :k]
    return float(np.mean([len(set(h) & set(lo)) / k for h, lo in zip(high, low, strict=True)]))


def own_hill_share(positions: np.ndarray, labels: np.ndarray, sizes: np.ndarray) -> float:
    from level_desktop.core.terrain import build_terrain

    terrain = build_terrain(positions, labels, sizes, 100)
    owners = terrain.owners(np.ones(len(sizes)))
    i = np.clip(np.searchsorted(terrain.xs, positions[:, 0]), 0, terrain.grid - 1)
    j = np.clip(np.searchsorted(terrain.ys, positions[:, 1]), 0, terrain.grid - 1)
    return float(np.mean(owners[i, j] == labels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    names = args.variants.split(",")
    from common import debian_20k

    from level_desktop.core.clustering import CLUSTERERS, cluster_stats

    _, vectors = debian_20k()
    stats = cluster_stats(vectors, CLUSTERERS.create("auto", seed=42).fit(vectors))
    labels, sizes = stats.labels, stats.sizes
    bench = str(Path(__file__).resolve().parent)
    results: dict[str, dict] = {name: {"wall_s_runs": []} for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        labels_path = str(Path(tmp) / "labels.npy")
        np.save(labels_path, labels)
        for _ in range(args.runs):
            for name in names:
                out = str(Path(tmp) / f"{name}.npy")
                code = CHILD.format(bench=bench, params=json.dumps(VARIANTS[name]), out=out,
                                    labels=labels_path)
                done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                                      text=True, cwd=REPO, check=False)
                if done.returncode != 0:
                    raise RuntimeError(done.stderr[-3000:])
                wall = json.loads(done.stdout.strip().splitlines()[-1])["wall_s"]
                results[name]["wall_s_runs"].append(round(wall, 2))
                positions = np.load(out)
                results[name]["knn_recall_10"] = round(knn_recall(vectors, positions), 4)
                results[name]["own_hill_share"] = round(own_hill_share(positions, labels, sizes),
                                                        4)
    for name in names:
        results[name]["wall_s"] = round(median(results[name]["wall_s_runs"]), 2)
        results[name]["params"] = VARIANTS[name]
    if "umap_learn" in results:
        peer = results["umap_learn"]["wall_s"]
        for name in names:
            results[name]["speedup_over_peer"] = round(peer / results[name]["wall_s"], 2)
    emit({"benchmark": "projection", "rows": len(vectors), "clusters": len(sizes),
          "runs": args.runs, "variants": results},
         REPO / "benchmarks" / "results" / "projection.json")


if __name__ == "__main__":
    main()
