"""The landscape panel: the 3D terrain and the top-down map of one analysis, one shown at a time.

It listens to the Balance: a weight change redraws the terrain (the map shows rows, which weights
do not move). This module imports pyqtgraph, so the window loads it only when it has an analysis
to show, keeping start-up fast.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QStackedWidget, QWidget

from level_desktop.core.analysis import Analysis
from level_desktop.core.balance import Balance
from level_desktop.gui.map_view import MapView
from level_desktop.gui.terrain_view import TerrainView


class LandscapePanel(QStackedWidget):
    """Switches between the TerrainView and the MapView; forwards hill and point clicks."""

    cluster_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.terrain_view = TerrainView(self)
        self.map_view = MapView(self)
        self.addWidget(self.terrain_view)
        self.addWidget(self.map_view)
        self._balance: Balance | None = None
        self.terrain_view.cluster_clicked.connect(self.cluster_clicked)
        self.map_view.cluster_clicked.connect(self.cluster_clicked)

    @property
    def showing_map(self) -> bool:
        return self.currentWidget() is self.map_view

    def set_analysis(self, analysis: Analysis, balance: Balance, palette: np.ndarray) -> None:
        """Show a new analysis; from now on its balance's changes redraw the terrain."""
        if self._balance is not None:
            self._balance.unsubscribe(self._on_weights_changed)
        self._balance = balance
        balance.subscribe(self._on_weights_changed)
        names = [c.label for c in analysis.clusters]
        self.terrain_view.set_terrain(analysis.terrain(), names, palette, balance.weights)
        self.map_view.set_points(analysis.positions, analysis.labels, names, palette)

    def _on_weights_changed(self) -> None:
        if self._balance is not None:
            self.terrain_view.show_weights(self._balance.weights)

    def set_selected(self, cluster_id: int | None) -> None:
        self.terrain_view.set_selected(cluster_id)
        self.map_view.set_selected(cluster_id)

    def show_map(self, on: bool) -> None:
        self.setCurrentWidget(self.map_view if on else self.terrain_view)

    def reset_view(self) -> None:
        self.terrain_view.reset_view()
        self.map_view.fit_points()
