"""Clustering: Level's methods against human labels, with BERTopic's default as the peer.

For each labelled set (debian-packages: the 20,000-row sample whose MiniLM vectors are in
shared/data/vectors, joined on `package` for `section`; fortunes: all 15,217 rows, `category`) and
each seed, every method clusters the same unit vectors and is scored against the labels Level never
sees: ARI, NMI (arithmetic mean normalisation, scikit-learn's default), AMI, the cluster count
(noise not counted), the noise share and the fit time. Noise (−1) is scored as one more cluster —
a visible bucket, never dropped — so a method cannot gain by discarding hard rows.

Methods (one process, one run):

    auto            Level's default: spherical k-means, k = round(√n) within [2, 150]
    kmeans_k_labels Level's k-means told the number of human labels (a user does not know it)
    dbscan          Level's DBSCAN in the 5-d UMAP space, eps by the percolation rule on the
                    k-distance curve (the last eps before one cluster swallows the others)
    hdbscan         Level's HDBSCAN in the 5-d UMAP space, min_cluster_size max(10, n // 1000)
    dbscan_cosine   the original spec: DBSCAN on raw cosine distance, eps at the k-distance knee
    peer            BERTopic's default: umap.UMAP(n_neighbors=15, n_components=5, min_dist=0,
                    metric='cosine', random_state=seed) then hdbscan.HDBSCAN(min_cluster_size=10,
                    metric='euclidean', cluster_selection_method='eom')

Level's `dbscan` and `hdbscan` reduce with the very same UMAP call (the script checks that Level's
parameters equal the peer's), so the reduction is computed once per set and seed and handed to their
`fit_reduced`; their time is that reduction's time plus their own. The one-time `import umap` and
the numba JIT of the first UMAP fit (a warm-up fit on 5,000 rows) are timed apart and excluded from
every per-method time. NMI/peer is each run's NMI over the peer's NMI in the same run.

Also reported: how the default's k was chosen (k rules over a grid of k: √n / 2, √(n / 2), √n, the
elbow of the k-means objective, the best silhouette on a 5,000-row sample), k-means engines at the
default's k (Level's numpy spherical k-means, scikit-learn KMeans, faiss when installed), and the
default's time in a fresh Python process (imports, loading 20,000 vectors, fit, statistics).
Medians over the seeds; every run is in the JSON.

    .venv/bin/python benchmarks/clustering.py [--sets debian fortunes] [--seeds 42 43 44]
        [--fortunes-vectors FILE.npz] [--rows N] [--out benchmarks/results/clustering.json]
    .venv/bin/python benchmarks/clustering.py --markdown benchmarks/results/clustering.json

Without --fortunes-vectors (or when the file is absent) fortunes.csv is embedded by Level's own
embed stage and cache (about 10–20 minutes on 2 CPU cores the first time). JSON goes to stdout;
progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from level_desktop.core.clustering import (
    CLUSTERERS,
    UMAP_PARAMS,
    DBSCANClusterer,
    HDBSCANClusterer,
    auto_k,
    cluster_stats,
    spherical_kmeans,
)
from level_desktop.core.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO
from labelled_sets import (
    LabelledSet,
    add_set_arguments,
    load_debian,
    load_fortunes,
)

PEER_UMAP = {"n_neighbors": 15, "n_components": 5, "min_dist": 0.0, "metric": "cosine"}
PEER_HDBSCAN = {"min_cluster_size": 10, "metric": "euclidean", "cluster_selection_method": "eom"}
K_GRID = (10, 20, 30, 40, 60, 80, 100, 120, 150, 200)
SILHOUETTE_ROWS = 5000
MAX_NOISE = 0.15
CLUSTER_RATIO = (0.5, 3.0)


def subset(data: LabelledSet, rows: int) -> LabelledSet:
    keep = np.sort(np.random.default_rng(0).choice(len(data.labels), rows, replace=False))
    return LabelledSet(name=data.name, note=f"{data.note}; a seeded sample of {rows:,} rows",
                       texts=[data.texts[i] for i in keep], labels=data.labels[keep],
                       vectors=data.vectors[keep], vectors_from=data.vectors_from)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(fn: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def score(truth: np.ndarray, labels: np.ndarray, seconds: float) -> dict:
    """ARI, NMI, AMI (noise scored as one more cluster), clusters, noise share, time."""
    from sklearn.metrics import (
        adjusted_mutual_info_score,
        adjusted_rand_score,
        normalized_mutual_info_score,
    )

    labels = np.asarray(labels)
    return {"ari": round(float(adjusted_rand_score(truth, labels)), 4),
            "nmi": round(float(normalized_mutual_info_score(truth, labels)), 4),
            "ami": round(float(adjusted_mutual_info_score(truth, labels)), 4),
            "clusters": int(np.unique(labels[labels >= 0]).size),
            "noise": round(float((labels < 0).mean()), 4),
            "seconds": round(seconds, 2)}


def warm_up_umap(vectors: np.ndarray) -> dict:
    """Pay `import umap` and the first fit's numba JIT once, so no method's time includes them."""
    start = time.perf_counter()
    import umap  # noqa: F401 — timed: the import alone costs seconds to tens of seconds

    imported = time.perf_counter() - start
    rows = vectors[np.random.default_rng(0).choice(len(vectors), min(5000, len(vectors)), False)]
    start = time.perf_counter()
    peer_reduce(rows, 0)
    return {"umap_import_s": round(imported, 1), "umap_first_fit_5000_rows_s":
            round(time.perf_counter() - start, 1),
            "note": "paid once per process; excluded from every method's time"}


def peer_reduce(vectors: np.ndarray, seed: int) -> np.ndarray:
    import umap

    with warnings.catch_warnings():  # "n_jobs overridden by setting random_state": intended
        warnings.simplefilter("ignore", UserWarning)
        return umap.UMAP(**PEER_UMAP, random_state=seed).fit_transform(vectors)


def peer_cluster(points: np.ndarray) -> np.ndarray:
    import hdbscan

    return hdbscan.HDBSCAN(**PEER_HDBSCAN).fit_predict(points)


def objective(vectors: np.ndarray, labels: np.ndarray) -> float:
    """Mean cosine distance of the rows to their cluster's centroid (k-means' objective)."""
    stats = cluster_stats(vectors, labels)
    return float((stats.sizes * stats.spreads).sum() / len(vectors))


def elbow(ks: list[int], values: list[float]) -> int:
    """The k farthest below the chord of the (k, objective) curve, both axes scaled to [0, 1]."""
    x = (np.array(ks) - ks[0]) / (ks[-1] - ks[0])
    y = (np.array(values) - values[-1]) / (values[0] - values[-1])
    return ks[int(np.argmax((1 - x) - y))]


def k_rules(data: LabelledSet, seed: int) -> dict:
    """NMI along a grid of k, and the k that each candidate rule would pick."""
    from sklearn.metrics import silhouette_score

    x, n = data.vectors, len(data.vectors)
    sub = np.random.default_rng(seed).choice(n, min(SILHOUETTE_ROWS, n), replace=False)
    grid: dict[int, dict] = {}
    for k in K_GRID:
        labels, seconds = timed(lambda k=k: spherical_kmeans(x, k, seed))
        grid[k] = {**score(data.labels, labels, seconds), "objective": round(objective(x, labels), 5),
                   "silhouette": round(float(silhouette_score(x[sub], labels[sub],
                                                              metric="cosine")), 5)}
    ks = list(grid)
    picks = {"sqrt(n)/2 (the old placeholder)": int(np.clip(round(np.sqrt(n) / 2), 2, 120)),
             "sqrt(n/2)": round(np.sqrt(n / 2)),
             "sqrt(n) (auto_k, chosen)": auto_k(n),
             "elbow of the objective over the grid": elbow(ks, [grid[k]["objective"] for k in ks]),
             "best silhouette over the grid": max(ks, key=lambda k: grid[k]["silhouette"])}
    rules = {}
    for rule, k in picks.items():
        if k in grid:
            rules[rule] = {"k": k, **{m: grid[k][m] for m in ("ari", "nmi", "ami", "clusters")}}
        else:
            labels = spherical_kmeans(x, k, seed)
            rules[rule] = {"k": k, **{m: v for m, v in score(data.labels, labels, 0).items()
                                      if m in ("ari", "nmi", "ami", "clusters")}}
    return {"grid": {str(k): v for k, v in grid.items()}, "rules": rules}


def kmeans_engines(data: LabelledSet, seed: int) -> dict:
    """k-means at the default's k by three engines: NMI and time."""
    from sklearn.cluster import KMeans

    x, k = data.vectors, auto_k(len(data.vectors))
    out = {}
    labels, seconds = timed(lambda: spherical_kmeans(x, k, seed))
    out["level_numpy_spherical"] = score(data.labels, labels, seconds)
    labels, seconds = timed(lambda: KMeans(n_clusters=k, n_init=1, random_state=seed)
                            .fit_predict(x))
    out["sklearn_kmeans_n_init_1"] = score(data.labels, labels, seconds)
    try:
        import faiss
    except ImportError:
        return out

    def run_faiss() -> np.ndarray:
        model = faiss.Kmeans(x.shape[1], k, niter=25, seed=seed, spherical=True)
        model.train(x)
        return model.index.search(x, 1)[1][:, 0]

    labels, seconds = timed(run_faiss)
    out["faiss_spherical_niter_25"] = score(data.labels, labels, seconds)
    return out


def run_seed(data: LabelledSet, seed: int) -> dict:
    x, truth = data.vectors, data.labels
    n_labels = int(np.unique(truth).size)
    methods: dict[str, dict] = {}
    log(f"  seed {seed}: auto, kmeans")
    auto = CLUSTERERS.create("auto", seed=seed)
    labels, seconds = timed(lambda: auto.fit(x))
    methods["auto"] = {**score(truth, labels, seconds), "k": auto.k_}
    kmeans = CLUSTERERS.create("kmeans", k=n_labels, seed=seed)
    labels, seconds = timed(lambda: kmeans.fit(x))
    methods["kmeans_k_labels"] = score(truth, labels, seconds)
    log(f"  seed {seed}: UMAP 5-d (peer's reduction, shared with Level's density methods)")
    points, umap_s = timed(lambda: peer_reduce(x, seed))
    labels, seconds = timed(lambda: peer_cluster(points))
    methods["peer"] = {**score(truth, labels, umap_s + seconds), "umap_s": round(umap_s, 2)}
    dbscan = DBSCANClusterer(min_samples=Settings().min_samples, seed=seed)
    labels, seconds = timed(lambda: dbscan.fit_reduced(points))
    methods["dbscan"] = {**score(truth, labels, umap_s + seconds), "eps": round(dbscan.eps_, 4),
                         "min_samples": dbscan.min_samples, "umap_s": round(umap_s, 2)}
    hdbscan = HDBSCANClusterer(min_samples=Settings().min_samples, seed=seed)
    labels, seconds = timed(lambda: hdbscan.fit_reduced(points))
    methods["hdbscan"] = {**score(truth, labels, umap_s + seconds), "umap_s": round(umap_s, 2),
                          "min_cluster_size": hdbscan.min_cluster_size_}
    log(f"  seed {seed}: DBSCAN on raw cosine distance (the original spec)")
    spec = DBSCANClusterer(min_samples=Settings().min_samples, seed=seed, space="cosine")
    labels, seconds = timed(lambda: spec.fit(x))
    methods["dbscan_cosine"] = {**score(truth, labels, seconds), "eps": round(spec.eps_, 4)}
    for m in methods.values():
        m["nmi_over_peer"] = round(m["nmi"] / methods["peer"]["nmi"], 3)
    log(f"  seed {seed}: k rules and k-means engines")
    return {"seed": seed, "methods": methods, "k_rules": k_rules(data, seed),
            "kmeans_engines": kmeans_engines(data, seed)}


def median_of(runs: list[dict], path: Callable[[dict], dict]) -> dict:
    """Median over runs of every numeric field of the dict that `path` picks from a run."""
    first = path(runs[0])
    return {key: statistics.median(path(r)[key] for r in runs) for key, value in first.items()
            if isinstance(value, int | float) and not isinstance(value, bool)}


def checks(default: dict, peer: dict, n_labels: int) -> dict:
    """The issue's bar for the default, on medians."""
    low, high = CLUSTER_RATIO
    return {"nmi_at_least_peer": default["nmi"] >= peer["nmi"],
            "noise_at_most_15_percent": default["noise"] <= MAX_NOISE,
            "clusters_within_0.5x_3x_labels": low * n_labels <= default["clusters"] <= high * n_labels,
            "clusters_range": [low * n_labels, high * n_labels]}


def run_set(data: LabelledSet, seeds: list[int]) -> dict:
    n_labels = int(np.unique(data.labels).size)
    runs = []
    for seed in seeds:
        runs.append(run_seed(data, seed))
    methods = {name: median_of(runs, lambda r, name=name: r["methods"][name])
               for name in runs[0]["methods"]}
    rules = {rule: median_of(runs, lambda r, rule=rule: r["k_rules"]["rules"][rule])
             for rule in runs[0]["k_rules"]["rules"]}
    grid = {k: median_of(runs, lambda r, k=k: r["k_rules"]["grid"][k])
            for k in runs[0]["k_rules"]["grid"]}
    engines = {e: median_of(runs, lambda r, e=e: r["kmeans_engines"][e])
               for e in runs[0]["kmeans_engines"]}
    return {"dataset": data.name, "rows": len(data.labels), "note": data.note,
            "vectors": data.vectors_from, "labels": n_labels,
            "checks_for_default": checks(methods["auto"], methods["peer"], n_labels),
            "median": methods, "k_rules_median": rules, "k_grid_median": grid,
            "kmeans_engines_median": engines, "runs": runs}


def fresh_process_seconds(vectors: np.ndarray, repeats: int = 3) -> dict:
    """The default in a new Python process: imports, loading the vectors, fit and statistics."""
    code = ("import time; t = time.perf_counter(); import numpy as np; "
            "from level_desktop.core.clustering import CLUSTERERS, cluster_stats; "
            "x = np.load({path!r}); labels = CLUSTERERS.create('auto', seed=42).fit(x); "
            "cluster_stats(x, labels); print(time.perf_counter() - t)")
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "vectors.npy")
        np.save(path, vectors)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            inner = subprocess.run([sys.executable, "-c", code.format(path=path)], cwd=REPO,
                                   check=True, capture_output=True, text=True).stdout
            times.append((time.perf_counter() - start, float(inner)))
    return {"rows": len(vectors), "process_wall_s": round(statistics.median(t[0] for t in times), 2),
            "inside_python_s": round(statistics.median(t[1] for t in times), 2),
            "repeats": repeats, "what": "python start, imports, np.load of the vectors, auto fit, "
                                        "cluster_stats (the project file's own load not included)"}


ROW_NAMES = {
    "auto": "**auto** (default): spherical k-means, k = round(√n) ≤ 150",
    "kmeans_k_labels": "k-means told k = number of labels",
    "dbscan": "dbscan: UMAP 5-d + DBSCAN, eps by percolation rule",
    "hdbscan": "hdbscan: UMAP 5-d + HDBSCAN, mcs = max(10, n/1000)",
    "dbscan_cosine": "DBSCAN on raw cosine, eps at knee (original spec)",
    "peer": "peer: UMAP 5-d + HDBSCAN (BERTopic defaults)",
}


def markdown(report: dict) -> str:
    """The README table: one block of rows per set, medians over the seeds."""
    lines = ["| set | method | ARI | NMI | NMI / peer | AMI | clusters | noise | time (s) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for data in report["datasets"].values():
        label = f"{data['dataset'].split(' ')[0]} ({data['rows']:,} rows, {data['labels']} labels)"
        for name, row in data["median"].items():
            lines.append(
                f"| {label} | {ROW_NAMES.get(name, name)} | {row['ari']:.3f} | {row['nmi']:.3f} | "
                f"{row['nmi_over_peer']:.2f} | {row['ami']:.3f} | {row['clusters']:.0f} | "
                f"{row['noise']:.0%} | {row['seconds']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_set_arguments(parser)
    parser.add_argument("--rows", type=int, default=None,
                        help="a seeded sample of this many rows per set (a quick check, not the table)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--markdown", type=Path, default=None, metavar="RESULT.json",
                        help="print the README table of a finished run's JSON, and stop")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text(encoding="utf-8"))))
        return
    if dict(UMAP_PARAMS) != PEER_UMAP:
        raise SystemExit("Level's UMAP parameters differ from the peer's; the shared reduction "
                         "would be wrong.")

    started = time.perf_counter()
    sets = {name: (load_debian(args.debian_vectors) if name == "debian"
                   else load_fortunes(args.fortunes_vectors)) for name in args.sets}
    if args.rows:
        sets = {name: subset(data, args.rows) for name, data in sets.items()}
    log("fresh-process time of the default")
    first = next(iter(sets.values()))
    fresh = fresh_process_seconds(first.vectors)
    log("umap import and JIT warm-up")
    one_time = warm_up_umap(first.vectors)
    results = {}
    for name, data in sets.items():
        log(f"{name}: {len(data.labels):,} rows")
        results[name] = run_set(data, args.seeds)
    report = {
        "benchmark": "clustering",
        "question": "Which clustering should Level use by default? Agreement with human labels, "
                    "cluster count, noise and time, against BERTopic's default in the same run.",
        "seeds": args.seeds,
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()},
        "scoring": "noise (-1) scored as one more cluster; NMI arithmetic; medians over seeds",
        "methods": {
            "auto": "spherical k-means (Level's numpy), k = round(sqrt(n)) within [2, 150]",
            "kmeans_k_labels": "the same k-means given k = the number of human labels",
            "dbscan": "UMAP 5-d (peer's call) + DBSCAN, min_samples = Settings().min_samples, eps "
                      "= the k-distance quantile (50..98%, step 2%) that puts the most rows in "
                      "clusters other than the largest",
            "hdbscan": "UMAP 5-d + sklearn HDBSCAN, min_cluster_size = max(10, n // 1000), "
                       "min_samples = Settings().min_samples",
            "dbscan_cosine": "the original spec: DBSCAN on raw cosine distance, eps = Kneedle knee "
                             "of the lower 99% of the sorted k-distance curve",
            "peer": f"umap.UMAP({PEER_UMAP}) + hdbscan.HDBSCAN({PEER_HDBSCAN})",
        },
        "default_bar": {"nmi": "at least the peer's", "noise_max": MAX_NOISE,
                        "clusters": f"{CLUSTER_RATIO[0]}x to {CLUSTER_RATIO[1]}x the labels"},
        "one_time_costs": one_time,
        "fresh_process_default": fresh,
        "datasets": results,
        "seconds": round(time.perf_counter() - started, 1),
    }
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
        tmp.replace(args.out)
    print(text)


if __name__ == "__main__":
    main()
