"""The cluster table: label, size, share, a weight spin box and the effective size, sortable.

The model reads weights from the Qt-free Balance and listens to it; an edited spin box does not
write the weight itself but emits `weight_edited`, so the window can make the change undoable.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QHeaderView,
    QLineEdit,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from level_desktop.core.analysis import ClusterInfo
from level_desktop.core.balance import NOISE_ID, Balance
from level_desktop.gui.palette import NOISE_COLOR, rgb_to_hex

MAX_WEIGHT = 20.0
WEIGHT_STEP = 0.1
WEIGHT_COLUMN_WIDTH = 96
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
CLUSTER_ID_ROLE = Qt.ItemDataRole.UserRole + 2
AnyIndex = QModelIndex | QPersistentModelIndex


class Column(IntEnum):
    LABEL = 0
    SIZE = 1
    SHARE = 2
    WEIGHT = 3
    EFFECTIVE = 4


HEADERS = {Column.LABEL: "Cluster", Column.SIZE: "Rows", Column.SHARE: "Share",
           Column.WEIGHT: "Weight", Column.EFFECTIVE: "Effective"}
TOOLTIPS = {Column.SIZE: "Rows in the cluster", Column.SHARE: "Share of all analysed rows",
            Column.WEIGHT: "Weight given to each of the cluster's rows in the exports",
            Column.EFFECTIVE: "Rows × weight: the cluster's size after leveling"}


class ClusterTableModel(QAbstractTableModel):
    """One row per cluster (plus one for noise rows, if any), read live from a Balance."""

    weight_edited = Signal(int, float)  # cluster id (−1 = noise), the weight the user set

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ids: list[int] = []
        self._labels: list[str] = []
        self._sizes: list[int] = []
        self._colors: list[QColor] = []
        self._balance: Balance | None = None
        self._total = 1

    def set_clusters(self, clusters: list[ClusterInfo], balance: Balance,
                     palette: np.ndarray) -> None:
        self.beginResetModel()
        if self._balance is not None:
            self._balance.unsubscribe(self.refresh_weights)
        self._balance = balance
        balance.subscribe(self.refresh_weights)
        self._ids = [c.id for c in clusters]
        self._labels = [c.label for c in clusters]
        self._sizes = [c.size for c in clusters]
        self._colors = [QColor(rgb_to_hex(palette[c.id])) for c in clusters]
        if balance.noise_size:
            self._ids.append(NOISE_ID)
            self._labels.append("noise (rows in no cluster)")
            self._sizes.append(balance.noise_size)
            self._colors.append(QColor(NOISE_COLOR))
        self._total = max(1, sum(self._sizes))
        self.endResetModel()

    def refresh_weights(self) -> None:
        """The balance changed: the weight and effective-size columns show the new values."""
        if self._ids:
            self.dataChanged.emit(self.index(0, Column.WEIGHT),
                                  self.index(len(self._ids) - 1, Column.EFFECTIVE))

    def cluster_id(self, row: int) -> int:
        return self._ids[row]

    def row_of(self, cluster_id: int) -> int | None:
        try:
            return self._ids.index(cluster_id)
        except ValueError:
            return None

    def weight(self, row: int) -> float:
        if self._balance is None:
            return 1.0
        cid = self._ids[row]
        return self._balance.noise_weight if cid == NOISE_ID else self._balance.weight(cid)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        return 0 if parent.isValid() else len(Column)

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

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = index.row(), Column(index.column())
        size = self._sizes[row]
        weight = self.weight(row)
        if role == CLUSTER_ID_ROLE:
            return self._ids[row]
        if role == SORT_ROLE:
            return {Column.LABEL: self._labels[row].lower(), Column.SIZE: size,
                    Column.SHARE: size, Column.WEIGHT: weight,
                    Column.EFFECTIVE: size * weight}[column]
        if role == Qt.ItemDataRole.DisplayRole:
            # The weight column shows its spin box, not text that would peek out behind it.
            return {Column.LABEL: self._labels[row], Column.SIZE: f"{size:,}",
                    Column.SHARE: f"{size / self._total:.1%}", Column.WEIGHT: None,
                    Column.EFFECTIVE: f"{size * weight:,.1f}"}[column]
        if role == Qt.ItemDataRole.EditRole and column == Column.WEIGHT:
            return weight
        if role == Qt.ItemDataRole.DecorationRole and column == Column.LABEL:
            return self._colors[row]
        if role == Qt.ItemDataRole.TextAlignmentRole and column != Column.LABEL:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and column == Column.LABEL:
            return self._labels[row]
        return None

    def setData(self, index: AnyIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() != Column.WEIGHT:
            return False
        weight = float(value)
        if abs(weight - self.weight(index.row())) > 1e-12:
            self.weight_edited.emit(self._ids[index.row()], weight)
        return True


class WeightDelegate(QStyledItemDelegate):
    """A spin box per row; arrows and the wheel apply at once, typed values on Enter."""

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem,
                     index: AnyIndex) -> QWidget:
        editor = QDoubleSpinBox(parent)
        editor.setRange(0.0, MAX_WEIGHT)
        editor.setDecimals(2)
        editor.setSingleStep(WEIGHT_STEP)
        editor.setKeyboardTracking(False)
        editor.setFrame(False)
        editor.setAlignment(Qt.AlignmentFlag.AlignRight)
        editor.setAccessibleName("Weight")
        editor.valueChanged.connect(lambda _value: self.commitData.emit(editor))
        return editor

    def setEditorData(self, editor: QWidget, index: AnyIndex) -> None:
        assert isinstance(editor, QDoubleSpinBox)
        value = float(index.data(Qt.ItemDataRole.EditRole))
        if abs(editor.value() - value) > 1e-9:
            editor.blockSignals(True)
            editor.setValue(value)
            editor.blockSignals(False)

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: AnyIndex) -> None:
        assert isinstance(editor, QDoubleSpinBox)
        model.setData(index, editor.value(), Qt.ItemDataRole.EditRole)


class ClusterTable(QTableView):
    """The sortable table of clusters; selecting a row selects its cluster everywhere."""

    cluster_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clusters = ClusterTableModel(self)
        self._proxy = QSortFilterProxyModel(self)
        self._proxy.setSourceModel(self.clusters)
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
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(Column.LABEL, QHeaderView.ResizeMode.Stretch)
        for column in (Column.SIZE, Column.SHARE, Column.EFFECTIVE):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(Column.WEIGHT, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(Column.WEIGHT, WEIGHT_COLUMN_WIDTH)
        self.setAccessibleName("Cluster table")
        self.selectionModel().currentRowChanged.connect(self._on_current_row_changed)

    def set_clusters(self, clusters: list[ClusterInfo], balance: Balance,
                     palette: np.ndarray) -> None:
        self.clusters.set_clusters(clusters, balance, palette)
        self.sortByColumn(Column.SIZE, Qt.SortOrder.DescendingOrder)
        for row in range(self._proxy.rowCount()):
            index = self._proxy.index(row, Column.WEIGHT)
            self.openPersistentEditor(index)
            line_edit = self.indexWidget(index).findChild(QLineEdit)
            if line_edit is not None:  # the view selects an editor's text; here it would just glare
                line_edit.deselect()

    def weight_editor(self, cluster_id: int) -> QDoubleSpinBox | None:
        """The spin box that edits a cluster's weight."""
        index = self._proxy_index(cluster_id, Column.WEIGHT)
        widget = self.indexWidget(index) if index is not None else None
        return widget if isinstance(widget, QDoubleSpinBox) else None

    def select_cluster(self, cluster_id: int | None) -> None:
        """Select a cluster's row (without announcing it again) and scroll it into view."""
        index = self._proxy_index(cluster_id, Column.LABEL) if cluster_id is not None else None
        selection = self.selectionModel()
        selection.blockSignals(True)
        if index is None:
            selection.clear()
        else:
            selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                      | QItemSelectionModel.SelectionFlag.Rows)
            self.scrollTo(index)
        selection.blockSignals(False)
        self.viewport().update()

    def _proxy_index(self, cluster_id: int, column: Column) -> QModelIndex | None:
        row = self.clusters.row_of(cluster_id)
        if row is None:
            return None
        return self._proxy.mapFromSource(self.clusters.index(row, column))

    def _on_current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.cluster_selected.emit(int(current.data(CLUSTER_ID_ROLE)))
