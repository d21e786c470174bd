"""The 3D landscape: one coloured hill per topic or cluster, each named by a floating label.

Any Terrain can be shown; a new one may `fly` in: the camera first looks at the new terrain from
where it looked at the old one (both terrains are in the same map units), so a drilled-in topic
grows out of the massif it opens and a return shrinks back into it, then glides to the usual view.
Drawn with pyqtgraph's GLViewWidget and GLSurfacePlotItem using flat per-vertex colours (lighting
is baked into the colours, so no normals are computed per frame). Orbit with the left mouse
button, pan with the middle one, zoom with the wheel; a click on a hill (or on its name) selects
it, a double-click on the terrain opens it and a double-click on a name asks to rename the hill
(the labels are painted as plates whose rectangles the last frame keeps, so they can be hit).
With `label_limit` set, only the tallest hills (plus the selected one and the one under the
pointer) carry a label, so a crowded level stays readable.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph.opengl as gl
from pyqtgraph import Vector
from PySide6.QtCore import (
    QEasingCurve,
    QEvent,
    QPoint,
    QPointF,
    QRectF,
    QSizeF,
    Qt,
    QTimer,
    QVariantAnimation,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QMouseEvent, QPainter, QVector4D
from PySide6.QtWidgets import QWidget

from level_desktop.core.terrain import Terrain
from level_desktop.gui.palette import rgb_to_hex
from level_desktop.gui.terrain_scene import TerrainScene, pick_vertex

BACKGROUND = "#eef1f5"
CLICK_SLOP_PX = 4
PICK_RADIUS_PX = 8
LABEL_DEPTH = 10  # labels are painted after the surface, so the surface never covers them
DEFAULT_CAMERA = {"distance": 27.0, "elevation": 38.0, "azimuth": -62.0}
DEFAULT_CENTER = (0.0, 0.0, 1.2)
FLY_MS = 350  # how long the camera glides after a drill-down or a return
Camera = tuple[tuple[float, float, float], float, float, float]  # centre, distance, elev., azim.
# Issue 17: a comparison set is drawn as a translucent dark skin over the terrain (dark glass
# reads apart from every hill colour). Where the comparison set has more than training it rises
# above the hill; where less, it hides inside.
OVERLAY_RGBA = (25, 28, 55, 125)
OVERLAY_LIFT = 0.03  # scene units, so an equal share does not flicker against the terrain
# The skin is drawn at most this many times the unweighted terrain's tallest point: a hill 28×
# more frequent in the comparison set would otherwise rise as a wall out of the view and hide
# the terrain behind it; cut flat there, it still stands above everything else.
OVERLAY_CAP = 1.5


class HillLabel(gl.GLTextItem):
    """A hill's name on a small rounded plate, centred above the hill's top.

    Drawing the scene only queues each label (with where it lands on screen); the view then paints
    the queue in one QPainter pass from pre-rendered plates, in priority order (the selected hill,
    then the tallest), leaving out a label whose plate would overlap one already painted.
    """

    def __init__(self, text: str, color: str, queue: list[tuple[HillLabel, QPointF]]) -> None:
        super().__init__(text=text, font=QFont("DejaVu Sans", 9))
        self.swatch = QColor(color)
        self.selected = False
        self.shown = False  # whether the last frame had room for this label
        self.hill = -1  # the index of the hill it names (set by the view)
        self._queue = queue
        self._plates: dict[bool, QImage] = {}
        self.setDepthValue(LABEL_DEPTH)

    def paint(self) -> None:
        self.shown = False
        if not self.text:
            return
        clip = self.mvpMatrix().map(QVector4D(float(self.pos[0]), float(self.pos[1]),
                                              float(self.pos[2]), 1.0))
        if clip.w() <= 0:  # behind the camera
            return
        view = self.view()
        anchor = QPointF((clip.x() / clip.w() + 1) * 0.5 * view.width(),
                         (1 - clip.y() / clip.w()) * 0.5 * view.height())
        self._queue.append((self, anchor))

    def plate(self, device_pixel_ratio: float) -> QImage:
        """The label drawn once on its plate (re-drawn only when the selection changes)."""
        cached = self._plates.get(self.selected)
        if cached is not None and cached.devicePixelRatio() == device_pixel_ratio:
            return cached
        font = QFont(self.font)
        font.setBold(self.selected)
        metrics = QFontMetricsF(font)
        size = QSizeF(metrics.horizontalAdvance(self.text) + 22, metrics.height() + 6)
        image = QImage((size * device_pixel_ratio).toSize(),
                       QImage.Format.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(device_pixel_ratio)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHints(QPainter.RenderHint.Antialiasing
                               | QPainter.RenderHint.TextAntialiasing)
        rect = QRectF(0.5, 0.5, size.width() - 1, size.height() - 1)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(32, 36, 44, 235) if self.selected else QColor(255, 255, 255, 225))
        painter.drawRoundedRect(rect, 5, 5)
        painter.setBrush(self.swatch)
        painter.drawEllipse(QPointF(9, rect.center().y()), 3.5, 3.5)
        painter.setFont(font)
        painter.setPen(QColor("white") if self.selected else QColor(30, 34, 40))
        painter.drawText(rect.adjusted(16, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter
                         | Qt.AlignmentFlag.AlignLeft, self.text)
        painter.end()
        self._plates[self.selected] = image
        return image


class TerrainView(gl.GLViewWidget):
    """The landscape for one terrain; `show_weights` redraws it for new weights."""

    hill_clicked = Signal(int)  # the index of a clicked hill, −1 for bare ground
    hill_activated = Signal(int)  # the index of a double-clicked hill
    label_activated = Signal(int)  # the index of the hill whose name was double-clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)  # hovering a hill names it when its label is left out
        self.setBackgroundColor(BACKGROUND)
        self.setMinimumSize(320, 240)
        self.setAccessibleName("Terrain view")
        self._terrain: Terrain | None = None
        self._scene: TerrainScene | None = None
        self._surface: gl.GLSurfacePlotItem | None = None
        self._labels: list[HillLabel] = []
        self._label_cache: dict[int, tuple[Terrain, tuple[list[str], list[str]],
                                           list[HillLabel]]] = {}
        self._label_queue: list[tuple[HillLabel, QPointF]] = []
        self.label_rects: list[tuple[int, QRectF]] = []  # hill, plate: the last frame's names
        self._weights: np.ndarray | None = None
        self._selected: int | None = None
        # At most this many labels (the tallest hills' in view, plus the selected and the hovered
        # one) are in the scene; None: every hill's. The rest appear on hover.
        self.label_limit: int | None = None
        self._hovered: int | None = None
        self._in_scene: set[int] = set()  # the hills whose labels are scene items now
        self._anchors: np.ndarray | None = None  # label positions of the last redraw
        self._press_pos: QPoint | None = None
        self.heights: np.ndarray | None = None  # the terrain heights now drawn (terrain units)
        self._overlay: gl.GLSurfacePlotItem | None = None
        self.overlay_heights: np.ndarray | None = None  # the comparison skin now drawn, if any
        self.owners: np.ndarray | None = None  # the hill owning each drawn vertex
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(0)
        self._redraw_timer.timeout.connect(self.redraw_now)
        self.fly_ms = FLY_MS  # 0: a new terrain appears in the usual view at once
        self._flight = QVariantAnimation(self)
        self._flight.setStartValue(0.0)
        self._flight.setEndValue(1.0)
        self._flight.setEasingCurve(QEasingCurve.Type.InOutCubic)
        self._flight.valueChanged.connect(self._fly_step)
        self._flight_ends: tuple[Camera, Camera] | None = None
        self.reset_view()

    @property
    def terrain(self) -> Terrain | None:
        return self._terrain

    @property
    def scene(self) -> TerrainScene | None:
        return self._scene

    @property
    def labels(self) -> list[HillLabel]:
        return self._labels

    @property
    def flying(self) -> bool:
        return self._flight.state() == QVariantAnimation.State.Running

    def set_terrain(self, terrain: Terrain, names: list[str], palette: np.ndarray,
                    weights: np.ndarray, fly: bool = False, selected: int | None = None) -> None:
        """Show a terrain (its height scale is its own unweighted one) with hill `selected`
        highlighted; `fly`: from the old one. Returning to a terrain shown before (the same
        object, the same names) reuses its labels' drawn plates."""
        previous, start = self._scene, self.camera()
        for c in self._in_scene:
            self.removeItem(self._labels[c])
        self._in_scene = set()
        self._hovered = None
        self.label_rects = []  # the old terrain's names: not hit until the next frame draws
        self._terrain = terrain
        self._scene = TerrainScene.from_terrain(terrain, palette)
        self._selected = selected
        flat = np.zeros((terrain.grid, terrain.grid), dtype=np.float32)
        if self._surface is None:
            self._surface = gl.GLSurfacePlotItem(
                x=self._scene.xs, y=self._scene.ys, z=flat, shader=None, computeNormals=False,
                smooth=True, glOptions="opaque")
            self.addItem(self._surface)
        else:
            self._surface.setData(x=self._scene.xs, y=self._scene.ys, z=flat)
        self._labels = self._labels_for(terrain, names, palette)
        for c, label in enumerate(self._labels):
            label.selected = c == selected
        self._weights = np.asarray(weights, dtype=np.float64).copy()
        self._flight.stop()
        if fly and previous is not None and self.fly_ms > 0:
            self._fly(self._carried_camera(start, previous, self._scene))
        else:
            self.reset_view()
        self.redraw_now()

    def _labels_for(self, terrain: Terrain, names: list[str],
                    palette: np.ndarray) -> list[HillLabel]:
        colors = [rgb_to_hex(palette[c]) for c in range(len(names))]
        key = id(terrain)
        cached = self._label_cache.get(key)
        if cached is not None and cached[0] is terrain and cached[1] == (names, colors):
            return cached[2]
        labels = [HillLabel(name, color, self._label_queue)
                  for name, color in zip(names, colors, strict=True)]
        for hill, label in enumerate(labels):
            label.hill = hill
        self._label_cache[key] = (terrain, (list(names), colors), labels)
        return labels

    def forget_labels(self) -> None:
        """Drop the labels kept for terrains shown before (another analysis is coming)."""
        self._label_cache.clear()

    def camera(self) -> Camera:
        center = self.opts["center"]
        return ((float(center.x()), float(center.y()), float(center.z())),
                float(self.opts["distance"]), float(self.opts["elevation"]),
                float(self.opts["azimuth"]))

    def set_camera(self, camera: Camera) -> None:
        center, distance, elevation, azimuth = camera
        self.setCameraPosition(pos=Vector(*center), distance=distance, elevation=elevation,
                               azimuth=azimuth)

    @staticmethod
    def _carried_camera(camera: Camera, old: TerrainScene, new: TerrainScene) -> Camera:
        """The camera that shows `new`'s scene as `camera` showed the same map spot in `old`'s."""
        (x, y, z), distance, elevation, azimuth = camera
        nx, ny = new.to_scene(*old.to_map(x, y))
        return (nx, ny, z), distance * new.scale / old.scale, elevation, azimuth

    def _fly(self, start: Camera) -> None:
        """Jump to `start` now (the next frame shows it) and glide to the usual view."""
        self.set_camera(start)
        self._flight_ends = (start, (DEFAULT_CENTER, DEFAULT_CAMERA["distance"],
                                     DEFAULT_CAMERA["elevation"], DEFAULT_CAMERA["azimuth"]))
        self._flight.setDuration(self.fly_ms)
        self._flight.start()

    def _fly_step(self, value: float) -> None:
        if self._flight_ends is None:
            return
        (c0, d0, e0, a0), (c1, d1, e1, a1) = self._flight_ends
        t = float(value)
        turn = (a1 - a0 + 180.0) % 360.0 - 180.0
        self.set_camera((tuple(p + (q - p) * t for p, q in zip(c0, c1, strict=True)),
                         d0 * (d1 / d0) ** t, e0 + (e1 - e0) * t, a0 + turn * t))

    def show_weights(self, weights: np.ndarray) -> None:
        """Redraw for new weights; changes arriving in one event-loop pass draw once."""
        self._weights = np.asarray(weights, dtype=np.float64).copy()
        self._redraw_timer.start()

    def flush(self) -> None:
        """Apply a redraw still waiting in the event loop now (before reading a frame back)."""
        if self._redraw_timer.isActive():
            self.redraw_now()

    def set_selected(self, hill: int | None) -> None:
        if hill == self._selected:
            return
        self._selected = hill
        for c, label in enumerate(self._labels):
            label.selected = c == hill
        self._redraw_timer.start()

    def redraw_now(self) -> None:
        """Recompute heights and colours for the current weights and schedule a frame."""
        self._redraw_timer.stop()
        if self._terrain is None or self._scene is None or self._surface is None:
            return
        weights = self._weights if self._weights is not None else np.ones(len(self._labels))
        heights = self._terrain.heights(weights)
        owners = self._terrain.owners(weights)
        colors = self._scene.vertex_colors(heights, owners, self._selected)
        self._surface.setData(z=self._scene.surface_z(heights), colors=colors)
        self._anchors = self._scene.label_anchors(heights)
        self._place_labels()
        self.heights, self.owners = heights, owners
        self.update()

    def _place_labels(self) -> None:
        """Put the labels in the scene in priority order (the selected hill, the hovered one, then
        the tallest), at most `label_limit` of them besides those two."""
        anchors = self._anchors
        if anchors is None or len(anchors) != len(self._labels):
            return
        priority = np.argsort(-anchors[:, 2], kind="stable")
        chosen = list(priority if self.label_limit is None else priority[:self.label_limit])
        for first in (self._hovered, self._selected):
            if first is not None and 0 <= first < len(self._labels):
                chosen = [first, *(c for c in chosen if c != first)]
        for rank, c in enumerate(chosen):
            self._labels[c].setData(pos=anchors[c])
            self._labels[c].setDepthValue(LABEL_DEPTH + rank)
        wanted = {int(c) for c in chosen}
        for c in self._in_scene - wanted:
            self._labels[c].shown = False
            self.removeItem(self._labels[c])
        for c in sorted(wanted - self._in_scene):
            self.addItem(self._labels[c])
        self._in_scene = wanted

    def set_hovered(self, hill: int | None) -> None:
        """Name the hill under the pointer even when its label is left out (None: no hill)."""
        hill = hill if hill is not None and 0 <= hill < len(self._labels) else None
        if hill == self._hovered:
            return
        self._hovered = hill
        if self.label_limit is not None:
            self._place_labels()
            self.update()

    def paint(self, *, region: tuple, viewport: tuple, useItemNames: bool = False) -> None:
        """Draw one frame: the scene, then every queued label in one painter pass."""
        self._label_queue.clear()
        super().paint(region=region, viewport=viewport, useItemNames=useItemNames)
        self.label_rects = []
        if not self._label_queue:
            return
        ratio = self.devicePixelRatioF()
        placed: list[QRectF] = []
        painter = QPainter(self)
        for label, anchor in self._label_queue:
            plate = label.plate(ratio)
            size = plate.deviceIndependentSize()
            rect = QRectF(anchor.x() - size.width() / 2, anchor.y() - size.height() - 2,
                          size.width(), size.height())
            label.shown = not any(rect.intersects(other) for other in placed)
            if label.shown:
                placed.append(rect)
                self.label_rects.append((label.hill, rect))
                painter.drawImage(rect.topLeft(), plate)
        painter.end()
        self._label_queue.clear()

    def set_overlay(self, heights: np.ndarray | None) -> None:
        """Draw a second, translucent surface over the terrain (a comparison set), in terrain
        units on the terrain's own scale (drawn up to OVERLAY_CAP times its tallest point);
        None removes it. Weights do not move it."""
        self.overlay_heights = heights
        if heights is None or self._scene is None:
            if self._overlay is not None:
                self._overlay.setVisible(False)
            self.update()
            return
        from level_desktop.gui.terrain_scene import BARE_HEIGHT

        drawn = heights
        if self.terrain is not None and len(self.terrain.unit_hills):
            peak = float(self.terrain.heights(np.ones(len(self.terrain.unit_hills))).max())
            drawn = np.minimum(heights, np.float32(OVERLAY_CAP * peak)) if peak > 0 else heights
        z = self._scene.surface_z(drawn) + np.float32(OVERLAY_LIFT)
        colors = np.empty((*heights.shape, 4), dtype=np.uint8)
        colors[...] = OVERLAY_RGBA
        colors[..., 3] = np.where(heights > BARE_HEIGHT, OVERLAY_RGBA[3], 0)
        if self._overlay is None:
            self._overlay = gl.GLSurfacePlotItem(
                x=self._scene.xs, y=self._scene.ys, z=z, colors=colors, shader=None,
                computeNormals=False, smooth=True, glOptions="translucent")
            self._overlay.setDepthValue(1)  # after the terrain, before the labels
            self.addItem(self._overlay)
        else:
            self._overlay.setData(x=self._scene.xs, y=self._scene.ys, z=z, colors=colors)
        self._overlay.setVisible(True)
        self.update()

    def reset_view(self) -> None:
        self._flight.stop()
        self.setCameraPosition(pos=Vector(*DEFAULT_CENTER), **DEFAULT_CAMERA)
        self.update()

    def model_view_projection(self) -> np.ndarray:
        """The row-major 4×4 matrix from scene to clip coordinates for the current camera."""
        viewport = (0, 0, self.width(), self.height())
        matrix = self.projectionMatrix(viewport, viewport) * self.viewMatrix()
        return np.array(matrix.data(), dtype=np.float64).reshape(4, 4).T

    def surface_point(self, i: int, j: int) -> tuple[float, float, float]:
        """The scene position of grid vertex (i, j) as now drawn."""
        assert self._scene is not None
        assert self.heights is not None
        z = float(self._scene.surface_z(self.heights[i:i + 1, j:j + 1])[0, 0])
        return float(self._scene.xs[i]), float(self._scene.ys[j]), z

    def screen_position(self, point: tuple[float, float, float]) -> QPointF | None:
        """Where a scene point is drawn, in widget pixels (None when behind the camera)."""
        clip = self.model_view_projection() @ np.array([*point, 1.0])
        if clip[3] <= 0:
            return None
        return QPointF((clip[0] / clip[3] + 1) * 0.5 * self.width(),
                       (1 - clip[1] / clip[3]) * 0.5 * self.height())

    def hill_at(self, x: float, y: float) -> int | None:
        """The hill owning the surface under widget pixel (x, y), −1 for bare ground."""
        if self._scene is None or self.heights is None or self.owners is None:
            return None
        index = pick_vertex(self.model_view_projection(), self._scene.vertices(self.heights),
                            self.width(), self.height(), x, y, PICK_RADIUS_PX)
        return None if index is None else int(self.owners.ravel()[index])

    def label_at(self, x: float, y: float) -> int | None:
        """The hill whose name the last frame drew under widget pixel (x, y), if any."""
        point = QPointF(x, y)
        return next((hill for hill, rect in self.label_rects if rect.contains(point)), None)

    def mouseMoveEvent(self, ev: QMouseEvent) -> None:
        super().mouseMoveEvent(ev)
        if ev.buttons() == Qt.MouseButton.NoButton and self.label_limit is not None:
            self.set_hovered(self.hill_at(ev.position().x(), ev.position().y()))

    def leaveEvent(self, event: QEvent) -> None:
        super().leaveEvent(event)
        self.set_hovered(None)

    def mousePressEvent(self, ev: QMouseEvent) -> None:
        self._flight.stop()  # the user takes the camera
        self._press_pos = ev.position().toPoint()
        super().mousePressEvent(ev)

    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:
        super().mouseReleaseEvent(ev)
        press, self._press_pos = self._press_pos, None
        if press is None or ev.button() != Qt.MouseButton.LeftButton:
            return
        if (ev.position().toPoint() - press).manhattanLength() > CLICK_SLOP_PX:
            return  # that was an orbit drag, not a click
        hill = self.label_at(ev.position().x(), ev.position().y())
        if hill is None:
            hill = self.hill_at(ev.position().x(), ev.position().y())
        if hill is not None:
            self.hill_clicked.emit(hill)

    def mouseDoubleClickEvent(self, ev: QMouseEvent) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        named = self.label_at(ev.position().x(), ev.position().y())
        if named is not None:
            self.label_activated.emit(named)
            return
        hill = self.hill_at(ev.position().x(), ev.position().y())
        if hill is not None and hill >= 0:
            self.hill_activated.emit(hill)
