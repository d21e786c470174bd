"""Issue 19's figure: `embed_on_ray` on a local Ray with 2 workers against Level's own in-process
embed stage, on the same debian rows with MiniLM, and how far apart their vectors are.

    python benchmarks/ray_embed.py [--rows 20000] [--runs 1] [--workers 2]

Peer: Level's embed stage as `level analyze` runs it (core/pipeline.py's `embed_texts` with
`make_embedder("all-MiniLM-L6-v2")`, no cache). Every run of either path is a fresh process, so
both pay their start-up: imports and the model load for the in-process path; Ray's start, the
actors' imports and model loads, and writing the Parquet shards for the Ray path. The two paths
alternate, in-process first. rows/s are rows over the median wall time; the Ray path's time to
its first result is reported too (its fixed cost). The vectors of the last Ray run are compared
with the last in-process run's, row by row.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, SHARED_DATA, emit, median, read_csv, write_csv

MODEL = "all-MiniLM-L6-v2"
OUT = REPO / "benchmarks" / "results" / "ray_embed.json"


def build_csv(rows: int, folder: Path) -> Path:
    """The first `rows` debian rows that have a description."""
    data = [r for r in read_csv(SHARED_DATA / "debian-packages.csv") if r["description"].strip()]
    if len(data) < rows:
        sys.exit(f"debian-packages.csv has only {len(data)} rows with a description")
    return write_csv(folder / f"debian-{rows}.csv", data[:rows], ["package", "description"])


def child_in_process(csv_path: str, vectors_out: str) -> dict:
    """Level's embed stage as `analyze` runs it, with no cache."""
    start = time.perf_counter()
    from level_desktop.core.embedding import make_embedder
    from level_desktop.core.loading import load_input
    from level_desktop.core.pipeline import embed_texts

    loaded = load_input(csv_path, "description", min_rows=1)
    embedder = make_embedder(MODEL, device="auto")
    vectors, device = embed_texts(loaded.texts, embedder)
    seconds = time.perf_counter() - start
    np.save(vectors_out, vectors)
    import torch

    return {"seconds": seconds, "device": device, "rows": len(loaded.texts),
            "torch_threads": torch.get_num_threads()}


def child_ray(csv_path: str, out_dir: str, workers: int, shard_rows: int, batch_size: int) -> dict:
    start = time.perf_counter()
    first: list[float] = []

    def progress(stage: str, fraction: float, message: str) -> None:
        if not first and message.startswith("Embedded") and fraction > 0:
            first.append(time.perf_counter() - start)

    from level_desktop.core.ray_embedding import embed_on_ray

    result = embed_on_ray(csv_path, out_dir, model=MODEL, text_column="description",
                          num_workers=workers, num_cpus=workers, shard_rows=shard_rows,
                          batch_size=batch_size, progress=progress)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "first_result_s": first[0] if first else None,
            "rows": result.n_rows, "shards": result.shards_total,
            "gpus_per_worker": result.gpus_per_worker}


def run_child(args: list[str]) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                          text=True, env=env, cwd=REPO, check=False)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        sys.exit(f"child {args[0]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shard-rows", type=int, default=2_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "inprocess":
            print(json.dumps(child_in_process(*rest)))
        else:
            print(json.dumps(child_ray(rest[0], rest[1], int(rest[2]), int(rest[3]),
                                       int(rest[4]))))
        return

    import ray

    from level_desktop.core.vector_input import load_vectors

    load_before = os.getloadavg()
    inproc, on_ray = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv_path = build_csv(args.rows, folder)
        reference = folder / "inprocess.npy"
        for run in range(args.runs):
            inproc.append(run_child(["inprocess", str(csv_path), str(reference)]))
            print(f"run {run + 1}: in-process {inproc[-1]['seconds']:.1f} s", file=sys.stderr)
            out_dir = folder / f"ray-{run}"
            on_ray.append(run_child(["ray", str(csv_path), str(out_dir), str(args.workers),
                                     str(args.shard_rows), str(args.batch_size)]))
            print(f"run {run + 1}: ray {on_ray[-1]['seconds']:.1f} s", file=sys.stderr)
        got = load_vectors(out_dir, min_rows=1)
        ref = np.load(reference)
        if got.vectors.shape != ref.shape:
            sys.exit(f"shapes differ: ray {got.vectors.shape}, in-process {ref.shape}")
        diff = float(np.abs(got.vectors - ref).max())
    rows = args.rows
    t_in = median([r["seconds"] for r in inproc])
    t_ray = median([r["seconds"] for r in on_ray])
    firsts = [r["first_result_s"] for r in on_ray if r["first_result_s"] is not None]
    result = {
        "figure": "level embed on a local Ray (2 workers) vs Level's in-process embed stage",
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": f"python benchmarks/ray_embed.py --rows {rows} --runs {args.runs} "
                   f"--workers {args.workers} --shard-rows {args.shard_rows} "
                   f"--batch-size {args.batch_size}",
        "data": f"first {rows:,} rows of debian-packages.csv with a description",
        "model": MODEL,
        "rows": rows,
        "runs_per_path": args.runs,
        "in_process": {
            "what": "core/pipeline.py embed_texts + make_embedder, no cache, fresh process",
            "device": inproc[-1]["device"],
            "torch_threads": inproc[-1].get("torch_threads"),
            "seconds": [round(r["seconds"], 1) for r in inproc],
            "median_seconds": round(t_in, 1),
            "rows_per_s": round(rows / t_in, 1),
        },
        "ray": {
            "what": "core/ray_embedding.py embed_on_ray, local Ray started by the job; "
                    "one model per actor, 1 CPU (1 torch thread) per actor",
            "workers": args.workers, "cpus": args.workers, "shard_rows": args.shard_rows,
            "batch_size": args.batch_size,
            "gpus_per_worker": on_ray[-1]["gpus_per_worker"],
            "seconds": [round(r["seconds"], 1) for r in on_ray],
            "median_seconds": round(t_ray, 1),
            "first_result_seconds": [round(s, 1) for s in firsts],
            "rows_per_s": round(rows / t_ray, 1),
        },
        "ratio_ray_over_in_process_rows_per_s": round(t_in / t_ray, 3),
        "max_abs_vector_difference": diff,
        "vectors_identical_to_1e-5": diff <= 1e-5,
        "gpu": "not measured: no GPU machine was lent to this session",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "ray": ray.__version__,
                    "load_average_before": [round(x, 1) for x in load_before],
                    "load_average_after": [round(x, 1) for x in os.getloadavg()]},
    }
    # One file for the figure; each --rows size is kept under its own key, so a quick run at a
    # small size does not overwrite the large one.
    previous = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    by_rows = previous.get("by_rows", {}) if isinstance(previous, dict) else {}
    by_rows[str(rows)] = result
    emit({"figure": result["figure"], "by_rows": dict(sorted(by_rows.items(),
                                                             key=lambda kv: -int(kv[0])))},
         args.out)


if __name__ == "__main__":
    main()
