"""Redraw with a comparison set drawn over the landscape → the next complete frame, with vs without.

Issue 17 asks that laying a comparison set over the landscape leave the redraw unchanged. On a
20,000-row debian project (the fast embedding path, default settings otherwise, 100×100
terrain; the rows and the 5,000-row comparison set are `comparison.py add_time`'s: the same
seeded draw) the window's own actions are timed until the 3D view has rendered and read back a
complete frame (`grabFramebuffer()`, `common.frame_timer`, as `gui_drill.py` times them): a
topic's weight at the top, drilling into the topic, a cluster's weight inside it, and back.
Every topic with at least two clusters is visited, once without the comparison set and once with
it (the translucent second surface and the Compared column), alternating in rounds so that a
change of machine load falls on both alike; medians over all actions and per round.
Also timed: the frame after the set is laid over the view (`Document.set_comparison`, what the
window does when the worker returns), against a topic weight change.

Run: xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python benchmarks/gui_comparison.py
(it starts xvfb-run itself when there is no display). Writes
benchmarks/results/gui_comparison.json.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (
    REPO,
    SHARED_DATA,
    close_window_and_emit,
    ensure_display,
    frame_timer,
    open_window,
    read_csv,
    start_window_app,
    window_run_conditions,
    write_csv,
)
from gui_drill import summary

OUT = REPO / "benchmarks" / "results" / "gui_comparison.json"
SEED = 42  # comparison.py add_time's draw
ROUNDS = 3
COLUMNS = ["package", "section", "description"]
ACTIONS = ("weight_topic", "drill", "weight_cluster", "back")


def project_and_comparison(work: Path):
    """(analysis, comparison set): the 20k project built once per version of the core's code and
    kept in the work folder; the 5k set compared with it on every run (its fit read back)."""
    from level_desktop.core.comparing import compare_file
    from level_desktop.core.pipeline import analyze
    from level_desktop.core.settings import Settings
    from level_desktop.core.store import load_project, save_project

    rows = [r for r in read_csv(SHARED_DATA / "debian-packages.csv") if r["description"].strip()]
    order = np.random.default_rng(SEED).permutation(len(rows))
    core = REPO / "level_desktop" / "core"
    digest = hashlib.sha1(b"".join(p.read_bytes() for p in sorted(core.rglob("*.py"))))
    project = work / f"debian-20k-fast-{digest.hexdigest()[:10]}.level"
    other = write_csv(work / "compare-5k.csv", [rows[i] for i in order[20_000:25_000]], COLUMNS)
    built = 0.0
    analysis = None
    if project.exists():
        try:
            analysis = load_project(project)
        except Exception:
            project.unlink()
    if analysis is None:
        training = write_csv(work / "train-20k.csv", [rows[i] for i in order[:20_000]], COLUMNS)
        start = time.perf_counter()
        analysis = analyze(training, Settings(model="fast", text_column="description"))
        built = time.perf_counter() - start
        save_project(analysis, project)
    start = time.perf_counter()
    comparison = compare_file(analysis, other, cache=None)
    return analysis, comparison, built, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "level-bench",
                        help="where the project is built once and kept")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    ensure_display("gui_comparison")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("LEVEL_CACHE_DIR", str(args.work / "cache"))
    load_before = [round(x, 2) for x in os.getloadavg()]
    app = start_window_app(args.work)
    analysis, comparison, built_s, compare_s = project_and_comparison(args.work)

    window = open_window(app, analysis)
    view = window.landscape.terrain_view
    document = window.document
    frame_ms = frame_timer(view, app)
    # Warm-up, once with the set: its dock appears and stays (without the set too), so the
    # 3D view has the same size in both states.
    frame_ms(lambda: document.set_comparison(comparison))
    for _ in range(30):
        app.processEvents()
    frame_ms(lambda: document.set_comparison(None))
    frame_ms(lambda: None)

    topics = [t.id for t in analysis.topics if len(t.cluster_ids) >= 2]
    states = ("without", "with")
    times = {s: {a: [] for a in ACTIONS} for s in states}
    per_round: dict[str, dict[str, list[float]]] = {s: {a: [] for a in ACTIONS} for s in states}
    lay_over: list[float] = []
    lay_over_peer: list[float] = []
    for round_ in range(args.rounds):
        for state in states:
            if state == "with":
                lay_over_peer.append(frame_ms(lambda: window.set_topic_weight(topics[0], 1.0)))
                lay_over.append(frame_ms(lambda: document.set_comparison(comparison)))
                assert view.overlay_heights is not None
            else:
                document.set_comparison(None)
                assert view.overlay_heights is None
            for _ in range(10):
                app.processEvents()
            this_round: dict[str, list[float]] = {a: [] for a in ACTIONS}
            for topic in topics:
                weight = 1.5 if round_ % 2 == 0 else 0.7
                cluster = analysis.topics[topic].cluster_ids[0]
                this_round["weight_topic"].append(frame_ms(
                    lambda t=topic, w=weight: window.set_topic_weight(t, w)))
                this_round["drill"].append(frame_ms(lambda t=topic: window.drill(t)))
                this_round["weight_cluster"].append(frame_ms(
                    lambda c=cluster, w=weight: window.set_weight(c, w)))
                this_round["back"].append(frame_ms(window.go_back))
            for action, samples in this_round.items():
                times[state][action].extend(samples)
                per_round[state][action].append(round(float(np.median(samples)), 2))
    stats = {state: {action: summary(samples) for action, samples in by_action.items()}
             for state, by_action in times.items()}
    result = {
        "benchmark": "gui_comparison",
        "data": f"debian 20,000 rows (fast path, default settings): {len(analysis.topics)} "
                f"topics, {len(analysis.clusters)} clusters; comparison set of "
                f"{comparison.n_placed:,} other debian rows (seed {SEED}, as comparison.py "
                f"add_time)",
        "project_build_s": round(built_s, 1) if built_s else "loaded from the work folder",
        "compare_file_s": round(compare_s, 2),
        "grid": f"{view.terrain.grid}x{view.terrain.grid}",
        "window": f"{window.width()}x{window.height()}",
        "terrain_view": f"{view.width()}x{view.height()}",
        "measured": "action → view.flush() → grabFramebuffer() returned; each topic with >= 2 "
                    "clusters: its weight at the top, drill into it, a cluster's weight inside, "
                    f"back; {args.rounds} rounds, each without then with the comparison set",
        "rounds": args.rounds,
        "actions_per_state": {a: len(times["with"][a]) for a in ACTIONS},
        "without_ms": stats["without"],
        "with_ms": stats["with"],
        "per_round_median_ms": per_round,
        "ratio_with_vs_without": {
            a: round(stats["with"][a]["median_ms"] / stats["without"][a]["median_ms"], 2)
            for a in ACTIONS},
        "lay_over_frame_ms": summary(lay_over),
        "lay_over_peer_topic_weight_ms": summary(lay_over_peer),
        "ratio_lay_over_vs_topic_weight": round(float(np.median(lay_over))
                                                / float(np.median(lay_over_peer)), 2),
        **window_run_conditions(load_before),
    }
    close_window_and_emit(window, app, result, args.out)


if __name__ == "__main__":
    main()
