"""A weight change → the next complete frame, in Level's real window, on a million-row project
against a 20,000-row one (issue 19: "the window stays as responsive as with 20k rows").

The 1M project is the one `million_rows.py --keep DIR` saves (DIR/vectors.level: a million rows
from vectors, default settings); the peer is the first 20,000 rows of the same vectors file
(DIR/million.parquet) analysed the same way, built once into the work folder. Both are opened
from their files as the window opens a project (so the 1M one leaves its vectors in the file),
shown in the same window in turn (three rounds, alternating, so both meet the same load), and
timed as `gui_collapse.py` times its peer: a topic's weight at the top level, a cluster's inside
the largest topic, each until the 3D view has rendered and read back a complete frame
(`common.frame_timer`). Also recorded: opening
(`load_project`) and showing (`show_analysis` to its first frame), and whether any of it read
the vectors. The machine is shared: the load average is recorded before and after.

Run: xvfb-run -a -s "-screen 0 1280x800x24 -noreset" .venv/bin/python benchmarks/gui_million.py --dir DIR
(it starts xvfb-run itself when there is no display). Writes benchmarks/results/gui_million.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (
    REPO,
    close_window_and_emit,
    ensure_display,
    frame_timer,
    median,
    peak_rss_mb,
    settle_camera,
    start_window_app,
    window_run_conditions,
)
from gui_drill import summary

OUT = REPO / "benchmarks" / "results" / "gui_million.json"
REPEATS = 20  # weight changes per level, project and round
ROUNDS = 3  # the projects alternate: 20k, 1M, 20k, 1M, ...
PEER_ROWS = 20_000


def peer_project(million_parquet: Path, work: Path) -> Path:
    """The first PEER_ROWS rows of the million vectors, analysed and saved once."""
    import pyarrow.parquet as pq

    from level_desktop.core.pipeline import analyze
    from level_desktop.core.settings import Settings
    from level_desktop.core.store import save_project

    project = work / "million-first-20k.level"
    if project.exists():
        return project
    table = pq.ParquetFile(million_parquet).read_row_group(0)
    for i in range(1, 4):
        if table.num_rows >= PEER_ROWS:
            break
        import pyarrow as pa

        table = pa.concat_tables([table, pq.ParquetFile(million_parquet).read_row_group(i)])
    part = work / "million-first-20k.parquet"
    pq.write_table(table.slice(0, PEER_ROWS), part)
    save_project(analyze(part, Settings(model="fast", vectors_column="embedding")), project)
    return project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, required=True,
                        help="million_rows.py's --keep folder (vectors.level, million.parquet)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "level-bench")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    ensure_display("gui_million")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load_before = [round(x, 2) for x in os.getloadavg()]
    app = start_window_app(args.work)
    projects = {"rows_20k": peer_project(args.dir / "million.parquet", args.work),
                "rows_1m": args.dir / "vectors.level"}

    from level_desktop.core.store import load_project
    from level_desktop.gui.preferences import Preferences
    from level_desktop.gui.window import MainWindow

    window = MainWindow(Preferences())
    window.show()
    result: dict = {"benchmark": "gui_million"}
    samples = {name: {"open_s": [], "show_ms": [], "weight_top": [], "weight_within": []}
               for name in projects}
    for round_ in range(ROUNDS):  # the two projects alternate, so both meet the same load
        for name, project in projects.items():
            start = time.perf_counter()
            analysis = load_project(project)
            samples[name]["open_s"].append(time.perf_counter() - start)
            start = time.perf_counter()
            window.show_analysis(analysis, project, in_sync=True)
            view = window.landscape.terrain_view  # the window builds its landscape per analysis
            view.flush()
            view.grabFramebuffer()
            samples[name]["show_ms"].append((time.perf_counter() - start) * 1000)
            view.doneCurrent()
            frame_ms = frame_timer(view, app)
            for _ in range(30):
                app.processEvents()
            topic = max(analysis.topics, key=lambda t: t.size).id
            cluster = analysis.topics[topic].cluster_ids[0]
            frame_ms(lambda: None)  # warm-up
            for level in ("top", "within"):
                if level == "top":
                    window.select_topic(topic)
                else:
                    window.select_cluster(cluster)  # drills into its topic
                settle_camera(view, app)  # the camera's glide ends before timing
                for i in range(REPEATS):
                    weight = 1.5 if i % 2 == 0 else 0.7
                    samples[name][f"weight_{level}"].append(frame_ms(
                        (lambda w=weight, t=topic: window.set_topic_weight(t, w))
                        if level == "top"
                        else (lambda w=weight, c=cluster: window.set_weight(c, w))))
            result[name] = {"rows": analysis.n_rows, "topics": len(analysis.topics),
                            "clusters": len(analysis.clusters),
                            "open_s": round(median(samples[name]["open_s"]), 2),
                            "show_to_first_frame_ms": round(median(samples[name]["show_ms"]), 1),
                            **{f"{k}_ms": summary(samples[name][k])
                               for k in ("weight_top", "weight_within")},
                            "vectors_read": analysis.vectors_in_memory,
                            "peak_rss_mb_so_far": round(peak_rss_mb())}
            window.document.mark_clean()
            print(f"round {round_ + 1} {name}: top {summary(samples[name]['weight_top'])}",
                  file=sys.stderr)
    for level in ("top", "within"):
        result[f"ratio_weight_{level}_1m_vs_20k"] = round(
            result["rows_1m"][f"weight_{level}_ms"]["median_ms"]
            / result["rows_20k"][f"weight_{level}_ms"]["median_ms"], 2)
    result.update({
        "measured": "action → view.flush() → grabFramebuffer() returned; top: a topic's weight "
                    "with the largest topic selected; within: a cluster's weight inside it",
        "peer": f"the first {PEER_ROWS:,} rows of the same vectors, same settings, same window",
        "rounds": f"{ROUNDS} rounds, the projects alternating; {REPEATS} changes per level, "
                  "project and round; medians over all of a project's changes",
        "grid": f"{view.terrain.grid}x{view.terrain.grid}",
        "window": f"{window.width()}x{window.height()}",
        **window_run_conditions(load_before)})
    close_window_and_emit(window, app, result, args.out)


if __name__ == "__main__":
    main()
