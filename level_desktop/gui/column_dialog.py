"""The text-column dialog: the file's columns, a preview of the first rows, the detected choice
preselected. Shown when the choice is not obvious, and whenever the user wants to change it.
Columns of image paths (an image set) are offered first when the file has any."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from level_desktop.core.images import ImageColumnCandidate
from level_desktop.core.loading import ColumnCandidate

PREVIEW_ROWS = 8
PREVIEW_CHARS = 160


class ColumnDialog(QDialog):
    """Choose the column that holds the text; text columns are listed first, longest first."""

    def __init__(self, file_name: str, columns: dict[str, list[str]],
                 candidates: list[ColumnCandidate], chosen: str, ambiguous: bool = False,
                 parent: QWidget | None = None,
                 image_candidates: list[ImageColumnCandidate] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Which column holds the text?")
        self.resize(900, 460)
        self._names = list(columns)
        intro = QLabel(
            f"Several columns of <b>{file_name}</b> hold text of similar length. Choose the one "
            f"Level should read; the others are kept and exported unchanged."
            if ambiguous else
            f"Level reads the text of one column of <b>{file_name}</b>; the others are kept and "
            f"exported unchanged.")
        intro.setWordWrap(True)
        self.column_box = QComboBox()
        self.column_box.setAccessibleName("Text column")
        image_names = [c.name for c in image_candidates or []]
        for image in image_candidates or []:  # an image set's column of paths, listed first
            self.column_box.addItem(
                f"{image.name}  (image paths, {image.exists_share:.0%} found on disk)",
                image.name)
        text_names = [c.name for c in candidates if c.name not in image_names]
        for candidate in candidates:
            if candidate.name in image_names:
                continue
            self.column_box.addItem(
                f"{candidate.name}  (text, {candidate.mean_length:.0f} characters on average)",
                candidate.name)
        for name in self._names:
            if name not in text_names and name not in image_names:
                self.column_box.addItem(f"{name}  (numbers or empty)", name)
        self.column_box.setCurrentIndex(max(0, self.column_box.findData(chosen)))
        self.preview = QTableWidget(min(PREVIEW_ROWS, _row_count(columns)), len(self._names))
        self.preview.setHorizontalHeaderLabels(self._names)
        self.preview.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.preview.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectColumns)
        self.preview.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.preview.setWordWrap(False)
        self.preview.setAccessibleName("Preview of the first rows")
        for c, name in enumerate(self._names):
            for r in range(self.preview.rowCount()):
                value = " ".join(columns[name][r].split())
                item = QTableWidgetItem(value if len(value) <= PREVIEW_CHARS
                                        else value[:PREVIEW_CHARS - 1] + "…")
                item.setToolTip(columns[name][r][:1000])
                self.preview.setItem(r, c, item)
            self.preview.setColumnWidth(c, 320 if name in text_names else 110)
        self.column_box.currentIndexChanged.connect(self._show_choice_in_preview)
        self.preview.horizontalHeader().sectionClicked.connect(self._choose_by_header)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Analyse this column")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Text column:", self.column_box)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(QLabel(f"The first {self.preview.rowCount()} rows:"))
        layout.addWidget(self.preview, 1)
        layout.addWidget(buttons)
        self._show_choice_in_preview()

    def chosen_column(self) -> str:
        return str(self.column_box.currentData())

    def choose(self, name: str) -> None:
        index = self.column_box.findData(name)
        if index >= 0:
            self.column_box.setCurrentIndex(index)

    def _choose_by_header(self, section: int) -> None:
        self.choose(self._names[section])

    def _show_choice_in_preview(self) -> None:
        column = self._names.index(self.chosen_column())
        self.preview.selectColumn(column)
        if self.preview.rowCount():
            self.preview.scrollToItem(self.preview.item(0, column))


def _row_count(columns: dict[str, list[str]]) -> int:
    return len(next(iter(columns.values()), []))
