"""What the window shows before any file is open: what to do, and a way to try it at once."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QAction, QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

TITLE = "Drop a CSV here"
SUBTITLE = "…or a TSV, JSON Lines or Parquet file, or a saved .level project"
WORKING_SUBTITLE = "Drop another file to analyse it instead"
HINT = ("Level reads CSV, TSV, JSON Lines or Parquet, finds the column that holds the text, "
        "groups similar rows into clusters and draws them as a landscape: one hill per cluster, "
        "as tall as the cluster is large. Then level it and export the result.")


class EmptyState(QWidget):
    """'Drop a CSV here', with Open… and Try the sample buttons bound to the window's actions."""

    def __init__(self, open_action: QAction, sample_action: QAction,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.drag_over = False
        self.title = QLabel(TITLE)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setStyleSheet("font-size: 28px; font-weight: 600; color: #2b3440;")
        self.subtitle = subtitle = QLabel(SUBTITLE)
        subtitle.setAlignment(Qt.AlignmentFlag.AlignCenter)
        subtitle.setStyleSheet("font-size: 14px; color: #5a6573;")
        hint = QLabel(HINT)
        hint.setWordWrap(True)
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setFixedWidth(560)
        hint.setMinimumHeight(70)
        hint.setStyleSheet("color: #5a6573;")
        self.open_button = QPushButton(f"Open…  ({open_action.shortcut().toString()})")
        self.open_button.clicked.connect(open_action.trigger)
        self.sample_button = QPushButton("Try the sample")
        self.sample_button.setToolTip(sample_action.toolTip())
        self.sample_button.clicked.connect(sample_action.trigger)
        for button in (self.open_button, self.sample_button):
            button.setMinimumWidth(220)
            button.setMinimumHeight(34)
        self.sample_button.setDefault(True)
        layout = QVBoxLayout(self)
        layout.addStretch(3)
        layout.addWidget(self.title)
        layout.addWidget(subtitle)
        layout.addSpacing(18)
        layout.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.sample_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(24)
        layout.addWidget(hint, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(4)

    def show_work(self, title: str | None) -> None:
        """While the first file is read and analysed, say so in place of the invitation."""
        self.title.setText(f"{title}…" if title else TITLE)
        self.subtitle.setText(WORKING_SUBTITLE if title else SUBTITLE)

    def set_drag_over(self, on: bool) -> None:
        self.drag_over = on
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        """A dashed drop zone, highlighted while a file is dragged over the window."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = QColor("#4e79a7") if self.drag_over else QColor("#b8c2cf")
        pen = QPen(color, 2.5 if self.drag_over else 2, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(QColor(78, 121, 167, 28) if self.drag_over else Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(24, 24, -24, -24), 16, 16)
        painter.end()
