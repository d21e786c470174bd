"""The resampled export's size: as the weights say, exactly N rows, or a fraction of the rows.

Why: with a fixed budget, leveling trades rows of big hills for rows of small ones instead of
repeating rows (core/budget.py); the CLI's `--rows N` / `--fraction F`, offered in the window.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from level_desktop.core.budget import rows_for_fraction

MAX_BUDGET_FACTOR = 10  # at most this many times the analysed rows (beyond that rows repeat)


class BudgetDialog(QDialog):
    """Choose the resampled export's rows; `budget()` is None for "as the weights say"."""

    def __init__(self, n_rows: int, collapsed: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Rows to Export")
        self._n_rows = max(1, n_rows)
        self.by_weights = QRadioButton(
            "As the weights say: round(rows × weight) per cluster (keeps the total; up-weighted "
            "rows repeat" + ("; each near-duplicate group counts as one row)" if collapsed
                             else ")"))
        self.exact_rows = QRadioButton("Exactly")
        self.by_fraction = QRadioButton("A fraction of the rows:")
        self.rows = QSpinBox()
        self.rows.setRange(1, self._n_rows * MAX_BUDGET_FACTOR)
        self.rows.setGroupSeparatorShown(True)
        self.rows.setValue(max(1, self._n_rows // 2))
        self.rows.setSuffix(" rows")
        self.rows.setAccessibleName("Rows to export")
        self.fraction = QDoubleSpinBox()
        self.fraction.setRange(0.1, 100.0)
        self.fraction.setDecimals(1)
        self.fraction.setValue(50.0)
        self.fraction.setSuffix(" %")
        self.fraction.setAccessibleName("Fraction of the rows to export")
        group = QButtonGroup(self)
        for button in (self.by_weights, self.exact_rows, self.by_fraction):
            group.addButton(button)
        self.exact_rows.setChecked(True)
        how = ("at most one row per near-duplicate group while the budget allows"
               if collapsed else "no row twice while a distinct one is left")
        note = QLabel(f"A budget draws distinct rows that follow the effective weights ({how}); "
                      f"{self._n_rows:,} rows were analysed.")
        note.setWordWrap(True)
        grid = QGridLayout()
        grid.addWidget(self.exact_rows, 0, 0)
        grid.addWidget(self.rows, 0, 1)
        grid.addWidget(self.by_fraction, 1, 0)
        grid.addWidget(self.fraction, 1, 1)
        grid.setColumnStretch(2, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(note)
        layout.addWidget(self.by_weights)
        layout.addWidget(buttons)
        self.rows.valueChanged.connect(lambda _v: self.exact_rows.setChecked(True))
        self.fraction.valueChanged.connect(lambda _v: self.by_fraction.setChecked(True))

    def budget(self) -> int | None:
        """The rows to draw, or None to resample by the weights without a budget."""
        if self.exact_rows.isChecked():
            return int(self.rows.value())
        if self.by_fraction.isChecked():
            return rows_for_fraction(self._n_rows, self.fraction.value() / 100.0)
        return None
