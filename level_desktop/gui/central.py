"""The window's panels and how they sit: the empty state or the landscape (under its breadcrumb)
beside the side panels (source line, balance, topic tree, details), with the progress panel
underneath.

Layout only: the panels are built and placed here; the window connects them to the document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtOpenGLWidgets import QOpenGLWidget
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from level_desktop.gui.breadcrumb import Breadcrumb
from level_desktop.gui.elided_label import ElidedLabel
from level_desktop.gui.empty_state import EmptyState
from level_desktop.gui.progress_panel import ProgressPanel
from level_desktop.gui.side_panels import BalancePanel, ClusterDetails
from level_desktop.gui.topic_tree import TopicTree

if TYPE_CHECKING:
    from level_desktop.gui.actions import WindowActions

ORBIT_HINT = ("Drag to orbit · wheel to zoom · click to select · double-click a massif to open "
              "it, a name to rename it")
INSIDE_HINT = ("Drag to orbit · wheel to zoom · click a hill to select it · double-click a name "
               "to rename it · Esc to return")
MAP_HINT = "Click a point to select its topic · wheel to zoom"
INSIDE_MAP_HINT = "Click a point to select its cluster · wheel to zoom · Esc to return"


class CentralArea(QWidget):
    """Every panel of the window, placed; `pages` switches between empty state and landscape."""

    def __init__(self, actions: WindowActions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.empty_state = EmptyState(actions.open, actions.sample)
        self.landscape_host = QWidget()
        host_layout = QVBoxLayout(self.landscape_host)
        host_layout.setContentsMargins(0, 0, 0, 0)
        self.breadcrumb = Breadcrumb()
        self.view_hint = ElidedLabel(ORBIT_HINT)  # gives way first when the window is narrow
        self.view_hint.setStyleSheet("color: palette(mid); padding: 2px 6px;")
        view_bar = QHBoxLayout()
        view_bar.addWidget(self.breadcrumb)
        view_bar.addStretch(1)
        view_bar.addWidget(self.view_hint)
        host_layout.addLayout(view_bar)
        # A hidden GL widget makes the window GL-capable from the start: adding the 3D view later
        # would otherwise re-create the top-level window (it flashes and loses focus).
        gl_placeholder = QOpenGLWidget(self.landscape_host)
        gl_placeholder.hide()
        self.source_label = QLabel("")
        self.source_label.setWordWrap(True)
        change_column = QPushButton("Change…")
        change_column.setToolTip(actions.text_column.toolTip())
        change_column.clicked.connect(actions.text_column.trigger)
        source_bar = QHBoxLayout()
        source_bar.addWidget(self.source_label, 1)
        source_bar.addWidget(change_column)
        self.balance_panel = BalancePanel(actions.flatten, actions.reset_weights)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(source_bar)
        top_layout.addWidget(self.balance_panel)
        self.topic_tree = TopicTree()
        self.details = ClusterDetails()
        self.side_splitter = QSplitter(Qt.Orientation.Vertical)
        self.side_splitter.setObjectName("side-splitter")
        for widget in (top, self.topic_tree, self.details):
            self.side_splitter.addWidget(widget)
        self.side_splitter.setStretchFactor(1, 3)
        self.side_splitter.setStretchFactor(2, 2)
        self.main_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.main_splitter.setObjectName("main-splitter")
        self.main_splitter.addWidget(self.landscape_host)
        self.main_splitter.addWidget(self.side_splitter)
        self.main_splitter.setStretchFactor(0, 3)
        self.main_splitter.setStretchFactor(1, 2)
        self.main_splitter.setSizes([720, 500])
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty_state)
        self.pages.addWidget(self.main_splitter)
        self.progress_panel = ProgressPanel(actions.cancel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.progress_panel)

    @property
    def splitters(self) -> tuple[QSplitter, QSplitter]:
        return self.main_splitter, self.side_splitter

    def make_room_for_names(self) -> None:
        """Widen the side panels to the topic tree's preferred width (room for its names) when
        they are narrower, as long as the landscape keeps at least half the width; the user can
        still drag the divider back."""
        if not self.main_splitter.isVisible() or sum(self.main_splitter.sizes()) <= 0:
            # Not laid out yet (the analysis page is just being shown): once the event loop has.
            QTimer.singleShot(0, self._widen_side_for_names)
            return
        self._widen_side_for_names()

    def _widen_side_for_names(self) -> None:
        sizes = self.main_splitter.sizes()
        total = sum(sizes)
        want = self.topic_tree.sizeHint().width()
        if len(sizes) != 2 or total <= 0 or sizes[1] >= want:
            return
        side = min(want, total // 2)
        if side > sizes[1]:
            self.main_splitter.setSizes([total - side, side])

    def show_hint(self, map_on: bool, inside_topic: bool) -> None:
        """What the mouse does in the view shown, at the level in view."""
        if inside_topic:
            self.view_hint.setText(INSIDE_MAP_HINT if map_on else INSIDE_HINT)
        else:
            self.view_hint.setText(MAP_HINT if map_on else ORBIT_HINT)
