"""Collapse duplicates on a 63k project → the next complete frame, in Level's real window.

On all 63,666 debian rows (the fast embedding path — MiniLM would take 20–55 minutes here — run
through the core pipeline with default settings otherwise, 100×100 terrain; built once and kept as
a project file in the work folder, with its near-duplicate groups found once by
`core.duplicates.find_duplicates` at the default threshold), each action goes through the
window's own path and is timed until the 3D view has rendered and read back a complete frame
(`grabFramebuffer()`), as `gui_drill.py` and `gui_redraw.py` time theirs:

* collapse: Edit > Collapse Duplicates with the groups known (the action → the document's
  undoable step → the balance → terrain, tree and panels);
* uncollapse: Undo of that step;
* groups arrive: what the GUI thread does when the background search returns (the groups set on
  the document, the tree's redundancy column and the selected hill's group list refreshed, then
  the collapse) — the search itself runs in the worker and is timed apart, in seconds.

Each is repeated at the top level and inside the largest topic (with a topic or cluster selected,
so the details panel lists its groups). Peer, in the same run and window: a weight change at the
same level (a topic's weight at the top, a cluster's inside a topic), the redraw a spin box
triggers; every action is reported as a ratio to it. The machine is shared: the load average is
recorded before and after.

Run: xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python benchmarks/gui_collapse.py
(it starts xvfb-run itself when there is no display). Writes benchmarks/results/gui_collapse.json.
"""

from __future__ import annotations

import argparse
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
    settle_camera,
    start_window_app,
    window_run_conditions,
    write_csv,
)
from gui_drill import summary

OUT = REPO / "benchmarks" / "results" / "gui_collapse.json"
TARGET_MEDIAN_MS = 100.0
REPEATS = 25  # per action and level


def debian_63k_project(work: Path) -> tuple[Path, dict]:
    """All debian rows analysed on the fast path, with their duplicate groups stored; built once
    (the times it took are returned the first time)."""
    from level_desktop.core.duplicates import find_duplicates
    from level_desktop.core.pipeline import analyze
    from level_desktop.core.settings import Settings
    from level_desktop.core.store import load_project, save_duplicate_groups, save_project

    project = work / "debian-63k-fast.level"
    if project.exists():
        try:
            if load_project(project).duplicate_groups is not None:
                return project, {"built": "loaded from the work folder"}
        except Exception:
            pass
        project.unlink()
    rows = read_csv(SHARED_DATA / "debian-packages.csv")
    csv_path = write_csv(work / "debian-63k.csv", rows, ["package", "section", "description"])
    start = time.perf_counter()
    analysis = analyze(csv_path, Settings(model="fast"))
    analysed = time.perf_counter() - start
    start = time.perf_counter()
    found = find_duplicates(analysis.texts, analysis.embeddings, analysis.labels)
    searched = time.perf_counter() - start
    save_project(analysis, project)
    save_duplicate_groups(project, found.group, found.threshold)
    return project, {"analysis_s": round(analysed, 1), "duplicate_search_s": round(searched, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "level-bench",
                        help="where the project is built once and kept")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    ensure_display("gui_collapse")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load_before = [round(x, 2) for x in os.getloadavg()]
    app = start_window_app(args.work)
    project, built = debian_63k_project(args.work)

    from level_desktop.core.duplicates import find_duplicates
    from level_desktop.core.store import load_project
    analysis = load_project(project)
    start = time.perf_counter()  # the worker's part, the same search the window's job runs
    found = find_duplicates(analysis.texts, analysis.embeddings, analysis.labels)
    search_s = time.perf_counter() - start
    groups = found.group
    assert analysis.duplicate_groups is not None
    assert np.array_equal(analysis.duplicate_groups, groups)  # as stored when built

    window = open_window(app, analysis, project, in_sync=True)
    view = window.landscape.terrain_view
    document = window.document

    frame_ms = frame_timer(view, app)

    frame_ms(lambda: None)  # warm-up
    topic = max(analysis.topics, key=lambda t: t.size).id
    cluster = analysis.topics[topic].cluster_ids[0]
    times: dict[str, list[float]] = {}
    for level in ("top", "within"):
        if level == "top":
            window.select_topic(topic)
        else:
            window.select_cluster(cluster)  # drills into its topic
        settle_camera(view, app)  # the camera's glide into the topic ends before timing
        for name in ("collapse", "uncollapse", "groups_arrive", "weight"):
            times[f"{name}_{level}"] = []
        for i in range(REPEATS):
            weight = 1.5 if i % 2 == 0 else 0.7
            times[f"weight_{level}"].append(frame_ms(
                (lambda w=weight: window.set_topic_weight(topic, w)) if level == "top"
                else (lambda w=weight: window.set_weight(cluster, w))))
            times[f"collapse_{level}"].append(frame_ms(window.collapse_duplicates_action.trigger))
            assert analysis.collapse_duplicates
            times[f"uncollapse_{level}"].append(frame_ms(document.undo))
            assert not analysis.collapse_duplicates
            times[f"groups_arrive_{level}"].append(frame_ms(
                lambda: window._on_duplicates_found(analysis, found)))
            assert analysis.collapse_duplicates
            document.undo()
            document.undo()  # the weight change
    stats = {name: summary(samples) for name, samples in times.items()}
    in_groups = int((groups >= 0).sum())
    result = {
        "benchmark": "gui_collapse",
        "data": f"debian-packages, all {analysis.n_rows:,} rows, fast embedding path "
                f"(MiniLM is 20-55 min here), default settings: {len(analysis.topics)} topics, "
                f"{len(analysis.clusters)} clusters; {found.n_groups:,} near-duplicate groups "
                f"of {in_groups:,} rows at cosine >= {found.threshold:g}",
        "project_build": built,
        "duplicate_search_in_worker_s": round(search_s, 2),
        "grid": f"{view.terrain.grid}x{view.terrain.grid}",
        "window": f"{window.width()}x{window.height()}",
        "terrain_view": f"{view.width()}x{view.height()}",
        "measured": "action → view.flush() → grabFramebuffer() returned; top level with the "
                    "largest topic selected, within: inside it with its first cluster selected",
        **{f"{name}_ms": value for name, value in stats.items()},
        "peer": "a weight change at the same level (topic weight at the top, cluster weight "
                "inside a topic), same window",
        **{f"ratio_{name}_{level}_vs_weight": round(
            stats[f"{name}_{level}"]["median_ms"] / stats[f"weight_{level}"]["median_ms"], 2)
           for level in ("top", "within") for name in ("collapse", "uncollapse",
                                                        "groups_arrive")},
        "target_median_ms": TARGET_MEDIAN_MS,
        "within_target": all(stats[f"{n}_{lv}"]["median_ms"] <= TARGET_MEDIAN_MS
                             for lv in ("top", "within") for n in ("collapse", "uncollapse")),
        **window_run_conditions(load_before),
    }
    close_window_and_emit(window, app, result, args.out)


if __name__ == "__main__":
    main()
