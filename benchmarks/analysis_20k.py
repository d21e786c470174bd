"""Issue 4's and 7's figures on the 20,000-row debian sample with precomputed MiniLM vectors.

    python benchmarks/analysis_20k.py [--runs 3]

1. `analyze` after embedding (the vectors are served from ../shared/data/vectors, made by the same
   model): wall time and peak RSS, each run in a fresh process so imports and the UMAP JIT (cached
   on disk after the first run) count; NMI of the clusters against `section`.
   Peer, in the same run: BERTopic's default `fit_transform` (UMAP 5-d + HDBSCAN + c-TF-IDF) on
   the same texts and vectors, also in a fresh process. Each side then does the same work a
   second time in its process (`warm_wall_s`: imports and JIT already paid), for a warm ratio.
2. Recomputing the terrain for new weights (100x100 and 200x200, all clusters): median and p95
   over 1,000 weight changes, against rebuilding the terrain from scratch (the peer).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, emit, median

LEVEL_RUN = r"""
import json, sys, time
sys.path.insert(0, {bench!r})
start = time.perf_counter()
from common import PrecomputedEmbedder, debian_20k, peak_rss_mb, write_csv
from pathlib import Path
rows, vectors = debian_20k()
csv_path = write_csv(Path({tmp!r}) / "debian-20k.csv", rows, ["package", "section", "description"])
t0 = time.perf_counter()
from level_desktop.core.pipeline import analyze
from level_desktop.core.settings import Settings
from level_desktop.core.store import save_project
from sklearn.metrics import normalized_mutual_info_score
a = analyze(csv_path, Settings(), embedder=PrecomputedEmbedder(vectors))
save_project(a, Path({tmp!r}) / "debian-20k.level")
wall = time.perf_counter() - t0
nmi = normalized_mutual_info_score([r["section"] for r in rows], a.labels)
peak = peak_rss_mb()
t1 = time.perf_counter()  # the same work again in the same process: imports and JIT paid
b = analyze(csv_path, Settings(), embedder=PrecomputedEmbedder(vectors))
save_project(b, Path({tmp!r}) / "debian-20k-warm.level")
warm = time.perf_counter() - t1
print(json.dumps({{"wall_s": wall, "warm_wall_s": warm, "peak_rss_mb": peak, "nmi": nmi,
                   "clusters": len(a.clusters), "noise_share": a.noise_size / a.n_rows,
                   "stages": a.timings}}))
"""

BERTOPIC_RUN = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, {bench!r})
from common import debian_20k, peak_rss_mb
rows, vectors = debian_20k()
t0 = time.perf_counter()
from bertopic import BERTopic
from sklearn.metrics import normalized_mutual_info_score
topics, _ = BERTopic(calculate_probabilities=False).fit_transform(
    [r["description"] for r in rows], embeddings=vectors)
wall = time.perf_counter() - t0
peak = peak_rss_mb()
t1 = time.perf_counter()  # the same work again in the same process: imports and JIT paid
BERTopic(calculate_probabilities=False).fit_transform(
    [r["description"] for r in rows], embeddings=vectors)
warm = time.perf_counter() - t1
import numpy as np
t = np.asarray(topics)
print(json.dumps({{"wall_s": wall, "warm_wall_s": warm, "peak_rss_mb": peak,
                   "nmi": normalized_mutual_info_score([r["section"] for r in rows], t),
                   "clusters": int(len(set(t.tolist()) - {{-1}})),
                   "noise_share": float((t == -1).mean())}}))
"""


def run_fresh(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def terrain_figures(grid: int, repeats: int = 1000) -> dict:
    from level_desktop.core.terrain import build_terrain

    rng = np.random.default_rng(42)
    data = np.load(REPO / "benchmarks" / "results" / "_terrain_inputs.npz")
    positions, labels, sizes = data["positions"], data["labels"], data["sizes"]
    terrain = build_terrain(positions, labels, sizes, grid)
    update = []
    for _ in range(repeats):
        w = rng.uniform(0.2, 3.0, len(sizes))
        start = time.perf_counter()
        terrain.heights(w)
        terrain.owners(w)
        update.append(time.perf_counter() - start)
    rebuild = []
    for _ in range(5):
        start = time.perf_counter()
        build_terrain(positions, labels, sizes, grid).heights(np.ones(len(sizes)))
        rebuild.append(time.perf_counter() - start)
    med = median(update)
    return {"grid": grid, "clusters": len(sizes), "update_median_ms": round(med * 1e3, 3),
            "update_p95_ms": round(float(np.percentile(update, 95)) * 1e3, 3),
            "rebuild_median_ms": round(median(rebuild) * 1e3, 1),
            "ratio_rebuild_over_update": round(median(rebuild) / med, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    bench = str(Path(__file__).resolve().parent)
    level_runs, peer_runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            level_runs.append(run_fresh(LEVEL_RUN.format(bench=bench, tmp=tmp)))
            peer_runs.append(run_fresh(BERTOPIC_RUN.format(bench=bench)))
        from level_desktop.core.store import load_project

        a = load_project(Path(tmp) / "debian-20k.level")
        np.savez(REPO / "benchmarks" / "results" / "_terrain_inputs.npz", positions=a.positions,
                 labels=a.labels, sizes=a.sizes)

    def summary(runs: list[dict]) -> dict:
        out = {k: round(median([r[k] for r in runs]), 3)
               for k in ("wall_s", "warm_wall_s", "peak_rss_mb", "nmi", "clusters",
                         "noise_share")}
        out["wall_s_runs"] = [round(r["wall_s"], 1) for r in runs]
        out["warm_wall_s_runs"] = [round(r["warm_wall_s"], 1) for r in runs]
        return out

    level, peer = summary(level_runs), summary(peer_runs)
    level["stages_last_run"] = level_runs[-1]["stages"]
    emit({"benchmark": "analysis_20k", "rows": 20000, "runs": args.runs,
          "level_after_embedding": level, "peer_bertopic_default": peer,
          "speedup_level_over_peer": round(peer["wall_s"] / level["wall_s"], 2),
          "speedup_warm_level_over_warm_peer": round(peer["warm_wall_s"] / level["warm_wall_s"],
                                                     2),
          "nmi_ratio_level_over_peer": round(level["nmi"] / peer["nmi"], 3),
          "terrain": [terrain_figures(100), terrain_figures(200)]},
         REPO / "benchmarks" / "results" / "analysis_20k.json")
    (REPO / "benchmarks" / "results" / "_terrain_inputs.npz").unlink()


if __name__ == "__main__":
    main()
