"""Start-up to first window shown: median of 5 cold starts, each a new Python process.

Each start runs the same code as `level-desktop` (create_application, then open_main_window) and
reports the moment the window is exposed on screen; the clock starts before the process is
spawned. The peer is the bare `python -c "import PySide6.QtWidgets"`, spawn to exit, in the same
run. Prints one JSON line.

Run: xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python benchmarks/gui_startup.py
(it starts xvfb-run itself when there is no display).
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

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ensure_display

RUNS = 5
TARGET_S = 2.0
SHOWN = "WINDOW-SHOWN"
LEVEL_START = f"""
from level_desktop.gui.main import create_application, open_main_window
from PySide6.QtCore import QTimer
app = create_application([])
window = open_main_window([])
def check():
    handle = window.windowHandle()
    if handle is not None and handle.isExposed():
        print("{SHOWN}", flush=True)
        app.quit()
    else:
        QTimer.singleShot(2, check)
QTimer.singleShot(0, check)
app.exec()
"""
PEER_START = "import PySide6.QtWidgets"


def time_level_start(env: dict[str, str]) -> float:
    """Seconds from spawning the process to the window being exposed."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", LEVEL_START], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, env=env)
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == SHOWN:
            elapsed = time.perf_counter() - start
            break
    else:
        raise RuntimeError("the window never showed")
    process.wait(timeout=60)
    return elapsed


def time_peer_start(env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", PEER_START], check=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="also write the result as JSON here")
    args = parser.parse_args()
    ensure_display("gui_startup")
    with tempfile.TemporaryDirectory() as config:
        env = {**os.environ, "XDG_CONFIG_HOME": config}  # never the user's own settings
        time_level_start(env)  # warm the OS file cache once, as any second launch finds it
        level = [time_level_start(env) for _ in range(RUNS)]
        peer = [time_peer_start(env) for _ in range(RUNS)]
    median, peer_median = float(np.median(level)), float(np.median(peer))
    result = {
        "benchmark": "gui_startup", "runs": RUNS,
        "level_window_shown_median_s": round(median, 3),
        "level_window_shown_s": [round(t, 3) for t in level],
        "peer": "python -c 'import PySide6.QtWidgets' (spawn to exit)",
        "peer_median_s": round(peer_median, 3),
        "over_peer_s": round(median - peer_median, 3),
        "target_s": TARGET_S,
        "python": Path(sys.executable).name,
    }
    print(json.dumps(result), flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
