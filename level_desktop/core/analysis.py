"""The result of a run: everything the CLI, the window and the project file show or keep.

The analysis owns the weights (`weights`, `noise_weight`, `topic_weights`); `balance()` is a view
that edits them. Clusters are grouped into topics (core/topics.py): `topics`, `cluster_topic`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from level_desktop.core.balance import Balance
from level_desktop.core.comparison import ComparisonSet
from level_desktop.core.decoding import DecodeReport
from level_desktop.core.export import ExportData, collapse_factors
from level_desktop.core.settings import Settings
from level_desktop.core.terrain import Terrain, build_terrain
from level_desktop.core.topics import TopicInfo

__all__ = ["Analysis", "ClusterInfo", "SourceInfo", "TopicInfo"]


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
    # An image set: which images were skipped and why, in a line ("3 images skipped: 2 missing,
    # 1 not an image"); None for text, and for an image set where none was.
    image_problems: str | None = None


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
    model_choice: str | None = None  # what `--model auto` chose and why, for this run's report
    topics: list[TopicInfo] = field(default_factory=list)  # numbered by size, largest first
    cluster_topic: np.ndarray = field(  # (k,) int topic of each cluster
        default_factory=lambda: np.zeros(0, dtype=np.int32))
    topic_weights: dict[int, float] = field(default_factory=dict)  # default 1.0 each
    notices: list[str] = field(default_factory=list)  # for the user, from opening (not saved)
    comparison: ComparisonSet | None = None  # a second set laid over this one (issue 17)
    zero_leaks: bool = False  # training rows the comparison set copies weigh 0 in exports
    # Near-duplicate groups (core/duplicates.py), once found: group per analysed row, −1 =
    # unique; the cosine threshold they were found at; whether each group weighs as one row.
    duplicate_groups: np.ndarray | None = None
    duplicate_threshold: float | None = None
    collapse_duplicates: bool = False
    _terrains: dict[int | None, Terrain] = field(default_factory=dict, repr=False, compare=False)
    # Issue 19: a project read from its file leaves `embeddings` None and reads them through this
    # (once, shared by every snapshot) when an operation first asks for them; see below the class.
    vectors_loader: Callable[[], np.ndarray] | None = field(default=None, repr=False,
                                                            compare=False)

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

    @property
    def topic_names(self) -> dict[int, str]:
        return {t.id: t.label for t in self.topics}

    @property
    def topic_sizes(self) -> np.ndarray:
        return np.array([t.size for t in self.topics], dtype=np.int64)

    @property
    def row_topics(self) -> np.ndarray:
        """(n,) topic of each analysed row, −1 for noise."""
        topic_of = np.asarray(self.cluster_topic, dtype=np.int32)
        if topic_of.size == 0:
            return np.full(self.labels.shape, -1, dtype=np.int32)
        return np.where(self.labels >= 0, topic_of[np.maximum(self.labels, 0)], -1).astype(
            np.int32)

    def balance(self) -> Balance:
        """A live view of this analysis's weights: what it sets, the analysis saves and exports."""
        balance = Balance.over(self, np.array([c.id for c in self.clusters], dtype=np.int64),
                               self.sizes, self.noise_size,
                               topic_of_cluster=np.asarray(self.cluster_topic, dtype=np.int64))
        balance.set_collapsed_sizes(*self.collapsed_sizes())
        return balance

    def collapsed_sizes(self) -> tuple[np.ndarray | None, float]:
        """Each cluster's rows (in `clusters` order) and the noise rows counted with every
        duplicate group as one row (a member counts 1/|group|); (None, noise size) without
        groups."""
        if self.duplicate_groups is None:
            return None, float(self.noise_size)
        counted = collapse_factors(self.duplicate_groups)
        per_label = np.bincount(self.labels.astype(np.int64) + 1, weights=counted,
                                minlength=len(self.clusters) + 1)
        return per_label[1:][[c.id for c in self.clusters]], float(per_label[0])

    def snapshot(self) -> Analysis:
        """A shallow copy whose weights later edits do not reach (for a save or an export running
        in another thread; a Balance replaces the weights dicts, it never edits them in place)."""
        return dataclasses.replace(self, weights=dict(self.weights),
                                   topic_weights=dict(self.topic_weights),
                                   # not read here: None until first asked for
                                   embeddings=cast(np.ndarray, self.__dict__.get("_embeddings")))

    @property
    def vectors_in_memory(self) -> bool:
        """Whether the (n, d) vectors are held now (False: a project opened but not yet asked
        for them)."""
        return self.__dict__.get("_embeddings") is not None or bool(
            getattr(self.vectors_loader, "loaded", False))

    def terrain(self, topic: int | None = None,
                check: Callable[[], None] | None = None) -> Terrain:
        """The unit hills of a level, built once per level (and grid size).

        None: the top level, one hill per topic (topic ids in order). A topic id: that topic's
        clusters on a grid over that topic's region, hills in `topics[topic].cluster_ids` order.
        Without topics (an analysis built by hand) the top level is one hill per cluster.
        `check` is called between hills (to honour cancel).
        """
        cached = self._terrains.get(topic)
        if cached is not None and cached.grid == self.settings.grid:
            return cached
        grid = self.settings.grid
        if not self.topics:
            terrain = build_terrain(self.positions, self.labels, self.sizes, grid, check)
        elif topic is None:
            terrain = build_terrain(self.positions, self.row_topics, self.topic_sizes, grid,
                                    check)
        else:
            if not 0 <= topic < len(self.topics):
                raise IndexError(f"There is no topic {topic}.")
            ids = np.array(self.topics[topic].cluster_ids, dtype=np.int64)
            local = np.full(len(self.clusters), -1, dtype=np.int32)
            local[ids] = np.arange(ids.size)
            rows = np.flatnonzero(self.row_topics == topic)
            terrain = build_terrain(self.positions[rows], local[self.labels[rows]],
                                    self.sizes[ids], grid, check)
        self._terrains[topic] = terrain
        return terrain

    def export_data(self, comparison_columns: bool = False) -> ExportData:
        """What an export needs; `comparison_columns` adds `in_comparison` and `leak` (when a
        comparison set is held)."""
        return ExportData(source_path=self.source.path, columns=self.columns,
                          row_index=self.row_index, labels=self.labels,
                          cluster_names=self.cluster_names, weights=dict(self.weights),
                          noise_weight=self.noise_weight,
                          source_decoding=self.source.decode_report,
                          cluster_topic={c.id: int(self.cluster_topic[c.id])
                                         for c in self.clusters} if self.topics else {},
                          topic_names=self.topic_names, topic_weights=dict(self.topic_weights),
                          duplicate_groups=self.duplicate_groups,
                          collapse_duplicates=self.collapse_duplicates,
                          **self._comparison_export(comparison_columns))

    def _comparison_export(self, columns: bool) -> dict[str, Any]:
        """The export's comparison columns (`in_comparison`, `leak`) and, with `zero_leaks`,
        the leaking training rows to weigh 0."""
        if self.comparison is None:
            return {}
        leaking = self.comparison.leaks.training_mask(self.n_rows)
        added = {"in_comparison": self.comparison.nearest_counts(self.n_rows),
                 "leak": leaking.astype(np.int64)} if columns else {}
        return {"comparison_columns": added, "excluded": leaking if self.zero_leaks else None}


def _embeddings(self: Analysis) -> np.ndarray:
    vectors = self.__dict__.get("_embeddings")
    if vectors is None and self.vectors_loader is not None:
        vectors = self.vectors_loader()
        self.__dict__["_embeddings"] = vectors
    return cast(np.ndarray, vectors)


def _set_embeddings(self: Analysis, vectors: np.ndarray | None) -> None:
    self.__dict__["_embeddings"] = vectors


# `embeddings` reads like a field but is read on demand: opening a million-row project needs its
# clusters, topics, positions and weights (the window, `level info`, an export), not its n × d
# vectors (2 GB); re-clustering, a comparison, duplicates or a save elsewhere ask for them and get
# them here, transparently. Set after the class so the dataclass keeps `embeddings` as its field.
Analysis.embeddings = property(  # type: ignore[assignment]
    _embeddings, _set_embeddings,
    doc="(n, d) float32 unit vectors; read from the project file when first asked for.")
