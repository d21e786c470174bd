"""The top-down map: every row's 2-D position, coloured by its cluster, each cluster named.

One scatter item per cluster keeps drawing fast for tens of thousands of rows; a click selects
the cluster of the nearest row. For an image set, hovering a row shows a card with its image.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent
from PySide6.QtCore import QPointF, QRectF, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QLabel, QWidget

from level_desktop.gui.palette import NOISE_COLOR, rgb_to_hex

BACKGROUND = "#f7f8fa"
POINT_SIZE = 5
SELECTED_POINT_SIZE = 7
FADED_OPACITY = 0.5
CLICK_RADIUS_PX = 12
HOVER_OFFSET_PX = 16
# A hover card: the row's picture and a caption, for an analysed row (None: no card).
HoverCard = Callable[[int], tuple[QPixmap, str] | None]


class MapView(pg.PlotWidget):
    """The analysed rows on the 2-D map; `cluster_clicked` names the cluster of a clicked row."""

    hill_clicked = Signal(int)  # the index (at the level shown) of the clicked row's hill

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background=BACKGROUND)
        self.setAccessibleName("Map view")
        self.setAspectLocked(True)
        self.hideAxis("left")
        self.hideAxis("bottom")
        self.setMenuEnabled(False)
        self.hideButtons()
        self._positions = np.zeros((0, 2), dtype=np.float32)
        self._labels = np.zeros(0, dtype=np.int32)
        self._points: dict[int, pg.ScatterPlotItem] = {}
        self._names: dict[int, pg.TextItem] = {}
        self._selected: int | None = None
        self._name_priority: list[int] = []  # clusters, largest first
        self._fit_on_show = False  # set_points ran while hidden: frame the rows when shown
        self.scene().sigMouseClicked.connect(self._on_click)
        self.getPlotItem().getViewBox().sigRangeChanged.connect(self._declutter_names)
        self._hover_rows: np.ndarray | None = None  # the analysed row of each point
        self._hover_card: HoverCard | None = None
        self.hover_row: int | None = None  # the analysed row whose card is shown
        self.hover_label = QLabel(self)
        self.hover_label.setAccessibleName("Image of the row under the pointer")
        self.hover_label.setStyleSheet("background: white; border: 1px solid #9aa3ad; "
                                       "padding: 4px; color: #1e2228;")
        self.hover_label.hide()
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)

    def set_points(self, positions: np.ndarray, labels: np.ndarray, names: list[str],
                   palette: np.ndarray) -> None:
        """Show a new analysis's rows, one colour per cluster, names at the cluster centres."""
        self.clear()
        self._positions = np.asarray(positions, dtype=np.float32)
        self._labels = np.asarray(labels, dtype=np.int32)
        self._points, self._names = {}, {}
        self._selected = None
        for cluster in np.unique(self._labels):
            members = self._positions[self._labels == cluster]
            color = NOISE_COLOR if cluster < 0 else rgb_to_hex(palette[cluster])
            item = pg.ScatterPlotItem(members[:, 0], members[:, 1], size=POINT_SIZE, pen=None,
                                      brush=pg.mkBrush(color))
            self.addItem(item)
            self._points[int(cluster)] = item
        for cluster, name in enumerate(names):
            members = self._positions[self._labels == cluster]
            if not len(members):
                continue
            text = pg.TextItem(name, color=QColor(30, 34, 40), anchor=(0.5, 0.5),
                               fill=pg.mkBrush(255, 255, 255, 210),
                               border=pg.mkPen(rgb_to_hex(palette[cluster]), width=1.5))
            text.setPos(*members.mean(axis=0))
            text.setZValue(10)
            self.addItem(text)
            self._names[cluster] = text
        sizes = np.bincount(self._labels[self._labels >= 0], minlength=len(names))
        self._name_priority = [int(c) for c in np.argsort(-sizes, kind="stable")]
        self.fit_points()
        self._fit_on_show = not self.isVisible()

    def fit_points(self) -> None:
        """Frame all rows. The names are left out: a TextItem's size is in pixels, so counting
        it in view units (pyqtgraph's plain autoRange) zoomed a hidden map far out."""
        if self._points:
            self.getPlotItem().getViewBox().autoRange(items=list(self._points.values()))
        self._declutter_names()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._fit_on_show:
            self._fit_on_show = False
            self.fit_points()

    def set_selected(self, cluster_id: int | None) -> None:
        """Bring one cluster forward and fade the others (None shows all alike)."""
        self._selected = cluster_id
        for cluster, item in self._points.items():
            chosen = cluster_id is None or cluster == cluster_id
            item.setOpacity(1.0 if chosen else FADED_OPACITY)
            item.setSize(SELECTED_POINT_SIZE if cluster == cluster_id else POINT_SIZE)
            item.setZValue(1 if cluster == cluster_id else 0)
        for cluster, text in self._names.items():
            text.setOpacity(1.0 if cluster_id is None or cluster == cluster_id else 0.75)
        self._declutter_names()

    def _declutter_names(self) -> None:
        """Show names in priority order (selected, then largest); skip one that would overlap."""
        order = [c for c in self._name_priority if c in self._names]
        if self._selected in self._names:
            order = [self._selected] + [c for c in order if c != self._selected]
        view_box = self.getPlotItem().getViewBox()
        placed: list[QRectF] = []
        for cluster in order:
            text = self._names[cluster]
            centre = view_box.mapViewToScene(text.pos())
            size = text.boundingRect().size()  # in pixels: a TextItem ignores the view's zoom
            rect = QRectF(centre.x() - size.width() / 2, centre.y() - size.height() / 2,
                          size.width(), size.height())
            free = not any(rect.intersects(other) for other in placed)
            text.setVisible(free)
            if free:
                placed.append(rect)

    def cluster_at(self, x: float, y: float) -> int | None:
        """The cluster of the row nearest to widget pixel (x, y), if one is close enough."""
        nearest = self.point_at(x, y)
        return None if nearest is None else int(self._labels[nearest])

    def point_at(self, x: float, y: float) -> int | None:
        """The index of the point nearest to widget pixel (x, y), if one is close enough."""
        if not len(self._positions):
            return None
        view_box = self.getPlotItem().getViewBox()
        scene_point = self.mapToScene(int(x), int(y))
        point = view_box.mapSceneToView(scene_point)
        pixel = view_box.viewPixelSize()
        d = np.hypot((self._positions[:, 0] - point.x()) / pixel[0],
                     (self._positions[:, 1] - point.y()) / pixel[1])
        nearest = int(np.argmin(d))
        return nearest if d[nearest] <= CLICK_RADIUS_PX else None

    def set_hover_cards(self, rows: np.ndarray | None, card: HoverCard | None) -> None:
        """Show `card(row)` beside the pointer over a point; `rows`: the analysed row of each
        point of the last `set_points`. None turns hover cards off (a text analysis)."""
        self._hover_rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        self._hover_card = card
        self._hide_hover()

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if self._hover_card is None or self._hover_rows is None:
            return
        widget_pos = self.mapFromScene(scene_pos)
        point = self.point_at(widget_pos.x(), widget_pos.y())
        if point is None or point >= len(self._hover_rows):
            self._hide_hover()
            return
        row = int(self._hover_rows[point])
        if row != self.hover_row:
            shown = self._hover_card(row)
            if shown is None:
                self._hide_hover()
                return
            pixmap, caption = shown
            self.hover_label.setText("")
            self.hover_label.setPixmap(pixmap)
            self.hover_label.setToolTip(caption)
            self.hover_label.adjustSize()
            self.hover_row = row
        # Beside the pointer, kept inside the view.
        x = min(widget_pos.x() + HOVER_OFFSET_PX, self.width() - self.hover_label.width())
        y = min(widget_pos.y() + HOVER_OFFSET_PX, self.height() - self.hover_label.height())
        self.hover_label.move(max(0, x), max(0, y))
        self.hover_label.show()
        self.hover_label.raise_()

    def _hide_hover(self) -> None:
        self.hover_row = None
        self.hover_label.hide()

    def leaveEvent(self, event) -> None:
        super().leaveEvent(event)
        self._hide_hover()

    def _on_click(self, event: MouseClickEvent) -> None:
        widget_pos = self.mapFromScene(event.scenePos())
        cluster = self.cluster_at(widget_pos.x(), widget_pos.y())
        if cluster is not None:
            self.hill_clicked.emit(cluster)
