"""The window's two levels: which topic is open (the document's view), what is selected, and how a
click, a double-click, Enter, Back, Esc or the breadcrumb move between them.

Kept out of window.py so the wiring of panels and the rules of navigation read apart. The level in
view is the document's (`Document.view_topic`, `Event.VIEW`); the selection is the document's
cluster (`Document.selected`) or, when a topic row or massif is chosen, `selected_topic` here (a
topic selection is a view matter: nothing is saved or undone about it).

Rules: choosing a cluster anywhere opens its topic; choosing a topic while inside another one
returns to the top; double-click on a massif or Enter on a topic row opens it; Back returns to the
top with the massif just left selected. Weights, Flatten and Reset act through the document, so
each is one undoable step; Flatten acts on the level in view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Slot

from level_desktop.core.balance import NOISE_ID
from level_desktop.core.errors import LevelError
from level_desktop.gui.message_boxes import show_error
from level_desktop.gui.palette import rgb_to_hex

if TYPE_CHECKING:
    from level_desktop.gui.window import MainWindow

    _Base = MainWindow
else:
    _Base = object


class WindowLevels(_Base):
    """Navigation between the topics and one topic's clusters (a mix-in of MainWindow)."""

    selected_topic: int | None = None

    # ----- moving between levels -------------------------------------------------------------

    @Slot(int)
    def drill(self, topic: int) -> None:
        """Open a topic: its clusters become the landscape's hills (the camera flies there)."""
        if self.document.analysis is None or topic < 0:
            return
        self.selected_topic = topic
        self.document.select(None)
        self.document.drill(topic)
        self._on_selection_changed()

    def go_back(self) -> None:
        """Back to every topic, with the topic just left selected."""
        document = self.document
        if document.analysis is None or document.view_topic is None:
            return
        left = document.view_topic
        self.selected_topic = left
        document.select(None)
        document.back()
        self._on_selection_changed()

    def _on_view_changed(self) -> None:
        analysis, balance = self.document.analysis, self.document.balance
        if analysis is None or balance is None:
            return
        topic = self.document.view_topic
        if self.landscape is not None:
            self.landscape.show_level(topic, fly=True)
        self._show_level_readouts()
        self._on_selection_changed()

    def _show_level_readouts(self) -> None:
        """Breadcrumb, balance panel and Flatten's wording for the level in view."""
        analysis, balance = self.document.analysis, self.document.balance
        if analysis is None or balance is None:
            return
        topic = self.document.view_topic
        label = analysis.topics[topic].label if topic is not None else None
        self.central.breadcrumb.show_topic(label)
        self.central.show_hint(self.map_action.isChecked(), topic is not None)
        if topic is not None:  # after the landscape's frame: the tree can wait an instant
            QTimer.singleShot(0, lambda: self.topic_tree.expand_topic(topic))
        self.balance_panel.set_level(balance, topic, label)
        self.actions.show_level(label)
        self._update_actions()

    # ----- selection -------------------------------------------------------------------------

    @Slot(int)
    def select_topic(self, topic: int | None) -> None:
        """Select a topic's row and massif (None or −1: nothing); from inside another topic this
        returns to the top, where the massif is."""
        document = self.document
        if document.analysis is None:
            return
        self.selected_topic = topic if topic is not None and topic >= 0 else None
        document.select(None)
        if document.view_topic is not None and document.view_topic != self.selected_topic:
            document.back()
        self._on_selection_changed()

    @Slot(int)
    def select_cluster(self, cluster_id: int | None) -> None:
        """Select a cluster (None: nothing; NOISE_ID: the noise row), opening its topic when
        another level is in view."""
        document, analysis = self.document, self.document.analysis
        if analysis is None:
            return
        self.selected_topic = None
        if cluster_id is None:
            document.select(None)
        elif cluster_id == NOISE_ID:
            document.select(NOISE_ID)
        else:
            topic = int(analysis.cluster_topic[cluster_id])
            if document.view_topic != topic:
                document.drill(topic)
            document.select(cluster_id)
        self._on_selection_changed()

    def clear_selection(self) -> None:
        """Nothing selected (a click on bare ground); the level in view stays."""
        self.selected_topic = None
        self.document.select(None)
        self._on_selection_changed()

    def _on_selection_changed(self) -> None:
        analysis = self.document.analysis
        if analysis is None:
            return
        cluster = self.document.selected
        if cluster is not None:
            self.selected_topic = None
        if cluster is not None and cluster != NOISE_ID:
            self.topic_tree.select_cluster(cluster)
            shown = cluster
            self.details.show_cluster(analysis, cluster, rgb_to_hex(self._cluster_palette[cluster]))
        elif self.selected_topic is not None:
            topic = self.selected_topic
            self.topic_tree.select_topic(topic)
            shown = topic
            self.details.show_topic(analysis, topic, rgb_to_hex(self._topic_palette[topic]),
                                    opened=topic == self.document.view_topic)
        else:
            if cluster is None:
                self.topic_tree.select_cluster(None)
            shown = None
            self.details.show_cluster(analysis, None)
        if self.landscape is not None:
            self.landscape.set_selected(shown)

    # ----- weights ---------------------------------------------------------------------------

    @Slot(int, float)
    def set_weight(self, cluster_id: int, weight: float) -> None:
        """One cluster's weight (from its spin box), as an undoable step."""
        if self.document.analysis is not None:
            self.document.set_weight(cluster_id, weight)

    @Slot(int, float)
    def set_topic_weight(self, topic: int, weight: float) -> None:
        """One topic's weight (from its spin box), as an undoable step."""
        if self.document.analysis is not None:
            self.document.set_topic_weight(topic, weight)

    def flatten(self) -> None:
        """Level the level in view: the topics at the top, a topic's clusters inside it."""
        if self.document.analysis is None:
            return
        try:
            self.document.flatten(self.balance_panel.max_up.value())
        except LevelError as err:
            show_error(self, str(err))

    def flatten_all_clusters(self) -> None:
        """Level every cluster at once whatever the level in view (topic weights back to 1)."""
        if self.document.analysis is None:
            return
        try:
            self.document.flatten_clusters(self.balance_panel.max_up.value())
        except LevelError as err:
            show_error(self, str(err))

    def reset_weights(self) -> None:
        if self.document.analysis is not None:
            self.document.reset()
