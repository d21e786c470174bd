"""`level --self-test`: prove an installation works, end to end (about a minute on 2 cores).

It analyses the bundled sample with the real pipeline (the bundled MiniLM, k-means, keyword
names; a PCA map to keep it quick, and no embedding cache, so the model really runs), then opens
the terrain view under the current display, renders one frame and checks that something was
drawn. It prints what it did and exits 0; any failure prints why and exits 1. The smoke test of
the packaged app (packaging/smoke_test.sh) runs it under xvfb-run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

if TYPE_CHECKING:
    from level_desktop.core.analysis import Analysis

FRAME_SIZE = (800, 600)
EXPOSE_TIMEOUT_S = 20.0
MIN_DRAWN_SHARE = 0.005  # of the frame's pixels that must differ from the background
EXIT_FAILED = 1


class SelfTestError(RuntimeError):
    """A check of the self-test failed; the message says which and why."""


def sample_path() -> Path:
    """The sample CSV shipped inside the package (inside the bundle when frozen)."""
    return Path(str(resources.files("level_desktop").joinpath("resources", "sample.csv")))


def check_display() -> str:
    """Fail early, with advice, when there is no display a GL widget could use."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform.startswith(("offscreen", "minimal")):
        raise SelfTestError(f"QT_QPA_PLATFORM={platform} cannot host the OpenGL terrain view; "
                            f"unset it and run under a display (or xvfb-run).")
    if sys.platform.startswith("linux") and not platform and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise SelfTestError('no display: run it under xvfb-run -a -s "-screen 0 1280x800x24" '
                            "(or from a desktop session).")
    return platform or os.environ.get("DISPLAY", "") or os.environ.get("WAYLAND_DISPLAY", "")


def run_analysis(path: Path) -> Analysis:
    """The real pipeline with the default settings (the map users get) and no embedding cache."""
    from level_desktop.core.pipeline import analyze
    from level_desktop.core.settings import Settings

    return analyze(path, Settings(), cache=None)


def frame_pixels(image: Any) -> np.ndarray:
    """(h, w, 3) uint8 RGB of a QImage."""
    from PySide6.QtGui import QImage

    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    height, width, stride = rgba.height(), rgba.width(), rgba.bytesPerLine()
    raw = np.frombuffer(rgba.constBits(), dtype=np.uint8, count=height * stride)
    return raw.reshape(height, stride)[:, :width * 4].reshape(height, width, 4)[..., :3].copy()


def render_terrain(analysis: Analysis) -> dict[str, Any]:
    """Open the GUI's terrain view for the analysis, draw one frame and measure it."""
    start = time.perf_counter()
    from PySide6.QtCore import QEventLoop
    from PySide6.QtGui import QColor

    from level_desktop.gui.main import create_application
    from level_desktop.gui.palette import cluster_colors
    from level_desktop.gui.terrain_view import BACKGROUND, TerrainView

    app = create_application([])
    qt_ready = time.perf_counter()
    view = TerrainView()
    try:
        view.resize(*FRAME_SIZE)
        view.setWindowTitle("Level self-test")
        # The top level: one hill per topic (per cluster for an analysis without topics).
        balance = analysis.balance()
        names = ([t.label for t in analysis.topics] if analysis.topics
                 else [c.label for c in analysis.clusters])
        scales = balance.hill_scales(None) if analysis.topics else balance.weights
        view.set_terrain(analysis.terrain(), names, cluster_colors(len(names)), scales)
        view.show()
        deadline = time.monotonic() + EXPOSE_TIMEOUT_S
        while not (view.windowHandle() is not None and view.windowHandle().isExposed()):
            if time.monotonic() > deadline:
                raise SelfTestError(f"the terrain view was not shown within {EXPOSE_TIMEOUT_S:.0f} s")
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        frame_start = time.perf_counter()
        image = view.grabFramebuffer()
        frame_s = time.perf_counter() - frame_start
        renderer = _gl_renderer()
        view.doneCurrent()
        pixels = frame_pixels(image)
        background = np.array(QColor(BACKGROUND).getRgb()[:3], dtype=np.int16)
        drawn = float(np.any(np.abs(pixels.astype(np.int16) - background) > 8, axis=2).mean())
        shown_labels = sum(1 for label in view.labels if label.shown)
    finally:
        view.close()
        view.deleteLater()
        app.processEvents()
    variance = float(pixels.reshape(-1, 3).astype(np.float64).var(axis=0).sum())
    if variance <= 0.0:
        raise SelfTestError("the terrain frame is a single flat colour (pixel variance 0)")
    if drawn < MIN_DRAWN_SHARE:
        raise SelfTestError(f"only {drawn:.2%} of the frame differs from the background: the "
                            f"terrain was not drawn")
    return {"platform": app.platformName(), "renderer": renderer,
            "width": pixels.shape[1], "height": pixels.shape[0], "variance": variance,
            "drawn": drawn, "labels_shown": shown_labels, "qt_s": qt_ready - start,
            "frame_s": frame_s}


def _gl_renderer() -> str:
    """The GL renderer's name while the view's context is current ("?" if it cannot be read)."""
    try:
        from OpenGL import GL

        name = GL.glGetString(GL.GL_RENDERER)
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:
        return "?"


def model_location() -> str:
    """The bundled model's folder, and whether it lies inside the packaged app."""
    from level_desktop.core.embedding import bundled_model_path

    path = bundled_model_path()
    if not (path / "modules.json").exists() and not (path / "config.json").exists():
        raise SelfTestError(f"the bundled model folder {path} holds no model")
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is None:
        return f"{path} (installed package)"
    if not path.resolve().is_relative_to(Path(bundle).resolve()):
        raise SelfTestError(f"the model was found outside the bundle: {path}")
    return f"{path} (inside the bundle)"


def report(out: TextIO, data: Path, analysis: Analysis, model: str, frame: dict[str, Any],
           elapsed: float) -> None:
    """The short account the smoke test reads."""
    labels = [c.label for c in analysis.clusters]
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in analysis.timings.items())
    lines = [
        f"Level self-test: {'packaged app' if getattr(sys, 'frozen', False) else 'source install'}"
        f" (Python {sys.version.split()[0]})",
        f"data: {data.name}, {analysis.n_rows} rows with text (column {analysis.source.text_column!r})",
        f"model: {analysis.model} on {analysis.device}; {model}",
        f"clusters: {len(labels)} ({analysis.settings.method}), noise {analysis.noise_size}; "
        f"projection {analysis.settings.projection}",
        "labels: " + "; ".join(labels),
        f"analysis: {stages}",
        f"render: {frame['width']}x{frame['height']} frame on {frame['platform']} "
        f"({frame['renderer']}) in {frame['frame_s']:.2f}s after Qt start {frame['qt_s']:.2f}s; "
        f"pixel variance {frame['variance']:.0f}, {frame['drawn']:.0%} drawn, "
        f"{frame['labels_shown']} labels shown",
        f"self-test passed in {elapsed:.1f}s",
    ]
    out.write("\n".join(lines) + "\n")
    out.flush()


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Run the self-test; 0 when every check passed, 1 (and the reason on stderr) otherwise."""
    parser = argparse.ArgumentParser(prog="level --self-test", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="the table to analyse (default: the bundled sample)")
    args = parser.parse_args(argv or [])
    out = out or sys.stdout
    start = time.perf_counter()
    try:
        check_display()
        data = args.data or sample_path()
        if not data.is_file():
            raise SelfTestError(f"the sample data is missing: {data}")
        model = model_location()
        analysis = run_analysis(data)
        if not analysis.clusters:
            raise SelfTestError("the analysis found no clusters")
        frame = render_terrain(analysis)
    except Exception as err:
        if not isinstance(err, SelfTestError):
            traceback.print_exc(file=sys.stderr)
        sys.stderr.write(f"Level self-test FAILED: {err}\n")
        return EXIT_FAILED
    report(out, data, analysis, model, frame, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
