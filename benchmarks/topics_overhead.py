"""What the topics (issue 15) cost the whole 63k run: `level analyze` on all 63,666 debian rows,
fast path, today's code against the code before topics, in the same run.

    python benchmarks/topics_overhead.py [--runs 3] [--before dcd7900]

The code before topics (commit `--before`) is checked out into a temporary `git worktree`; each
run is a fresh process of the same Python (the same venv) with PYTHONPATH on one checkout or the
other, `--model fast --no-cache`, its own empty cache folder. The two alternate (today first,
then before first, …) so a change in the machine's load falls on both. Reported: wall medians of
>= 3 runs each, their ratio (goal: at most 1.15), peak RSS, each version's stage times (median
per stage) and the machine's load average around the runs. No BERTopic here.
Writes benchmarks/results/topics_overhead.json.
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
from common import REPO, SHARED_DATA, emit, median

GOAL_RATIO = 1.15
CLI = ("import resource, sys, level_desktop; from level_desktop.cli import main; "
       "print('CODE', level_desktop.__file__, file=sys.stderr); rc = main(sys.argv[1:]); "
       "print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); "
       "sys.exit(rc)")
STAGES = ("import json, sys; from level_desktop.core.store import load_project; "
          "a = load_project(sys.argv[1]); "
          "print(json.dumps({'timings': a.timings, 'clusters': len(a.clusters), "
          "'topics': len(getattr(a, 'topics', []))}))")


def fresh_process(code_root: Path, args: list[str], cache: Path) -> tuple[float, str, str]:
    """(wall seconds, stdout, stderr) of `python -c ...` with PYTHONPATH on `code_root`."""
    env = {**os.environ, "PYTHONPATH": str(code_root), "LEVEL_CACHE_DIR": str(cache),
           "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          cwd=code_root, env=env, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{args[:3]} in {code_root} failed: {done.stderr[-2000:]}")
    return wall, done.stdout, done.stderr


def one_run(name: str, code_root: Path, csv_path: Path, work: Path, i: int) -> dict:
    out = work / f"{name}-{i}.level"
    cache = work / f"cache-{name}-{i}"
    cache.mkdir()
    wall, _, err = fresh_process(code_root, ["-c", CLI, "analyze", str(csv_path), "-o", str(out),
                                             "--model", "fast", "--no-cache"], cache)
    code = next(line.split(maxsplit=1)[1] for line in err.splitlines()
                if line.startswith("CODE"))
    peak_kb = next(int(line.split()[1]) for line in err.splitlines()
                   if line.startswith("PEAK_KB"))
    printed = fresh_process(code_root, ["-c", STAGES, str(out)], cache)[1]
    info = json.loads(next(line for line in reversed(printed.splitlines())
                           if line.startswith("{")))
    out.unlink()
    return {"wall_s": wall, "peak_rss_mb": peak_kb / 1024, "code": code,
            "load_1min": os.getloadavg()[0], **info}


def summarise(runs: list[dict]) -> dict:
    stages = sorted({s for r in runs for s in r["timings"]})
    return {"wall_s": round(median([r["wall_s"] for r in runs]), 1),
            "wall_runs": [round(r["wall_s"], 1) for r in runs],
            "peak_rss_mb": round(median([r["peak_rss_mb"] for r in runs])),
            "clusters": runs[0]["clusters"], "topics": runs[0]["topics"],
            "stages_s": {s: round(median([r["timings"].get(s, 0.0) for r in runs]), 2)
                         for s in stages},
            "load_1min_after_each": [round(r["load_1min"], 2) for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", default="dcd7900", help="the commit before topics")
    parser.add_argument("--csv", type=Path, default=SHARED_DATA / "debian-packages.csv")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", args.before], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.strip()
    today = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "level_desktop"], cwd=REPO,
                                capture_output=True, text=True, check=True).stdout.strip())
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {"today": [], "before_topics": []}
    with tempfile.TemporaryDirectory(prefix="level-topics-overhead-") as tmp:
        work = Path(tmp)
        old_root = work / "before-topics"
        subprocess.run(["git", "worktree", "add", "--detach", str(old_root), commit], cwd=REPO,
                       capture_output=True, text=True, check=True)
        try:
            roots = {"today": REPO, "before_topics": old_root}
            for i in range(args.runs):
                order = ["today", "before_topics"] if i % 2 == 0 else ["before_topics", "today"]
                for name in order:
                    runs[name].append(one_run(name, roots[name], args.csv, work, i))
                    print(json.dumps({name: {k: v for k, v in runs[name][-1].items()
                                             if k != "timings"}}), file=sys.stderr, flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old_root)], cwd=REPO,
                           capture_output=True, text=True, check=False)
            subprocess.run(["git", "worktree", "prune"], cwd=REPO, capture_output=True,
                           check=False)
    now, then = summarise(runs["today"]), summarise(runs["before_topics"])
    ratio = now["wall_s"] / then["wall_s"]
    result = {
        "benchmark": "topics_overhead",
        "command": f"level analyze {args.csv.name} -o OUT.level --model fast --no-cache "
                   "(a fresh process per run, alternating versions)",
        "rows": 63666 if args.csv.name == "debian-packages.csv" else None,
        "runs_each": args.runs,
        "today": {"commit": today, "uncommitted_changes_in_level_desktop": dirty,
                  "code": runs["today"][0]["code"], **now},
        "peer_before_topics": {"commit": commit, "code_checked_out_to": "a temporary git worktree",
                               **then},
        "ratio_today_over_before": round(ratio, 3),
        "growth_percent": round((ratio - 1) * 100, 1),
        "goal_ratio_at_most": GOAL_RATIO,
        "meets_goal": ratio <= GOAL_RATIO,
        "load_average_1_5_15": {"before": [round(x, 2) for x in load_before],
                                "after": [round(x, 2) for x in os.getloadavg()]},
        "machine": f"{os.cpu_count()} CPUs, shared with other jobs",
    }
    emit(result, REPO / "benchmarks" / "results" / "topics_overhead.json")


if __name__ == "__main__":
    main()
