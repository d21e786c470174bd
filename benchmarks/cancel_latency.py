"""How soon each stage stops after cancel, on all 63,666 debian rows with the default settings
(the fast path, auto k-means, keyword names, the cluster landscape, a 100 × 100 terrain).

Per stage: its full run time (median of 3; the peer: before issue 14 cancel was checked only
between stages, so a cancel waited for the rest of the stage), then 5 tries that start the stage
in a thread, call `cancel()` at a random moment inside it and time until `Cancelled` is raised
there. The fast-path vectors are computed once and kept in benchmarks/results/_cache.

    PYTHONPATH=$PWD python benchmarks/cancel_latency.py   # → benchmarks/results/cancel_latency.json
    PYTHONPATH=$PWD python benchmarks/cancel_latency.py --stages embed   # re-measure some stages,
                                                                          # the others kept
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, SHARED_DATA

from level_desktop.core.errors import Cancelled
from level_desktop.core.progress import CancelToken, no_progress

TRIES = 5
FULL_RUNS = 3
RESULT = REPO / "benchmarks" / "results" / "cancel_latency.json"
CACHE = REPO / "benchmarks" / "results" / "_cache"

Stage = Callable[[CancelToken], Any]


def fast_vectors(texts: list[str]) -> tuple[np.ndarray, float | None]:
    """The fast path's vectors of `texts`, from the cache when they were made before."""
    from level_desktop.core.embedding import make_embedder

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / "debian-fast.npy"
    if path.exists():
        vectors = np.load(path)
        if len(vectors) == len(texts):
            return vectors, None
    start = time.perf_counter()
    vectors = make_embedder("fast", corpus=texts).encode(texts)
    np.save(path, vectors)
    return vectors, time.perf_counter() - start


def full_time(stage: Stage) -> float:
    times = []
    for _ in range(FULL_RUNS):
        start = time.perf_counter()
        stage(CancelToken())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cancel_once(stage: Stage, delay: float) -> float | None:
    """Seconds from cancel() to Cancelled raised in the stage's thread; None when the stage
    finished before the cancel came."""
    token = CancelToken()
    raised: dict[str, float] = {}

    def target() -> None:
        try:
            stage(token)
        except Cancelled:
            raised["at"] = time.perf_counter()

    thread = threading.Thread(target=target)
    thread.start()
    time.sleep(delay)
    asked = time.perf_counter()
    token.cancel()
    thread.join()
    return raised["at"] - asked if "at" in raised else None


def measure(name: str, stage: Stage, rng: np.random.Generator) -> dict[str, Any]:
    duration = full_time(stage)
    latencies: list[float] = []
    finished_first = 0
    while len(latencies) < TRIES and finished_first < 4 * TRIES:
        latency = cancel_once(stage, float(rng.uniform(0.05, 0.9)) * duration)
        if latency is None:
            finished_first += 1
        else:
            latencies.append(latency)
    result = {"full_run_s_median": round(duration, 3),
              "latency_s": [round(v, 4) for v in latencies],
              "latency_s_median": round(statistics.median(latencies), 4) if latencies else None,
              "latency_s_worst": round(max(latencies), 4) if latencies else None,
              "finished_before_cancel": finished_first}
    if latencies:
        result["peer_ratio_median"] = round(statistics.median(latencies) / duration, 4)
    print(name, json.dumps(result), flush=True)
    return result


def main() -> None:
    from level_desktop.core.clustering import AutoClusterer, cluster_stats
    from level_desktop.core.embedding import make_embedder
    from level_desktop.core.labeling import LABELERS, ClusterDocs
    from level_desktop.core.loading import load_input
    from level_desktop.core.projection import ClusterLayoutProjector
    from level_desktop.core.sampling import representatives
    from level_desktop.core.settings import Settings
    from level_desktop.core.terrain import build_terrain
    from level_desktop.core.topics import build_topics

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    loaded = load_input(SHARED_DATA / "debian-packages.csv")
    texts = loaded.texts
    vectors, embed_s = fast_vectors(texts)
    stats = cluster_stats(vectors, AutoClusterer().fit(vectors))
    reps = representatives(vectors, stats.labels, stats.centroids, 5)
    order = np.argsort(stats.labels, kind="stable")
    bounds = np.searchsorted(stats.labels[order], np.arange(len(stats.sizes) + 1))
    docs = [ClusterDocs(cluster_id=c, texts=[texts[i] for i in order[bounds[c]:bounds[c + 1]]],
                        representatives=[texts[i] for i in reps[c]])
            for c in range(len(stats.sizes))]
    positions = ClusterLayoutProjector().fit_transform(vectors, stats.labels)

    def embed(token: CancelToken) -> Any:
        return make_embedder("fast", corpus=texts).encode(texts, no_progress, token)

    def cluster(token: CancelToken) -> Any:
        return cluster_stats(vectors, AutoClusterer(cancel=token).fit(vectors), token)

    def sample(token: CancelToken) -> Any:
        return representatives(vectors, stats.labels, stats.centroids, 5, token)

    def label(token: CancelToken) -> Any:
        return LABELERS.create("keywords", Settings()).label(docs, no_progress, token)

    def project(token: CancelToken) -> Any:
        return ClusterLayoutProjector(cancel=token).fit_transform(vectors, stats.labels)

    def terrain(token: CancelToken) -> Any:
        return build_terrain(positions, stats.labels, stats.sizes, 100, token.check)

    def topics(token: CancelToken) -> Any:
        found = build_topics(stats)  # no check inside: a linkage of ≤ 150 centroids
        token.check()
        return found

    rng = np.random.default_rng(14)
    stages: dict[str, Stage] = {"cluster": cluster, "sample": sample, "label": label,
                                "project": project, "terrain": terrain, "topics": topics,
                                "embed": embed}
    chosen = sys.argv[sys.argv.index("--stages") + 1].split(",") if "--stages" in sys.argv \
        else list(stages)
    kept = json.loads(RESULT.read_text(encoding="utf-8"))["stages"] if RESULT.exists() else {}
    measured_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results = {name: kept[name] for name in stages if name in kept and name not in chosen}
    for name in chosen:
        results[name] = {**measure(name, stages[name], rng), "measured_at": measured_at}
    worst = max(r["latency_s_worst"] for r in results.values() if r["latency_s_worst"])
    out = {
        "what": "seconds from CancelToken.cancel() to Cancelled raised inside each stage, "
                "cancelled at a random moment of the stage (5 tries); peer: the stage's full "
                "run time (median of 3), which a cancel waited for when it was checked only "
                "between stages",
        "data": f"debian-packages.csv, {len(texts):,} rows, fast-path vectors {vectors.shape}",
        "settings": "defaults: auto k-means (k = 150), keywords, cluster landscape, grid 100",
        "clusters": len(stats.sizes),
        "embed_vectors_s": round(embed_s, 2) if embed_s is not None else "from cache",
        "stages": results,
        "worst_latency_s": worst,
        "machine": {"cpus": os.cpu_count(), "load_average_1m_at_end": os.getloadavg()[0],
                    "python": platform.python_version()},
        "not_measured": "load (load_input has no cancel check; reading takes ~1.6 s here); "
                        "DBSCAN / HDBSCAN / UMAP (not the default; their library calls run "
                        "through run_cancellable)",
    }
    RESULT.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULT}")


if __name__ == "__main__":
    main()
