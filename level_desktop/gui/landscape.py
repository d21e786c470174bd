"""The landscape panel: the 3D terrain and the top-down map of one analysis, at one level.

Two levels (issue 15): at the top one massif per topic, named by topic; drilled into a topic, one
hill per cluster of that topic, named by cluster; a double-click on a name asks to rename that
topic or cluster. The map follows: every row coloured by its topic at the top, only the topic's
rows coloured by cluster inside it. The panel listens to the Balance: a weight change at either
level rescales the hills in view (`Balance.hill_scales`).
This module imports pyqtgraph, so the window loads it only when it has an analysis to show.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QStackedWidget, QWidget

from level_desktop.core.analysis import Analysis
from level_desktop.core.balance import Balance
from level_desktop.gui.map_view import MapView
from level_desktop.gui.terrain_view import TerrainView
from level_desktop.gui.thumbnails import hover_card, is_image_analysis

# Labels in the scene at once: the tallest hills in view (plus the selected one); the others are
# named on hover. 47 massifs at 20k rows, all named, crowd into an unreadable heap.
LABELLED_HILLS = 12

class LandscapePanel(QStackedWidget):
    """Switches between the TerrainView and the MapView; turns hill clicks into topic or
    cluster ids."""

    topic_clicked = Signal(int)
    cluster_clicked = Signal(int)
    ground_clicked = Signal()  # bare ground: choose nothing
    topic_activated = Signal(int)  # a massif was double-clicked: open it
    rename_requested = Signal(str, int)  # "topic" or "cluster", its id: its name double-clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.terrain_view = TerrainView(self)
        self.terrain_view.label_limit = LABELLED_HILLS
        self.map_view = MapView(self)
        self.addWidget(self.terrain_view)
        self.addWidget(self.map_view)
        self._analysis: Analysis | None = None
        self._balance: Balance | None = None
        self._topic_palette = np.zeros((0, 3), dtype=np.float32)
        self._cluster_palette = np.zeros((0, 3), dtype=np.float32)
        self.topic: int | None = None  # the level in view: None = every topic
        self.hill_ids: list[int] = []  # the topic or cluster id of each hill in view
        self._map_stale = True
        self._selected_id: int | None = None  # the topic or cluster id last asked to highlight
        # Issue 17: per hill in view, the comparison set's multiplier of each unit hill.
        self._comparison_scales: Callable[[int | None], np.ndarray | None] | None = None
        self.terrain_view.hill_clicked.connect(self._on_hill_clicked)
        self.map_view.hill_clicked.connect(self._on_hill_clicked)
        self.terrain_view.hill_activated.connect(self._on_hill_activated)
        self.terrain_view.label_activated.connect(self._on_label_activated)

    @property
    def showing_map(self) -> bool:
        return self.currentWidget() is self.map_view

    def set_analysis(self, analysis: Analysis, balance: Balance, topic_palette: np.ndarray,
                     cluster_palette: np.ndarray, topic: int | None = None) -> None:
        """Show a new analysis (or new names) at a level; its balance's changes redraw it."""
        if self._balance is not None:
            self._balance.unsubscribe(self._on_weights_changed)
        self._analysis, self._balance = analysis, balance
        balance.subscribe(self._on_weights_changed)
        self._topic_palette, self._cluster_palette = topic_palette, cluster_palette
        self.terrain_view.forget_labels()
        self.show_level(topic, fly=False)

    def show_level(self, topic: int | None, fly: bool = True) -> None:
        """The top level (None) or one topic's clusters; `fly`: the camera glides there."""
        analysis, balance = self._analysis, self._balance
        if analysis is None or balance is None:
            return
        self.topic = topic
        if topic is None:
            self.hill_ids = [t.id for t in analysis.topics]
            names = [t.label for t in analysis.topics]
            palette = self._topic_palette[self.hill_ids]
        else:
            self.hill_ids = list(analysis.topics[topic].cluster_ids)
            labels = {c.id: c.label for c in analysis.clusters}
            names = [labels[c] for c in self.hill_ids]
            palette = self._cluster_palette[self.hill_ids]
        self._names, self._palette = names, palette
        self.terrain_view.set_terrain(analysis.terrain(topic), names, palette,
                                      balance.hill_scales(topic), fly=fly,
                                      selected=self.hill_of(self._selected_id))
        self._show_comparison()
        self._map_stale = True
        if self.showing_map:
            self._refresh_map()

    def set_comparison(self, scales_of: Callable[[int | None], np.ndarray | None] | None
                       ) -> None:
        """Draw a comparison set over the hills: `scales_of(level)` gives each hill's
        multiplier at a level (None: no comparison set)."""
        self._comparison_scales = scales_of
        self._show_comparison()

    def _show_comparison(self) -> None:
        scales = (self._comparison_scales(self.topic) if self._comparison_scales is not None
                  and self._analysis is not None else None)
        terrain = self.terrain_view.terrain
        self.terrain_view.set_overlay(None if scales is None or terrain is None
                                      else terrain.heights(scales))

    def _refresh_map(self) -> None:
        """The map at the level in view: rows labelled by their hill's index (−1: not shown as
        a hill: noise at the top, and inside a topic the rows of other topics are left out)."""
        analysis = self._analysis
        if analysis is None:
            return
        self._map_stale = False
        hill_of = np.full(len(analysis.clusters) + 1, -1, dtype=np.int32)  # index −1: noise
        if self.topic is None:
            hill_of[:-1] = analysis.cluster_topic
            positions, labels = analysis.positions, hill_of[analysis.labels]
            rows = np.arange(analysis.n_rows)
        else:
            hill_of[self.hill_ids] = np.arange(len(self.hill_ids))
            labels = hill_of[analysis.labels]
            inside = labels >= 0
            positions, labels = analysis.positions[inside], labels[inside]
            rows = np.flatnonzero(inside)
        self.map_view.set_points(positions, labels, self._names, self._palette)
        self.map_view.set_selected(self.hill_of(self._selected_id))
        # An image set: hovering a row shows its picture.
        self.map_view.set_hover_cards(*((rows, lambda row: hover_card(analysis, row))
                                        if is_image_analysis(analysis) else (None, None)))

    def _on_weights_changed(self) -> None:
        if self._balance is not None:
            self.terrain_view.show_weights(self._balance.hill_scales(self.topic))

    def _on_hill_clicked(self, hill: int) -> None:
        if not 0 <= hill < len(self.hill_ids):
            self.ground_clicked.emit()
        elif self.topic is None:
            self.topic_clicked.emit(self.hill_ids[hill])
        else:
            self.cluster_clicked.emit(self.hill_ids[hill])

    def _on_hill_activated(self, hill: int) -> None:
        if self.topic is None and 0 <= hill < len(self.hill_ids):
            self.topic_activated.emit(self.hill_ids[hill])

    def _on_label_activated(self, hill: int) -> None:
        if 0 <= hill < len(self.hill_ids):
            self.rename_requested.emit("topic" if self.topic is None else "cluster",
                                       self.hill_ids[hill])

    def hill_of(self, hill_id: int | None) -> int | None:
        """The index in view of a topic's (top level) or cluster's (inside a topic) hill."""
        return self.hill_ids.index(hill_id) if hill_id in self.hill_ids else None

    def set_selected(self, hill_id: int | None) -> None:
        """Highlight a topic (top level) or a cluster (inside a topic); None: nothing."""
        self._selected_id = hill_id
        hill = self.hill_of(hill_id)
        self.terrain_view.set_selected(hill)
        self.map_view.set_selected(hill)

    def show_map(self, on: bool) -> None:
        if on and self._map_stale:
            self._refresh_map()
        self.setCurrentWidget(self.map_view if on else self.terrain_view)

    def reset_view(self) -> None:
        self.terrain_view.reset_view()
        self.map_view.fit_points()
