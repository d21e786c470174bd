"""Weight change → terrain redrawn, in Level's 3D view, against pyqtgraph's own shaded surface.

For each grid size, 100 weight changes go through `TerrainView.show_weights` (what a spin box
reaches) and each is timed to a complete frame, two ways: rendered and read back with
`grabFramebuffer()` (the figure the target applies to), and on screen (until `frameSwapped`,
which adds the window system's composition). The peer is pyqtgraph's own lit path,
`GLSurfacePlotItem(shader="shaded", computeNormals=True, smooth=True)` fed the same heights and
grabbed the same way, in the same process and window size. The empty frame's cost (nothing
changed, only composition) is printed as the platform's floor. One JSON line per grid size.

Run: xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python benchmarks/gui_redraw.py [--out FILE]
(it starts xvfb-run itself when there is no display; --out also keeps the lines as a JSON list).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ensure_display

GRIDS = (100, 200)
CHANGES = 100
PEER_CHANGES = {100: 20, 200: 10}  # the peer takes 10-20× longer per frame
WINDOW = (1000, 700)
CLUSTERS = 24
TARGET_MEDIAN_MS = 33.0


def synthetic_analysis(grid: int, seed: int = 42):
    """A terrain like a real run's: CLUSTERS blobs of lopsided sizes on a 2-D map."""
    from level_desktop.core.terrain import build_terrain

    rng = np.random.default_rng(seed)
    sizes = np.sort((rng.pareto(1.1, CLUSTERS) * 60 + 15).astype(int))[::-1]
    centers = rng.uniform(-8, 8, size=(CLUSTERS, 2))
    labels = np.repeat(np.arange(CLUSTERS), sizes).astype(np.int32)
    positions = centers[labels] + rng.normal(scale=1.0, size=(len(labels), 2))
    return build_terrain(positions, labels, sizes, grid)


def weight_sequence(n: int, k: int, seed: int = 7) -> list[np.ndarray]:
    """n weight vectors, each one spin-box step away from the last."""
    rng = np.random.default_rng(seed)
    weights = np.ones(k)
    out = []
    for _ in range(n):
        weights = weights.copy()
        weights[rng.integers(k)] = float(rng.choice([0.2, 0.5, 1.0, 1.5, 2.5]))
        out.append(weights)
    return out


def summary(samples: list[float]) -> tuple[float, float]:
    return round(float(np.median(samples)), 2), round(float(np.percentile(samples, 95)), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="also write the results as a JSON list here")
    args = parser.parse_args()
    ensure_display("gui_redraw")
    from PySide6.QtCore import QCoreApplication, Qt

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    import pyqtgraph.opengl as gl

    from level_desktop.gui.palette import cluster_colors
    from level_desktop.gui.terrain_view import TerrainView

    def wait_for_frame(view, frames: list[float], before: int) -> None:
        deadline = time.perf_counter() + 5
        while len(frames) == before and time.perf_counter() < deadline:
            app.processEvents()

    results: list[dict] = []
    for grid in GRIDS:
        terrain = synthetic_analysis(grid)
        k = len(terrain.centers)
        changes = weight_sequence(CHANGES, k)
        ours = TerrainView()
        ours.resize(*WINDOW)
        ours.show()
        ours.set_terrain(terrain, [f"cluster {c} words" for c in range(k)], cluster_colors(k),
                         np.ones(k))
        for _ in range(30):
            app.processEvents()
        ours.grabFramebuffer()
        grab_ms = []
        for weights in changes:
            start = time.perf_counter()
            ours.show_weights(weights)
            ours.redraw_now()
            ours.grabFramebuffer()
            grab_ms.append((time.perf_counter() - start) * 1000)
        ours.doneCurrent()
        frames: list[float] = []
        ours.frameSwapped.connect(lambda frames=frames: frames.append(time.perf_counter()))
        screen_ms, empty_ms = [], []
        for weights in changes:
            before = len(frames)
            start = time.perf_counter()
            ours.show_weights(weights)
            wait_for_frame(ours, frames, before)
            screen_ms.append((time.perf_counter() - start) * 1000)
        for _ in range(30):
            before = len(frames)
            start = time.perf_counter()
            ours.update()
            wait_for_frame(ours, frames, before)
            empty_ms.append((time.perf_counter() - start) * 1000)
        ours.close()

        peer = gl.GLViewWidget()
        peer.resize(*WINDOW)
        peer.setCameraPosition(distance=27, elevation=38, azimuth=-62)
        surface = gl.GLSurfacePlotItem(x=np.linspace(-10, 10, grid), y=np.linspace(-10, 10, grid),
                                       z=terrain.heights(np.ones(k)) * 0.6, shader="shaded",
                                       computeNormals=True, smooth=True, color=(0.5, 0.6, 0.8, 1))
        peer.addItem(surface)
        peer.show()
        for _ in range(30):
            app.processEvents()
        peer.grabFramebuffer()
        peer_ms = []
        for weights in changes[:PEER_CHANGES[grid]]:
            start = time.perf_counter()
            surface.setData(z=terrain.heights(weights) * 0.6)
            peer.grabFramebuffer()
            peer_ms.append((time.perf_counter() - start) * 1000)
        peer.doneCurrent()
        peer.close()

        ours_median, ours_p95 = summary(grab_ms)
        peer_median, peer_p95 = summary(peer_ms)
        screen_median, screen_p95 = summary(screen_ms)
        results.append({
            "benchmark": "gui_redraw", "grid": f"{grid}x{grid}", "window": "x".join(map(str, WINDOW)),
            "clusters": k, "changes": CHANGES,
            "ours_median_ms": ours_median, "ours_p95_ms": ours_p95,
            "ours_on_screen_median_ms": screen_median, "ours_on_screen_p95_ms": screen_p95,
            "empty_frame_on_screen_median_ms": summary(empty_ms)[0],
            "peer": "pyqtgraph GLSurfacePlotItem(shader='shaded', computeNormals=True, smooth=True)",
            "peer_changes": len(peer_ms), "peer_median_ms": peer_median, "peer_p95_ms": peer_p95,
            "speedup_vs_peer": round(peer_median / ours_median, 1),
            "target_median_ms": TARGET_MEDIAN_MS if grid == 100 else None,
            "renderer": "Mesa llvmpipe (software) under Xvfb",
        })
        print(json.dumps(results[-1]), flush=True)
    app.quit()
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
