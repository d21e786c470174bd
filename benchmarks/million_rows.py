"""Issue 19: a million rows on the desktop, from vectors and on the fast path, stage by stage.

    python benchmarks/million_rows.py [--rows 1000000] [--runs 3] [--runs-1m 3] [--cases ...]

Builds a CSV of --rows rows from the shared files (pypi summaries, debian descriptions, fortunes,
cycled, each row made unique by its number). Every case is a fresh process
(benchmarks/stage_probe.py) that reports, per stage, wall and CPU seconds and peak RSS:

- vectors_file: the vectors a team brings: the CSV's rows embedded with Level's fast path in one
  batch, written with their id and text as Parquet (skipped when --keep holds it already).
- vectors1m: `analyze FILE.parquet --vectors-column embedding` on that file, to a saved project
  (then reopened and exported weighted, in the same process); --runs-1m runs, median.
- open1m: the saved 1M project opened in a fresh process (--runs times, median): opening reads
  no vectors (issue 19); then the wait of the first operation that needs them (reading them).
- saveas1m: Save As of the opened 1M project (its vectors unread) in a fresh process, --runs
  times: its vector blocks copied into the new file, against reading the vectors first and
  writing them (what Save As did before), alternating.
- agreement: clusters (the default `auto` k-means, seed 42) from float16 vectors (as a float16
  project file would give them back) against those from the float32 vectors: ARI and NMI; the
  same for int8 with a per-row scale, and for float32 vectors moved by a relative 1e-6 (how far
  any tiny change moves k-means). And the naming sample's error: cluster names from the
  keyword labeler counting at most MAX_COUNT_ROWS rows per cluster against counting every row.
- pypi200k: all 200,000 rows of pypi-summaries.csv on the fast path, --runs times, against the
  figure before this issue (benchmarks/results/scale.json: 40.7 s, 1,984 MB) and against the code
  before this issue run in the same session (`--base REV`, default the merge base with main),
  alternating, so both see the same load.
- fast1m: `analyze --model fast` on the million-row CSV, to a saved project (last: the longest);
  --runs-1m runs, median.
The machine is shared: its load average is recorded before and after each case.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, SHARED_DATA, emit, median

sys.path.insert(0, str(REPO))

RESULTS = REPO / "benchmarks" / "results" / "million_rows.json"
PROBE = REPO / "benchmarks" / "stage_probe.py"
CASES = ("vectors1m", "open1m", "saveas1m", "agreement", "pypi200k", "fast1m")


def build_csv(path: Path, rows: int) -> None:
    texts: list[str] = []
    for name, column in (("pypi-summaries.csv", "summary"), ("debian-packages.csv", "description"),
                         ("fortunes.csv", "text")):
        with open(SHARED_DATA / name, encoding="utf-8", newline="") as handle:
            texts.extend(r[column] for r in csv.DictReader(handle) if r[column].strip())
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "text"])
        for i in range(rows):
            writer.writerow([i, f"{texts[i % len(texts)]} (#{i})"])


def save(result: dict) -> None:
    """Write what is measured so far (a long run interrupted keeps its finished cases)."""
    RESULTS.write_text(json.dumps({**result, "partial": True}, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k in CASES}, indent=1)[-3000:],
          file=sys.stderr)


def build_vectors(csv_path: Path, out: Path) -> dict:
    """Embed the CSV's rows with Level's fast path in one batch (as a team's job would) and
    write id, text and the float32 vectors as Parquet; its wall and CPU seconds and peak RSS."""
    code = r"""
import csv, json, resource, sys, time
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
from level_desktop.core.embedding.static import StaticEmbedder
wall, cpu = time.perf_counter(), time.process_time()
with open(sys.argv[1], encoding="utf-8", newline="") as handle:
    rows = list(csv.DictReader(handle))
embedder = StaticEmbedder()
v = embedder.encode([r["text"] for r in rows])
embed = {"embed_s": round(time.perf_counter() - wall, 1),
         "embed_cpu_s": round(time.process_time() - cpu, 1)}
table = pa.table({"id": pa.array([int(r["id"]) for r in rows]),
                  "text": pa.array([r["text"] for r in rows]),
                  "embedding": pa.FixedSizeListArray.from_arrays(pa.array(v.ravel()), v.shape[1])})
table = table.replace_schema_metadata({"level.model": embedder.name})
pq.write_table(table, sys.argv[2], row_group_size=65536, compression="zstd")
print(json.dumps({**embed, "rows": len(rows), "dimension": int(v.shape[1]),
                  "total_s": round(time.perf_counter() - wall, 1),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""
    before = load()
    done = subprocess.run([sys.executable, "-c", code, str(csv_path), str(out)],
                          capture_output=True, text=True, cwd=REPO, check=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"})
    return {**last_json(done.stdout), "load_before": before,
            "load_after": load(), "parquet_mb": round(out.stat().st_size / 1e6, 1)}


def last_json(stdout: str) -> dict:
    """The child's JSON line (DuckDB may draw a progress bar on the same stdout)."""
    return json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def probe(input_path: Path, out: Path, cache: Path, *extra: str, repo: Path = REPO) -> dict:
    """One analysis to a saved project in a fresh process (stage_probe.py), with its figures."""
    before = load()
    env = {**os.environ, "PYTHONPATH": str(repo), "LEVEL_CACHE_DIR": str(cache),
           "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(repo / "benchmarks" / "stage_probe.py"),
                           str(input_path), str(out), *extra],
                          capture_output=True, text=True, cwd=repo, env=env, check=False)
    if done.returncode != 0:
        return {"returncode": done.returncode, "stderr_tail": done.stderr[-1500:],
                "load_before": before, "load_after": load()}
    result = last_json(done.stdout)
    return {**result, "load_before": before, "load_after": load()}


OPEN = r"""
import json, resource, sys, time
t = time.perf_counter()
from level_desktop.core.store import load_project
imported = time.perf_counter() - t
t = time.perf_counter()
a = load_project(sys.argv[1])
opened = round(time.perf_counter() - t, 2)
peak = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
t = time.perf_counter()
d = a.embeddings.shape[1]  # what the first operation that needs the vectors waits for
print(json.dumps({"open_s": opened, "imports_s": round(imported, 2), "rows": a.n_rows,
                  "peak_rss_mb": peak, "vectors_on_demand_s": round(time.perf_counter() - t, 2),
                  "dimension": d,
                  "peak_rss_mb_with_vectors": round(
                      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


SAVE_AS = r"""
import json, resource, sys, time
from level_desktop.core.store import load_project, save_project
a = load_project(sys.argv[1])
t = time.perf_counter()
if sys.argv[3] == "read_then_write":
    _ = a.embeddings  # what Save As did before: the vectors read, then written
save_project(a.snapshot(), sys.argv[2])
print(json.dumps({"save_as_s": round(time.perf_counter() - t, 2),
                  "vectors_read": a.vectors_in_memory,
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def save_as_runs(project: Path, folder: Path, runs: int) -> dict:
    """Save As of the opened 1M project (vectors never read) in a fresh process: the file's
    vector blocks copied as they are, against reading the vectors and writing them (as Save As
    did before), alternating."""
    got: dict[str, list[dict]] = {"copy_blocks": [], "read_then_write": []}
    target = folder / "save-as.level"
    for _ in range(runs):
        for way in got:
            done = subprocess.run([sys.executable, "-c", SAVE_AS, str(project), str(target),
                                   way], capture_output=True, text=True, cwd=REPO,
                                  env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
            got[way].append({**last_json(done.stdout), "load": load()})
            print(f"save as {way}: {got[way][-1]}", file=sys.stderr)
    target.unlink(missing_ok=True)
    out = {way: {"save_as_s": median([r["save_as_s"] for r in rs]),
                 "runs_s": [r["save_as_s"] for r in rs],
                 "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
                 "vectors_read": rs[0]["vectors_read"], "loads": [r["load"] for r in rs]}
           for way, rs in got.items()}
    out["ratio_read_then_write_over_copy"] = round(
        out["read_then_write"]["save_as_s"] / out["copy_blocks"]["save_as_s"], 2)
    return out


def open_runs(project: Path, runs: int) -> dict:
    got = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", OPEN, str(project)], capture_output=True,
                              text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                              check=True)
        got.append(last_json(done.stdout))
    return {"open_s": median([g["open_s"] for g in got]), "runs_s": [g["open_s"] for g in got],
            "imports_s": median([g["imports_s"] for g in got]),
            "peak_rss_mb": max(g["peak_rss_mb"] for g in got), "rows": got[0]["rows"],
            "vectors_on_demand_s": median([g["vectors_on_demand_s"] for g in got]),
            "vectors_on_demand_runs_s": [g["vectors_on_demand_s"] for g in got],
            "peak_rss_mb_with_vectors": max(g["peak_rss_mb_with_vectors"] for g in got),
            "file_mb": round(project.stat().st_size / 1e6, 1), "load": load()}


AGREEMENT = r"""
import json, sys, time
import numpy as np
import pyarrow.parquet as pq
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from level_desktop.core.clustering import AutoClusterer
from level_desktop.core.labeling import keywords
from level_desktop.core.labeling.base import ClusterDocs
from level_desktop.core.store import load_project
from level_desktop.core.vectors import normalize_rows

table = pq.read_table(sys.argv[1], columns=["embedding"])
d = table.schema.field("embedding").type.list_size
full = normalize_rows(table.column("embedding").combine_chunks().flatten().to_numpy()
                      .reshape(-1, d))
del table
project = load_project(sys.argv[2])
stored = normalize_rows(full.astype("<f2"))  # float16 as the reader would give it back
out = {"rows": len(full), "dimension": d,
       "max_abs_difference_float16": float(np.abs(stored - full).max())}
reference = AutoClusterer(seed=42).fit(full)

def agree(other):
    labels = AutoClusterer(seed=42).fit(other)
    return {"ari": round(adjusted_rand_score(reference, labels), 4),
            "nmi": round(normalized_mutual_info_score(reference, labels), 4),
            "rows_in_another_cluster": int((labels != reference).sum())}

out["float16_vs_float32"] = agree(stored)
del stored
# The floor: float32 vectors moved by a relative 1e-6 (a hundredth of float16's rounding).
jitter = np.random.default_rng(0).normal(0.0, 1e-6, full.shape).astype(np.float32)
out["float32_jitter_1e-6_vs_float32"] = agree(normalize_rows(full * (1 + jitter)))
del jitter
scale = np.abs(full).max(axis=1, keepdims=True) / 127
int8 = np.round(full / scale).astype(np.int8)
out["int8_vs_float32"] = agree(normalize_rows(int8.astype(np.float32) * scale))
del int8

# The naming sample: names with the default cap against names counting every row.
texts, labels = project.texts, project.labels
order = np.argsort(labels, kind="stable")
bounds = np.searchsorted(labels[order], np.arange(labels.max() + 2))
docs = [ClusterDocs(cluster_id=c, texts=[texts[i] for i in order[bounds[c]:bounds[c + 1]]],
                    representatives=[]) for c in range(labels.max() + 1)]
t = time.perf_counter()
sampled = keywords.class_tfidf_terms(docs)
sampled_s = time.perf_counter() - t
t = time.perf_counter()
every = keywords.class_tfidf_terms(docs, max_rows=None)
every_s = time.perf_counter() - t
top3 = [sampled[c][:3] == every[c][:3] for c in sampled]
overlap = [len(set(sampled[c]) & set(every[c])) / max(len(every[c]), 1) for c in sampled]
out["naming_sample"] = {
    "max_rows_per_cluster": keywords.MAX_COUNT_ROWS, "clusters": len(docs),
    "largest_cluster": int(np.diff(bounds).max()),
    "same_top3_terms_share": round(float(np.mean(top3)), 3),
    "top10_overlap_mean": round(float(np.mean(overlap)), 3),
    "top10_overlap_min": round(float(np.min(overlap)), 3),
    "sampled_s": round(sampled_s, 1), "every_row_s": round(every_s, 1)}
print(json.dumps(out))
"""


def agreement(vectors: Path, project: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", AGREEMENT, str(vectors), str(project)],
                          capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    if done.returncode != 0:
        return {"returncode": done.returncode, "stderr_tail": done.stderr[-1500:]}
    return {**last_json(done.stdout), "load": load()}


def base_checkout(rev: str, folder: Path) -> Path:
    """The code at `rev` (the peer: Level before this issue), unpacked from git."""
    target = folder / "base"
    if target.exists():  # from an earlier run with --keep
        shutil.rmtree(target)
    target.mkdir()
    archive = subprocess.run(["git", "archive", rev], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    # The same probe, beside the old code so that it imports the old code.
    (target / "benchmarks" / "stage_probe.py").write_bytes(PROBE.read_bytes())
    return target


def runs_summary(results: list[dict]) -> dict:
    """Medians over the runs that finished, each run's figures, and the stages of the median run."""
    ok = [r for r in results if "stages" in r]
    if not ok:
        return {"runs": results}
    median_run = sorted(ok, key=lambda r: r["to_saved_project_s"])[len(ok) // 2]
    out = {"to_saved_project_s": median([r["to_saved_project_s"] for r in ok]),
           "to_saved_project_cpu_s": median([r["to_saved_project_cpu_s"] for r in ok]),
           "peak_rss_mb": median([r["peak_rss_mb"] for r in ok]),
           "runs_s": [r["to_saved_project_s"] for r in ok],
           "runs_peak_rss_mb": [r["peak_rss_mb"] for r in ok],
           "max_peak_rss_mb": max(r["peak_rss_mb"] for r in ok),
           "stages_of_median_run": median_run["stages"],
           "loads": [r["load_before"] for r in ok]}
    if len(ok) < len(results):
        out["failed_runs"] = [r for r in results if "stages" not in r]
    for key in ("rows", "opened_rows", "clusters", "topics", "pipeline_timings", "file_mb",
                "weighted_export_mb"):
        if key in median_run:
            out[key] = median_run[key]
    return out


def repeated_probe(runs: int, *args, **kwargs) -> dict:
    """`probe` run `runs` times, one fresh process and one empty cache folder each."""
    input_path, out, cache, *extra = args
    results = []
    for i in range(runs):
        run_cache = cache.with_name(f"{cache.name}-{i}")
        if run_cache.exists():
            shutil.rmtree(run_cache)
        results.append(probe(input_path, out, run_cache, *extra, **kwargs))
        shutil.rmtree(run_cache, ignore_errors=True)  # a 1M run's cache is gigabytes
        print(f"{out.stem} run {i}: {results[-1].get('to_saved_project_s')} s "
              f"peak {results[-1].get('peak_rss_mb')} MB", file=sys.stderr)
    return {"runs_count": runs, **runs_summary(results)}


def pypi200k(folder: Path, runs: int, base_rev: str) -> dict:
    data = SHARED_DATA / "pypi-summaries.csv"
    base = base_checkout(base_rev, folder)
    now, before = [], []
    for i in range(runs):  # alternating, so both meet the same load
        for repo, into in ((REPO, now), (base, before)):
            cache = folder / f"cache-200k-{len(now)}-{len(before)}"
            if cache.exists():  # an empty embedding cache for every run
                shutil.rmtree(cache)
            into.append(probe(data, folder / "p200k.level", cache, "--model", "fast", repo=repo))
            print(f"pypi200k run {i} {'now' if repo == REPO else 'base'}: "
                  f"{into[-1].get('to_saved_project_s')} s", file=sys.stderr)
    previous = json.loads((REPO / "benchmarks" / "results" / "scale.json").read_text())["pypi200k"]

    out = {"rows": 200_000, "now": runs_summary(now), f"base_{base_rev[:12]}": runs_summary(before),
           "previous_figure": {"wall_s": previous["wall_s"],
                               "peak_rss_mb": previous["peak_rss_mb"],
                               "source": "benchmarks/results/scale.json (pypi200k), "
                                         "CSV to terrain, not saved"}}
    b = out[f"base_{base_rev[:12]}"]
    if "to_saved_project_s" in out["now"] and "to_saved_project_s" in b:
        out["ratio_now_over_base_wall"] = round(
            out["now"]["to_saved_project_s"] / b["to_saved_project_s"], 2)
        out["ratio_now_over_base_cpu"] = round(
            out["now"]["to_saved_project_cpu_s"] / b["to_saved_project_cpu_s"], 2)
        out["ratio_now_over_base_peak_rss"] = round(out["now"]["peak_rss_mb"] / b["peak_rss_mb"],
                                                    2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="runs of the 1M project's opening")
    parser.add_argument("--runs-1m", type=int, default=3,
                        help="runs of the two 1M analyses (from vectors, on the fast path)")
    parser.add_argument("--runs-200k", type=int, default=3,
                        help="runs of pypi200k, for this code and the code before")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--base", default=None,
                        help="the revision before this issue (default: merge base with main)")
    parser.add_argument("--keep", help="a folder to build in and keep (default: a temporary one)")
    args = parser.parse_args()
    cases = args.cases.split(",")
    base = args.base or subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=REPO,
                                       capture_output=True, text=True,
                                       check=True).stdout.strip()
    from level_desktop.core.memory import available_memory

    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    result: dict = {"benchmark": "million_rows", "rows": args.rows, "cpus": os.cpu_count(),
                    "free_memory_gb_at_start": round((available_memory() or 0) / 1e9, 1),
                    "load_average_at_start": load(),
                    "note": "a shared 2-core machine: other people's jobs ran throughout (see the "
                            "load averages); CPU seconds are this process's own"}
    if "before_issue19" in previous:
        result["before_issue19"] = previous["before_issue19"]
    elif any(c in previous for c in ("as_a_user_runs_it", "guard_off_watchdog")):
        # The run of issue 14 (the code before this issue): refused, then killed at 10 GB.
        result["before_issue19"] = {k: previous[k] for k in ("peer", "as_a_user_runs_it",
                                                             "guard_off_watchdog") if k in previous}
    for case in CASES:  # what this run does not (or not yet) measure is kept from the last run
        if case in previous:
            result[case] = previous[case]
    with tempfile.TemporaryDirectory(prefix="level-1m-") as root:
        folder = Path(args.keep) if args.keep else Path(root)
        folder.mkdir(parents=True, exist_ok=True)
        big, vectors = folder / "million.csv", folder / "million.parquet"
        fast_project, vectors_project = folder / "fast.level", folder / "vectors.level"
        if not big.exists():
            t = time.perf_counter()
            build_csv(big, args.rows)
            result["build_csv_s"] = round(time.perf_counter() - t, 1)
        result["csv_mb"] = round(big.stat().st_size / 1e6, 1)
        if not vectors.exists():  # the vectors a team brings: Level's fast path, in a batch job
            result["vectors_file"] = build_vectors(big, vectors)
        else:
            result["vectors_file"] = {"reused": f"{vectors.name} in the --keep folder, built "
                                                "by build_vectors in an earlier run"}
        save(result)
        if "vectors1m" in cases:
            result["vectors1m"] = {"parquet_mb": round(vectors.stat().st_size / 1e6, 1),
                                   **repeated_probe(args.runs_1m, vectors, vectors_project,
                                                    folder / "cache-vectors",
                                                    "--vectors-column", "embedding")}
            save(result)
        if "open1m" in cases:
            result["open1m"] = open_runs(vectors_project, args.runs)
            save(result)
        if "saveas1m" in cases:
            result["saveas1m"] = save_as_runs(vectors_project, folder, args.runs)
            save(result)
        if "agreement" in cases:
            result["agreement"] = agreement(vectors, vectors_project)
            save(result)
        if "pypi200k" in cases:
            result["pypi200k"] = pypi200k(folder, args.runs_200k, base)
            save(result)
        if "fast1m" in cases:
            result["fast1m"] = repeated_probe(args.runs_1m, big, fast_project,
                                              folder / "cache-fast", "--model", "fast")
            save(result)
    result["load_average_at_end"] = load()
    emit(result, RESULTS)


if __name__ == "__main__":
    main()
