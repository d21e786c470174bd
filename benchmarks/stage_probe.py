"""One analysis in this process, timed and its memory watched stage by stage (used by
million_rows.py, which runs it in a fresh process per case).

    python benchmarks/stage_probe.py INPUT OUT.level [--vectors-column C] [--model fast]

Prints one JSON object: per stage its seconds (wall, and CPU: this process's user + system
time, which another user's load on the machine inflates far less) and the peak RSS while it
ran (a thread reads /proc/self/status every 50 ms), the save and a reopen likewise, and the
whole run's peak RSS (getrusage, which no sampling can miss).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class StageWatch:
    """Peak RSS and time per named phase; the phase changes when the pipeline reports a new
    stage (its progress callback) or when the caller says so."""

    def __init__(self) -> None:
        self.phase = "start"
        self.started = time.perf_counter()
        self.peaks: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._phase_start = self.started
        self._phase_cpu = time.process_time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            rss = rss_mb()
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), rss)
            time.sleep(0.05)

    def enter(self, phase: str) -> None:
        if phase == self.phase:
            return
        now, cpu = time.perf_counter(), time.process_time()
        self.seconds[self.phase] = self.seconds.get(self.phase, 0.0) + now - self._phase_start
        self.cpu[self.phase] = self.cpu.get(self.phase, 0.0) + cpu - self._phase_cpu
        self._phase_cpu = cpu
        rss = rss_mb()
        self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), rss)
        self.phase, self._phase_start = phase, now
        self.peaks[phase] = max(self.peaks.get(phase, 0.0), rss)

    def progress(self, stage: str, fraction: float, message: str) -> None:
        self.enter(stage)

    def stop(self) -> None:
        self.enter("end")
        self._stop.set()
        self._thread.join()


def dump_vectors(analysis, path: Path) -> None:
    """The analysed rows' id (their row in the input), text and float32 vector, as Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors = analysis.embeddings
    table = pa.table({
        "id": pa.array(analysis.row_index),
        "text": pa.array(analysis.texts, pa.string()),
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()),
                                                       vectors.shape[1])})
    table = table.replace_schema_metadata({"level.model": analysis.model})
    pq.write_table(table, path, row_group_size=65_536)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--vectors-column")
    parser.add_argument("--model", default="fast")
    parser.add_argument("--dump-vectors", help="after saving, write id, text and the float32 "
                        "vectors to this Parquet file (not timed)")
    args = parser.parse_args()

    watch = StageWatch()
    from level_desktop.core.pipeline import analyze
    from level_desktop.core.settings import Settings
    from level_desktop.core.store import EmbeddingCache, load_project, save_project

    watch.enter("imports")
    settings = Settings(model=args.model, vectors_column=args.vectors_column)
    analysis = analyze(args.input, settings, progress=watch.progress, cache=EmbeddingCache())
    watch.enter("save")
    save_project(analysis, args.output)
    rows, clusters, topics = analysis.n_rows, len(analysis.clusters), len(analysis.topics)
    pipeline_timings = analysis.timings
    if args.dump_vectors:
        watch.enter("dump")
        dump_vectors(analysis, Path(args.dump_vectors))
    del analysis
    watch.enter("open")
    opened = load_project(args.output)
    watch.enter("export")
    from level_desktop.core.export import write_weighted

    exported = Path(args.output).with_suffix(".weighted.csv")
    write_weighted(opened.export_data(), exported)
    exported_mb = round(exported.stat().st_size / 1e6, 1)
    exported.unlink()
    watch.enter("after")
    watch.stop()
    order = ["imports", "load", "embed", "cluster", "label", "topics", "project", "terrain",
             "save", "dump", "open", "export"]
    stages = {s: {"s": round(watch.seconds.get(s, 0.0), 2),
                  "cpu_s": round(watch.cpu.get(s, 0.0), 2),
                  "peak_rss_mb": round(watch.peaks.get(s, 0.0))} for s in order
              if s in watch.seconds}
    until_saved = [v for k, v in stages.items() if k not in ("open", "export", "dump")]
    print(json.dumps({
        "rows": rows, "opened_rows": opened.n_rows, "clusters": clusters, "topics": topics,
        "stages": stages, "pipeline_timings": pipeline_timings,
        "to_saved_project_s": round(sum(v["s"] for v in until_saved), 1),
        "to_saved_project_cpu_s": round(sum(v["cpu_s"] for v in until_saved), 1),
        "peak_rss_mb_to_saved_project": max(v["peak_rss_mb"] for v in until_saved),
        "weighted_export_mb": exported_mb,
        "file_mb": round(Path(args.output).stat().st_size / 1e6, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))


if __name__ == "__main__":
    main()
