"""The window's long jobs as plain functions of (progress, cancel), for the Worker to run (Qt-free).

Heavy modules (the pipeline, DuckDB, torch through the embedder) are imported inside the jobs, so
they load in the worker thread when the work needs them, never at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from level_desktop.core.progress import CancelToken, ProgressCallback

if TYPE_CHECKING:
    from level_desktop.core.analysis import Analysis
    from level_desktop.core.document import SavePlan
    from level_desktop.core.duplicates import Duplicates
    from level_desktop.core.export import ExportData
    from level_desktop.core.loading import LoadedInput, SourceTable
    from level_desktop.core.settings import Settings
    from level_desktop.gui.worker import Job

ExportKind = Literal["weighted", "resampled"]


@dataclass
class ImageInput:
    """What inspecting found when the input is an image set: a folder of images, or a table
    with a column of image paths (analysed as images, no question asked)."""

    table: SourceTable
    image_column: str


def inspect_input(path: Path) -> Job:
    """Read a file and find its text column, so the window can ask when the choice is unclear;
    a folder of images or a table with a column of image paths gives an ImageInput."""

    def job(progress: ProgressCallback, cancel: CancelToken) -> LoadedInput | ImageInput:
        from level_desktop.core.images import image_column_of, read_input_table
        from level_desktop.core.loading import text_rows

        progress("load", 0.0, f"Reading {path.name}")
        table = read_input_table(path)
        image_column = image_column_of(table, None, None)
        if image_column is not None:
            progress("load", 1.0, f"{table.n_rows:,} images in column {image_column!r}")
            return ImageInput(table, image_column)
        loaded = text_rows(table)
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


def export_table(data: ExportData, target: Path, kind: ExportKind, seed: int,
                 n_rows: int | None = None) -> Job:
    """Write the weighted or the resampled CSV; the result is the number of rows written.
    `n_rows` (resampled only): exactly that many rows, drawn by the effective weights."""

    def job(progress: ProgressCallback, cancel: CancelToken) -> int:
        from level_desktop.core.export import write_budgeted, write_resampled, write_weighted

        progress("export", 0.0, f"Writing {target.name}")
        if kind == "weighted":
            rows = write_weighted(data, target)
        elif n_rows is not None:
            rows = write_budgeted(data, target, n_rows, seed=seed)
        else:
            rows = write_resampled(data, target, seed=seed)
        progress("export", 1.0, f"Wrote {rows:,} rows")
        return rows

    return job


def find_duplicate_groups(analysis: Analysis) -> Job:
    """Find the near-duplicate groups of the analysis's rows (core/duplicates.py, its measured
    defaults) on their vectors and clusters; the result is a `Duplicates`."""

    def job(progress: ProgressCallback, cancel: CancelToken) -> Duplicates:
        from level_desktop.core.duplicates import find_duplicates

        return find_duplicates(analysis.texts, analysis.embeddings, analysis.labels,
                               progress=progress, cancel=cancel)

    return job
