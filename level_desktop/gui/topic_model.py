"""The topic tree's model: topics (plus a noise row, if any) whose children are their clusters,
each row with its size, share, weight and effective size (rows × cluster weight × topic weight).

It reads the weights from the Qt-free Balance and listens to it; an edit does not write the weight
itself but emits `topic_weight_edited` or `cluster_weight_edited`, so the window can make the
change undoable. Topic rows hang off the root (internal id 0); a cluster row's internal id is its
topic row + 1.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QWidget

from level_desktop.core.analysis import Analysis
from level_desktop.core.balance import NOISE_ID, Balance
from level_desktop.gui.palette import NOISE_COLOR, rgb_to_hex

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
KIND_ROLE = Qt.ItemDataRole.UserRole + 2  # "topic", "cluster" or "noise"
ID_ROLE = Qt.ItemDataRole.UserRole + 3  # the topic's or the cluster's id (noise: NOISE_ID)
AnyIndex = QModelIndex | QPersistentModelIndex


class Column(IntEnum):
    LABEL = 0
    SIZE = 1
    SHARE = 2
    WEIGHT = 3
    EFFECTIVE = 4
    COMPARED = 5  # issue 17: the comparison set's rows, share and ratio (empty without one)
    COMPARED_SHARE = 6
    RATIO = 7
    REDUNDANCY = 8  # share of rows that are near-duplicates of another row (issue 16)


COMPARISON_COLUMNS = (Column.COMPARED, Column.COMPARED_SHARE, Column.RATIO)
HEADERS = {Column.LABEL: "Topic / cluster", Column.SIZE: "Rows", Column.SHARE: "Share",
           Column.WEIGHT: "Weight", Column.EFFECTIVE: "Effective", Column.COMPARED: "Compared",
           Column.COMPARED_SHARE: "Its share", Column.RATIO: "Ratio", Column.REDUNDANCY: "Dups"}
TOOLTIPS = {Column.SIZE: "Rows in the topic or cluster",
            Column.SHARE: "Share of all analysed rows",
            Column.WEIGHT: "A topic's weight multiplies all its rows; a cluster's, its own rows",
            Column.EFFECTIVE: "Rows × cluster weight × topic weight: the size after leveling",
            Column.COMPARED: "Rows of the comparison set that fall here",
            Column.COMPARED_SHARE: "Share of the comparison set's rows",
            Column.RATIO: "Comparison share ÷ training share: above 1, the comparison set has "
                          "more here than training",
            Column.REDUNDANCY: "Share of rows that are near-duplicates of another row "
                               "(Edit > Collapse Duplicates finds them)"}


def tooltip_text(label: str, description: str) -> str:
    """A row's tooltip: its whole name (the column may cut it short) and its description."""
    return f"{label}\n{description}" if description and description != label else label


class TopicTreeModel(QAbstractItemModel):
    """Topics (plus a noise row, if any) with their clusters, read live from a Balance."""

    topic_weight_edited = Signal(int, float)  # topic id, the weight the user set
    cluster_weight_edited = Signal(int, float)  # cluster id (NOISE_ID = noise), the weight

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._balance: Balance | None = None
        self._topics: list[tuple[str, int, str, int, QColor]] = []  # kind, id, label, size, colour
        self._clusters: list[list[tuple[int, str, int, QColor]]] = []  # per topic row
        self._cluster_position: dict[int, int] = {}
        self._topic_position: dict[int, int] = {}
        self._cluster_effective = np.zeros(0)
        self._cluster_weights = np.zeros(0)
        self._row_of_position: dict[int, int] = {}  # cluster position in the balance → topic row
        self._topic_effective = np.zeros(0)
        self._total = 1
        self._tooltips: dict[tuple[str, int], str] = {}  # (kind, id) → full name and description
        self.open_rows: set[int] = set()  # topic rows whose clusters the view shows
        self._bold = QFont()
        self._bold.setBold(True)
        self._compared: dict[tuple[str, int], int] | None = None  # (kind, id) → comparison rows
        self._compared_total = 1
        self._cluster_redundancy: dict[int, float] = {}  # cluster id → share of near-duplicates
        self._topic_redundancy: dict[int, float] = {}  # topic id (NOISE_ID: noise) → share

    def set_analysis(self, analysis: Analysis, balance: Balance, topic_palette: np.ndarray,
                     cluster_palette: np.ndarray) -> None:
        self.beginResetModel()
        if self._balance is not None:
            self._balance.unsubscribe(self.refresh_weights)
        self._balance = balance
        balance.subscribe(self.refresh_weights)
        clusters = {c.id: c for c in analysis.clusters}
        self._topics, self._clusters = [], []
        for topic in analysis.topics:
            self._topics.append(("topic", topic.id, topic.label, topic.size,
                                 QColor(rgb_to_hex(topic_palette[topic.id]))))
            self._clusters.append([(c, clusters[c].label, clusters[c].size,
                                    QColor(rgb_to_hex(cluster_palette[c])))
                                   for c in topic.cluster_ids])
        if balance.noise_size:
            self._topics.append(("noise", NOISE_ID, "noise (rows in no cluster)",
                                 balance.noise_size, QColor(NOISE_COLOR)))
            self._clusters.append([])
        self._tooltips = {
            **{("topic", t.id): tooltip_text(t.label, t.description) for t in analysis.topics},
            **{("cluster", c.id): tooltip_text(c.label, c.description)
               for c in analysis.clusters}}
        self._cluster_position = {int(c): i for i, c in enumerate(balance.cluster_ids)}
        self._topic_position = {int(t): i for i, t in enumerate(balance.topic_ids)}
        self._total = max(1, analysis.n_rows)
        self.open_rows = set()
        self._row_of_position = {self._cluster_position[c]: row
                                 for row, clusters in enumerate(self._clusters)
                                 for c, *_rest in clusters}
        self._read_effective()
        self._read_redundancy(analysis)
        self.endResetModel()

    def _read_redundancy(self, analysis: Analysis) -> None:
        """Per cluster, per topic and for noise: the share of rows in a duplicate group."""
        from level_desktop.core.duplicates import duplicate_share

        groups = analysis.duplicate_groups
        if groups is None or len(groups) != analysis.n_rows:
            self._cluster_redundancy, self._topic_redundancy = {}, {}
            return
        self._cluster_redundancy = duplicate_share(groups >= 0, analysis.labels)
        self._topic_redundancy = duplicate_share(groups >= 0, analysis.row_topics)  # −1: noise

    def show_redundancy(self, analysis: Analysis) -> None:
        """Duplicate groups were found: the redundancy column shows their shares."""
        self._read_redundancy(analysis)
        if not self._topics:
            return
        last = len(self._topics) - 1
        self.dataChanged.emit(self.index(0, Column.REDUNDANCY),
                              self.index(last, Column.REDUNDANCY))
        for row, clusters in enumerate(self._clusters):
            if clusters and row in self.open_rows:  # closed ones are read when opened
                parent = self.index(row, 0)
                self.dataChanged.emit(self.index(0, Column.REDUNDANCY, parent),
                                      self.index(len(clusters) - 1, Column.REDUNDANCY, parent))

    def redundancy(self, index: AnyIndex) -> float | None:
        """The row's share of near-duplicates; None while no groups are known."""
        kind, rid = self.data(index, KIND_ROLE), self.data(index, ID_ROLE)
        shares = self._cluster_redundancy if kind == "cluster" else self._topic_redundancy
        return shares.get(int(rid)) if shares else None

    def _read_effective(self) -> None:
        if self._balance is not None:
            self._cluster_weights = self._balance.weights
            self._cluster_effective = self._balance.cluster_effective_sizes
            self._topic_effective = self._balance.topic_effective_sizes

    def refresh_weights(self) -> None:
        """The balance changed: the weight and effective-size columns show the new values.

        Only the topic rows whose clusters changed announce their clusters (each announcement
        makes the view visit every spin box), so one spin-box step costs one topic's rows.
        """
        before = self._cluster_effective
        weights_before = self._cluster_weights
        self._read_effective()
        if not self._topics:
            return
        self.dataChanged.emit(self.index(0, Column.WEIGHT),
                              self.index(len(self._topics) - 1, Column.EFFECTIVE))
        if before.shape == self._cluster_effective.shape:
            # A closed topic's clusters are not drawn (expanding one announces them), but their
            # spin boxes must follow a changed weight; a change of effective sizes alone (a
            # topic weight, collapsing duplicates) only needs the open rows announced.
            changed = ((weights_before != self._cluster_weights)
                       | ((before != self._cluster_effective)
                          & self._in_open_rows(self._cluster_effective.shape)))
        else:
            changed = np.ones(self._cluster_effective.shape, dtype=bool)
        for row in sorted({self._row_of_position[int(i)] for i in np.flatnonzero(changed)
                           if int(i) in self._row_of_position}):
            self.refresh_children(row)

    def _in_open_rows(self, shape: tuple[int, ...]) -> np.ndarray:
        """Per cluster position in the balance: whether its topic row is open in the view."""
        mask = np.zeros(shape, dtype=bool)
        for position, row in self._row_of_position.items():
            mask[position] = row in self.open_rows
        return mask

    def refresh_children(self, row: int) -> None:
        """Announce the weights of one topic row's clusters (it was opened, or they changed)."""
        if 0 <= row < len(self._clusters) and self._clusters[row]:
            parent = self.index(row, 0)
            self.dataChanged.emit(self.index(0, Column.WEIGHT, parent),
                                  self.index(len(self._clusters[row]) - 1, Column.EFFECTIVE,
                                             parent))

    # ----- finding rows ----------------------------------------------------------------------

    def topic_index(self, topic_id: int, column: int = 0) -> QModelIndex:
        for row, (kind, tid, *_rest) in enumerate(self._topics):
            if kind == "topic" and tid == topic_id:
                return self.index(row, column)
        return QModelIndex()

    def cluster_index(self, cluster_id: int, column: int = 0) -> QModelIndex:
        if cluster_id == NOISE_ID:
            row = next((r for r, t in enumerate(self._topics) if t[0] == "noise"), None)
            return QModelIndex() if row is None else self.index(row, column)
        for row, clusters in enumerate(self._clusters):
            for child, (cid, *_rest) in enumerate(clusters):
                if cid == cluster_id:
                    return self.index(child, column, self.index(row, 0))
        return QModelIndex()

    # ----- the tree --------------------------------------------------------------------------

    def index(self, row: int, column: int, parent: AnyIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        return self.createIndex(row, column, parent.row() + 1 if parent.isValid() else 0)

    def parent(self, index: AnyIndex = QModelIndex()) -> QModelIndex:  # noqa: B008 - Qt's default
        if not index.isValid() or index.internalId() == 0:
            return QModelIndex()
        return self.createIndex(int(index.internalId()) - 1, 0, 0)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        if not parent.isValid():
            return len(self._topics)
        if parent.internalId() == 0 and parent.column() == 0:
            return len(self._clusters[parent.row()])
        return 0

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        return len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        if role == Qt.ItemDataRole.ToolTipRole:
            return TOOLTIPS.get(Column(section))
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == Column.WEIGHT:
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def _row(self, index: AnyIndex) -> tuple[str, int, str, int, QColor, float, float]:
        """kind, id, label, size, colour, weight, effective size of the row at `index`."""
        balance = self._balance
        assert balance is not None
        if index.internalId() == 0:
            kind, tid, label, size, color = self._topics[index.row()]
            if kind == "noise":
                weight = balance.noise_weight
                return kind, tid, label, size, color, weight, size * weight
            position = self._topic_position[tid]
            return (kind, tid, label, size, color, balance.topic_weight(tid),
                    float(self._topic_effective[position]))
        cid, label, size, color = self._clusters[int(index.internalId()) - 1][index.row()]
        return ("cluster", cid, label, size, color, balance.weight(cid),
                float(self._cluster_effective[self._cluster_position[cid]]))

    def set_comparison(self, cluster_counts: np.ndarray | None,
                       cluster_topic: np.ndarray | None = None) -> None:
        """The comparison set's rows per cluster (None: no comparison set); topics sum theirs."""
        if cluster_counts is None or cluster_topic is None:
            self._compared = None
        else:
            counts = np.asarray(cluster_counts, dtype=np.int64)
            self._compared = {("cluster", c): int(n) for c, n in enumerate(counts)}
            for c, n in enumerate(counts):
                key = ("topic", int(cluster_topic[c]))
                self._compared[key] = self._compared.get(key, 0) + int(n)
            self._compared_total = max(1, int(counts.sum()))
        if self._topics:
            self.dataChanged.emit(self.index(0, Column.COMPARED),
                                  self.index(len(self._topics) - 1, Column.RATIO))
            for row in self.open_rows:
                if 0 <= row < len(self._clusters) and self._clusters[row]:
                    parent = self.index(row, 0)
                    self.dataChanged.emit(self.index(0, Column.COMPARED, parent),
                                          self.index(len(self._clusters[row]) - 1,
                                                     Column.RATIO, parent))

    def _comparison_data(self, kind: str, rid: int, size: int, column: Column,
                         role: int) -> Any:
        """The comparison columns' cells: rows, share, ratio (blank without a comparison set
        and for the noise row)."""
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role not in (Qt.ItemDataRole.DisplayRole, SORT_ROLE) or self._compared is None:
            return None
        rows = self._compared.get((kind, rid))
        if rows is None:
            return None if role == Qt.ItemDataRole.DisplayRole else -1.0
        share = rows / self._compared_total
        ratio = share / (size / self._total) if size else 0.0
        if role == SORT_ROLE:
            return {Column.COMPARED: rows, Column.COMPARED_SHARE: share, Column.RATIO: ratio
                    }[column]
        return {Column.COMPARED: f"{rows:,}", Column.COMPARED_SHARE: f"{share:.1%}",
                Column.RATIO: f"{ratio:.2f}"}[column]

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self._balance is None:
            return None
        kind, rid, label, size, color, weight, effective = self._row(index)
        column = Column(index.column())
        if role == KIND_ROLE:
            return kind
        if role == ID_ROLE:
            return rid
        if column in COMPARISON_COLUMNS:
            return self._comparison_data(kind, rid, size, column, role)
        if column == Column.REDUNDANCY:
            return self._redundancy_data(index, role)
        if role == SORT_ROLE:
            return {Column.LABEL: label.lower(), Column.SIZE: size, Column.SHARE: size,
                    Column.WEIGHT: weight, Column.EFFECTIVE: effective}[column]
        if role == Qt.ItemDataRole.DisplayRole:
            # The weight column shows its spin box, not text that would peek out behind it.
            return {Column.LABEL: label, Column.SIZE: f"{size:,}",
                    Column.SHARE: f"{size / self._total:.1%}", Column.WEIGHT: None,
                    Column.EFFECTIVE: f"{effective:,.1f}"}[column]
        if role == Qt.ItemDataRole.EditRole and column == Column.WEIGHT:
            return weight
        if role == Qt.ItemDataRole.DecorationRole and column == Column.LABEL:
            return color
        if role == Qt.ItemDataRole.TextAlignmentRole and column != Column.LABEL:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and column == Column.LABEL:
            return self._tooltips.get((kind, rid), label)
        if role == Qt.ItemDataRole.FontRole and kind == "topic" and column == Column.LABEL:
            return self._bold
        return None

    def _redundancy_data(self, index: AnyIndex, role: int) -> Any:
        share = self.redundancy(index)
        if role == SORT_ROLE:
            return -1.0 if share is None else share
        if role == Qt.ItemDataRole.DisplayRole:
            if share is None:
                return "–"
            return "<1%" if 0 < share < 0.005 else f"{share:.0%}"
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return ("Near-duplicates not looked for yet" if share is None else
                    f"{share:.1%} of these rows have a near-duplicate")
        return None

    def setData(self, index: AnyIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() != Column.WEIGHT or self._balance is None:
            return False
        kind, rid, *_rest, weight, _effective = self._row(index)
        new = float(value)
        if abs(new - weight) > 1e-12:
            if kind == "topic":
                self.topic_weight_edited.emit(rid, new)
            else:
                self.cluster_weight_edited.emit(rid, new)
        return True
