"""Shared pieces of the benchmark scripts: data paths, timing, medians, peak memory."""

from __future__ import annotations

import csv
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LEVEL_SHARED_DATA", REPO.parent / "shared" / "data"))
DEBIAN_20K_VECTORS = SHARED_DATA / "vectors" / "debian-20k-minilm.npz"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def debian_20k() -> tuple[list[dict[str, str]], np.ndarray]:
    """The 20,000 debian rows whose MiniLM vectors are precomputed, in the vectors' order."""
    data = np.load(DEBIAN_20K_VECTORS)
    by_name = {r["package"]: r for r in read_csv(SHARED_DATA / "debian-packages.csv")}
    rows = [by_name[str(p)] for p in data["package"]]
    return rows, data["vectors"].astype(np.float32)


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


class PrecomputedEmbedder:
    """Serves vectors made earlier by the same model (all-MiniLM-L6-v2), by row position."""

    def __init__(self, vectors: np.ndarray, name: str = "all-MiniLM-L6-v2 (precomputed)") -> None:
        self.vectors = vectors
        self.name = name
        self.cache_key = f"precomputed:{name}"
        self.device = "cpu"

    def encode(self, texts: list[str], progress=None, cancel=None) -> np.ndarray:
        if len(texts) != len(self.vectors):
            raise ValueError("the precomputed vectors are for another set of rows")
        return self.vectors


def ensure_display(script: str) -> None:
    """Re-run the calling script under xvfb-run when there is no X display."""
    import shutil
    import subprocess

    if os.environ.get("DISPLAY") or os.environ.get("LEVEL_BENCH_CHILD"):
        return
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        sys.exit(f"{script} needs an X display or xvfb-run")
    env = {**os.environ, "LEVEL_BENCH_CHILD": "1"}
    sys.exit(subprocess.call([xvfb, "-a", "-s", "-screen 0 1280x800x24 -noreset", sys.executable,
                              *sys.argv], env=env))


def start_window_app(work: Path) -> Any:
    """The QApplication of a window benchmark: GL contexts shared before it exists (as the app
    does, STACK-NOTES) and Qt's user settings in `work`/config, never the user's own."""
    from PySide6.QtCore import QCoreApplication, QSettings, Qt

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    work.mkdir(parents=True, exist_ok=True)
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope,
                      str(work / "config"))
    return app


def open_window(app: Any, analysis: Any, project: Path | None = None,
                in_sync: bool = False) -> Any:
    """Level's main window, shown with `analysis` (saved at `project`, or not) and settled:
    the first frames drawn before anything is timed."""
    from level_desktop.gui.preferences import Preferences
    from level_desktop.gui.window import MainWindow

    window = MainWindow(Preferences())
    window.show()
    window.show_analysis(analysis, project, in_sync=in_sync)
    for _ in range(30):
        app.processEvents()
    return window


def settle_camera(view: Any, app: Any) -> None:
    """Wait (at least a second, at most ten) until the 3D view's camera has ended its glide,
    so that a drill or a selection does not animate under the next timing."""
    deadline = time.monotonic() + 10
    while (view.flying and time.monotonic() < deadline) or deadline - time.monotonic() > 9:
        app.processEvents()


def window_run_conditions(load_before: list[float]) -> dict[str, Any]:
    """What a window benchmark's JSON records about the machine it ran on."""
    return {"load_average_before": load_before,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count(), "renderer": "Mesa llvmpipe (software) under Xvfb"}


def close_window_and_emit(window: Any, app: Any, result: dict[str, Any], out: Path) -> None:
    """Close a window benchmark's window without its save prompt, then emit the result."""
    window.document.mark_clean()
    window.close()
    app.quit()
    emit(result, out)


def frame_timer(view: Any, app: Any) -> Callable[[Callable[[], Any]], float]:
    """frame_ms(action): run `action` in the window and return the milliseconds until the
    terrain view's complete next frame (flushed and read back, so a software-GL frame is really
    drawn); the tree and panels then paint, untimed, before the next action."""

    def frame_ms(action: Callable[[], Any]) -> float:
        start = time.perf_counter()
        action()
        view.flush()
        view.grabFramebuffer()
        elapsed = (time.perf_counter() - start) * 1000
        view.doneCurrent()
        for _ in range(3):
            app.processEvents()
        return elapsed

    return frame_ms


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def emit(result: dict[str, Any], out: Path | None = None) -> None:
    """Print the JSON result and, if asked, keep a copy under benchmarks/results/."""
    text = json.dumps(result, indent=2, sort_keys=False)
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
    sys.stdout.flush()
