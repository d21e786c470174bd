"""`--model auto`: how well it projects MiniLM's time, what it picks per set, and the fast path's
loss on short texts.

1. Projection error. On three sets of different text lengths (debian descriptions: long, fortunes:
   medium, debian summaries: short), a seeded slice of rows is given to `choose_model` with an
   empty speed memory, which times MiniLM on a length-spread sample and projects the whole slice;
   then MiniLM embeds the whole slice (the model already loaded) and that time is the actual one.
   Reported: projected, actual, error, and the calibration's cost (model warm-up + sample) as a
   share of the projected time (target <= 5 %). `--runs` times each, medians.
2. What auto picks on each shared set, end to end (`analyze`, no embedding cache, a fresh speed
   memory, the default one-minute budget), with its wall time and NMI of the clusters against the
   human labels (k-means' own k): sample-small, fortunes, debian (all rows).
3. The fast path on short texts: `summary` of a seeded 5,000-row slice of debian-packages.csv,
   NMI of k-means (k = number of sections, three seeds) on MiniLM's vectors against the fast
   path's (learned from the same rows). If the fast path loses more than 0.05 there, auto must not
   take it lightly: the projection makes MiniLM win on short texts unless there are many.

    .venv/bin/python benchmarks/model_choice.py [--runs 3] [--parts 1 2 3]
        [--out benchmarks/results/model_choice.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import SHARED_DATA, read_csv

REPO = Path(__file__).resolve().parents[1]
SLICES = {"debian descriptions (long)": ("debian-packages.csv", "description", 1200),
          "fortunes (medium)": ("fortunes.csv", "text", 2500),
          "debian summaries (short)": ("debian-packages.csv", "summary", 4000)}
SHORT_ROWS = 5000


def seeded_slice(texts: list[str], n: int, seed: int = 42) -> list[str]:
    rng = np.random.default_rng(seed)
    return [texts[i] for i in sorted(rng.choice(len(texts), min(n, len(texts)), replace=False))]


def column(file: str, name: str) -> list[str]:
    return [r[name] for r in read_csv(SHARED_DATA / file)]


def part_projection(runs: int) -> dict:
    from level_desktop.core.embedding import SentenceTransformerEmbedder
    from level_desktop.core.embedding.choice import SpeedMemory, choose_model

    out = {}
    for name, (file, col, n) in SLICES.items():
        texts = seeded_slice(column(file, col), n)
        rows = []
        for run in range(runs):
            embedder = SentenceTransformerEmbedder(device="cpu")
            with tempfile.TemporaryDirectory() as memory_dir:
                choice = choose_model(texts, embedder, "cpu", budget_s=1e9,
                                      memory=SpeedMemory(Path(memory_dir)))
            start = time.perf_counter()
            embedder.encode(texts)
            actual = time.perf_counter() - start
            calibration = choice.calibration
            assert calibration is not None
            assert choice.projected_full_s is not None
            rows.append({"projected_s": choice.projected_full_s, "actual_s": actual,
                         "error": choice.projected_full_s / actual - 1,
                         "calibration_s": calibration.load_s + calibration.sample_s,
                         "sample_s": calibration.sample_s, "warm_up_s": calibration.load_s,
                         "sample_rows": int(calibration.sample_rows.size)})
            print(f"{name} run {run + 1}: projected {rows[-1]['projected_s']:.1f} s, actual "
                  f"{actual:.1f} s", file=sys.stderr, flush=True)
        med = {key: round(statistics.median(r[key] for r in rows), 3) for key in rows[0]}
        out[name] = {"rows": len(texts),
                     "median_chars": int(np.median([len(t) for t in texts])),
                     **med, "abs_error_median": round(statistics.median(
                         abs(r["error"]) for r in rows), 3),
                     "calibration_share_of_projected": round(
                         med["calibration_s"] / med["projected_s"], 3),
                     "sample_share_of_projected": round(med["sample_s"] / med["projected_s"], 3),
                     "runs": [{k: round(v, 3) for k, v in r.items()} for r in rows]}
    return out


def part_auto_per_set(runs: int) -> dict:
    from sklearn.metrics import normalized_mutual_info_score

    from level_desktop.core.pipeline import analyze
    from level_desktop.core.settings import Settings

    sets = {"sample-small": ("sample-small.csv", "description", "section"),
            "fortunes": ("fortunes.csv", "text", "category"),
            "debian (all rows)": ("debian-packages.csv", "description", "section")}
    out = {}
    for name, (file, text_col, label_col) in sets.items():
        labels = np.array([r[label_col] for r in read_csv(SHARED_DATA / file)])
        walls, nmis, picks = [], [], []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as cache:
                os.environ["LEVEL_CACHE_DIR"] = cache  # a fresh speed memory each run
                start = time.perf_counter()
                analysis = analyze(SHARED_DATA / file, Settings(text_column=text_col), cache=None)
                walls.append(time.perf_counter() - start)
            picks.append(analysis.model_choice or analysis.model)
            keep = analysis.labels >= 0
            nmis.append(normalized_mutual_info_score(labels[analysis.row_index][keep],
                                                     analysis.labels[keep]))
            print(f"{name}: {picks[-1]} in {walls[-1]:.1f} s, NMI {nmis[-1]:.3f}", file=sys.stderr,
                  flush=True)
        out[name] = {"rows": int(labels.size), "picked": picks[0], "picks_agree": len(set(picks)) == 1,
                     "model": analysis.model, "wall_s_median": round(statistics.median(walls), 2),
                     "wall_s_runs": [round(w, 2) for w in walls],
                     "nmi_median": round(statistics.median(nmis), 4)}
    return out


def part_short_texts() -> dict:
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score

    from level_desktop.core.embedding import SentenceTransformerEmbedder, StaticEmbedder

    rows = read_csv(SHARED_DATA / "debian-packages.csv")
    rng = np.random.default_rng(42)
    picked = [rows[i] for i in sorted(rng.choice(len(rows), SHORT_ROWS, replace=False))]
    texts = [r["summary"] for r in picked]
    labels = [r["section"] for r in picked]
    k = len(set(labels))
    start = time.perf_counter()
    minilm = SentenceTransformerEmbedder(device="cpu").encode(texts)
    minilm_s = time.perf_counter() - start
    start = time.perf_counter()
    fast = StaticEmbedder().for_corpus(texts).encode(texts)
    fast_s = time.perf_counter() - start

    def nmi(vectors: np.ndarray) -> float:
        return statistics.mean(normalized_mutual_info_score(
            labels, KMeans(k, n_init=1, random_state=seed).fit_predict(vectors))
            for seed in (42, 43, 44))

    minilm_nmi, fast_nmi = nmi(minilm), nmi(fast)
    return {"set": f"debian-packages.csv `summary`, seeded {SHORT_ROWS:,}-row slice",
            "median_chars": int(np.median([len(t) for t in texts])), "labels": k,
            "minilm_nmi": round(minilm_nmi, 4), "fast_nmi": round(fast_nmi, 4),
            "nmi_loss": round(minilm_nmi - fast_nmi, 4), "minilm_s": round(minilm_s, 1),
            "fast_s": round(fast_s, 1), "kmeans": "k = labels, n_init 1, mean of seeds 42-44"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parts", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" /
                        "model_choice.json")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    report: dict = {"benchmark": "model_choice", "runs": args.runs,
                    "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}}
    if args.out.exists():  # parts not rerun keep their previous figures
        previous = json.loads(args.out.read_text(encoding="utf-8"))
        report.update({k: v for k, v in previous.items() if k.startswith("part")})
    if 1 in args.parts:
        report["part1_projection_error"] = part_projection(args.runs)
    if 3 in args.parts:
        report["part3_fast_path_on_short_texts"] = part_short_texts()
    if 2 in args.parts:
        report["part2_auto_per_set"] = part_auto_per_set(args.runs)
    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(report, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
