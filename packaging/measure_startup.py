"""Seconds from starting Level to its main window being on screen (median of a few cold starts).

Usage (needs an X display; the smoke test runs it under xvfb-run):
    python packaging/measure_startup.py [--runs 3] -- COMMAND [ARGS...]
e.g. `-- dist/level/level` (the packaged app) or `-- .venv/bin/level-desktop` (the source install).

The clock starts just before the process is spawned and stops when X reports a viewable top-level
window titled "Level" (polled with xwininfo every 20 ms); the app is then stopped. Settings go to
a temporary folder, so the user's own are never read or written.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

TITLE = "Level"
POLL_S = 0.02
TIMEOUT_S = 120.0


def window_viewable(title: str) -> bool:
    """Whether the X server has a viewable window with exactly this title."""
    done = subprocess.run(["xwininfo", "-name", title], capture_output=True, text=True, check=False)
    return done.returncode == 0 and "IsViewable" in done.stdout


def time_to_window(command: list[str], config_dir: str) -> float:
    env = {**os.environ, "XDG_CONFIG_HOME": config_dir}
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        try:
            while not window_viewable(TITLE):
                if process.poll() is not None:
                    errors.seek(0)
                    tail = errors.read().decode(errors="replace")[-3000:]
                    raise RuntimeError(f"{command[0]} exited with status {process.returncode} "
                                       f"before showing a window:\n{tail}")
                if time.perf_counter() - start > TIMEOUT_S:
                    raise RuntimeError(f"no window after {TIMEOUT_S:.0f} s")
                time.sleep(POLL_S)
            return time.perf_counter() - start
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="time Level's start-up to its window")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command or not os.environ.get("DISPLAY"):
        parser.error("give the command after --, and run under an X display (xvfb-run)")
    times = []
    with tempfile.TemporaryDirectory(prefix="level-startup-") as config_dir:
        for _ in range(args.runs):
            times.append(time_to_window(command, config_dir))
    runs = ", ".join(f"{t:.2f}" for t in times)
    print(f"{' '.join(command)}: window shown after {statistics.median(times):.2f} s "
          f"(median of {len(times)}: {runs} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
