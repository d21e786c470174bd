"""Near-duplicate search: Level's cluster-blocked search against SemHash, on all debian rows.

Data: the `description` column of all 63,666 rows of debian-packages.csv, embedded with Level's
default CPU path (`StaticEmbedder`, 512-d), clustered with Level's default (`AutoClusterer`:
spherical k-means, k = round(√n) capped at 150). Vectors and labels are cached under
benchmarks/results/_cache (git-ignored), keyed by the corpus digest.

Peer: SemHash (PyPI `semhash`) with its default settings (usearch ANN index, threshold 0.9). Its
default encoder (minishlab/potion-base-8M) cannot be downloaded here, so it is given the very same
vectors through its own `SemHash.from_embeddings` (documented API), which is the fairer test
anyway: both sides search the same space. SemHash's time is `from_embeddings` (exact grouping +
index build) plus `self_deduplicate`; Level's is `find_duplicates` given the labels (the pipeline
has them already); Level's time with the k-means fit added is reported too.

Parts:

1. calibration: the debian rows plus lightly perturbed copies of 2,000 of them (two edits each:
   drop a word, swap two words, a typo, case, punctuation, white space), embedded and clustered
   together. Per threshold: copy recall (copy in its original's group; also with 2 neighbouring
   clusters searched, and the share of copies whose cosine to the original reaches the
   threshold at all), strict precision (found pairs that are exact-key or copy pairs: debian has
   many natural near-duplicates, so this is a floor), text proxy precisions (also counting pairs
   whose word sets have Jaccard ≥ 0.5 / ≥ 0.8; 20,000 pairs judged), the largest group
   (chaining) and the share of rows in groups. The default threshold is the rule's pick: the
   highest threshold whose copy recall is at least 0.97.
2. blocked search vs brute force on the debian rows: recall of the true pairs (all pairs with
   cosine ≥ t, found by comparing every row with every row) and of the rows with a true pair,
   with 0..5 neighbouring clusters searched too.
3. Level vs SemHash: each side in its own subprocess, 3 runs each, median wall time and the
   median of each run's peak RSS above the RSS at its start (sampled every 5 ms; sees native
   allocations); agreement of the duplicate pairs at SemHash's default threshold 0.9 and at
   Level's default.

    PYTHONPATH=. .venv/bin/python benchmarks/duplicates.py [--out benchmarks/results/duplicates.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import REPO, SHARED_DATA, emit, median, read_csv

from level_desktop.core.clustering import AutoClusterer, auto_k
from level_desktop.core.duplicates import (
    DEFAULT_NEIGHBOUR_CLUSTERS,
    DEFAULT_THRESHOLD,
    connected_groups,
    exact_duplicate_pairs,
    find_duplicates,
    semantic_pairs,
    text_key,
)
from level_desktop.core.embedding.static import FORMAT_VERSION, StaticEmbedder, corpus_digest

CACHE = REPO / "benchmarks" / "results" / "_cache"
RUNS = 3
SEMHASH_THRESHOLD = 0.9  # SemHash's default for self_deduplicate
GRID = [0.80, 0.85, 0.88, 0.90, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98]
N_COPIES = 2_000
JACCARD_NEAR = (0.5, 0.8)  # word-set Jaccard at which a found pair counts as textually near
WIDE_NEIGHBOURS = 0  # the calibration also reports copy recall with this many neighbours
MIN_COPY_RECALL = 0.97  # the default threshold: the highest that still finds this share of copies
PRECISION_SAMPLE = 20_000  # pairs per threshold whose precision is judged
_WORD = re.compile(r"\w+")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def debian_texts() -> list[str]:
    return [r["description"] for r in read_csv(SHARED_DATA / "debian-packages.csv")]


def cached_vectors_and_labels(texts: list[str]) -> tuple[np.ndarray, np.ndarray, dict]:
    """Fast-path vectors and default k-means labels of the texts, cached by corpus digest."""
    CACHE.mkdir(parents=True, exist_ok=True)
    stem = CACHE / f"static-v{FORMAT_VERSION}-{corpus_digest(texts)[:16]}"
    info: dict = {}
    if Path(f"{stem}.npy").exists() and Path(f"{stem}-labels.npy").exists():
        return np.load(f"{stem}.npy"), np.load(f"{stem}-labels.npy"), info
    start = time.perf_counter()
    vectors = StaticEmbedder().for_corpus(texts).encode(texts)
    info["embed_s"] = round(time.perf_counter() - start, 2)
    start = time.perf_counter()
    labels = AutoClusterer().fit(vectors)
    info["kmeans_s"] = round(time.perf_counter() - start, 2)
    np.save(f"{stem}.npy", vectors)
    np.save(f"{stem}-labels.npy", labels)
    return vectors, labels, info


# --- calibration with perturbed copies ---------------------------------------------------------

def perturb(text: str, rng: np.random.Generator) -> str:
    """Two light edits of a text (the kinds a copy picks up when pasted or re-typed)."""
    for op in rng.choice(["drop", "swap", "typo", "case", "punct", "space"], 2, replace=False):
        words = text.split(" ")
        if op == "drop" and len(words) > 3:
            del words[int(rng.integers(len(words)))]
        elif op == "swap" and len(words) > 3:
            i = int(rng.integers(len(words) - 1))
            words[i], words[i + 1] = words[i + 1], words[i]
        elif op == "typo" and len(text) > 10:
            i = int(rng.integers(len(text)))
            text = text[:i] + "etaoinshr"[int(rng.integers(9))] + text[i + 1:]
            continue
        elif op == "case":
            text = text.lower() if rng.random() < 0.5 else text.upper()
            continue
        elif op == "punct":
            text = text.rstrip(".") if text.endswith(".") else text + "."
            continue
        elif op == "space":
            words.insert(int(rng.integers(len(words) + 1)), "")
        text = " ".join(words)
    return text


def word_jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def calibration(texts: list[str]) -> dict:
    rng = np.random.default_rng(7)
    originals = np.sort(rng.choice(len(texts), N_COPIES, replace=False))
    copies = [perturb(texts[i], rng) for i in originals]
    corpus = texts + copies
    n = len(texts)
    copy_rows = np.arange(n, n + N_COPIES)
    vectors, labels, info = cached_vectors_and_labels(corpus)
    exact = exact_duplicate_pairs(corpus)
    exact_key = {(int(a), int(b)) for a, b in exact}
    exactly_equal = np.array([text_key(c) == text_key(texts[o]) for c, o in zip(copies, originals,
                                                                              strict=True)])
    true_pairs = exact_key | {(int(o), int(c)) for o, c in zip(originals, copy_rows, strict=True)}
    words = [set(_WORD.findall(text_key(t))) for t in corpus]
    copy_cosines = np.einsum("ij,ij->i", vectors[originals], vectors[copy_rows])
    pairs, sims = semantic_pairs(vectors, labels, min(GRID), DEFAULT_NEIGHBOUR_CLUSTERS)
    wide_pairs, wide_sims = semantic_pairs(vectors, labels, min(GRID), WIDE_NEIGHBOURS)
    semantic_only = ~exactly_equal
    rows = []
    for t in GRID:
        found = pairs[sims >= t]
        group = connected_groups(len(corpus), np.concatenate([found, exact]))
        same = (group[originals] == group[copy_rows]) & (group[copy_rows] >= 0)
        wide = connected_groups(len(corpus), np.concatenate([wide_pairs[wide_sims >= t], exact]))
        same_wide = (wide[originals] == wide[copy_rows]) & (wide[copy_rows] >= 0)
        sample = found[rng.choice(len(found), min(len(found), PRECISION_SAMPLE), replace=False)]
        known = np.array([(int(a), int(b)) in true_pairs for a, b in sample], dtype=bool)
        jaccard = np.array([word_jaccard(words[a], words[b]) for a, b in sample])
        sizes = np.bincount(group[group >= 0]) if (group >= 0).any() else np.zeros(1, int)
        rows.append({
            "threshold": t,
            "semantic_pairs": len(found),
            "copy_recall": round(float(same.mean()), 4),
            "neighbour_clusters": DEFAULT_NEIGHBOUR_CLUSTERS,
            "copy_recall_semantic_edits_only": round(float(same[semantic_only].mean()), 4),
            f"copy_recall_{WIDE_NEIGHBOURS}_neighbour_clusters": round(float(same_wide.mean()), 4),
            "copy_cosine_at_least_threshold": round(float((copy_cosines >= t).mean()), 4),
            "precision_strict": share(known),
            **{f"precision_text_proxy_jaccard_{j}": share(known | (jaccard >= j))
               for j in JACCARD_NEAR},
            "precision_pairs_judged": len(sample),
            "rows_in_groups_share": round(float((group >= 0).mean()), 4),
            "largest_group": int(sizes.max()),
        })
        log(f"calibration t={t}: {rows[-1]}")
    passing = [r["threshold"] for r in rows if r["copy_recall"] >= MIN_COPY_RECALL]
    return {"rows": len(corpus), "copies": N_COPIES,
            "copies_equal_by_text_key": int(exactly_equal.sum()), "setup": info, "grid": rows,
            "rule": f"the highest threshold whose copy recall is at least {MIN_COPY_RECALL}",
            "rule_picks": max(passing) if passing else None,
            "rule_picks_the_default": (max(passing) if passing else None) == DEFAULT_THRESHOLD}


# --- blocked search against brute force --------------------------------------------------------

def brute_force_recall(vectors: np.ndarray, labels: np.ndarray, thresholds: list[float]
                       ) -> tuple[dict, np.ndarray, np.ndarray]:
    """Recall (pairs, rows) of the blocked search with 0..5 neighbouring clusters; the truth."""
    start = time.perf_counter()
    truth, truth_sims = semantic_pairs(vectors, None, min(thresholds))
    brute_s = time.perf_counter() - start
    n = len(vectors)
    out: dict = {"brute_force_s": round(brute_s, 2), "by_threshold": {}}
    for t in thresholds:
        true_codes = truth[truth_sims >= t] @ np.array([n, 1])
        true_rows = np.zeros(n, dtype=bool)
        true_rows[truth[truth_sims >= t].ravel()] = True
        entry = {"true_pairs": len(true_codes), "rows_with_a_true_pair": int(true_rows.sum())}
        for nb in (0, 1, 2, 3, 5):
            start = time.perf_counter()
            found, _ = semantic_pairs(vectors, labels, t, nb)
            elapsed = time.perf_counter() - start
            codes = found @ np.array([n, 1])
            found_rows = np.zeros(n, dtype=bool)
            found_rows[found.ravel()] = True
            entry[f"neighbours_{nb}"] = {
                "rows_recall": round(float((found_rows & true_rows).sum() / max(true_rows.sum(), 1)),
                                     4),
                "pairs": len(codes),
                "recall": round(float(np.isin(true_codes, codes).mean()) if len(true_codes) else 1.0,
                                4),
                "s": round(elapsed, 2)}
        out["by_threshold"][str(t)] = entry
        log(f"brute force t={t}: {entry}")
    return out, truth, truth_sims


# --- workers: one side each, in their own process ----------------------------------------------

class PeakRss:
    """The peak resident memory of this process while the block runs, sampled every 5 ms (it
    sees native allocations, such as usearch's index, that tracemalloc does not)."""

    @staticmethod
    def _rss_mb() -> float:
        with open("/proc/self/statm", encoding="ascii") as handle:  # Linux: pages
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def __enter__(self) -> PeakRss:
        import threading

        self.start_mb = self._rss_mb()
        self.peak_mb = self.start_mb
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak_mb = max(self.peak_mb, self._rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._rss_mb())


def run_side(side: str, texts: list[str], vectors: np.ndarray, labels: np.ndarray,
             threshold: float):
    """One timed run of one side; returns its result."""
    if side == "level":
        return find_duplicates(texts, vectors, labels, threshold=threshold)
    if side == "level_with_kmeans":
        return find_duplicates(texts, vectors, AutoClusterer().fit(vectors), threshold=threshold)
    from semhash import SemHash

    class Precomputed:  # an Encoder for SemHash's API; self_deduplicate never calls it
        def encode(self, inputs, **kwargs):
            raise RuntimeError("not used")

    records = [{"text": t, "row": i} for i, t in enumerate(texts)]
    index = SemHash.from_embeddings(vectors, records, model=Precomputed(), columns=["text"])
    return index.self_deduplicate()


def run_worker(side: str, threshold: float, stem: str, result_path: str) -> None:
    texts = debian_texts()
    vectors = np.load(f"{stem}.npy")
    labels = np.load(f"{stem}-labels.npy")
    if side == "semhash":
        import semhash  # noqa: F401  (imported before timing, as Level's modules are)
    times, cpu, peaks = [], [], []
    result = None
    for _ in range(RUNS):
        result = None  # free the previous run's result before measuring the next
        with PeakRss() as memory:
            c0, t0 = time.process_time(), time.perf_counter()
            result = run_side(side, texts, vectors, labels, threshold)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        peaks.append(memory.peak_mb - memory.start_mb)
    if side == "semhash":
        edges = [(d.record["row"], d.duplicate_of["row"], d.score, d.exact) for d in result.filtered]
        canonical = np.arange(len(texts))
        for row, of, _, _ in edges:
            canonical[row] = of
        np.savez(result_path, canonical=canonical,
                 edges=np.array([(a, b) for a, b, _, _ in edges], dtype=np.int64).reshape(-1, 2),
                 exact=np.array([e for *_, e in edges], dtype=bool))
    else:
        np.savez(result_path, group=result.group, pairs=result.pairs,
                 exact_pairs=result.exact_pairs)
    print(json.dumps({"side": side, "threshold": threshold, "times_s": times, "cpu_s": cpu,
                      "peak_rss_above_start_mb_runs": [round(p, 1) for p in peaks],
                      "peak_rss_above_start_mb": round(median(peaks), 1)}))


def worker(side: str, threshold: float, stem: Path, tag: str) -> tuple[dict, dict]:
    path = CACHE / f"result-{tag}.npz"
    out = subprocess.run([sys.executable, __file__, "--worker", side, "--threshold", str(threshold),
                          "--stem", str(stem), "--result", str(path)],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["median_s"] = round(median(figures["times_s"]), 3)
    figures["times_s"] = [round(t, 3) for t in figures["times_s"]]
    figures["cpu_s"] = [round(t, 3) for t in figures["cpu_s"]]
    log(f"{tag}: {figures}")
    return figures, dict(np.load(path))


def share(mask: np.ndarray) -> float:
    return round(float(mask.mean()), 4) if mask.size else 1.0


def agreement(level: dict, peer: dict, truth_rows: np.ndarray, exact: np.ndarray) -> dict:
    """Level's pairs against SemHash's (same-group relation both ways) and exact duplicates."""
    group, canonical = level["group"], peer["canonical"]
    level_edges = np.concatenate([level["pairs"], level["exact_pairs"]])
    peer_edges = peer["edges"]
    peer_sizes = np.bincount(canonical, minlength=len(canonical))
    level_dup = group >= 0
    peer_dup = peer_sizes[canonical] > 1
    both = level_dup & peer_dup
    return {
        "level_pairs": len(level["pairs"]), "level_exact_pairs": len(level["exact_pairs"]),
        "level_groups": int(group.max() + 1), "semhash_edges": len(peer_edges),
        "semhash_exact_edges": int(peer["exact"].sum()),
        "pairs_precision_vs_semhash": share(canonical[level_edges[:, 0]]
                                            == canonical[level_edges[:, 1]]),
        "pairs_recall_vs_semhash": share((group[peer_edges[:, 0]] >= 0)
                                         & (group[peer_edges[:, 0]] == group[peer_edges[:, 1]])),
        "rows_flagged_level": int(level_dup.sum()), "rows_flagged_semhash": int(peer_dup.sum()),
        "rows_precision_vs_semhash": round(both.sum() / max(level_dup.sum(), 1), 4),
        "rows_recall_vs_semhash": round(both.sum() / max(peer_dup.sum(), 1), 4),
        "rows_recall_vs_brute_force": {
            "level": round((level_dup & truth_rows).sum() / max(truth_rows.sum(), 1), 4),
            "semhash": round((peer_dup & truth_rows).sum() / max(truth_rows.sum(), 1), 4)},
        "exact_pairs_recall": {
            "level": share((group[exact[:, 0]] >= 0) & (group[exact[:, 0]] == group[exact[:, 1]])),
            "semhash": share(canonical[exact[:, 0]] == canonical[exact[:, 1]])},
        "level_pairs_that_are_exact_duplicates": round(len(level["exact_pairs"])
                                                       / max(len(level_edges), 1), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/duplicates.json")
    parser.add_argument("--worker", choices=["level", "level_with_kmeans", "semhash"])
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--stem")
    parser.add_argument("--result")
    parser.add_argument("--skip-calibration", action="store_true")
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.threshold, args.stem, args.result)
        return
    import semhash

    texts = debian_texts()
    log(f"{len(texts):,} debian descriptions")
    vectors, labels, setup = cached_vectors_and_labels(texts)
    stem = CACHE / f"static-v{FORMAT_VERSION}-{corpus_digest(texts)[:16]}"
    result: dict = {
        "benchmark": "duplicates", "rows": len(texts), "column": "description",
        "vectors": "StaticEmbedder (Level's CPU default), 512-d",
        "clusters": f"AutoClusterer, k = {auto_k(len(texts))}", "setup": setup,
        "peer": f"semhash {semhash.__version__ if hasattr(semhash, '__version__') else ''}".strip(),
        "peer_settings": "defaults (usearch, threshold 0.9) on the same vectors via from_embeddings",
        "level_default_threshold": DEFAULT_THRESHOLD,
        "level_default_neighbour_clusters": DEFAULT_NEIGHBOUR_CLUSTERS,
        "runs": RUNS, "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()}}
    if not args.skip_calibration:
        result["calibration"] = calibration(texts)
    thresholds = sorted({SEMHASH_THRESHOLD, DEFAULT_THRESHOLD})
    result["blocked_vs_brute_force"], truth, truth_sims = brute_force_recall(vectors, labels,
                                                                             thresholds)
    exact = exact_duplicate_pairs(texts)
    peer_figures, peer = worker("semhash", SEMHASH_THRESHOLD, stem, "semhash")
    result["semhash"] = peer_figures
    result["level"] = {}
    for t in thresholds:
        figures, level = worker("level", t, stem, f"level-{t}")
        truth_rows = np.zeros(len(texts), dtype=bool)
        truth_rows[truth[truth_sims >= t].ravel()] = True
        truth_rows[exact.ravel()] = True
        figures["speed_ratio_vs_semhash"] = round(peer_figures["median_s"] / figures["median_s"], 2)
        figures["agreement_with_semhash"] = agreement(level, peer, truth_rows, exact)
        result["level"][str(t)] = figures
    figures, _ = worker("level_with_kmeans", DEFAULT_THRESHOLD, stem, "level-kmeans")
    figures["speed_ratio_vs_semhash"] = round(peer_figures["median_s"] / figures["median_s"], 2)
    result["level_with_kmeans_fit"] = figures
    emit(result, args.out)


if __name__ == "__main__":
    main()
