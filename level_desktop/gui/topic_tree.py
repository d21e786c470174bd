"""The topic tree: topics that expand to their clusters, each row with its size, share, weight
spin box and effective size (rows × cluster weight × topic weight), sortable at both levels.

The model reads weights from the Qt-free Balance and listens to it; an edited spin box does not
write the weight itself but emits `topic_weight_edited` or `cluster_weight_edited`, so the window
can make the change undoable. Topic rows hang off the root (internal id 0); a cluster row's
internal id is its topic row + 1.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractItemModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QHeaderView,
    QLineEdit,
    QTreeView,
    QWidget,
)

from level_desktop.core.analysis import Analysis
from level_desktop.core.balance import NOISE_ID, Balance
from level_desktop.gui.palette import NOISE_COLOR, rgb_to_hex
from level_desktop.gui.weight_delegate import WEIGHT_COLUMN_WIDTH, WeightDelegate

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


HEADERS = {Column.LABEL: "Topic / cluster", Column.SIZE: "Rows", Column.SHARE: "Share",
           Column.WEIGHT: "Weight", Column.EFFECTIVE: "Effective"}
TOOLTIPS = {Column.SIZE: "Rows in the topic or cluster",
            Column.SHARE: "Share of all analysed rows",
            Column.WEIGHT: "A topic's weight multiplies all its rows; a cluster's, its own rows",
            Column.EFFECTIVE: "Rows × cluster weight × topic weight: the size after leveling"}


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
        self._topic_effective = np.zeros(0)
        self._total = 1
        self._bold = QFont()
        self._bold.setBold(True)

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
        self._cluster_position = {int(c): i for i, c in enumerate(balance.cluster_ids)}
        self._topic_position = {int(t): i for i, t in enumerate(balance.topic_ids)}
        self._total = max(1, analysis.n_rows)
        self._read_effective()
        self.endResetModel()

    def _read_effective(self) -> None:
        if self._balance is not None:
            self._cluster_effective = self._balance.cluster_effective_sizes
            self._topic_effective = self._balance.topic_effective_sizes

    def refresh_weights(self) -> None:
        """The balance changed: the weight and effective-size columns show the new values."""
        self._read_effective()
        if not self._topics:
            return
        self.dataChanged.emit(self.index(0, Column.WEIGHT),
                              self.index(len(self._topics) - 1, Column.EFFECTIVE))
        for row, clusters in enumerate(self._clusters):
            if clusters:
                parent = self.index(row, 0)
                self.dataChanged.emit(self.index(0, Column.WEIGHT, parent),
                                      self.index(len(clusters) - 1, Column.EFFECTIVE, parent))

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

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self._balance is None:
            return None
        kind, rid, label, size, color, weight, effective = self._row(index)
        column = Column(index.column())
        if role == KIND_ROLE:
            return kind
        if role == ID_ROLE:
            return rid
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
            return label
        if role == Qt.ItemDataRole.FontRole and kind == "topic" and column == Column.LABEL:
            return self._bold
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


class TopicTree(QTreeView):
    """The sortable tree; selecting a row selects its topic or cluster everywhere, Enter on a
    topic opens it in the landscape."""

    topic_selected = Signal(int)
    cluster_selected = Signal(int)  # NOISE_ID for the noise row
    topic_entered = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.topics = TopicTreeModel(self)
        self._proxy = QSortFilterProxyModel(self)
        self._proxy.setSourceModel(self.topics)
        self._proxy.setSortRole(SORT_ROLE)
        self._proxy.setDynamicSortFilter(False)  # rows stay put while a weight is edited
        self.setModel(self._proxy)
        self.setItemDelegateForColumn(Column.WEIGHT, WeightDelegate(self))
        self.setSortingEnabled(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setUniformRowHeights(True)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(Column.LABEL, QHeaderView.ResizeMode.Stretch)
        for column in (Column.SIZE, Column.SHARE, Column.EFFECTIVE):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(Column.WEIGHT, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(Column.WEIGHT, WEIGHT_COLUMN_WIDTH)
        self.setAccessibleName("Topic table")
        self.selectionModel().currentRowChanged.connect(self._on_current_row_changed)

    def set_analysis(self, analysis: Analysis, balance: Balance, topic_palette: np.ndarray,
                     cluster_palette: np.ndarray) -> None:
        self.topics.set_analysis(analysis, balance, topic_palette, cluster_palette)
        self.sortByColumn(Column.SIZE, Qt.SortOrder.DescendingOrder)
        for row in range(self._proxy.rowCount()):
            topic = self._proxy.index(row, 0)
            self._open_editor(self._proxy.index(row, Column.WEIGHT))
            for child in range(self._proxy.rowCount(topic)):
                self._open_editor(self._proxy.index(child, Column.WEIGHT, topic))

    def _open_editor(self, index: QModelIndex) -> None:
        self.openPersistentEditor(index)
        line_edit = self.indexWidget(index).findChild(QLineEdit)
        if line_edit is not None:  # the view selects an editor's text; here it would just glare
            line_edit.deselect()

    def topic_weight_editor(self, topic_id: int) -> QDoubleSpinBox | None:
        """The spin box that edits a topic's weight."""
        return self._editor(self.topics.topic_index(topic_id, Column.WEIGHT))

    def weight_editor(self, cluster_id: int) -> QDoubleSpinBox | None:
        """The spin box that edits a cluster's weight (NOISE_ID: the noise weight)."""
        return self._editor(self.topics.cluster_index(cluster_id, Column.WEIGHT))

    def _editor(self, source: QModelIndex) -> QDoubleSpinBox | None:
        widget = self.indexWidget(self._proxy.mapFromSource(source)) if source.isValid() else None
        return widget if isinstance(widget, QDoubleSpinBox) else None

    def expand_topic(self, topic_id: int) -> None:
        """Show a topic's clusters (the topic opened in the landscape)."""
        source = self.topics.topic_index(topic_id)
        if source.isValid():
            self.expand(self._proxy.mapFromSource(source))

    def select_topic(self, topic_id: int | None) -> None:
        self._select(self.topics.topic_index(topic_id) if topic_id is not None else QModelIndex())

    def select_cluster(self, cluster_id: int | None) -> None:
        """Select a cluster's row (opening its topic), without announcing it again."""
        self._select(self.topics.cluster_index(cluster_id) if cluster_id is not None
                     else QModelIndex())

    def _select(self, source: QModelIndex) -> None:
        index = self._proxy.mapFromSource(source) if source.isValid() else QModelIndex()
        selection = self.selectionModel()
        selection.blockSignals(True)
        if not index.isValid():
            selection.clear()
        else:
            if index.parent().isValid():
                self.expand(index.parent())
            selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                      | QItemSelectionModel.SelectionFlag.Rows)
            self.scrollTo(index)
        selection.blockSignals(False)
        self.viewport().update()

    def _on_current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        kind, rid = current.data(KIND_ROLE), int(current.data(ID_ROLE))
        if kind == "topic":
            self.topic_selected.emit(rid)
        else:
            self.cluster_selected.emit(rid)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        current = self.currentIndex()
        if (event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and current.isValid()
                and current.data(KIND_ROLE) == "topic"):
            self.topic_entered.emit(int(current.data(ID_ROLE)))
            return
        super().keyPressEvent(event)
