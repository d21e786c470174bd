"""Figures of the packaged app built from the lock: build time, size, files, checks, start-up.

    python packaging/measure_build.py [--fresh-venv] [--no-build] [--runs 3]
                                      [--out benchmarks/results/packaging.json]

1. Build: `bash packaging/build.sh` (wall time, and its steps from build/build-times.json:
   build environment, trimming check, PyInstaller). --fresh-venv removes build/venv first, as on
   a clean CI clone; --no-build takes the figures of the last build instead (and says so).
2. Bundle: bytes and files of dist/level/, and the largest parts of it.
3. Checks: `bash packaging/smoke_test.sh --no-build` (frozen --self-test and `analyze` with no
   network and empty caches, compared with the source install; start-up), timed and summarised.
4. Start-up to window, median of --runs cold starts, the packaged app against its peer, the
   source install (.venv/bin/level-desktop, else build/venv's), in the same run.
5. CI wall time: before = the source job (--ci-source-s, the time .ci/run's first part takes,
   measured by whoever runs CI); after = that + a packaging job made of this run's build (with a
   fresh build environment) and checks. An estimate from component times, not a CI run.
Writes JSON to --out. Needs Xvfb (xvfb-run) and xwininfo.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging"))
from measure_startup import time_to_window  # noqa: E402  (packaging/ is not a package)

BUNDLE = ROOT / "dist" / "level"
XVFB = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24 -noreset"]
CI_SOURCE_S = 400.0  # .ci/run's install + lint + tests before this change: "~6-7 min" (issue 21)


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def children_cpu_s() -> float:
    """CPU seconds (user + system) of the finished child processes so far: unlike wall time,
    barely changed by the other work on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def build(fresh_venv: bool) -> dict:
    if fresh_venv:
        shutil.rmtree(ROOT / "build" / "venv", ignore_errors=True)
    load = load_average()
    cpu = children_cpu_s()
    start = time.perf_counter()
    log = ROOT / "build" / "package.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("w") as out:
        done = subprocess.run(["bash", "packaging/build.sh"], cwd=ROOT, stdout=out,
                              stderr=subprocess.STDOUT, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(log.read_text()[-4000:])
        raise SystemExit(f"the build failed (log: {log})")
    steps = json.loads((ROOT / "build" / "build-times.json").read_text())
    return {"measured_in_this_run": True, "wall_s": round(wall, 1),
            "cpu_s": round(children_cpu_s() - cpu, 1), **steps, "load_average_at_start": load}


def bundle_figures() -> dict:
    files = [p for p in BUNDLE.rglob("*") if p.is_file() and not p.is_symlink()]
    sizes: dict[str, int] = {}
    inside = BUNDLE / "_internal"
    for path in files:
        rel = path.relative_to(inside) if path.is_relative_to(inside) else path.relative_to(BUNDLE)
        top = rel.parts[0] if len(rel.parts) > 1 else "(top-level files)"
        sizes[top] = sizes.get(top, 0) + path.stat().st_size
    total = sum(sizes.values())
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:12]
    return {"bytes": total, "megabytes": round(total / 1e6), "files": len(files),
            "largest_parts_mb": {name: round(size / 1e6, 1) for name, size in largest}}


def smoke_checks() -> dict:
    """packaging/smoke_test.sh --no-build, timed; the lines that say what it checked."""
    cpu = children_cpu_s()
    start = time.perf_counter()
    done = subprocess.run(["bash", "packaging/smoke_test.sh", "--no-build"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    cpu = children_cpu_s() - cpu
    out = done.stdout + done.stderr
    keep = re.compile(r"^(network:|model:|clusters:|self-test passed|Level self-test|Embedded|"
                      r"Saved|.* took |clusters |largest |.*window shown|SMOKE TEST|Level self-test"
                      r" FAILED|same )")
    return {"passed": done.returncode == 0 and "SMOKE TEST PASSED" in out,
            "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "model_ran_frozen": bool(re.search(r"^Embedded with all-MiniLM-L6-v2 on [a-z]", out,
                                               re.M)),
            "lines": [line for line in out.splitlines() if keep.match(line)][:60],
            "tail": out.splitlines()[-15:] if done.returncode != 0 else []}


def startup(runs: int) -> dict:
    source = ROOT / ".venv" / "bin" / "level-desktop"
    if not source.exists():
        source = ROOT / "build" / "venv" / "bin" / "level-desktop"
    commands = {"packaged": [str(BUNDLE / "level")], "source": [str(source)]}
    times: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory(prefix="level-startup-") as config:
        for _ in range(runs):  # interleaved, so both sides see the same machine load
            for name, command in commands.items():
                times[name].append(round(time_to_window(command, config), 3))
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {"runs": runs, "seconds": times, "median_s": medians,
            "source_command": str(source.relative_to(ROOT)),
            "packaged_over_source": round(medians["packaged"] / medians["source"], 2)}


def startup_in_own_display(runs: int) -> dict:
    """startup() in a child under its own xvfb-run, in a network namespace of its own where that
    is allowed (as the smoke test does): then its X server's socket is private, and another
    user's `xvfb-run -a` on the same display number cannot cut it off."""
    net = ["unshare", "-n"] if subprocess.run(["unshare", "-n", "true"], check=False,
                                               capture_output=True).returncode == 0 else []
    done = subprocess.run([*net, *XVFB, sys.executable, __file__, "--startup-child", "--runs",
                           str(runs)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"start-up measurement failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/packaging.json")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fresh-venv", action="store_true")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--ci-source-s", type=float, default=CI_SOURCE_S)
    parser.add_argument("--startup-child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.startup_child:  # in an X server of its own (see startup_in_own_display)
        print(json.dumps(startup(options.runs)))
        return 0

    if options.no_build:
        steps = json.loads((ROOT / "build" / "build-times.json").read_text())
        built = {"measured_in_this_run": False, **steps}
    else:
        built = build(options.fresh_venv)
    result = {
        "what": "packaged app (PyInstaller one-folder) built from packaging/constraints.txt",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared), "
                   f"Python {platform.python_version()}",
        "command": "python packaging/measure_build.py " + " ".join(argv),
        "build": built,
        "bundle": bundle_figures(),
        "smoke_test": smoke_checks(),
        "startup_to_window": startup_in_own_display(options.runs),
        "load_average_at_end": load_average(),
    }
    packaging_job = built.get("wall_s", built["total_s"]) + result["smoke_test"]["wall_s"]
    result["ci_estimate"] = {
        "note": "before = the source job alone (an input); after = that + this run's build and "
                "smoke checks; the build environment was "
                + ("made fresh, as on a clean clone" if built.get("venv_made") else
                   "reused (a clean clone pays to make it)"),
        "before_s": options.ci_source_s,
        "packaging_job_s": round(packaging_job, 1),
        "after_s": round(options.ci_source_s + packaging_job, 1),
    }
    options.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = options.out.with_name(options.out.name + ".tmp")
    with tmp.open("w") as f:
        f.write(json.dumps(result, indent=1) + "\n")
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(options.out)
    print(json.dumps({k: result[k] for k in ("build", "bundle", "startup_to_window",
                                             "ci_estimate")}, indent=1))
    print(f"smoke test passed: {result['smoke_test']['passed']}; wrote {options.out}")
    return 0 if result["smoke_test"]["passed"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
