"""The fast CPU embedder against MiniLM: rows/s and clustering NMI on two labelled sets.

For each set the script times all-MiniLM-L6-v2 (Level's `SentenceTransformerEmbedder` on the CPU)
on a fixed seeded slice of rows, and the fast `StaticEmbedder` on all rows (learning its word
weights and topic axes from them, as it does in Level; the once-per-process table load is timed
apart). Each is run `--runs` times, interleaved, and the median rows/s is reported, per
wall-clock second and per CPU second of the process (all its threads): on a machine shared with
other work the wall-clock figures swing (MiniLM's threads suffer more from it than the fast
path does), the CPU figures much less.

Quality: k-means with k = the number of human labels (n_init 1, seed 42, on unit vectors), NMI
against those labels; also the mean over seeds 42-44, since one k-means run moves NMI by about
±0.01. The fast vectors' two halves (static word pieces, LSA topics) are scored alone as
ablations. MiniLM's vectors for all rows come from files made with the same model:

    debian    shared/data/vectors/debian-20k-minilm.npz (20,000 rows, joined on `package` with
              debian-packages.csv's description and section)
    fortunes  fortunes.csv's text and category; vectors from --fortunes-vectors (`vectors` in CSV
              row order) when that file exists, else made here by Level's own embed stage and
              embedding cache (tens of minutes on 2 CPU cores)

Goal (issue): rows/s ratio >= 20 and NMI loss <= 0.05 on both sets.

    .venv/bin/python benchmarks/fast_embedding.py [--runs 3] [--minilm-rows 1000]
        [--fortunes-vectors FILE]  (default: $LEVEL_FORTUNES_VECTORS, else embedded here)
        [--out benchmarks/results/fast_embedding.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from level_desktop.core.embedding.sentence_transformer import SentenceTransformerEmbedder
from level_desktop.core.embedding.static import StaticEmbedder, load_word_pieces
from level_desktop.core.pipeline import embed_texts
from level_desktop.core.store import EmbeddingCache
from level_desktop.core.vectors import normalize_rows

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LEVEL_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULT_FORTUNES_VECTORS = Path(os.environ.get("LEVEL_FORTUNES_VECTORS", REPO / "benchmarks" / "results"
                                               / "_cache" / "fortunes-minilm.npz"))
KMEANS_SEEDS = (42, 43, 44)
GOAL_RATIO = 20.0
GOAL_NMI_LOSS = 0.05


@dataclass
class LabelledSet:
    name: str
    texts: list[str]
    labels: list[str]
    minilm: np.ndarray  # (n, 384) unit float32, row for row
    minilm_from: str


def _read_csv(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def load_debian() -> LabelledSet:
    vectors_file = SHARED_DATA / "vectors" / "debian-20k-minilm.npz"
    data = np.load(vectors_file)
    rows = {r["package"]: r for r in _read_csv(SHARED_DATA / "debian-packages.csv")}
    packages = [str(p) for p in data["package"]]
    return LabelledSet("debian", [rows[p]["description"] for p in packages],
                       [rows[p]["section"] for p in packages],
                       normalize_rows(data["vectors"]), str(vectors_file))


def load_fortunes(vectors_file: Path) -> LabelledSet:
    rows = _read_csv(SHARED_DATA / "fortunes.csv")
    texts = [r["text"] for r in rows]
    labels = [r["category"] for r in rows]
    if vectors_file.exists():
        vectors = np.load(vectors_file)["vectors"]
        if len(vectors) != len(texts):
            raise SystemExit(f"{vectors_file} has {len(vectors)} rows; fortunes.csv has {len(texts)}")
        return LabelledSet("fortunes", texts, labels, normalize_rows(vectors), str(vectors_file))
    print(f"{vectors_file} not found: embedding fortunes with MiniLM (Level's embed stage)",
          file=sys.stderr)
    vectors, _ = embed_texts(texts, SentenceTransformerEmbedder(device="cpu"), cache=EmbeddingCache())
    return LabelledSet("fortunes", texts, labels, vectors, "Level's embed stage and cache")


def nmi(vectors: np.ndarray, labels: list[str], seed: int) -> float:
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score

    k = len(set(labels))
    found = KMeans(k, n_init=1, random_state=seed).fit_predict(normalize_rows(vectors))
    return float(normalized_mutual_info_score(labels, found))


def quality(vectors: np.ndarray, labels: list[str]) -> dict[str, float]:
    scores = [nmi(vectors, labels, seed) for seed in KMEANS_SEEDS]
    return {"nmi": round(scores[0], 4), "nmi_seeds_mean": round(statistics.mean(scores), 4)}


@dataclass
class Rates:
    """Rows per wall-clock second and per CPU second (all threads of this process), per run."""

    wall: list[float]
    cpu: list[float]

    def add(self, rows: int, wall_s: float, cpu_s: float) -> None:
        self.wall.append(rows / wall_s)
        self.cpu.append(rows / cpu_s)


def timed(rates: Rates, texts: list[str], embed: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    wall, cpu = time.perf_counter(), time.process_time()
    vectors = embed(texts)
    rates.add(len(texts), time.perf_counter() - wall, time.process_time() - cpu)
    return vectors


def fast_encode(texts: list[str]) -> np.ndarray:
    """What Level does per analysis of a new file: name the corpus, learn from it, embed it
    (no fit kept from an earlier run is read: every run learns)."""
    return StaticEmbedder(keep_fits=False).for_corpus(texts).encode(texts)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--minilm-rows", type=int, default=1000)
    parser.add_argument("--fortunes-vectors", type=Path, default=DEFAULT_FORTUNES_VECTORS)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" /
                        "fast_embedding.json")
    args = parser.parse_args()

    sets = [load_debian(), load_fortunes(args.fortunes_vectors)]
    minilm = SentenceTransformerEmbedder(device="cpu")
    minilm.encode(sets[0].texts[:32])  # load the model outside the timings
    start = time.perf_counter()
    load_word_pieces(StaticEmbedder().model_dir)
    table_load_s = time.perf_counter() - start

    rng = np.random.default_rng(42)
    slices = {s.name: [s.texts[i] for i in sorted(rng.choice(len(s.texts), min(
        args.minilm_rows, len(s.texts)), replace=False))] for s in sets}
    minilm_rates = {s.name: Rates([], []) for s in sets}
    fast_rates = {s.name: Rates([], []) for s in sets}
    fast_vectors: dict[str, np.ndarray] = {}
    for run in range(args.runs):
        for s in sets:
            timed(minilm_rates[s.name], slices[s.name], minilm.encode)
            vectors = timed(fast_rates[s.name], s.texts, fast_encode)
            if s.name in fast_vectors:
                np.testing.assert_allclose(vectors, fast_vectors[s.name], atol=1e-5)
            fast_vectors[s.name] = vectors
            print(f"run {run + 1}: {s.name} MiniLM {minilm_rates[s.name].wall[-1]:.1f} rows/s, "
                  f"fast {fast_rates[s.name].wall[-1]:.0f} rows/s", file=sys.stderr, flush=True)

    results: dict[str, object] = {}
    for s in sets:
        peer, fast = minilm_rates[s.name], fast_rates[s.name]
        ratio = statistics.median(fast.wall) / statistics.median(peer.wall)
        reference = quality(s.minilm, s.labels)
        vectors = fast_vectors[s.name]
        static_dims = vectors.shape[1] - StaticEmbedder().lsa_dims
        candidates: dict[str, dict[str, object]] = {}
        for name, part in (("fast: static word pieces + LSA (chosen)", vectors),
                           ("ablation: static word pieces only", vectors[:, :static_dims]),
                           ("ablation: LSA topics only", vectors[:, static_dims:])):
            scores = quality(part, s.labels)
            entry: dict[str, object] = {**scores,
                                        "nmi_loss": round(reference["nmi"] - scores["nmi"], 4),
                                        "nmi_seeds_mean_loss": round(reference["nmi_seeds_mean"]
                                                                     - scores["nmi_seeds_mean"], 4)}
            if part is vectors:
                entry = {"rows_per_s": median(fast.wall),
                         "rows_per_s_runs": [round(r, 1) for r in fast.wall],
                         "ratio_to_minilm": round(ratio, 1),
                         "rows_per_cpu_s": median(fast.cpu),
                         "cpu_ratio_to_minilm": round(statistics.median(fast.cpu)
                                                      / statistics.median(peer.cpu), 1),
                         "dimension": vectors.shape[1], **entry,
                         "meets_goal": bool(ratio >= GOAL_RATIO
                                            and reference["nmi"] - scores["nmi"] <= GOAL_NMI_LOSS)}
            candidates[name] = entry
        results[s.name] = {
            "rows": len(s.texts), "labels": len(set(s.labels)),
            "minilm": {"rows_per_s": median(peer.wall),
                       "rows_per_s_runs": [round(r, 1) for r in peer.wall],
                       "rows_per_cpu_s": median(peer.cpu), "timed_rows": len(slices[s.name]),
                       "vectors_from": s.minilm_from, **reference},
            "candidates": candidates}

    report = {
        "benchmark": "fast_embedding", "runs": args.runs, "median_of_runs": True,
        "kmeans": {"k": "number of labels", "n_init": 1, "seeds": list(KMEANS_SEEDS),
                   "nmi": "seed 42", "nmi_seeds_mean": "mean over the seeds"},
        "goal": {"ratio_to_minilm": GOAL_RATIO, "nmi_loss_at_most": GOAL_NMI_LOSS},
        "machine": {"cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
                    "python": platform.python_version()},
        "word_piece_table_load_s": round(table_load_s, 2),
        "sets": results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
