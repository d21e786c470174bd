"""The export stage: a weighted CSV or a resampled CSV, written atomically.

Weighted: every input row in its original order with its original columns, plus `cluster_id`
(−1 = noise, empty for rows without text), `cluster_label`, `topic_id`, `topic_label` (when the
analysis has topics) and `weight` = topic weight × cluster weight (0 for rows without text,
which no model can learn from). Resampled: per cluster round(size × weight) rows — fewer are drawn
without replacement, more keep every row and draw the rest with replacement — seeded, in input order.
With duplicates collapsed, a cluster's size counts each near-duplicate group once, so it gives
round(Σ effective row weights) rows, at most one per group unless that needs more
(`collapsed_resample_positions`).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

import numpy as np

from level_desktop.core.atomic import atomic_text
from level_desktop.core.decoding import DecodeReport, display_name
from level_desktop.core.errors import ExportError
from level_desktop.core.registry import Registry

ADDED_COLUMNS = ("cluster_id", "cluster_label", "weight")
TOPIC_COLUMNS = ("cluster_id", "cluster_label", "topic_id", "topic_label", "weight")


@dataclass
class ExportData:
    """What an export needs, independent of where it came from (a run or a project file)."""

    source_path: str
    columns: dict[str, list[str]]  # the input's columns, as read
    row_index: np.ndarray  # original positions of the rows that have text
    labels: np.ndarray  # cluster per row in `row_index` (−1 = noise)
    cluster_names: dict[int, str]
    weights: dict[int, float]
    noise_weight: float = 1.0
    source_decoding: DecodeReport | None = None  # how the input's bytes became text
    duplicate_groups: np.ndarray | None = None  # group per row in `row_index` (−1 = unique)
    collapse_duplicates: bool = False  # each duplicate group weighs as one row
    cluster_topic: dict[int, int] = field(default_factory=dict)  # empty: no topic columns
    topic_names: dict[int, str] = field(default_factory=dict)
    topic_weights: dict[int, float] = field(default_factory=dict)
    # Issue 17: per analysed row, columns added after the others (`in_comparison`, `leak`), and
    # rows that weigh 0 and are never drawn (training rows an eval set copies, when zeroed).
    comparison_columns: dict[str, np.ndarray] = field(default_factory=dict)
    excluded: np.ndarray | None = None

    @property
    def has_topics(self) -> bool:
        return bool(self.cluster_topic)

    def row_weight_of_clusters(self) -> dict[int, float]:
        """The weight each cluster's rows carry: cluster weight × its topic's weight."""
        clusters = set(self.weights) | set(self.cluster_topic)
        return {c: self.weights.get(c, 1.0) * self.topic_weights.get(
            self.cluster_topic.get(c, -1), 1.0) for c in clusters}

    @property
    def conversion_note(self) -> str | None:
        """What an export (always UTF-8) changed relative to the input's bytes, or None when
        every cell is the input's own UTF-8, byte for byte."""
        report = self.source_decoding
        if report is None or report.lossless_utf8:
            return None
        name = display_name(report.encoding)
        replaced = (f"{report.replaced_bytes:,} invalid byte"
                    f"{'s' if report.replaced_bytes != 1 else ''} in {report.replaced_rows:,} "
                    f"row{'s' if report.replaced_rows != 1 else ''} written as U+FFFD (�)")
        if report.replaced_bytes and name == "UTF-8":
            return f"The input was not valid UTF-8: {replaced} in this UTF-8 export."
        if report.replaced_bytes:
            return f"The input was {name}; the export is converted to UTF-8, and {replaced}."
        return f"The input was {name}; the export is converted to UTF-8."


class _RowWriter:
    """csv.writer with "\n" line ends that also quotes every field of a row holding a lone "\r":
    csv's minimal quoting looks only for the line terminator's characters, and an unquoted "\r"
    would split the row for every reader."""

    def __init__(self, handle: IO[str], delimiter: str) -> None:
        self._minimal = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
        self._quoted = csv.writer(handle, delimiter=delimiter, lineterminator="\n",
                                  quoting=csv.QUOTE_ALL)

    def writerow(self, row: Sequence[object]) -> None:
        if any(isinstance(v, str) and "\r" in v for v in row):
            self._quoted.writerow(row)
        else:
            self._minimal.writerow(row)


def _check_target(target: Path, source_path: str) -> None:
    if target.suffix.lower() not in (".csv", ".tsv", ".txt"):
        raise ExportError(f"Export to a .csv or .tsv file (got {target.name}).")
    if not target.parent.exists():
        raise ExportError(f"The folder {target.parent} does not exist.")
    source = Path(source_path)
    if target.exists() and source.exists() and target.resolve() == source.resolve():
        raise ExportError(
            f"{target.name} is the input file; exporting over it would destroy the original. "
            f"Choose another name.")


def _added_names(existing: list[str], topics: bool = False) -> list[str]:
    """The added columns' names, suffixed with _level where the input already has that name."""
    out = []
    for name in TOPIC_COLUMNS if topics else ADDED_COLUMNS:
        while name in existing or name in out:
            name = f"{name}_level"
        out.append(name)
    return out


def _row_weights(data: ExportData) -> np.ndarray:
    weights = data.row_weight_of_clusters()
    table = np.array([weights.get(c, 1.0) for c in range(max(weights, default=-1) + 1)])
    return np.where(data.labels >= 0, table[np.maximum(data.labels, 0)] if table.size else 1.0,
                    data.noise_weight)


def effective_row_weights(data: ExportData) -> np.ndarray:
    """Each analysed row's weight: its cluster's (or the noise) weight, times 1/|group| when
    duplicates are collapsed."""
    weights = _row_weights(data)
    if data.collapse_duplicates and data.duplicate_groups is not None:
        weights = weights * collapse_factors(data.duplicate_groups)
    if data.excluded is not None:
        weights = np.where(data.excluded, 0.0, weights)
    return weights


def collapse_factors(groups: np.ndarray) -> np.ndarray:
    """1/|group| for the members of a duplicate group, 1 for unique rows (−1)."""
    groups = np.asarray(groups, dtype=np.int64)
    member = groups >= 0
    sizes = np.bincount(groups[member]) if member.any() else np.zeros(0, dtype=np.int64)
    factors = np.ones(len(groups), dtype=np.float64)
    factors[member] = 1.0 / sizes[groups[member]]
    return factors


def _duplicate_group_name(existing: list[str]) -> str:
    name = "duplicate_group"
    while name in existing:
        name = f"{name}_level"
    return name


def _format_weight(w: float) -> str:
    return f"{w:.6g}"


class Exporter(Protocol):
    """Writes an analysis's rows to a file of one format."""

    def write_weighted(self, data: ExportData, target: str | Path) -> int: ...

    def write_resampled(self, data: ExportData, target: str | Path, seed: int = 42) -> int: ...


class DelimitedExporter:
    """CSV or TSV, UTF-8, `\\n` line ends."""

    def __init__(self, delimiter: str = ",") -> None:
        self.delimiter = delimiter

    def write_weighted(self, data: ExportData, target: str | Path) -> int:
        return _write_weighted(data, Path(target), self.delimiter)

    def write_resampled(self, data: ExportData, target: str | Path, seed: int = 42) -> int:
        return _write_resampled(data, Path(target), self.delimiter, seed)


EXPORTERS: Registry[Exporter] = Registry("export")
EXPORTERS.register("csv", lambda: DelimitedExporter(","), suffixes=(".csv",),
                   display_name="CSV", description="comma-separated; any other suffix too")
EXPORTERS.register("tsv", lambda: DelimitedExporter("\t"), suffixes=(".tsv",),
                   display_name="TSV", description="tab-separated")


def exporter_for(target: str | Path) -> Exporter:
    """The exporter for a target file by its suffix; CSV for a suffix no exporter claims."""
    entry = EXPORTERS.for_suffix(Path(target).suffix) or EXPORTERS.entry("csv")
    return EXPORTERS.create(entry.name)


def write_weighted(data: ExportData, target: str | Path) -> int:
    """Write the weighted CSV (or TSV, by the target's suffix); return the data rows written."""
    return exporter_for(target).write_weighted(data, target)


def write_resampled(data: ExportData, target: str | Path, seed: int = 42) -> int:
    """Write the resampled CSV (original columns + cluster_id, cluster_label); return its rows."""
    return exporter_for(target).write_resampled(data, target, seed)


def _write_weighted(data: ExportData, target: Path, delimiter: str) -> int:
    _check_target(target, data.source_path)
    names = list(data.columns)
    n = len(next(iter(data.columns.values()), []))
    cluster_of = np.full(n, -2, dtype=np.int64)  # −2 = the row had no text
    cluster_of[data.row_index] = data.labels
    weight_of = np.zeros(n)
    weight_of[data.row_index] = effective_row_weights(data)
    label_of = {**data.cluster_names, -1: "noise", -2: "(no text)"}
    header = names + _added_names(names, data.has_topics)
    group_of: list[str] | None = None
    if data.duplicate_groups is not None:  # "" for unique rows and rows without text
        group_of = [""] * n
        for i, g in zip(data.row_index.tolist(), data.duplicate_groups.tolist(), strict=True):
            if g >= 0:
                group_of[i] = str(g)
        header.append(_duplicate_group_name(header))
    added_cells: list[list[str]] = []
    for name, values in data.comparison_columns.items():  # "" for rows without text
        cells = [""] * n
        for i, v in zip(data.row_index.tolist(), np.asarray(values).tolist(), strict=True):
            cells[i] = str(v)
        added_cells.append(cells)
        while name in header:
            name = f"{name}_level"
        header.append(name)
    try:
        with atomic_text(target) as handle:
            writer = _RowWriter(handle, delimiter)
            writer.writerow(header)
            columns = [data.columns[c] for c in names]
            for i in range(n):
                c = int(cluster_of[i])
                writer.writerow([col[i] for col in columns] + [
                    "" if c == -2 else c, label_of.get(c, f"Cluster {c}"),
                    *_topic_cells(data, c), _format_weight(weight_of[i])]
                    + ([group_of[i]] if group_of else [])
                    + [cells[i] for cells in added_cells])
    except OSError as err:
        raise ExportError(f"{target} cannot be written: {err.strerror or err}.") from err
    return n


def _topic_cells(data: ExportData, cluster: int) -> list[object]:
    """The topic_id and topic_label cells of a row of `cluster` (none without topics)."""
    if not data.has_topics:
        return []
    if cluster == -2:
        return ["", "(no text)"]
    topic = data.cluster_topic.get(cluster, -1)
    return [topic, "noise" if topic < 0 else data.topic_names.get(topic, f"Topic {topic}")]


def resample_positions(labels: np.ndarray, weights: dict[int, float], noise_weight: float,
                       seed: int = 42) -> np.ndarray:
    """Positions (into `labels`) of the resampled rows, sorted: round(size × w) per cluster."""
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        w = noise_weight if c < 0 else weights.get(int(c), 1.0)
        target = round(len(members) * w)
        if target <= len(members):
            chosen.append(rng.choice(members, size=target, replace=False))
        else:
            chosen.append(members)
            chosen.append(rng.choice(members, size=target - len(members), replace=True))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def collapsed_resample_positions(data: ExportData, seed: int = 42) -> np.ndarray:
    """The resampled export's rows with duplicates collapsed: per cluster (and the noise),
    round(Σ effective row weights) rows — its size counting each duplicate group once (a group
    split over clusters counts its share in each, as the window's sizes do), times its weight —
    drawn by `budget.budget_rows` over its rows with their groups, so a group gives one row while
    the count allows. Clusters are drawn in a seeded random order, and a group that already gave
    a row elsewhere is left out while the cluster has enough other rows. Positions into
    `row_index`, sorted."""
    from level_desktop.core.budget import budget_rows

    if data.duplicate_groups is None:
        raise ValueError("collapsing needs the duplicate groups")
    weights = effective_row_weights(data)
    groups = np.asarray(data.duplicate_groups, dtype=np.int64)
    rng = np.random.default_rng(seed)
    used = np.zeros(int(groups.max(initial=-1)) + 1, dtype=bool)  # groups that gave a row
    chosen = []
    for c in rng.permutation(np.unique(data.labels)):
        members = np.flatnonzero(data.labels == c)
        w, g = weights[members], groups[members]
        target = round(float(w.sum()))
        if target <= 0:
            continue
        fresh = np.where((g < 0) | ~used[np.maximum(g, 0)], w, 0.0)
        units = np.where(g >= 0, g + len(weights), members)[fresh > 0]
        draw = fresh if target <= len(np.unique(units)) else w
        picks = members[budget_rows(draw, target, g, seed=int(rng.integers(2**32)))]
        used[groups[picks][groups[picks] >= 0]] = True
        chosen.append(picks)
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def budget_positions(data: ExportData, n_rows: int, seed: int = 42) -> np.ndarray:
    """Positions (into `row_index`, sorted) of exactly `n_rows` rows that follow the effective
    weights (`budget.budget_rows`); with duplicates collapsed, at most one row per group while
    the budget allows."""
    from level_desktop.core.budget import budget_rows

    if n_rows <= 0:
        raise ExportError(f"The number of rows to export must be at least 1; {n_rows} was given.")
    groups = data.duplicate_groups if data.collapse_duplicates else None
    return budget_rows(effective_row_weights(data), n_rows, groups=groups, seed=seed)


def write_budgeted(data: ExportData, target: str | Path, n_rows: int, seed: int = 42) -> int:
    """Write exactly `n_rows` rows drawn by `budget_positions` (original columns + cluster_id,
    cluster_label), in input order; CSV or TSV by the target's suffix; return the rows."""
    target = Path(target)
    exporter = exporter_for(target)
    delimiter = exporter.delimiter if isinstance(exporter, DelimitedExporter) else ","
    _check_target(target, data.source_path)
    return _write_resampled(data, target, delimiter, seed,
                            picks=budget_positions(data, n_rows, seed))


def _write_resampled(data: ExportData, target: Path, delimiter: str, seed: int,
                     picks: np.ndarray | None = None) -> int:
    _check_target(target, data.source_path)
    names = list(data.columns)
    if picks is None and data.collapse_duplicates and data.duplicate_groups is not None:
        picks = collapsed_resample_positions(data, seed)  # excluded rows weigh 0: never drawn
    if picks is None and data.excluded is not None:  # excluded rows are never drawn
        kept = np.flatnonzero(~np.asarray(data.excluded, dtype=bool))
        picks = kept[resample_positions(data.labels[kept], data.row_weight_of_clusters(),
                                        data.noise_weight, seed)]
    if picks is None:
        picks = resample_positions(data.labels, data.row_weight_of_clusters(), data.noise_weight,
                                   seed)
    label_of = {**data.cluster_names, -1: "noise"}
    added = _added_names(names, data.has_topics)[:-1]
    columns = [data.columns[c] for c in names]
    try:
        with atomic_text(target) as handle:
            writer = _RowWriter(handle, delimiter)
            writer.writerow(names + added)
            for p in picks:
                i = int(data.row_index[p])
                c = int(data.labels[p])
                writer.writerow([col[i] for col in columns] + [c, label_of.get(c, f"Cluster {c}"),
                                                                *_topic_cells(data, c)])
    except OSError as err:
        raise ExportError(f"{target} cannot be written: {err.strerror or err}.") from err
    return len(picks)
