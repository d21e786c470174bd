"""Topics over clusters: which construction shows a lopsided set as lopsided, and how many topics.

Sets (all rows; labels used only to score, never to build): debian-packages.csv (63,666 rows,
`description`, labels `section`) and fortunes.csv (15,217 rows, `text`, labels `category`).
Vectors: Level's default fast path (`make_embedder("auto", corpus=texts)` picks the StaticEmbedder
on a CPU at these sizes), cached as .npy under benchmarks/results/_cache (gitignored).

For each seed, Level's default clustering (`auto`: spherical k-means, k = round(√n) ≤ 150) makes the
clusters the landscape shows; every construction then groups those clusters into topics (a topic is
a union of whole clusters), except `fine_vote`, which builds topics from 1,000 finer clusters first:

    ward            core/topics.py: Ward's linkage on the unit centroids, each cluster counted once
    ward_weighted   Ward's linkage with each cluster weighted by its rows (size-weighted means)
    average         average linkage on cosine distance between centroids (each counted once)
    complete        complete linkage on cosine distance between centroids
    hkmeans         Vo et al. 2024: spherical k-means on the centroids, each counted once
    fine_vote       Vo et al. with a finer first level: k-means with 1,000 clusters on the rows,
                    spherical k-means on those centroids; each shown cluster joins the topic of
                    most of its rows (run for the first seed only: it costs a 1,000-means)

All at the topic count of the default rule (`auto_topic_count`). Count rules, each with `ward`:
k / 3 (the default), n^(1/3), √k, the knee of Ward's merge heights, and — for reference only, a
user does not know it — the label count. Scores: the Gini of topic sizes, the topic count, NMI
against the labels and over the NMI of flat spherical k-means on the rows with the same count and
seed, the largest topic's share, the time to build the topics from the clusters (median of 3).
Targets for the default on both sets: Gini within 0.10 of the labels' Gini, 0.3–1.5× as many
topics as labels, NMI ≥ 0.9× flat k-means'.

Peer, once per set (a fit costs minutes): BERTopic's default pipeline on the same vectors
(UMAP 5-d seeded, HDBSCAN min_cluster_size 10) and `reduce_topics` to the label count; Gini of its
topic sizes (outliers left out, as Level leaves noise out), NMI (outliers scored as one more
topic), noise share, fit and reduce times. Medians over seeds; every run is in the JSON.

    PYTHONPATH=. .venv/bin/python benchmarks/topics.py [--seeds 42 43 44] [--no-peer]
        [--out benchmarks/results/topics.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import REPO, SHARED_DATA, emit, median, read_csv
from level_desktop.core.balance import gini
from level_desktop.core.clustering import (
    AutoClusterer,
    ClusterStats,
    cluster_stats,
    knee_index,
    spherical_kmeans,
)
from level_desktop.core.embedding import make_embedder
from level_desktop.core.topics import auto_topic_count, build_topics, merge_clusters
from level_desktop.core.vectors import normalize_rows

SETS = {"debian": ("debian-packages.csv", "description", "section"),
        "fortunes": ("fortunes.csv", "text", "category")}
CACHE = REPO / "benchmarks" / "results" / "_cache"
FINE_K = 1000
REPEATS = 3


def log(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


def load(name: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, labels and fast-path unit vectors of a set (vectors cached as .npy)."""
    file, text_col, label_col = SETS[name]
    rows = read_csv(SHARED_DATA / file)
    texts = [r[text_col] for r in rows]
    labels = np.array([r[label_col] for r in rows])
    cached = CACHE / f"{Path(file).stem}-fast.npy"
    if cached.exists():
        vectors = np.load(cached)
    else:
        embedder = make_embedder("auto", corpus=texts)
        log(f"{name}: embedding {len(texts)} rows with {embedder.name}")
        vectors = embedder.encode(texts).astype(np.float32)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(cached, vectors)
    if len(vectors) != len(texts):
        raise SystemExit(f"{cached} is for another version of {file}; delete it")
    return texts, labels, normalize_rows(vectors)


def nmi(truth: np.ndarray, found: np.ndarray) -> float:
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(truth, found))


def relabel(groups: np.ndarray) -> np.ndarray:
    return np.unique(groups, return_inverse=True)[1].astype(np.int32)


# --- constructions: cluster centroids (and sizes) -> a topic per cluster ------------------------

def scipy_linkage(method: str, metric: str) -> Callable[..., np.ndarray]:
    def merge(stats: ClusterStats, count: int, **_: Any) -> np.ndarray:
        from scipy.cluster.hierarchy import fcluster, linkage

        tree = linkage(stats.centroids.astype(np.float64), method=method, metric=metric)
        return relabel(fcluster(tree, count, criterion="maxclust"))
    return merge


def weighted_ward(stats: ClusterStats, count: int, **_: Any) -> np.ndarray:
    """Ward's greedy merging with each cluster weighted by its rows: the merge cost of groups a, b
    is n_a n_b / (n_a + n_b) · |μ_a − μ_b|², μ the size-weighted mean of their unit centroids."""
    mu = stats.centroids.astype(np.float64).copy()
    n = stats.sizes.astype(np.float64).copy()
    k = len(mu)
    groups = np.arange(k)
    sq = np.maximum((mu ** 2).sum(1)[:, None] + (mu ** 2).sum(1)[None, :] - 2 * mu @ mu.T, 0)
    cost = n[:, None] * n[None, :] / (n[:, None] + n[None, :]) * sq
    np.fill_diagonal(cost, np.inf)
    for _ in range(k - count):
        a, b = np.unravel_index(np.argmin(cost), cost.shape)
        mu[a] = (n[a] * mu[a] + n[b] * mu[b]) / (n[a] + n[b])
        n[a] += n[b]
        groups[groups == b] = a
        cost[b, :] = cost[:, b] = np.inf
        alive = np.isfinite(cost[:, a]) | (np.arange(k) == a)
        alive[a] = False
        d = ((mu[alive] - mu[a]) ** 2).sum(1)
        cost[a, alive] = cost[alive, a] = n[a] * n[alive] / (n[a] + n[alive]) * d
    return relabel(groups)


def hkmeans(stats: ClusterStats, count: int, seed: int = 42, **_: Any) -> np.ndarray:
    return spherical_kmeans(stats.centroids, count, seed)


def fine_vote(stats: ClusterStats, count: int, seed: int = 42, x: np.ndarray | None = None,
              **_: Any) -> np.ndarray:
    assert x is not None
    fine = cluster_stats(x, spherical_kmeans(x, FINE_K, seed))
    fine_topic = spherical_kmeans(fine.centroids, count, seed)[fine.labels]
    k = len(stats.sizes)
    votes = np.zeros((k, count), dtype=np.int64)
    np.add.at(votes, (stats.labels, fine_topic), 1)
    return relabel(np.argmax(votes, axis=1))


CONSTRUCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "ward": lambda stats, count, **_: merge_clusters(stats.centroids, count),
    "ward_weighted": weighted_ward,
    "average": scipy_linkage("average", "cosine"),
    "complete": scipy_linkage("complete", "cosine"),
    "hkmeans": hkmeans,
    "fine_vote": fine_vote,
}


def count_rules(stats: ClusterStats, n: int, n_labels: int) -> dict[str, int]:
    from scipy.cluster.hierarchy import linkage

    k = len(stats.sizes)
    heights = linkage(stats.centroids.astype(np.float64), method="ward")[:, 2]
    return {"k/3 (default)": auto_topic_count(k), "n^(1/3)": round(n ** (1 / 3)),
            "sqrt(k)": round(np.sqrt(k)), "ward knee": int(k - 1 - knee_index(heights)),
            "label count (reference)": n_labels}


# --- one set ------------------------------------------------------------------------------------

def score(truth: np.ndarray, row_topics: np.ndarray, flat_nmi: float) -> dict[str, Any]:
    sizes = np.bincount(row_topics)
    found = nmi(truth, row_topics)
    return {"count": int(sizes.size), "gini": round(gini(sizes), 3), "nmi": round(found, 4),
            "flat_nmi": round(flat_nmi, 4), "nmi_over_flat": round(found / flat_nmi, 3),
            "largest_share": round(float(sizes.max() / sizes.sum()), 3)}


def run_set(name: str, seeds: list[int], peer: bool,
            save: Callable[[dict[str, Any]], None] = lambda _: None) -> dict[str, Any]:
    texts, truth, x = load(name)
    n = len(x)
    _, label_sizes = np.unique(truth, return_counts=True)
    out: dict[str, Any] = {"rows": n, "labels": int(label_sizes.size),
                           "labels_gini": round(gini(label_sizes), 3), "runs": []}
    flat_cache: dict[tuple[int, int], float] = {}

    def flat(count: int, seed: int) -> float:
        if (count, seed) not in flat_cache:
            flat_cache[(count, seed)] = nmi(truth, spherical_kmeans(x, count, seed))
        return flat_cache[(count, seed)]

    for seed in seeds:
        start = time.perf_counter()
        stats = cluster_stats(x, AutoClusterer(seed=seed).fit(x))
        cluster_s = time.perf_counter() - start
        k = len(stats.sizes)
        run: dict[str, Any] = {"seed": seed, "clusters": k, "cluster_stage_s": round(cluster_s, 3),
                               "clusters_gini": round(gini(stats.sizes), 3),
                               "clusters_nmi": round(nmi(truth, stats.labels), 4),
                               "constructions": {}, "count_rules": {}}
        count = auto_topic_count(k)
        for method, merge in CONSTRUCTIONS.items():
            if method == "fine_vote" and seed != seeds[0]:
                continue
            times = []
            for _ in range(1 if method == "fine_vote" else REPEATS):
                t0 = time.perf_counter()
                if method == "ward":  # the whole core step: merge, renumber, topic centroids
                    of_cluster = build_topics(stats).of_cluster
                else:
                    of_cluster = merge(stats, count, seed=seed, x=x)
                times.append(time.perf_counter() - t0)
            entry = score(truth, of_cluster[stats.labels], flat(count, seed))
            entry["time_s"] = round(median(times), 4)
            run["constructions"][method] = entry
            log(f"{name} seed {seed} {method}: {entry}")
        for rule, rule_count in count_rules(stats, n, out["labels"]).items():
            topics = build_topics(stats, rule_count)
            entry = score(truth, topics.labels, flat(topics.count, seed))
            run["count_rules"][rule] = entry
            log(f"{name} seed {seed} ward @ {rule}: {entry}")
        out["runs"].append(run)

    def med(path: Callable[[dict[str, Any]], Any]) -> float | None:
        values = [v for r in out["runs"] if (v := path(r)) is not None]
        return round(median(values), 4) if values else None

    keys = ["count", "gini", "nmi", "flat_nmi", "nmi_over_flat", "largest_share", "time_s"]
    out["median"] = {
        "clusters": med(lambda r: r["clusters"]),
        "cluster_stage_s": med(lambda r: r["cluster_stage_s"]),
        "clusters_gini": med(lambda r: r["clusters_gini"]),
        "clusters_nmi": med(lambda r: r["clusters_nmi"]),
        "constructions": {m: {key: med(lambda r, m=m, key=key: r["constructions"].get(m, {})
                                       .get(key)) for key in keys} for m in CONSTRUCTIONS},
        "count_rules": {rule: {key: med(lambda r, rule=rule, key=key: r["count_rules"][rule]
                                        .get(key)) for key in keys[:-1]}
                        for rule in out["runs"][0]["count_rules"]},
    }
    default = out["median"]["constructions"]["ward"]
    out["default_meets_targets"] = {
        "gini_within_0.10": abs(default["gini"] - out["labels_gini"]) <= 0.10,
        "count_0.3x_to_1.5x": 0.3 * out["labels"] <= default["count"] <= 1.5 * out["labels"],
        "nmi_at_least_0.9x_flat": default["nmi_over_flat"] >= 0.9,
    }
    if peer:
        save(out)  # the peer takes minutes: keep what is measured so far
        out["peer"] = bertopic_peer(texts, x, truth, out["labels"], seeds[0])
    return out


def bertopic_peer(texts: list[str], x: np.ndarray, truth: np.ndarray, n_labels: int,
                  seed: int) -> dict[str, Any]:
    """BERTopic's default pipeline on the same vectors, then `reduce_topics` to the label count."""
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from umap import UMAP

    warnings.filterwarnings("ignore")
    model = BERTopic(umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0,
                                     metric="cosine", random_state=seed),
                     hdbscan_model=HDBSCAN(min_cluster_size=10, metric="euclidean",
                                           cluster_selection_method="eom", prediction_data=True))
    t0 = time.perf_counter()
    model.fit_transform(texts, embeddings=x)
    fit_s = time.perf_counter() - t0
    before = np.asarray(model.topics_)
    t0 = time.perf_counter()
    model.reduce_topics(texts, nr_topics=n_labels)
    reduce_s = time.perf_counter() - t0
    topics = np.asarray(model.topics_)
    sizes = np.bincount(topics[topics >= 0])
    sizes = sizes[sizes > 0]
    result = {"seed": seed, "runs": 1, "fit_s": round(fit_s, 1), "reduce_s": round(reduce_s, 2),
              "topics_before_reduce": len(set(before[before >= 0].tolist())),
              "count": int(sizes.size), "gini": round(gini(sizes), 3),
              "nmi": round(nmi(truth, topics), 4), "noise_share": round(float((topics < 0).mean()), 3),
              "largest_share": round(float(sizes.max() / len(topics)), 3)}
    log(f"peer: {result}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["fortunes", "debian"], choices=list(SETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44])
    parser.add_argument("--no-peer", action="store_true", help="skip BERTopic (minutes per set)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "topics.json")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result = {"benchmark": "topics", "seeds": args.seeds, "fine_k": FINE_K,
              "default": "ward, k/3 topics", "sets": {}}
    def save(name: str, part: dict[str, Any]) -> None:
        result["sets"][name] = part
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    for name in args.sets:
        save(name, run_set(name, args.seeds, not args.no_peer, lambda part, n=name: save(n, part)))
    emit(result, args.out)


if __name__ == "__main__":
    main()
