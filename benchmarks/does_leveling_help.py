"""Does leveling help? A fair test: fixed row budgets, long-tailed and redundant pools, paired seeds.

Question: a user has a pool of rows and can afford B of them for training. Does picking the B rows
with Level's weights (clusters or topics levelled, near-duplicates collapsed) train a better
classifier than picking them at random? Labels only score: every arm except the label oracle is
built from the text and its vectors alone.

Sets (all rows): debian-packages.csv (63,666 rows, `description`, labels `section`) and
fortunes.csv (15,217 rows, `text`, labels `category`). Vectors: Level's fast path (StaticEmbedder
fitted on the set's own texts; 512-d), cached as .npy under benchmarks/results/_cache (gitignored).

Per seed:
- Test splits, drawn first and never in any pool: a label-balanced split (TEST_PER_LABEL rows of
  every label with at least MIN_LABEL_ROWS rows) and an i.i.d. split (IID_SHARE of the other rows,
  uniform). Everything else is the pool.
- Pools: `given` (the pool as it is); `long_tailed` (head labels — the largest labels that together
  hold half the set's rows — kept whole, every other label cut to TAIL_KEEP of its pool rows,
  seeded); `redundant` (the pool plus perturbed copies of head-label rows: once per set, a seeded
  REDUNDANT_SHARE of the head rows get 1–REDUNDANT_MAX_COPIES copies each, every copy with two
  light text edits — `benchmarks.duplicates.perturb`: dropped or swapped word, typo, case,
  trailing full stop, doubled space — and re-embedded with the same fitted fast path; a copy
  joins the pool when its source row is in the pool).
- Level's structure, once per seed and pool and reused by every budget and arm: the default
  clusters (`AutoClusterer`: spherical k-means, k = round(√n) ≤ 150, seeded), the default topics
  (`build_topics`), the default near-duplicate groups (`find_duplicates`: cosine ≥ 0.95 within
  each cluster and its 2 nearest, plus exact text-key copies).
- Arms: a weight per pool row; the B training rows are `budget.budget_rows(weights, B, groups,
  seed)` — exactly B distinct rows following the weights, at most one per duplicate group when
  `groups` is given (the export's `--rows N`):
    random                    uniform weights (a plain random subset)
    clusters_balanced         1 / cluster size (the same expected rows from every cluster; the
                              cluster flatten without a cap)
    topics_balanced           1 / topic size
    collapsed                 1 / duplicate-group size, one row per group
    collapsed_topics_balanced 1 / (group size × topic size after collapsing), one row per group
    label_oracle              reference, not Level: 1 / hidden label size
  The arms that stand for what a user does are run through Level's own document and export
  (`user_arm`): the pool becomes an `Analysis` in a `Document` with these clusters, topics and
  groups; the arm is that document's commands; the rows are `export.budget_positions` (the
  export's `--rows N` and the export dialog's budget) and, at `all`, the sample weights are
  `export.effective_row_weights` (the weighted export's `weight`):
    level_defaults            `level weights --flatten` with the defaults = the window's Edit >
                              Flatten All Clusters: `Document.flatten_clusters(Settings().max_up)`
    level_defaults_collapsed  `level weights --collapse-duplicates --flatten` = the window's
                              Collapse Duplicates, then Flatten All Clusters: the clusters are
                              levelled over their collapsed sizes and every row then also
                              carries 1/|group|; the budget takes one row per group while it can
    level_defaults_max_up_2   the cap sweep: Flatten All Clusters with max up-weight 2 ...
    level_defaults_max_up_5   ... and 5 (3 is the default; clusters_balanced is no cap)
    flatten_topics            the window's Flatten at the top level (the topics), default cap
  Controls (the same weights, permuted so they no longer follow the structure they were made from):
    control_clusters_permuted clusters_balanced's cluster weights shuffled across clusters
    control_topics_permuted   topics_balanced's topic weights shuffled across topics
    control_defaults_permuted level_defaults' cluster weights shuffled across clusters
  Budget `all`: every pool row, each arm's weights (mean 1) as the probe's sample weights (the
  weighted export); a budget at or above the pool's size is skipped.
- Probe: sklearn RidgeClassifier (alpha PROBE_ALPHA, one BLAS thread) on the fast-path vectors —
  a closed-form linear probe, chosen because a logistic regression on 58 classes × 512 dims costs
  seconds per fit and this grid needs thousands of fits on two shared cores.
- Metrics: macro-F1, worst-decile accuracy (the mean recall of the 10 % of test labels the probe
  does worst on) and rarest-decile accuracy (on the 10 % of test labels with the fewest rows in
  the set: the tail) on the balanced split; accuracy on the i.i.d. split.

Summary per set, pool, budget and arm: the mean over seeds, and the mean paired difference
arm − random with a 95 % bootstrap interval over seeds (BOOTSTRAP resamples of the seeds). Every
seed's numbers are in the JSON.

    PYTHONPATH=. .venv/bin/python benchmarks/does_leveling_help.py [--sets debian fortunes]
        [--seeds 0 1 ... 9] [--budgets 1000 3000 10000 all]
        [--out benchmarks/results/does_leveling_help.json]
    PYTHONPATH=. .venv/bin/python benchmarks/does_leveling_help.py --table   # README tables
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/duplicates.py imports `common`
from benchmarks.common import REPO, SHARED_DATA, emit, read_csv
from benchmarks.duplicates import perturb
from level_desktop.core.analysis import Analysis, ClusterInfo, SourceInfo, TopicInfo
from level_desktop.core.budget import budget_rows
from level_desktop.core.clustering import AutoClusterer, cluster_stats
from level_desktop.core.document import Document
from level_desktop.core.duplicates import DEFAULT_THRESHOLD, find_duplicates
from level_desktop.core.embedding.static import FORMAT_VERSION, StaticEmbedder, corpus_digest
from level_desktop.core.export import ExportData, budget_positions, effective_row_weights
from level_desktop.core.settings import Settings
from level_desktop.core.topics import build_topics
from level_desktop.core.vectors import normalize_rows

SETS = {"debian": ("debian-packages.csv", "description", "section"),
        "fortunes": ("fortunes.csv", "text", "category")}
CACHE = REPO / "benchmarks" / "results" / "_cache"
MIN_LABEL_ROWS = 40
TEST_PER_LABEL = 20
IID_SHARE = 0.05
HEAD_SHARE = 0.5
TAIL_KEEP = 0.10
REDUNDANT_SHARE = 0.25
REDUNDANT_MAX_COPIES = 4
COPY_SEED = 7
PROBE_ALPHA = 1.0
WORST_SHARE = 0.10
BOOTSTRAP = 10_000
POOLS = ("given", "long_tailed", "redundant")
CAP_SWEEP = (2.0, 5.0)  # max up-weights tried besides the default (Settings().max_up)
LEVEL_ARMS = ("clusters_balanced", "topics_balanced", "collapsed", "collapsed_topics_balanced",
              "level_defaults", "level_defaults_collapsed",
              *(f"level_defaults_max_up_{cap:g}" for cap in CAP_SWEEP), "flatten_topics")
CONTROLS = ("control_clusters_permuted", "control_topics_permuted", "control_defaults_permuted")
ARMS = ("random", *LEVEL_ARMS, "label_oracle", *CONTROLS)
ARM_NOTES = {
    "random": "uniform weights: a plain random subset",
    "clusters_balanced": "1 / cluster size",
    "topics_balanced": "1 / topic size",
    "collapsed": "1 / duplicate-group size, at most one row per group",
    "collapsed_topics_balanced": "1 / (group size × collapsed topic size), one row per group",
    "level_defaults": "`level weights --flatten` with the defaults = Edit > Flatten All "
                      "Clusters: Document.flatten_clusters(Settings().max_up); duplicates not "
                      "collapsed",
    "level_defaults_collapsed": "`level weights --collapse-duplicates --flatten` = Collapse "
                                "Duplicates, then Flatten All Clusters (levelled over the "
                                "collapsed sizes; rows × 1/|group|; one row per group in a "
                                "budget while it can)",
    **{f"level_defaults_max_up_{cap:g}": f"level_defaults with max up-weight {cap:g}"
       for cap in CAP_SWEEP},
    "flatten_topics": "the window's Flatten at the top level (the topics), "
                      "Document.flatten(Settings().max_up)",
    "label_oracle": "reference, not Level: 1 / hidden label size",
    "control_clusters_permuted": "clusters_balanced's cluster weights shuffled across clusters",
    "control_topics_permuted": "topics_balanced's topic weights shuffled across topics",
    "control_defaults_permuted": "level_defaults' cluster weights shuffled across clusters",
}
METRICS = ("macro_f1", "worst_decile_accuracy", "rarest_decile_accuracy", "iid_accuracy")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- data --------------------------------------------------------------------------------------

def cached_encode(embedder: StaticEmbedder, texts: list[str], tag: str) -> np.ndarray:
    """Fast-path unit vectors of `texts`, cached by the embedder's corpus and the texts."""
    path = CACHE / f"leveling-{tag}-v{FORMAT_VERSION}-{corpus_digest(texts)[:16]}.npy"
    if path.exists():
        return np.load(path)
    start = time.perf_counter()
    vectors = normalize_rows(embedder.encode(texts).astype(np.float32))
    log(f"  embedded {len(texts):,} rows ({tag}) in {time.perf_counter() - start:.0f} s")
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


class LabelledSet:
    """A set's texts, hidden labels, vectors, head labels and perturbed copies of head rows."""

    def __init__(self, name: str) -> None:
        file, text_col, label_col = SETS[name]
        rows = read_csv(SHARED_DATA / file)
        self.name = name
        self.texts = [r[text_col] for r in rows]
        self.labels = np.array([r[label_col] for r in rows])
        names, counts = np.unique(self.labels, return_counts=True)
        order = np.argsort(-counts, kind="stable")
        cumulative = np.cumsum(counts[order]) / counts.sum()
        n_head = int(np.searchsorted(cumulative, HEAD_SHARE)) + 1
        self.head = {str(v) for v in names[order[:n_head]]}
        embedder = StaticEmbedder().for_corpus(self.texts)
        self.vectors = cached_encode(embedder, self.texts, f"{name}-rows")
        rng = np.random.default_rng(COPY_SEED)
        head_rows = np.flatnonzero(np.isin(self.labels, list(self.head)))
        chosen = np.sort(rng.choice(head_rows, round(REDUNDANT_SHARE * len(head_rows)),
                                    replace=False))
        self.copy_source = np.repeat(chosen, rng.integers(1, REDUNDANT_MAX_COPIES + 1,
                                                          len(chosen)))
        self.copy_texts = [perturb(self.texts[i], rng) for i in self.copy_source]
        self.copy_vectors = cached_encode(embedder, self.copy_texts, f"{name}-copies")

    def describe(self) -> dict[str, Any]:
        names = np.unique(self.labels)
        return {"rows": len(self.texts), "labels": len(names),
                "head_labels": sorted(self.head),
                "head_rows": int(np.isin(self.labels, list(self.head)).sum()),
                "copies": len(self.copy_source),
                "rows_with_copies": int(np.unique(self.copy_source).size),
                "vectors": f"StaticEmbedder fitted on the set's texts, "
                           f"{self.vectors.shape[1]}-d (copies re-embedded with the same fit)"}


def splits(data: LabelledSet, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(balanced test rows, i.i.d. test rows, pool rows, balanced test labels)."""
    names, counts = np.unique(data.labels, return_counts=True)
    usable = [str(n) for n, c in zip(names, counts, strict=True) if c >= MIN_LABEL_ROWS]
    balanced = np.sort(np.concatenate([
        rng.choice(np.flatnonzero(data.labels == n), TEST_PER_LABEL, replace=False)
        for n in usable]))
    rest = np.setdiff1d(np.arange(len(data.labels)), balanced)
    iid = np.sort(rng.choice(rest, round(IID_SHARE * len(rest)), replace=False))
    return balanced, iid, np.setdiff1d(rest, iid), usable


def make_pools(data: LabelledSet, pool: np.ndarray, rng: np.random.Generator
               ) -> dict[str, tuple[list[str], np.ndarray, np.ndarray]]:
    """Each pool variant as (texts, vectors, labels)."""
    def of_rows(rows: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
        return [data.texts[i] for i in rows], data.vectors[rows], data.labels[rows]

    kept = [pool[np.isin(data.labels[pool], list(data.head))]]
    for name in sorted(set(data.labels[pool].tolist()) - data.head):
        rows = pool[data.labels[pool] == name]
        kept.append(rng.choice(rows, max(1, math.ceil(TAIL_KEEP * len(rows))), replace=False))
    copies = np.flatnonzero(np.isin(data.copy_source, pool))
    texts, vectors, labels = of_rows(pool)
    return {
        "given": (texts, vectors, labels),
        "long_tailed": of_rows(np.sort(np.concatenate(kept))),
        "redundant": (texts + [data.copy_texts[i] for i in copies],
                      np.concatenate([vectors, data.copy_vectors[copies]]),
                      np.concatenate([labels, data.labels[data.copy_source[copies]]])),
    }


# --- Level's structure and the arms' weights ---------------------------------------------------

def level_structure(texts: list[str], x: np.ndarray, seed: int) -> dict[str, Any]:
    """Default clusters, topics and duplicate groups of one pool (labels never seen)."""
    start = time.perf_counter()
    stats = cluster_stats(x, AutoClusterer(seed=seed).fit(x))
    topics = build_topics(stats)
    t_cluster = time.perf_counter() - start
    start = time.perf_counter()
    dups = find_duplicates(texts, x, stats.labels)
    return {"stats": stats, "topics": topics, "dups": dups,
            "info": {"clusters": len(stats.sizes), "topics": int(topics.count),
                     "rows_in_duplicate_groups": int(dups.is_duplicate.sum()),
                     "duplicate_groups": dups.n_groups, "rows_saved_by_collapse":
                     dups.rows_saved(), "cluster_topic_s": round(t_cluster, 1),
                     "duplicates_s": round(time.perf_counter() - start, 1)}}


def level_document(texts: list[str], x: np.ndarray, level: dict[str, Any]) -> Document:
    """The pool as the window (and `level weights`) holds it: an Analysis with Level's clusters,
    topics and duplicate groups, shown in a Document, so the user's arms are its own commands."""
    stats, topics, dups = level["stats"], level["topics"], level["dups"]
    n = len(texts)
    clusters = [ClusterInfo(id=int(c), size=int(stats.sizes[c]), spread=float(stats.spreads[c]),
                            label=f"Cluster {c}", description="", labeler="numbered",
                            representatives=[]) for c in range(len(stats.sizes))]
    topic_infos = [TopicInfo(id=t, size=int(topics.sizes[t]), label=f"Topic {t}",
                             description="", labeler="numbered",
                             cluster_ids=topics.clusters_of(t).tolist(), representatives=[])
                   for t in range(topics.count)]
    analysis = Analysis(
        settings=Settings(), source=SourceInfo(path="pool.csv", content_hash="", format="csv",
                                               text_column="text", n_rows=n, skipped_empty=0),
        columns={"text": texts}, row_index=np.arange(n), texts=texts, model="fast",
        model_key="static", device="cpu", embeddings=x, labels=stats.labels,
        centroids=stats.centroids, clusters=clusters, positions=np.zeros((n, 2), np.float32),
        weights={c.id: 1.0 for c in clusters}, topics=topic_infos,
        cluster_topic=np.asarray(topics.of_cluster), topic_weights={t.id: 1.0 for t in topic_infos},
        duplicate_groups=dups.group, duplicate_threshold=dups.threshold)
    document = Document()
    document.show(analysis)
    return document


def user_arm(document: Document, collapse: bool, flatten: str, max_up: float) -> ExportData:
    """What a user gets from the document: Collapse Duplicates on or off, every weight reset,
    then Flatten All Clusters (`clusters`) or the top-level Flatten (`topics`) at `max_up`; the
    export's data (`budget_positions`, `effective_row_weights` read it)."""
    document.collapse_duplicates(collapse)
    document.reset()
    if flatten == "clusters":
        document.flatten_clusters(max_up)
    else:
        document.back()
        document.flatten(max_up)
    return document.snapshot().export_data()


Arm = tuple[np.ndarray, np.ndarray | None] | ExportData


def arm_weights(level: dict[str, Any], labels: np.ndarray, rng: np.random.Generator,
                document: Document) -> dict[str, Arm]:
    """Every arm: (row weights, duplicate groups or None), or a user's arm as export data."""
    stats, topics, dups = level["stats"], level["topics"], level["dups"]
    cluster = stats.labels
    topic = topics.labels
    sizes = np.asarray(stats.sizes, dtype=np.float64)
    topic_sizes = np.asarray(topics.sizes, dtype=np.float64)
    collapse = dups.collapse_weights()
    collapsed_topic_sizes = np.bincount(topic, weights=collapse, minlength=topics.count)
    _, label_code, label_sizes = np.unique(labels, return_inverse=True, return_counts=True)
    max_up = Settings().max_up
    users: dict[str, ExportData] = {
        "level_defaults": user_arm(document, False, "clusters", max_up),
        "level_defaults_collapsed": user_arm(document, True, "clusters", max_up),
        **{f"level_defaults_max_up_{cap:g}": user_arm(document, False, "clusters", cap)
           for cap in CAP_SWEEP},
        "flatten_topics": user_arm(document, False, "topics", max_up)}
    defaults = users["level_defaults"]
    default_weights = np.array([defaults.weights[int(c)] for c in stats.ids])
    groups = dups.group
    return {
        "random": (np.ones(len(labels)), None),
        "clusters_balanced": (1.0 / sizes[cluster], None),
        "topics_balanced": (1.0 / topic_sizes[topic], None),
        "collapsed": (collapse, groups),
        "collapsed_topics_balanced": (collapse / collapsed_topic_sizes[topic], groups),
        **users,
        "label_oracle": (1.0 / label_sizes[label_code], None),
        "control_clusters_permuted": ((1.0 / sizes)[rng.permutation(len(sizes))][cluster], None),
        "control_topics_permuted": ((1.0 / topic_sizes)[rng.permutation(topics.count)][topic],
                                    None),
        "control_defaults_permuted": (
            default_weights[rng.permutation(len(default_weights))][cluster], None),
    }


# --- probe and metrics -------------------------------------------------------------------------

def score(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None, test: dict[str, Any]
          ) -> dict[str, float]:
    """Fit the probe on (x, y[, weights]) and score it on both test splits."""
    from sklearn.linear_model import RidgeClassifier
    from sklearn.metrics import f1_score, recall_score
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        if len(np.unique(y)) < 2:  # a probe needs two classes; predict the one seen
            def predict(v: np.ndarray) -> np.ndarray:
                return np.full(len(v), y[0])
        else:
            model = RidgeClassifier(alpha=PROBE_ALPHA).fit(x, y, sample_weight=weights)
            predict = model.predict
        predicted = predict(test["x"])
        iid_predicted = predict(test["iid_x"])
    recalls = recall_score(test["y"], predicted, labels=test["labels"], average=None,
                           zero_division=0)
    worst = np.sort(recalls)[:max(1, math.ceil(WORST_SHARE * len(recalls)))]
    rarest = np.isin(test["y"], test["rarest"])
    return {"macro_f1": round(float(f1_score(test["y"], predicted, labels=test["labels"],
                                             average="macro", zero_division=0)), 4),
            "worst_decile_accuracy": round(float(worst.mean()), 4),
            "rarest_decile_accuracy": round(float((predicted[rarest] == test["y"][rarest]).mean()),
                                            4),
            "iid_accuracy": round(float((iid_predicted == test["iid_y"]).mean()), 4)}


def run_pool(texts: list[str], x: np.ndarray, y: np.ndarray, seed: int, budgets: list[str],
             test: dict[str, Any]) -> dict[str, Any]:
    level = level_structure(texts, x, seed)
    weights = arm_weights(level, y, np.random.default_rng(seed + 1_000),
                          level_document(texts, x, level))
    results: dict[str, Any] = {}
    start = time.perf_counter()
    for budget in budgets:
        if budget != "all" and int(budget) >= len(y):
            continue
        results[budget] = {}
        for arm in ARMS:
            chosen = weights[arm]
            if isinstance(chosen, ExportData):  # a user's arm: the export's own functions
                if budget == "all":
                    w = effective_row_weights(chosen)
                    results[budget][arm] = score(x, y, w / w.mean(), test)
                else:
                    rows = budget_positions(chosen, int(budget), seed=seed)
                    results[budget][arm] = score(x[rows], y[rows], None, test)
                continue
            w, groups = chosen
            if budget == "all":
                results[budget][arm] = score(x, y, w / w.mean(), test)
            else:
                rows = budget_rows(w, int(budget), groups, seed=seed)
                results[budget][arm] = score(x[rows], y[rows], None, test)
    level["info"]["probe_s"] = round(time.perf_counter() - start, 1)
    return {"rows": len(y), "labels": int(np.unique(y).size), **level["info"],
            "budgets": results}


def run_seed(data: LabelledSet, seed: int, pools: list[str], budgets: list[str]
             ) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    balanced, iid, pool, test_labels = splits(data, rng)
    sizes = {n: int((data.labels == n).sum()) for n in test_labels}
    rarest = sorted(test_labels, key=lambda n: (sizes[n], n))[
        :max(1, math.ceil(WORST_SHARE * len(test_labels)))]
    test = {"x": data.vectors[balanced], "y": data.labels[balanced], "labels": test_labels,
            "iid_x": data.vectors[iid], "iid_y": data.labels[iid], "rarest": rarest}
    variants = make_pools(data, pool, rng)
    out: dict[str, Any] = {"seed": seed, "balanced_test_rows": len(balanced),
                           "rarest_decile_labels": rarest,
                           "balanced_test_labels": len(test_labels), "iid_test_rows": len(iid),
                           "pools": {}}
    for name in pools:
        texts, x, y = variants[name]
        start = time.perf_counter()
        out["pools"][name] = run_pool(texts, x, y, seed, budgets, test)
        got = out["pools"][name]["budgets"]
        log(f"{data.name} seed {seed} {name} ({len(y):,} rows, "
            f"{time.perf_counter() - start:.0f} s): " + "; ".join(
                f"B={b} random {got[b]['random']['macro_f1']:.3f} "
                f"defaults {got[b]['level_defaults']['macro_f1']:.3f} "
                f"oracle {got[b]['label_oracle']['macro_f1']:.3f}" for b in got))
    return out


# --- summary -----------------------------------------------------------------------------------

def bootstrap_interval(diffs: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """95 % percentile interval of the mean of `diffs` over BOOTSTRAP resamples."""
    picks = rng.integers(0, len(diffs), (BOOTSTRAP, len(diffs)))
    means = diffs[picks].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def summarise(runs: list[dict[str, Any]], pools: list[str], budgets: list[str]
              ) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    summary: dict[str, Any] = {}
    for pool in pools:
        summary[pool] = {"rows_median": float(np.median([r["pools"][pool]["rows"] for r in runs]))}
        for budget in budgets:
            seen = [r["pools"][pool]["budgets"].get(budget) for r in runs]
            if any(s is None for s in seen):
                continue
            table: dict[str, Any] = {}
            for arm in ARMS:
                table[arm] = {}
                for metric in METRICS:
                    values = np.array([s[arm][metric] for s in seen])
                    base = np.array([s["random"][metric] for s in seen])
                    entry = {"mean": round(float(values.mean()), 4)}
                    if arm != "random":
                        diffs = values - base
                        low, high = bootstrap_interval(diffs, rng)
                        entry.update({"minus_random": round(float(diffs.mean()), 4),
                                      "ci95": [round(low, 4), round(high, 4)]})
                    table[arm][metric] = entry
            level_only = ("random", *LEVEL_ARMS)
            best = {m: max(level_only, key=lambda a, m=m: table[a][m]["mean"]) for m in METRICS}
            summary[pool][budget] = {"arms": table, "best_level_arm_or_random": best}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--pools", nargs="+", default=list(POOLS), choices=list(POOLS))
    parser.add_argument("--budgets", nargs="+", default=["1000", "3000", "10000", "all"])
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks" / "results" / "does_leveling_help.json")
    parser.add_argument("--table", action="store_true",
                        help="print benchmarks/README.md's tables from the JSON at --out; run "
                             "nothing")
    args = parser.parse_args()
    if args.table:
        print(markdown_tables(json.loads(args.out.read_text(encoding="utf-8"))))
        return
    for b in args.budgets:
        if b != "all" and not b.isdigit():
            parser.error(f"a budget is a row count or `all`, not {b!r}")
    started = time.perf_counter()
    load_before = os.getloadavg()
    sets: dict[str, Any] = {}

    def report(complete: bool) -> dict[str, Any]:
        return {**header(args, load_before), "complete": complete,
                "seconds": round(time.perf_counter() - started, 1), "sets": sets}

    for name in args.sets:
        log(f"{name}: loading")
        data = LabelledSet(name)
        runs: list[dict[str, Any]] = []
        for seed in args.seeds:
            runs.append(run_seed(data, seed, args.pools, args.budgets))
            sets[name] = {**data.describe(), "seeds_done": [r["seed"] for r in runs],
                          "summary": summarise(runs, args.pools, args.budgets), "runs": runs}
            write_atomic(args.out, report(complete=False))  # a partial result survives a kill
    emit(report(complete=True), args.out)


def signed(value: float) -> str:
    return f"{value:+.3f}".replace("-", "−")


def markdown_tables(result: dict[str, Any]) -> str:
    """Per set and pool: Δ macro-F1 vs random [95 % CI] of every arm at every budget, then the
    best Level arm (or random) per budget with its three metrics."""
    lines: list[str] = []
    for name, data in result["sets"].items():
        summary = data["summary"]
        lines.append(f"**{name}** ({len(data['seeds_done'])} seeds; cells: macro-F1 of random, "
                     "then each arm − random [95 % CI]; **bold**: the interval excludes 0)\n")
        for pool in POOLS:
            if pool not in summary:
                continue
            budgets = [b for b in result["budgets"] if b in summary[pool]]
            rows = round(summary[pool]["rows_median"])
            lines.append(f"| {pool} ({rows:,} rows) | " + " | ".join(
                f"B = {b}" for b in budgets) + " |")
            lines.append("|---|" + "---:|" * len(budgets))
            for arm in ARMS:
                cells = []
                for b in budgets:
                    entry = summary[pool][b]["arms"][arm]["macro_f1"]
                    if arm == "random":
                        cells.append(f"{entry['mean']:.3f}")
                        continue
                    low, high = entry["ci95"]
                    text = f"{signed(entry['minus_random'])} [{signed(low)}, {signed(high)}]"
                    cells.append(f"**{text}**" if low > 0 or high < 0 else text)
                lines.append(f"| {arm} | " + " | ".join(cells) + " |")
            lines.append("")
        lines.append(f"Best Level arm (or random) per budget, **{name}**: Δ vs random for "
                     "macro-F1 / worst-decile / rarest-decile / i.i.d. accuracy [95 % CI]\n")
        lines.append("| pool | budget | best by macro-F1 | macro-F1 | worst decile | rarest decile "
                     "| i.i.d. |")
        lines.append("|---|---|---|---:|---:|---:|---:|")
        for pool in POOLS:
            for b in result["budgets"]:
                if pool not in summary or b not in summary[pool]:
                    continue
                best = summary[pool][b]["best_level_arm_or_random"]["macro_f1"]
                arm = summary[pool][b]["arms"][best]
                cells = []
                for metric in METRICS:
                    entry = arm[metric]
                    if best == "random":
                        cells.append(f"{entry['mean']:.3f}")
                    else:
                        low, high = entry["ci95"]
                        cells.append(f"{signed(entry['minus_random'])} "
                                     f"[{signed(low)}, {signed(high)}]")
                lines.append(f"| {pool} | {b} | {best} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def write_atomic(path: Path, result: dict[str, Any]) -> None:
    """Write the JSON through a temporary file in the same folder, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(result, indent=2) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def header(args: argparse.Namespace, load_before: tuple[float, float, float]) -> dict[str, Any]:
    """What ran: the question, the design and the machine."""
    return {
        "benchmark": "does_leveling_help",
        "question": "With a fixed budget of B training rows, does picking them by Level's weights "
                    "beat a random pick, on a test split balanced over hidden labels?",
        "peer": "random: a uniform random subset of the same size, same seed (paired)",
        "seeds": args.seeds,
        "budgets": args.budgets,
        "pools": {"given": "every row not in a test split",
                  "long_tailed": f"head labels (largest, together ≥ {HEAD_SHARE:.0%} of the set's "
                                 f"rows) whole; every other label {TAIL_KEEP:.0%} of its pool rows "
                                 "(at least 1), seeded per seed",
                  "redundant": f"the given pool plus perturbed copies of head-label rows: "
                               f"{REDUNDANT_SHARE:.0%} of head rows (seed {COPY_SEED}) get "
                               f"1–{REDUNDANT_MAX_COPIES} copies, two text edits each "
                               "(benchmarks.duplicates.perturb), re-embedded with the same fast "
                               "path; copies of rows in a test split are left out"},
        "test": {"balanced": f"{TEST_PER_LABEL} rows of each label with ≥ {MIN_LABEL_ROWS} rows",
                 "iid": f"{IID_SHARE:.0%} of the other rows, uniform"},
        "level": {"clusters": "AutoClusterer (spherical k-means, k = round(√n) ≤ 150), seeded",
                  "topics": "build_topics defaults", "duplicates":
                  f"find_duplicates defaults (cosine ≥ {DEFAULT_THRESHOLD}, 2 neighbour "
                  "clusters, exact text keys)", "max_up": Settings().max_up,
                  "draw": "budget.budget_rows(weights, B, groups, seed); the user's arms "
                          "(level_defaults*, flatten_topics) through a Document and "
                          "export.budget_positions / effective_row_weights",
                  "cap_sweep": [Settings().max_up, *CAP_SWEEP],
                  "budget_all": "every pool row, arm weights (mean 1) as sample weights",
                  "labels_shown_to_level": False},
        "probe": {"model": "sklearn RidgeClassifier", "alpha": PROBE_ALPHA, "threads": 1,
                  "features": "the fast-path vectors Level clustered"},
        "metrics": {"macro_f1": "macro-F1 over the balanced split's labels",
                    "worst_decile_accuracy": f"mean recall of the {WORST_SHARE:.0%} of balanced "
                                             "test labels with the lowest recall",
                    "rarest_decile_accuracy": f"accuracy on the {WORST_SHARE:.0%} of balanced "
                                              "test labels with the fewest rows in the set",
                    "iid_accuracy": "accuracy on the i.i.d. split"},
        "interval": f"95 % percentile bootstrap of the mean paired difference arm − random over "
                    f"seeds ({BOOTSTRAP:,} resamples)",
        "arms": ARM_NOTES,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_start": [round(v, 2) for v in load_before],
                    "load_average_end": [round(v, 2) for v in os.getloadavg()],
                    "note": "2 CPU cores shared with other jobs"},
    }


if __name__ == "__main__":
    main()
