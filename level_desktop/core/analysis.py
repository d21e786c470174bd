"""The result of a run: everything the CLI, the window and the project file show or keep.

The analysis owns the weights (`weights`, `noise_weight`); `balance()` is a view that edits them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from level_desktop.core.balance import Balance
from level_desktop.core.decoding import DecodeReport
from level_desktop.core.export import ExportData
from level_desktop.core.settings import Settings
from level_desktop.core.terrain import Terrain, build_terrain


@dataclass
class SourceInfo:
    path: str
    content_hash: str
    format: str
    text_column: str
    n_rows: int  # data rows in the input
    skipped_empty: int  # rows without text, kept in exports but not analysed
    ragged_rows: int = 0
    # The encoding read and the rows whose invalid bytes were replaced; None when unknown
    # (Parquet input, or a project saved before Level recorded it).
    decode_report: DecodeReport | None = None


@dataclass
class ClusterInfo:
    id: int
    size: int
    spread: float  # mean cosine distance to the centroid
    label: str
    description: str
    labeler: str
    representatives: list[int]  # positions into the analysed rows, most central first
    fallback_reason: str | None = None
    user_named: bool = False  # the user gave it this name: naming again keeps it


@dataclass
class Analysis:
    settings: Settings
    source: SourceInfo
    columns: dict[str, list[str]]  # the input table, every column as strings
    row_index: np.ndarray  # (n,) original positions of the analysed rows
    texts: list[str]
    model: str
    model_key: str
    device: str
    embeddings: np.ndarray  # (n, d) float32 unit vectors
    labels: np.ndarray  # (n,) int32, −1 = noise
    centroids: np.ndarray  # (k, d)
    clusters: list[ClusterInfo]
    positions: np.ndarray  # (n, 2) float32
    weights: dict[int, float] = field(default_factory=dict)  # the one owner of the weights
    noise_weight: float = 1.0
    timings: dict[str, float] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    _terrain: Terrain | None = field(default=None, repr=False, compare=False)

    @property
    def n_rows(self) -> int:
        return len(self.row_index)

    @property
    def sizes(self) -> np.ndarray:
        return np.array([c.size for c in self.clusters], dtype=np.int64)

    @property
    def noise_size(self) -> int:
        return int((self.labels < 0).sum())

    @property
    def cluster_names(self) -> dict[int, str]:
        return {c.id: c.label for c in self.clusters}

    def balance(self) -> Balance:
        """A live view of this analysis's weights: what it sets, the analysis saves and exports."""
        return Balance.over(self, np.array([c.id for c in self.clusters], dtype=np.int64),
                            self.sizes, self.noise_size)

    def snapshot(self) -> Analysis:
        """A shallow copy whose weights later edits do not reach (for a save or an export running
        in another thread; a Balance replaces the weights dict, it never edits it in place)."""
        return dataclasses.replace(self, weights=dict(self.weights))

    def terrain(self) -> Terrain:
        """The unit hills, built once per analysis (and grid size)."""
        if self._terrain is None or self._terrain.grid != self.settings.grid:
            self._terrain = build_terrain(self.positions, self.labels, self.sizes,
                                          self.settings.grid)
        return self._terrain

    def export_data(self) -> ExportData:
        return ExportData(source_path=self.source.path, columns=self.columns,
                          row_index=self.row_index, labels=self.labels,
                          cluster_names=self.cluster_names, weights=dict(self.weights),
                          noise_weight=self.noise_weight,
                          source_decoding=self.source.decode_report)
