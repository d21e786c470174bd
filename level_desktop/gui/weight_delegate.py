"""The weight spin box drawn in a table cell: arrows and the wheel apply at once, typed values on
Enter. It writes through the model's setData, which only announces the wish (the window makes
the change undoable)."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QDoubleSpinBox, QStyledItemDelegate, QStyleOptionViewItem, QWidget

MAX_WEIGHT = 20.0
WEIGHT_STEP = 0.1
WEIGHT_COLUMN_WIDTH = 96
AnyIndex = QModelIndex | QPersistentModelIndex


class WeightDelegate(QStyledItemDelegate):
    """A spin box per row; arrows and the wheel apply at once, typed values on Enter."""

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem,
                     index: AnyIndex) -> QWidget:
        editor = QDoubleSpinBox(parent)
        editor.setRange(0.0, MAX_WEIGHT)
        editor.setDecimals(2)
        editor.setSingleStep(WEIGHT_STEP)
        editor.setKeyboardTracking(False)
        editor.setFrame(False)
        editor.setAlignment(Qt.AlignmentFlag.AlignRight)
        editor.setAccessibleName("Weight")
        editor.valueChanged.connect(lambda _value: self.commitData.emit(editor))
        return editor

    def setEditorData(self, editor: QWidget, index: AnyIndex) -> None:
        assert isinstance(editor, QDoubleSpinBox)
        value = float(index.data(Qt.ItemDataRole.EditRole))
        if abs(editor.value() - value) > 1e-9:
            editor.blockSignals(True)
            editor.setValue(value)
            editor.blockSignals(False)

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: AnyIndex) -> None:
        assert isinstance(editor, QDoubleSpinBox)
        model.setData(index, editor.value(), Qt.ItemDataRole.EditRole)
