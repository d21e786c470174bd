"""A one-line label that shortens its text with "…" when it has less room than the text needs,
with the full text in its tooltip.

Why: a plain QLabel asks its layout for its whole text's width as a minimum, so one long name (a
topic may be called with up to 80 characters) in the breadcrumb or the balance panel's "Within …"
caption made the window wider than the screen. This label asks only for an ellipsis' width, shows
as much of its text as fits, and says the rest on hover. `text()` is always the full text.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

ELLIPSIS = "…"


class ElidedLabel(QLabel):
    """One line of plain text, elided at the right end to the label's width."""

    def __init__(self, text: str = "", parent: QWidget | None = None, keep_chars: int = 0
                 ) -> None:
        """`keep_chars`: the layout may not shrink the label below its text's first
        `keep_chars` characters and the ellipsis (so a neighbour gives way first)."""
        super().__init__(parent)
        self._full_text = ""
        self._keep_chars = keep_chars
        self._own_tooltip = ""  # a tooltip given by the caller, shown when nothing is elided
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(False)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setText(text)

    def text(self) -> str:  # type: ignore[override]
        """The full text, however much of it is shown."""
        return self._full_text

    def setText(self, text: str) -> None:  # type: ignore[override]
        self._full_text = text
        self.updateGeometry()
        self._elide()

    def setToolTip(self, tip: str) -> None:  # type: ignore[override]
        self._own_tooltip = tip
        self._elide()

    @property
    def is_elided(self) -> bool:
        return super().text() != self._full_text

    def sizeHint(self) -> QSize:
        """Room for the whole text: what the label would like."""
        hint = super().sizeHint()
        width = self.fontMetrics().horizontalAdvance(self._full_text) + self._chrome_width()
        return QSize(max(hint.width(), width), hint.height())

    def minimumSizeHint(self) -> QSize:
        """Room for an ellipsis (after the first `keep_chars` characters) only: the layout may
        shrink the label that far."""
        hint = super().minimumSizeHint()
        kept = self._full_text[:self._keep_chars]
        kept = kept if kept == self._full_text else kept + ELLIPSIS
        width = self.fontMetrics().horizontalAdvance(kept) + self._chrome_width()
        return QSize(width, hint.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def changeEvent(self, event: QEvent) -> None:
        """A style sheet's font (bold) arrives after the text: measure again."""
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self.updateGeometry()
            self._elide()

    def _chrome_width(self) -> int:
        """Frame, margins, indent and style sheet padding around the text."""
        return self.width() - self.contentsRect().width() + 2 * max(self.indent(), 0) + 2

    def _elide(self) -> None:
        room = self.contentsRect().width() - 2 * max(self.indent(), 0) - 2
        shown = self.fontMetrics().elidedText(self._full_text, Qt.TextElideMode.ElideRight,
                                              max(room, 0))
        if not shown and self._full_text:
            shown = ELLIPSIS
        if super().text() != shown:
            super().setText(shown)
        tip = self._full_text if shown != self._full_text else ""
        if self._own_tooltip and self._own_tooltip != tip:
            tip = f"{tip}\n{self._own_tooltip}" if tip else self._own_tooltip
        super().setToolTip(tip)
