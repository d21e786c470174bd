"""The small panels beside the landscape: the balance readout and the selected cluster's details."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QAction, QResizeEvent
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from level_desktop.core.analysis import Analysis
from level_desktop.core.balance import Balance
from level_desktop.gui.elided_label import ElidedLabel
from level_desktop.gui.thumbnails import THUMBNAIL_SIDE, is_image_analysis, thumbnail_icon

REPRESENTATIVE_CHARS = 400
GROUPS_LISTED = 50  # a hill's largest duplicate groups shown beside its representative rows
GROUP_TEXTS_IN_TIP = 8


class BalancePanel(QFrame):
    """Gini and flatness of the level in view ("Topics" or "Within <topic>"), now and before any
    weighting, with Flatten (and its max up-weight) and Reset. It listens to the Balance, so it
    is right after every edit, undo or redo."""

    def __init__(self, flatten_action: QAction, reset_action: QAction,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._balance: Balance | None = None
        self._level: int | None = None
        self.level_caption = ElidedLabel("Topics")  # "Within <a long topic name>" is elided
        self.level_caption.setStyleSheet("font-weight: 600;")
        self.level_caption.setAccessibleName("Level in view")
        self.gini_value = QLabel("–")
        self.gini_original = QLabel("")
        self.flatness_value = QLabel("–")
        self.flatness_original = QLabel("")
        for value in (self.gini_value, self.flatness_value):
            value.setStyleSheet("font-size: 18px; font-weight: 600;")
            value.setAccessibleName("Gini" if value is self.gini_value else "Flatness")
        for original in (self.gini_original, self.flatness_original):
            original.setStyleSheet("color: palette(mid);")
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        gini_caption = QLabel("Gini")
        gini_caption.setToolTip("0 = all the same size; towards 1 = one mountain")
        flatness_caption = QLabel("Flatness")
        flatness_caption.setToolTip("Evenness of the effective sizes: 1 = all equal")
        grid.addWidget(gini_caption, 0, 0)
        grid.addWidget(self.gini_value, 1, 0)
        grid.addWidget(self.gini_original, 2, 0)
        grid.addWidget(flatness_caption, 0, 1)
        grid.addWidget(self.flatness_value, 1, 1)
        grid.addWidget(self.flatness_original, 2, 1)
        self.max_up = QDoubleSpinBox()
        self.max_up.setRange(1.0, 20.0)
        self.max_up.setSingleStep(0.5)
        self.max_up.setDecimals(1)
        self.max_up.setValue(3.0)
        self.max_up.setPrefix("max ×")
        self.max_up.setToolTip("Flatten never up-weights a cluster by more than this")
        self.max_up.setAccessibleName("Max up-weight")
        flatten_button = QToolButton()
        flatten_button.setDefaultAction(flatten_action)
        flatten_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        reset_button = QToolButton()
        reset_button.setDefaultAction(reset_action)
        reset_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        buttons = QHBoxLayout()
        buttons.addWidget(flatten_button)
        buttons.addWidget(self.max_up)
        buttons.addStretch(1)
        buttons.addWidget(reset_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.level_caption)
        layout.addLayout(grid)
        layout.addLayout(buttons)
        self._grid, self._buttons = grid, buttons
        self.distance_value: QLabel | None = None  # issue 17, added by add_comparison_readout

    def add_comparison_readout(self, match_action: QAction) -> None:
        """A third readout, the distance to the comparison set (total variation at the level in
        view), and Match Comparison Set beside Flatten; hidden until a comparison set is shown."""
        caption = QLabel("Distance")
        caption.setToolTip("To the comparison set: total variation between the training set's "
                           "effective shares and the comparison set's (0 = the same shape, "
                           "1 = disjoint)")
        self.distance_value = QLabel("–")
        self.distance_value.setStyleSheet("font-size: 18px; font-weight: 600;")
        self.distance_value.setAccessibleName("Distance to the comparison set")
        self.distance_original = QLabel("")
        self.distance_original.setStyleSheet("color: palette(mid);")
        self._grid.addWidget(caption, 0, 2)
        self._grid.addWidget(self.distance_value, 1, 2)
        self._grid.addWidget(self.distance_original, 2, 2)
        self.match_button = QToolButton()
        self.match_button.setDefaultAction(match_action)
        self.match_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self._buttons.insertWidget(1, self.match_button)
        self._distance_widgets = (caption, self.distance_value, self.distance_original,
                                  self.match_button)
        self.show_distance(None, None)

    def show_distance(self, now: float | None, raw: float | None) -> None:
        """The distance to the comparison set now and unweighted; None hides the readout."""
        if self.distance_value is None:
            return
        for widget in self._distance_widgets:
            widget.setVisible(now is not None)
        if now is not None:
            self.distance_value.setText(f"{now:.3f}")
            self.distance_original.setText("" if raw is None else f"was {raw:.3f}")

    def set_balance(self, balance: Balance, max_up: float) -> None:
        if self._balance is not None:
            self._balance.unsubscribe(self.refresh)
        self._balance = balance
        balance.subscribe(self.refresh)
        self.max_up.setValue(max_up)
        self.set_level(balance, None, None)

    def set_level(self, balance: Balance, level: int | None, topic_label: str | None) -> None:
        """Read the level in view: None = the topics, a topic id = that topic's clusters."""
        self._balance, self._level = balance, level
        self.level_caption.setText("Topics" if level is None else f"Within {topic_label}")
        self.level_caption.setToolTip(self.level_caption.text())
        self.gini_original.setText(f"was {balance.original_level_gini(level):.3f}")
        self.flatness_original.setText(f"was {balance.original_level_flatness(level):.3f}")
        self.refresh()

    def refresh(self) -> None:
        if self._balance is None:
            return
        self.gini_value.setText(f"{self._balance.level_gini(self._level):.3f}")
        self.flatness_value.setText(f"{self._balance.level_flatness(self._level):.3f}")


class ClusterDetails(QFrame):
    """The selected cluster: its name, size, description and most representative rows."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel("Select a cluster")
        self.title.setStyleSheet("font-size: 15px; font-weight: 600;")
        self.title.setWordWrap(True)
        self.facts = QLabel("")
        self.facts.setWordWrap(True)
        self.facts.setStyleSheet("color: palette(mid);")
        self.description = QLabel("")
        self.description.setWordWrap(True)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        caption = QLabel("Most representative rows")
        caption.setStyleSheet("font-weight: 600;")
        self.representatives = QListWidget()
        self.representatives.setWordWrap(True)
        self.representatives.setAlternatingRowColors(True)
        self.representatives.setAccessibleName("Representative rows")
        self.representatives.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
        # How the input's bytes became text, when that was not plain UTF-8 (a non-modal notice).
        self.source_note = QLabel("")
        self.source_note.setWordWrap(True)
        self.source_note.setAccessibleName("Notice about the input file's encoding")
        self.source_note.setStyleSheet("background: #fff4ce; color: #5c4400; padding: 6px; "
                                       "border-radius: 4px;")
        self.source_note.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.source_note)
        layout.addWidget(self.title)
        layout.addWidget(self.facts)
        layout.addWidget(self.description)
        layout.addWidget(caption)
        layout.addWidget(self.representatives, 1)
        # The hill's near-duplicate groups (issue 16), once they have been found.
        self.groups_caption = QLabel("")
        self.groups_caption.setStyleSheet("font-weight: 600;")
        self.groups_caption.setWordWrap(True)
        self.duplicate_groups = QListWidget()
        self.duplicate_groups.setWordWrap(True)
        self.duplicate_groups.setAlternatingRowColors(True)
        self.duplicate_groups.setAccessibleName("Near-duplicate groups")
        self.duplicate_groups.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
        layout.addWidget(self.groups_caption)
        layout.addWidget(self.duplicate_groups, 1)
        self.groups_caption.hide()
        self.duplicate_groups.hide()
        self.cluster_id: int | None = None

    def show_source_note(self, note: str | None) -> None:
        """Show (or, for None, hide) the notice about how the input file was decoded."""
        self.source_note.setText(note or "")
        self.source_note.setVisible(bool(note))

    def show_cluster(self, analysis: Analysis, cluster_id: int | None, color: str = "") -> None:
        self.cluster_id = cluster_id
        self.representatives.clear()
        info = next((c for c in analysis.clusters if c.id == cluster_id), None)
        if info is None:
            self.title.setText("Select a cluster")
            self.facts.setText("Click a hill or a row of the table.")
            self.description.setText("")
            self.show_groups(analysis, None)
            return
        swatch = f"<span style='color:{color}'>●</span> " if color else ""
        self.title.setText(f"{swatch}{_escape(info.label)}")
        share = info.size / max(1, analysis.n_rows)
        named_by = info.labeler + (f" ({info.fallback_reason})" if info.fallback_reason else "")
        self.facts.setText(f"Cluster {info.id} · {info.size:,} rows · {share:.1%} · "
                           f"named by {named_by}")
        self._show_text(analysis, info.description, info.representatives)
        self.show_groups(analysis, np.flatnonzero(analysis.labels == info.id))

    def show_topic(self, analysis: Analysis, topic: int, color: str = "",
                   opened: bool = False) -> None:
        """A topic: its name, size, clusters, description and most representative rows."""
        self.cluster_id = None
        self.representatives.clear()
        info = analysis.topics[topic]
        swatch = f"<span style='color:{color}'>●</span> " if color else ""
        self.title.setText(f"{swatch}{_escape(info.label)}")
        share = info.size / max(1, analysis.n_rows)
        how = ("its clusters are the hills in view" if opened
               else "double-click its massif or press Enter to see its clusters")
        self.facts.setText(f"Topic {info.id} · {info.size:,} rows · {share:.1%} · "
                           f"{len(info.cluster_ids)} clusters · named by {info.labeler} · {how}")
        self._show_text(analysis, info.description, info.representatives)
        self.show_groups(analysis, np.flatnonzero(analysis.row_topics == topic))

    def minimumSizeHint(self) -> QSize:
        """Tall enough for the wrapped title, facts and description at the present width.

        A splitter sizes its panels from minimum size hints, which a layout computes without
        height-for-width, so a narrow side panel squeezed every wrapped line and cut the title
        and facts off; now the panel above (the tree, which scrolls) gives way instead."""
        hint = super().minimumSizeHint()
        layout = self.layout()
        margins = layout.contentsMargins()
        width = self.contentsRect().width() - margins.left() - margins.right()
        shown = [w for i in range(layout.count())
                 if (w := layout.itemAt(i).widget()) is not None and not w.isHidden()]
        height = sum(w.heightForWidth(width) if w.hasHeightForWidth()
                     else w.minimumSizeHint().height() for w in shown)
        height += (layout.spacing() * max(len(shown) - 1, 0) + margins.top() + margins.bottom()
                   + 2 * self.frameWidth())
        return QSize(hint.width(), max(hint.height(), height))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():  # the lines wrap anew
            self._ask_for_room()

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() == QEvent.Type.LayoutRequest:  # new texts, other wrapped heights
            self._ask_for_room()
        return handled

    def _ask_for_room(self) -> None:
        """Make the splitter holding the panel read its new minimum height (a splitter does not
        notice a child's layout change on its own)."""
        self.updateGeometry()
        if isinstance(splitter := self.parentWidget(), QSplitter):
            splitter.refresh()

    def show_groups(self, analysis: Analysis, rows: np.ndarray | None) -> None:
        """The near-duplicate groups with a member among `rows` (the selected hill), largest
        first; hidden while no groups are known or nothing is selected."""
        from level_desktop.core.duplicates import groups_among

        self.duplicate_groups.clear()
        groups = analysis.duplicate_groups
        known = groups is not None and rows is not None and len(groups) == analysis.n_rows
        self.groups_caption.setVisible(known)
        self.duplicate_groups.setVisible(known)
        if not known:
            return
        found = groups_among(groups, rows)
        in_groups = int((groups[rows] >= 0).sum())
        self.groups_caption.setText(
            f"Near-duplicate groups: {len(found):,} ({in_groups:,} of {len(rows):,} rows, "
            f"{in_groups / max(1, len(rows)):.0%})" if found else
            "Near-duplicate groups: none among these rows")
        for members in found[:GROUPS_LISTED]:
            texts = [" ".join(analysis.texts[int(p)].split())
                     for p in members[:GROUP_TEXTS_IN_TIP]]
            first = texts[0] if len(texts[0]) <= REPRESENTATIVE_CHARS else (
                texts[0][:REPRESENTATIVE_CHARS - 1] + "…")
            item = QListWidgetItem(f"×{len(members)}  {first}")
            more = len(members) - GROUP_TEXTS_IN_TIP
            item.setToolTip("\n".join(t[:200] for t in texts[:GROUP_TEXTS_IN_TIP])
                            + (f"\n… and {more:,} more" if more > 0 else ""))
            self.duplicate_groups.addItem(item)

    def _show_text(self, analysis: Analysis, description: str,
                   representatives: list[int]) -> None:
        self.description.setText(description)
        images = is_image_analysis(analysis)  # an image set: each row with its thumbnail
        self.representatives.setIconSize(QSize(THUMBNAIL_SIDE, THUMBNAIL_SIDE) if images
                                         else QSize())
        for position in representatives:
            text = " ".join(analysis.texts[position].split())
            shown = text if len(text) <= REPRESENTATIVE_CHARS else (
                text[:REPRESENTATIVE_CHARS - 1] + "…")
            item = QListWidgetItem(shown)
            item.setToolTip(text[:2000])
            if images and (icon := thumbnail_icon(analysis, position)) is not None:
                item.setIcon(icon)
            self.representatives.addItem(item)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
