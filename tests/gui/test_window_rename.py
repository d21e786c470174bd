"""F2 renames the selected cluster through the document: the table, the details and Undo follow."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QInputDialog

pytestmark = pytest.mark.gui


def test_f2_renames_the_selected_cluster_and_undo_restores_it(analysed_window, qtbot,
                                                              monkeypatch, record_message_boxes
                                                              ) -> None:
    window = analysed_window
    window.select_cluster(2)
    old = window.analysis.clusters[2].label
    taken = window.analysis.clusters[0].label
    typed = iter([(taken, True), ("Fonts I like", True)])  # a taken name first: asked again
    asked: list[str] = []

    def get_text(parent, title, label, echo, text):  # the user typing in the dialog
        asked.append(text)
        return next(typed)

    monkeypatch.setattr(QInputDialog, "getText", staticmethod(get_text))
    rename = window.actions.rename
    assert rename.shortcut().toString() == "F2"
    assert rename.isEnabled()
    rename.trigger()
    assert asked == [old, taken]  # the dialog starts from the current name
    assert record_message_boxes.warnings == [
        f"Cluster 0 is already called “{taken}”; choose another name."]
    assert window.analysis.clusters[2].label == "Fonts I like"
    assert "Fonts I like" in window.details.title.text()
    assert window.isWindowModified()
    assert window.undo_action.text() == f"&Undo Rename “{old}” → “Fonts I like”"
    window.undo_action.trigger()
    assert window.analysis.clusters[2].label == old
    assert old in window.details.title.text()
