"""Issue 7's scale figures, each command in a fresh process (imports and JIT included).

    python benchmarks/scale.py [--runs 3] [--cases debian63k,pypi200k,recluster20k]

- debian63k: all 63,666 rows of debian-packages.csv, CSV to terrain with `--model fast`: wall time
  and peak RSS (goal ≤ 120 s). Peer in the same run: BERTopic's default fit_transform (UMAP +
  HDBSCAN + c-TF-IDF) given the same fast-path vectors; its time counts Level's embed stage too,
  so both are CSV-to-topics. NMI of both against `section`.
- pypi200k: all 200,000 rows of pypi-summaries.csv end to end with the fast path: wall and peak
  RSS (goal ≤ 4 GB). Peer: the same command on a 20,000-row slice (how time grows with rows).
- recluster20k: a saved 20,000-row project (embeddings cached) re-clustered with a new k in a new
  process, imports included (goal ≤ 5 s). Peer: the first analysis of the same rows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, SHARED_DATA, emit, median, read_csv, write_csv

CLI_WITH_PEAK = ("import resource, sys; from level_desktop.cli import main; rc = main(sys.argv[1:]); "
                 "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
                 "print('PEAK_KB', peak, file=sys.stderr); "
                 "sys.exit(rc)")


def run(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(wall seconds, the child's own peak RSS in MB if it reports one, stdout) of a fresh process."""
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, **(env or {})}, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {done.stderr[-2000:]}")
    peaks = [int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_KB")]
    return wall, (peaks[-1] / 1024 if peaks else float("nan")), done.stdout


def level_analyze(csv_path: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-c", CLI_WITH_PEAK, "analyze", str(csv_path), "-o", str(out),
            "--model", "fast", *extra]


PEER = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
from level_desktop.core.store import load_project
a = load_project(sys.argv[1])
t0 = time.perf_counter()
from bertopic import BERTopic
topics, _ = BERTopic(calculate_probabilities=False).fit_transform(a.texts, embeddings=a.embeddings)
wall = time.perf_counter() - t0
from sklearn.metrics import normalized_mutual_info_score
labels = [a.columns["section"][i] for i in a.row_index]
print(json.dumps({"fit_s": wall, "embed_s": a.timings["embed"],
                  "nmi": normalized_mutual_info_score(labels, topics),
                  "clusters": len(set(topics) - {-1}),
                  "noise_share": sum(t == -1 for t in topics) / len(topics)}))
"""

NMI = r"""
import json, sys
from level_desktop.core.store import load_project
from sklearn.metrics import normalized_mutual_info_score
a = load_project(sys.argv[1])
labels = [a.columns["section"][i] for i in a.row_index]
print(json.dumps({"nmi": normalized_mutual_info_score(labels, a.labels),
                  "clusters": len(a.clusters), "model": a.model, "timings": a.timings}))
"""

RECLUSTER = r"""
import time; t0 = time.perf_counter()
import json, sys
from level_desktop.core.pipeline import analyze
from level_desktop.core.store import load_project, save_project
a = load_project(sys.argv[1])
b = analyze(None, a.settings.replace(method="kmeans", k=80), previous=a)
save_project(b, sys.argv[1])
print(json.dumps({"in_process_s": time.perf_counter() - t0, "clusters": len(b.clusters)}))
"""


def debian63k(runs: int, tmp: Path) -> dict:
    csv_path = SHARED_DATA / "debian-packages.csv"
    level_runs, peer_runs = [], []
    for i in range(runs):
        out = tmp / f"debian-{i}.level"
        wall, peak, _ = run(level_analyze(csv_path, out, "--no-cache"))
        info = json.loads(run([sys.executable, "-c", NMI, str(out)])[2])
        level_runs.append({"wall_s": wall, "peak_rss_mb": peak, **info})
        peer = json.loads(run([sys.executable, "-c", PEER, str(out)])[2])
        peer["wall_s"] = peer["fit_s"] + peer["embed_s"]
        peer_runs.append(peer)
    lw, pw = median([r["wall_s"] for r in level_runs]), median([r["wall_s"] for r in peer_runs])
    return {"rows": 63666, "model": level_runs[0]["model"],
            "level_wall_s": round(lw, 1), "level_wall_runs": [round(r["wall_s"], 1) for r in level_runs],
            "level_peak_rss_mb": round(median([r["peak_rss_mb"] for r in level_runs])),
            "level_nmi": round(median([r["nmi"] for r in level_runs]), 3),
            "level_clusters": level_runs[0]["clusters"], "level_stages": level_runs[-1]["timings"],
            "peer_bertopic_wall_s": round(pw, 1),
            "peer_nmi": round(median([r["nmi"] for r in peer_runs]), 3),
            "peer_clusters": peer_runs[0]["clusters"],
            "peer_noise_share": round(peer_runs[0]["noise_share"], 3),
            "speedup_level_over_peer": round(pw / lw, 2)}


def pypi200k(runs: int, tmp: Path) -> dict:
    rows = read_csv(SHARED_DATA / "pypi-summaries.csv")
    small = write_csv(tmp / "pypi-20k.csv", rows[:20000], ["name", "summary"])
    full, peaks, part = [], [], []
    for i in range(runs):
        wall, peak, _ = run(level_analyze(SHARED_DATA / "pypi-summaries.csv", tmp / f"p{i}.level",
                                          "--no-cache"))
        full.append(wall)
        peaks.append(peak)
        part.append(run(level_analyze(small, tmp / f"s{i}.level", "--no-cache"))[0])
    return {"rows": 200000, "wall_s": round(median(full), 1),
            "wall_runs": [round(w, 1) for w in full], "peak_rss_mb": round(median(peaks)),
            "peer_20k_slice_wall_s": round(median(part), 1),
            "ratio_200k_over_20k": round(median(full) / median(part), 2)}


def recluster20k(runs: int, tmp: Path) -> dict:
    rows = read_csv(SHARED_DATA / "debian-packages.csv")[:20000]
    csv_path = write_csv(tmp / "debian-20k.csv", rows, ["package", "section", "description"])
    project = tmp / "r.level"
    first = run(level_analyze(csv_path, project))[0]
    walls = [run([sys.executable, "-c", RECLUSTER, str(project)])[0] for _ in range(runs)]
    return {"rows": 20000, "recluster_fresh_process_s": round(median(walls), 2),
            "runs": [round(w, 2) for w in walls], "peer_first_analysis_s": round(first, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cases", default="recluster20k,debian63k,pypi200k")
    args = parser.parse_args()
    result = {"benchmark": "scale", "runs": args.runs}
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases.split(","):
            result[case] = globals()[case](args.runs, Path(tmp))
            print(json.dumps({case: result[case]}), file=sys.stderr)
    emit(result, REPO / "benchmarks" / "results" / "scale.json")


if __name__ == "__main__":
    main()
