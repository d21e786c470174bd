"""The topics `level analyze` makes (issue 15): do they meet the targets on the whole sets?

Sets (all rows; labels used only to score): debian-packages.csv (63,666 rows, labels `section`) and
fortunes.csv (15,217 rows, labels `category`). Vectors: Level's default fast path, shared with
`benchmarks/topics.py` (cached .npy under benchmarks/results/_cache, gitignored; made with
`make_embedder("auto", corpus=texts)` when missing).

For each seed the run goes through the pipeline's own stages with the DEFAULT settings
(`Settings(seed=...)`: method `auto`, noise handed to the nearest cluster as the pipeline does),
then `pipeline.make_topics`' grouping (`topics.build_topics` on the clusters' stats; the naming
step, which changes no row's topic, is left out). Scores per seed: the Gini of the topic sizes
against the labels' Gini (target: within 0.10), the topic count against the label count (target:
0.3–1.5×), and NMI against the labels over the peer's — flat spherical k-means on the rows with as
many clusters as there are topics, same seed (target: ≥ 0.9×) — and the topic stage's time
(median of 3). Medians over the seeds; every run is in the JSON.

    PYTHONPATH=. .venv/bin/python benchmarks/topics_pipeline.py [--seeds 42 43 44]
        [--out benchmarks/results/topics_pipeline.json]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import REPO, emit, median
from benchmarks.topics import SETS, load, log, nmi
from level_desktop.core.balance import gini
from level_desktop.core.clustering import (
    CLUSTERERS,
    assign_noise,
    cluster_stats,
    spherical_kmeans,
)
from level_desktop.core.settings import Settings
from level_desktop.core.topics import build_topics

REPEATS = 3


def default_topics(x: np.ndarray, seed: int) -> tuple[np.ndarray, int, float]:
    """(topic of each row, cluster count, median seconds of the topic stage) as `analyze`
    makes them with the default settings."""
    settings = Settings(seed=seed)
    raw = CLUSTERERS.create(settings.method, settings).fit(x)
    stats = cluster_stats(x, raw)
    if settings.assign_noise and stats.noise_size:
        stats = cluster_stats(x, assign_noise(x, stats.labels, stats.centroids))
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        topics = build_topics(stats)
        times.append(time.perf_counter() - start)
    return topics.labels, len(stats.sizes), median(times)


def run_set(name: str, seeds: list[int]) -> dict[str, Any]:
    _texts, labels, x = load(name)
    _, truth = np.unique(labels, return_inverse=True)
    label_sizes = np.bincount(truth)
    label_gini = gini(label_sizes)
    runs = []
    for seed in seeds:
        log(f"{name}: seed {seed}")
        row_topics, k, seconds = default_topics(x, seed)
        member = row_topics >= 0
        sizes = np.bincount(row_topics[member])
        count = int(sizes.size)
        found = nmi(truth[member], row_topics[member])
        flat = nmi(truth, spherical_kmeans(x, count, seed))
        runs.append({"seed": seed, "clusters": k, "topics": count,
                     "topic_gini": round(gini(sizes), 4),
                     "gini_gap": round(abs(gini(sizes) - label_gini), 4),
                     "count_ratio": round(count / label_sizes.size, 3),
                     "nmi": round(found, 4), "flat_kmeans_nmi": round(flat, 4),
                     "nmi_ratio": round(found / flat, 4) if flat else None,
                     "noise_rows": int((~member).sum()),
                     "topic_stage_s": round(seconds, 4)})
    summary = {key: median([r[key] for r in runs]) for key in
               ("topics", "topic_gini", "gini_gap", "count_ratio", "nmi", "flat_kmeans_nmi",
                "nmi_ratio", "topic_stage_s")}
    return {"rows": len(x), "labels": int(label_sizes.size),
            "label_gini": round(label_gini, 4), "median": summary,
            "targets_met": {"gini_within_0.10": summary["gini_gap"] <= 0.10,
                            "count_0.3_to_1.5x": 0.3 <= summary["count_ratio"] <= 1.5,
                            "nmi_at_least_0.9x_flat": summary["nmi_ratio"] >= 0.9},
            "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks" / "results" / "topics_pipeline.json")
    args = parser.parse_args()
    result: dict[str, Any] = {
        "benchmark": "topics_pipeline",
        "what": "the default pipeline's topics (Settings() clustering, then build_topics) "
                "against the labels and flat spherical k-means with as many clusters",
        "peer": "flat spherical k-means on the rows, same count and seed",
        "machine": f"{platform.machine()}, {platform.python_version()}; 2 shared CPU cores "
                   "(other jobs running: times are upper bounds)",
        "seeds": args.seeds,
        "sets": {name: run_set(name, args.seeds) for name in args.sets},
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()
