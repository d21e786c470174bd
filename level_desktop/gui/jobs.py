"""The window's long jobs as plain functions of (progress, cancel), for the Worker to run (Qt-free).

Heavy modules (the pipeline, DuckDB, torch through the embedder) are imported inside the jobs, so
they load in the worker thread when the work needs them, never at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from level_desktop.core.progress import CancelToken, ProgressCallback

if TYPE_CHECKING:
    from level_desktop.core.analysis import Analysis
    from level_desktop.core.document import SavePlan
    from level_desktop.core.export import ExportData
    from level_desktop.core.loading import LoadedInput
    from level_desktop.core.settings import Settings
    from level_desktop.gui.worker import Job

ExportKind = Literal["weighted", "resampled"]


def inspect_input(path: Path) -> Job:
    """Read a file and find its text column, so the window can ask when the choice is unclear."""

    def job(progress: ProgressCallback, cancel: CancelToken) -> LoadedInput:
        from level_desktop.core.loading import load_input

        progress("load", 0.0, f"Reading {path.name}")
        loaded = load_input(path)
        progress("load", 1.0, f"{loaded.table.n_rows:,} rows, {len(loaded.table.columns)} columns")
        return loaded

    return job


def analyze_input(path: Path | None, settings: Settings, previous: Analysis | None = None
                  ) -> Job:
    """Run the whole pipeline (reusing `previous`'s still-valid stages) with the embedding cache."""

    def job(progress: ProgressCallback, cancel: CancelToken) -> Analysis:
        from level_desktop.core.pipeline import analyze
        from level_desktop.core.store import EmbeddingCache

        return analyze(path, settings, progress=progress, cancel=cancel, previous=previous,
                       cache=EmbeddingCache())

    return job


def relabel_clusters(analysis: Analysis, settings: Settings, rename_all: bool = False) -> Job:
    """Name the clusters again with `settings.labeler`; clusters, map and weights stay, and so
    do the names the user gave unless `rename_all`."""

    def job(progress: ProgressCallback, cancel: CancelToken) -> Analysis:
        from level_desktop.core.pipeline import relabel

        return relabel(analysis, settings, progress=progress, cancel=cancel,
                       rename_all=rename_all)

    return job


def open_project(path: Path) -> Job:
    """Read a .level project and raise its terrain."""

    def job(progress: ProgressCallback, cancel: CancelToken) -> Analysis:
        from level_desktop.core.store import load_project

        progress("open", 0.0, f"Opening {path.name}")
        analysis = load_project(path)
        cancel.check()
        progress("terrain", 0.0, "Raising the terrain")
        analysis.terrain()
        progress("terrain", 1.0, "Done")
        return analysis

    return job


def save_project(plan: SavePlan) -> Job:
    """Write the project as the document planned it (in full, or just its weights)."""

    def job(progress: ProgressCallback, cancel: CancelToken) -> Path:
        progress("save", 0.0, f"Saving {plan.path.name}")
        plan.write()
        progress("save", 1.0, f"Saved {plan.path.name}")
        return plan.path

    return job


def export_table(data: ExportData, target: Path, kind: ExportKind, seed: int) -> Job:
    """Write the weighted or the resampled CSV; the result is the number of rows written."""

    def job(progress: ProgressCallback, cancel: CancelToken) -> int:
        from level_desktop.core.export import write_resampled, write_weighted

        progress("export", 0.0, f"Writing {target.name}")
        rows = write_weighted(data, target) if kind == "weighted" else write_resampled(
            data, target, seed=seed)
        progress("export", 1.0, f"Wrote {rows:,} rows")
        return rows

    return job
