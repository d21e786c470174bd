"""Issue 14: a 1,000,000-row CSV — analysed on the fast path, or refused about memory in time.

    python benchmarks/million_rows.py [--rows 1000000] [--peer-rows 100000] [--cap-gb 12]

Builds the CSV from the shared files (pypi summaries, debian descriptions, fortunes, cycled, each
row made unique by its number) and runs `level analyze --model fast` in a fresh process:
1. as a user would, with Level's memory guard reading the machine's free memory: the outcome
   (refused with its message, or analysed), wall time and peak RSS;
2. only if (1) was refused, once more with the guard told the machine is huge
   (LEVEL_AVAILABLE_MEMORY), to see what the guard prevents: a watchdog samples the process's RSS
   every 0.2 s and kills it at --cap-gb (this box has no swap and other people's work on it), and
   records the last stage it reported.
Peer in the same run: the same command on a --peer-rows slice (how memory grows with rows).
One run each (minutes of CPU on a shared 2-core box), so no medians.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, SHARED_DATA, emit

sys.path.insert(0, str(REPO))

RESULTS = REPO / "benchmarks" / "results" / "million_rows.json"


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


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_analyze(csv_path: Path, out: Path, env: dict, cap_gb: float) -> dict:
    """One `level analyze` in a fresh process, its RSS watched and capped."""
    cmd = [sys.executable, "-m", "level_desktop.cli", "analyze", str(csv_path), "-o", str(out),
           "--model", "fast", "--show", "3"]
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(REPO), **env}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    peak = [0]
    capped = [False]
    stderr_lines: list[str] = []

    def watch() -> None:
        while proc.poll() is None:
            rss = _rss_kb(proc.pid)
            peak[0] = max(peak[0], rss)
            if rss > cap_gb * 1024 * 1024:
                capped[0] = True
                proc.kill()
                return
            time.sleep(0.2)

    def read_err() -> None:
        for line in proc.stderr:
            stderr_lines.append(line.rstrip("\n"))

    threads = [threading.Thread(target=watch), threading.Thread(target=read_err)]
    for t in threads:
        t.start()
    stdout = proc.stdout.read()
    proc.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    progress = [line for line in stderr_lines if "%" in line and ":" in line]
    messages = [line for line in stderr_lines if line.startswith("level:")]
    return {
        "returncode": proc.returncode,
        "wall_s": round(wall, 1),
        "peak_rss_gb": round(peak[0] / 1024 / 1024, 2),
        "killed_by_watchdog_at_gb": cap_gb if capped[0] else None,
        "last_progress": progress[-1].strip() if progress else None,
        "message": messages[-1] if messages else None,
        "summary": [line for line in stdout.splitlines() if line.startswith(("Read", "Saved",
                                                                             "Embedded"))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--peer-rows", type=int, default=100_000)
    parser.add_argument("--cap-gb", type=float, default=12.0)
    args = parser.parse_args()
    from level_desktop.core.memory import available_memory

    result: dict = {"benchmark": "million_rows", "rows": args.rows,
                    "free_memory_gb_at_start": round((available_memory() or 0) / 1e9, 1),
                    "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="level-1m-") as root:
        folder = Path(root)
        cache = {"LEVEL_CACHE_DIR": str(folder / "cache"), "HF_HUB_OFFLINE": "1"}
        big, small = folder / "million.csv", folder / "peer.csv"
        t = time.perf_counter()
        build_csv(big, args.rows)
        build_csv(small, args.peer_rows)
        result["csv_mb"] = round(big.stat().st_size / 1e6, 1)
        result["build_s"] = round(time.perf_counter() - t, 1)
        result["peer"] = {"rows": args.peer_rows,
                          **run_analyze(small, folder / "peer.level", cache, args.cap_gb)}
        print(result["peer"], file=sys.stderr)
        result["as_a_user_runs_it"] = run_analyze(big, folder / "big.level", cache, args.cap_gb)
        print(result["as_a_user_runs_it"], file=sys.stderr)
        if result["as_a_user_runs_it"]["returncode"] == 2:
            result["guard_off_watchdog"] = run_analyze(
                big, folder / "big.level", {**cache, "LEVEL_AVAILABLE_MEMORY": str(10**13)},
                args.cap_gb)
    emit(result, RESULTS)


if __name__ == "__main__":
    main()
