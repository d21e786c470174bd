"""Does leveling help? A probe trained on the raw pool against probes trained on Level's exports.

For each labelled set the script splits off a test set with the same number of rows per human
label, runs Level's default pipeline on the rest (the pool: text only, the labels are never shown
to Level), flattens the cluster weights (max up-weight 3) and exports them, then trains the same
probe (logistic regression on the same MiniLM embeddings) on four training sets:

    a_raw        the pool as it is
    b_resampled  Level's resampled export (flattened weights; round(size × weight) rows a cluster)
    c_weighted   the pool with Level's weighted export's `weight` column as sample weights
    d_control    a uniform random draw from the pool of the same size as b_resampled (with
                 replacement when b is about as large as the pool, as it is when flatten keeps
                 the total): what resampling does when it knows nothing of the clusters
    e_oracle     a reference Level cannot reach: the pool weighted by the same flatten over the
                 hidden labels' sizes instead of the clusters' (what perfect clusters would give)

It reports macro-F1, accuracy on the worst-decile labels (the 10 % of labels with the fewest pool
rows) and accuracy overall on the balanced test set, the Gini of the hidden labels' sizes in each
training set, and the differences b − a, c − a, d − a with their median, min and max over seeds.

Vectors: debian-packages uses the 20,000-row sample whose all-MiniLM-L6-v2 vectors are in
shared/data/vectors (embedding 63,666 rows takes about an hour on 2 CPU cores); fortunes uses a file
of vectors made by the same model when one is named, else Level's own embed stage and cache. The
vectors reach `analyze()` through a small embedder that hands them back, so every other stage is
Level's own. The map is PCA: the 2-D projection does not enter the clusters or the weights.

    .venv/bin/python benchmarks/does_leveling_help.py [--sets debian fortunes] [--seeds 42 43 44]
        [--fortunes-vectors FILE.npz] [--out benchmarks/results/does_leveling_help.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from level_desktop.core.balance import flatten, gini
from level_desktop.core.export import write_resampled, write_weighted
from level_desktop.core.pipeline import analyze
from level_desktop.core.settings import Settings

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import read_csv
from labelled_sets import (
    LabelledSet,
    PrecomputedEmbedder,
    add_set_arguments,
    load_debian,
    load_fortunes,
)

MIN_LABEL_ROWS = 40  # a label needs this many rows to take part in the test set
MAX_TEST_PER_LABEL = 50
WORST_SHARE = 0.10
ARMS = ("a_raw", "b_resampled", "c_weighted", "d_control", "e_oracle")
METRICS = ("macro_f1", "worst_decile_accuracy", "accuracy", "label_gini", "worst_decile_share")


def balanced_split(labels: np.ndarray, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    """(test rows, pool rows, test labels, rows per label): equal rows for each usable label.

    A label is usable with at least MIN_LABEL_ROWS rows; each gives half the smallest usable
    label's rows (at most MAX_TEST_PER_LABEL) to the test set. Every other row is the pool.
    """
    names, counts = np.unique(labels, return_counts=True)
    usable = [str(n) for n, c in zip(names, counts, strict=True) if c >= MIN_LABEL_ROWS]
    per_label = min(MAX_TEST_PER_LABEL, int(counts[counts >= MIN_LABEL_ROWS].min()) // 2)
    test = np.sort(np.concatenate([
        rng.choice(np.flatnonzero(labels == name), size=per_label, replace=False)
        for name in usable]))
    pool = np.setdiff1d(np.arange(len(labels)), test)
    return test, pool, usable, per_label


def run_level(texts: list[str], vectors: np.ndarray, source: str, seed: int, max_up: float,
              folder: Path) -> dict:
    """Level's default pipeline on the pool's text, flatten, both exports; read the exports back."""
    pool_csv = folder / "pool.csv"
    with pool_csv.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["row", "text"])
        writer.writerows([i, t] for i, t in enumerate(texts))
    start = time.perf_counter()
    settings = Settings(text_column="text", projection="pca", seed=seed, max_up=max_up)
    analysis = analyze(pool_csv, settings, embedder=PrecomputedEmbedder(texts, vectors, source))
    balance = analysis.balance()
    gini_before = balance.gini
    balance.flatten(max_up)
    analysis.weights = balance.weight_map()
    analysis.noise_weight = balance.noise_weight
    data = analysis.export_data()
    write_weighted(data, folder / "weighted.csv")
    write_resampled(data, folder / "resampled.csv", seed=seed)
    weights = np.zeros(len(texts))
    clusters = np.full(len(texts), -1)
    for r in read_csv(folder / "weighted.csv"):
        weights[int(r["row"])] = float(r["weight"])
        clusters[int(r["row"])] = int(r["cluster_id"])
    resampled = np.array([int(r["row"]) for r in read_csv(folder / "resampled.csv")])
    return {
        "weights": weights,
        "clusters": clusters,
        "resampled": resampled,
        "info": {"method": analysis.settings.method, "clusters": len(analysis.clusters),
                 "noise_rows": analysis.noise_size, "cluster_gini_before": round(gini_before, 4),
                 "cluster_gini_after": round(balance.gini, 4),
                 "max_weight": round(float(balance.weights.max()), 4),
                 "min_weight": round(float(balance.weights.min()), 4),
                 "seconds": round(time.perf_counter() - start, 1)},
    }


def train_probe(x: np.ndarray, y: np.ndarray, c: float, sample_weight: np.ndarray | None = None
                ) -> LogisticRegression:
    """The one probe every arm gets: multinomial logistic regression, one BLAS thread."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return LogisticRegression(C=c, max_iter=1000).fit(x, y, sample_weight=sample_weight)


def label_mass(labels: np.ndarray, names: list[str], weights: np.ndarray | None = None
               ) -> np.ndarray:
    """Rows (or total weight) per label in `names`, zero for a label that is absent."""
    index = {n: i for i, n in enumerate(names)}
    codes = np.array([index[str(v)] for v in labels])
    return np.bincount(codes, weights=weights, minlength=len(names))


def evaluate_arm(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None, test: dict,
                 pool_names: list[str], worst: list[str], c: float) -> dict:
    """Train the probe on one training set and score it on the balanced test set."""
    from sklearn.metrics import accuracy_score, f1_score

    start = time.perf_counter()
    model = train_probe(x, y, c, weights)
    predicted = model.predict(test["x"])
    in_worst = np.isin(test["y"], worst)
    mass = label_mass(y, pool_names, weights)
    return {
        "n_train": len(y),
        "train_weight": round(float(weights.sum()) if weights is not None else float(len(y)), 1),
        "label_gini": round(gini(mass), 4),
        "worst_decile_share": round(float(mass[[pool_names.index(w) for w in worst]].sum()
                                          / mass.sum()), 5),
        "macro_f1": round(float(f1_score(test["y"], predicted, labels=test["labels"],
                                         average="macro", zero_division=0)), 4),
        "worst_decile_accuracy": round(float(accuracy_score(test["y"][in_worst],
                                                            predicted[in_worst])), 4),
        "accuracy": round(float(accuracy_score(test["y"], predicted)), 4),
        "fit_seconds": round(time.perf_counter() - start, 1),
    }


def run_seed(data: LabelledSet, seed: int, max_up: float, c: float) -> dict:
    rng = np.random.default_rng(seed)
    test_rows, pool, test_labels, per_label = balanced_split(data.labels, rng)
    y_pool = data.labels[pool]
    pool_names = sorted({str(v) for v in y_pool})
    sizes = label_mass(y_pool, pool_names)
    pool_sizes = {n: int(s) for n, s in zip(pool_names, sizes, strict=True)}
    by_size = sorted(test_labels, key=lambda n: (pool_sizes[n], n))
    worst = by_size[:max(1, math.ceil(WORST_SHARE * len(test_labels)))]
    test = {"x": data.vectors[test_rows], "y": data.labels[test_rows], "labels": test_labels}
    x_pool = data.vectors[pool]
    with tempfile.TemporaryDirectory(prefix="level-bench-") as folder:
        level = run_level([data.texts[i] for i in pool], x_pool, data.vectors_from, seed, max_up,
                          Path(folder))
    n_b = len(level["resampled"])
    replace = n_b > 0.9 * len(pool)
    control = np.sort(rng.choice(len(pool), size=n_b, replace=replace))
    from sklearn.metrics import normalized_mutual_info_score

    level["info"]["nmi_clusters_vs_labels"] = round(float(
        normalized_mutual_info_score(y_pool, level["clusters"])), 4)
    oracle = flatten(sizes, max_up)[[pool_names.index(str(v)) for v in y_pool]]
    train = {
        "a_raw": (x_pool, y_pool, None),
        "b_resampled": (x_pool[level["resampled"]], y_pool[level["resampled"]], None),
        "c_weighted": (x_pool, y_pool, level["weights"]),
        "d_control": (x_pool[control], y_pool[control], None),
        "e_oracle": (x_pool, y_pool, oracle),
    }
    arms = {}
    for arm, (x, y, w) in train.items():
        arms[arm] = evaluate_arm(x, y, w, test, pool_names, worst, c)
        log(f"  {data.name} seed {seed} {arm}: " + ", ".join(
            f"{k} {arms[arm][k]}" for k in ("n_train", "label_gini", "macro_f1",
                                            "worst_decile_accuracy", "accuracy")))
    return {"seed": seed, "test_rows": len(test_rows), "test_rows_per_label": per_label,
            "test_labels": len(test_labels), "pool_rows": len(pool),
            "worst_decile_labels": {n: pool_sizes[n] for n in worst},
            "control_drawn": "with replacement" if replace else "without replacement",
            "level": level["info"], "arms": arms}


def spread(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4),
            "max": round(max(values), 4)}


def summarise(runs: list[dict]) -> dict:
    """Per arm the median (min, max) of every metric; per arm b, c, d its difference from a."""
    arms = {arm: {m: spread([r["arms"][arm][m] for r in runs]) for m in (*METRICS, "n_train")}
            for arm in ARMS}
    diffs = {f"{arm[0]}_minus_a": {m: spread([r["arms"][arm][m] - r["arms"]["a_raw"][m]
                                             for r in runs]) for m in METRICS}
             for arm in ARMS[1:]}
    return {"arms": arms, "differences": diffs}


def run_set(data: LabelledSet, seeds: list[int], max_up: float, c: float) -> dict:
    names, counts = np.unique(data.labels, return_counts=True)
    runs = [run_seed(data, seed, max_up, c) for seed in seeds]
    return {"dataset": data.name, "rows": len(data.texts), "note": data.note,
            "vectors": data.vectors_from, "labels": len(names),
            "label_gini_all_rows": round(gini(counts), 4), **summarise(runs), "runs": runs}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_set_arguments(parser)
    parser.add_argument("--max-up", type=float, default=Settings().max_up)
    parser.add_argument("--C", type=float, default=10.0, dest="c",
                        help="inverse regularisation of the probe, the same for every arm")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()

    started = time.perf_counter()
    results = {}
    for name in args.sets:
        log(f"{name}: loading")
        data = (load_debian(args.debian_vectors) if name == "debian"
                else load_fortunes(args.fortunes_vectors))
        results[name] = run_set(data, args.seeds, args.max_up, args.c)
    report = {
        "benchmark": "does_leveling_help",
        "question": "Does a probe trained on Level's flattened exports beat one trained on the raw "
                    "pool, on a test set balanced over hidden human labels?",
        "seeds": args.seeds,
        "level": {"pipeline": "analyze() defaults (clustering method auto, keyword labels) with "
                              "a PCA map, then flatten", "max_up": args.max_up,
                  "labels_shown_to_level": False},
        "probe": {"model": "sklearn LogisticRegression", "C": args.c, "max_iter": 1000,
                  "features": "the same MiniLM vectors Level clustered"},
        "test_set": {"min_label_rows": MIN_LABEL_ROWS, "max_rows_per_label": MAX_TEST_PER_LABEL,
                     "rule": "equal rows per label with at least min_label_rows rows: half the "
                             "smallest such label's rows; every other row is the pool"},
        "worst_decile": f"the {WORST_SHARE:.0%} of test labels with the fewest pool rows (≥ 1)",
        "arms": {"a_raw": "the pool", "b_resampled": "Level's resampled export",
                 "c_weighted": "the pool with the weighted export's weights as sample weights",
                 "d_control": "uniform random draw from the pool, as many rows as b",
                 "e_oracle": "reference, not Level: the pool weighted by flatten over the hidden "
                             "label sizes (same max_up) as sample weights"},
        "datasets": results,
        "seconds": round(time.perf_counter() - started, 1),
    }
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
