"""The breadcrumb above the landscape: "All topics" alone at the top, "All topics › Topic" inside
a topic, where "All topics" is a button that returns (as Back and Esc do). A topic name longer
than the room left is elided, with the whole name in its tooltip."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from level_desktop.gui.elided_label import ElidedLabel

SEPARATOR = "›"
TOPIC_CHARS_KEPT = 20  # a narrow window elides the hint beside the breadcrumb before these


class Breadcrumb(QWidget):
    """Where the landscape is: the top level, or one topic inside it."""

    top_requested = Signal()  # the user clicked "All topics" while inside a topic

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.top_button = QToolButton()
        self.top_button.setText("All topics")
        self.top_button.setAutoRaise(True)
        self.top_button.setToolTip("Back to every topic (Alt+Left or Esc)")
        self.top_button.setAccessibleName("All topics")
        self.top_button.clicked.connect(self._on_top_clicked)
        self.separator = QLabel(SEPARATOR)
        # A long name ends in "…" (whole in the tooltip), keeping at least its start.
        self.topic_label = ElidedLabel("", keep_chars=TOPIC_CHARS_KEPT)
        self.topic_label.setStyleSheet("font-weight: 600;")
        self.topic_label.setAccessibleName("Topic in view")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        for widget in (self.top_button, self.separator, self.topic_label):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.show_topic(None)

    @property
    def text(self) -> str:
        """The path as a user reads it, e.g. "All topics › Networking"."""
        if self.topic_label.isHidden():
            return self.top_button.text()
        return f"{self.top_button.text()} {SEPARATOR} {self.topic_label.text()}"

    def show_topic(self, label: str | None) -> None:
        """None: the top level (the button is only a caption); else the topic in view."""
        inside = label is not None
        self.top_button.setEnabled(inside)
        self.separator.setVisible(inside)
        self.topic_label.setVisible(inside)
        self.topic_label.setText(label or "")
        self.updateGeometry()  # the bar above the landscape reads this bar's new minimum width

    def _on_top_clicked(self) -> None:
        if self.topic_label.isVisible():
            self.top_requested.emit()
