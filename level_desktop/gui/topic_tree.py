"""The topic tree: topics that expand to their clusters, with a weight spin box at both levels,
sortable; selecting a row selects its topic or cluster everywhere, Enter on a topic opens it,
a double-click on a name asks for a new one (elsewhere on a topic row it opens or closes it).

The model (rows, weights, edits) is `topic_model.py`; this is the view and its editors.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import (
    QItemSelectionModel,
    QModelIndex,
    QSize,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QFont, QFontMetrics, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QHeaderView,
    QLineEdit,
    QTreeView,
    QWidget,
)

from level_desktop.core.analysis import Analysis
from level_desktop.core.balance import Balance
from level_desktop.gui.topic_model import ID_ROLE, KIND_ROLE, SORT_ROLE, Column, TopicTreeModel
from level_desktop.gui.weight_delegate import WEIGHT_COLUMN_WIDTH, WeightDelegate

FITTED_COLUMNS = (Column.SIZE, Column.SHARE, Column.EFFECTIVE, Column.REDUNDANCY)
FITTED_SLACK_PX = 12
# The name column asks for room for the longest name (bold, with its swatch and indent), up to
# this; a longer name is cut and shown whole in its tooltip.
NAME_COLUMN_MAX_PX = 260
MIN_VISIBLE_ROWS = 6  # the details panel below may grow, but never squeeze the tree below this


class TopicTree(QTreeView):
    """The sortable tree; selecting a row selects its topic or cluster everywhere, Enter on a
    topic opens it in the landscape."""

    topic_selected = Signal(int)
    cluster_selected = Signal(int)  # NOISE_ID for the noise row
    topic_entered = Signal(int)
    rename_requested = Signal(str, int)  # "topic" or "cluster", its id: its name was double-clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.topics = TopicTreeModel(self)
        self._shown: Analysis | None = None
        self._preferred_width = 0  # room for the names, set per analysis
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
        # Sized once per analysis, not ResizeToContents: that re-measures every row of the tree
        # on each weight change (~100 ms per changed range at 140 clusters).
        for column in FITTED_COLUMNS:
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(Column.WEIGHT, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(Column.WEIGHT, WEIGHT_COLUMN_WIDTH)
        self.setAccessibleName("Topic table")
        self.selectionModel().currentRowChanged.connect(self._on_current_row_changed)
        self.expanded.connect(self._on_expanded)
        self.collapsed.connect(self._on_collapsed)

    def _on_expanded(self, index: QModelIndex) -> None:
        row = self._proxy.mapToSource(index).row()
        self.topics.open_rows.add(row)
        self.topics.refresh_children(row)  # its spin boxes may show weights set while closed

    def _on_collapsed(self, index: QModelIndex) -> None:
        self.topics.open_rows.discard(self._proxy.mapToSource(index).row())

    def set_analysis(self, analysis: Analysis, balance: Balance, topic_palette: np.ndarray,
                     cluster_palette: np.ndarray) -> None:
        """Show an analysis; the same one again (new names) keeps its open topics open."""
        same = analysis is self._shown
        open_topics = [int(self._proxy.index(row, 0).data(ID_ROLE))
                       for row in range(self._proxy.rowCount())
                       if self.isExpanded(self._proxy.index(row, 0))] if same else []
        self._shown = analysis
        self.topics.set_analysis(analysis, balance, topic_palette, cluster_palette)
        self.sortByColumn(Column.SIZE, Qt.SortOrder.DescendingOrder)
        for topic in open_topics:
            self.expand_topic(topic)
        for row in range(self._proxy.rowCount()):
            topic = self._proxy.index(row, 0)
            self._open_editor(self._proxy.index(row, Column.WEIGHT))
            for child in range(self._proxy.rowCount(topic)):
                self._open_editor(self._proxy.index(child, Column.WEIGHT, topic))
        for column in FITTED_COLUMNS:  # room for a weighted size a few digits longer
            self.resizeColumnToContents(column)
            self.setColumnWidth(column, self.columnWidth(column) + FITTED_SLACK_PX)
        self._ask_room_for_names(analysis)

    def _ask_room_for_names(self, analysis: Analysis) -> None:
        """A preferred width (the size hint, not a minimum: the window may still be made
        narrower) that leaves the (stretching) name column room for the longest topic or cluster
        name, up to NAME_COLUMN_MAX_PX; the numbers and spin boxes keep their fitted widths."""
        bold = QFont(self.font())
        bold.setBold(True)
        topic_width = max((QFontMetrics(bold).horizontalAdvance(t.label)
                           for t in analysis.topics), default=0)
        cluster_width = max((QFontMetrics(self.font()).horizontalAdvance(c.label)
                             for c in analysis.clusters), default=0) + self.indentation()
        icon = self.iconSize().width() if self.iconSize().width() > 0 else 16
        name = min(max(topic_width, cluster_width) + self.indentation() + icon + 16,
                   NAME_COLUMN_MAX_PX)
        others = sum(self.columnWidth(c) for c in Column
                     if c != Column.LABEL and not self.isColumnHidden(c))
        self._preferred_width = (name + others + self.verticalScrollBar().sizeHint().width()
                                 + 2 * self.frameWidth())
        self.updateGeometry()

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(max(hint.width(), self._preferred_width), hint.height())

    def minimumSizeHint(self) -> QSize:
        """At least MIN_VISIBLE_ROWS rows high, so a long description in the details panel
        below cannot leave the table three rows to choose from."""
        hint = super().minimumSizeHint()
        rows = MIN_VISIBLE_ROWS * max(self.fontMetrics().height() + 6, 20)
        return QSize(hint.width(), max(hint.height(), self.header().sizeHint().height() + rows
                                       + 2 * self.frameWidth()))

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

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        """A double-click on a topic's or cluster's name asks to rename it. The tree's own
        double-click opened or closed a topic row only on its name; it now does so on the
        row's other cells (the arrow and the ←/→ keys open and close it as before)."""
        index = self.indexAt(event.position().toPoint())
        kind = index.data(KIND_ROLE) if index.isValid() else None
        if event.button() == Qt.MouseButton.LeftButton and kind in ("topic", "cluster"):
            if index.column() == Column.LABEL:
                self.rename_requested.emit(kind, int(index.data(ID_ROLE)))
                event.accept()
                return
            if kind == "topic":
                row = index.siblingAtColumn(Column.LABEL)
                self.setExpanded(row, not self.isExpanded(row))
                event.accept()
                return
        super().mouseDoubleClickEvent(event)
