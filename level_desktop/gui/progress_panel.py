"""The strip that shows long work: what stage it is in, how far along, and a Cancel button."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

BAR_STEPS = 1000
STAGE_NAMES = {"load": "Reading", "embed": "Embedding", "cluster": "Clustering",
               "sample": "Picking representatives", "label": "Naming clusters",
               "project": "Laying out the map", "terrain": "Raising the terrain",
               "open": "Opening", "save": "Saving", "export": "Exporting",
               "duplicates": "Finding near-duplicates"}
def stopping_note(stage: str, message: str) -> str:
    """What to add to "Cancelled" when the work in the background cannot stop at once (every
    stage after embedding checks cancel within a second: benchmarks/cancel_latency.py)."""
    if stage == "embed" and message.startswith("Loading"):
        return " The model finishes loading in the background, then stops."
    return ""


class ProgressPanel(QFrame):
    """Stage name, bar and message for the running job; hidden when nothing runs."""

    def __init__(self, cancel_action: QAction, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.stage_label = QLabel("")
        self.stage_label.setStyleSheet("font-weight: 600;")
        self.stage_label.setMinimumWidth(150)
        self.bar = QProgressBar()
        self.bar.setRange(0, BAR_STEPS)
        self.bar.setTextVisible(True)
        self.bar.setAccessibleName("Progress")
        self.message_label = QLabel("")
        self.message_label.setMinimumWidth(280)
        cancel = QToolButton()
        cancel.setDefaultAction(cancel_action)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.stage_label)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.message_label, 1)
        layout.addWidget(cancel)
        self.stage = ""
        self.message = ""
        self._pipeline = False
        self.hide()

    def start(self, title: str, pipeline: bool) -> None:
        """Show the panel for a new job; `pipeline` maps stage fractions onto one overall bar."""
        self.stage, self.message = "", ""
        self._pipeline = pipeline
        self.stage_label.setText(title)
        self.message_label.setText("Starting…")
        self.bar.setValue(0)
        self.show()

    def show_progress(self, stage: str, fraction: float, message: str) -> None:
        self.stage, self.message = stage, message
        if self._pipeline:
            from level_desktop.core.pipeline import overall_fraction

            fraction = overall_fraction(stage, fraction)
        self.stage_label.setText(STAGE_NAMES.get(stage, stage.capitalize()))
        self.message_label.setText(message)
        self.bar.setValue(round(max(0.0, min(1.0, fraction)) * BAR_STEPS))

    def finish(self) -> None:
        self.hide()
