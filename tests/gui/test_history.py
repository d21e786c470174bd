"""The window as a view of the document: Undo/Redo read the document's history, the title's
"modified" mark is the document's dirty flag, and naming clusters again is one undoable step."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtWidgets import QMessageBox

pytestmark = pytest.mark.gui
JOB_TIMEOUT_MS = 120_000


def test_undo_and_redo_actions_follow_the_document(analysed_window, qtbot) -> None:
    window = analysed_window
    document = window.document
    assert not window.undo_action.isEnabled()
    assert window.undo_action.text() == "&Undo"
    assert not window.isWindowModified()
    cluster = window.analysis.clusters[1]
    window.topic_tree.weight_editor(cluster.id).setValue(0.5)
    assert document.balance.weight(cluster.id) == pytest.approx(0.5)
    assert window.undo_action.isEnabled()
    assert window.undo_action.text() == f"&Undo Weight of {cluster.label} → 0.50"
    assert window.isWindowModified()
    window.undo_action.trigger()
    assert document.balance.weight(cluster.id) == 1.0
    assert window.topic_tree.weight_editor(cluster.id).value() == 1.0
    assert not window.isWindowModified()  # back at the state it was opened in
    assert window.redo_action.isEnabled()
    assert window.redo_action.text() == f"&Redo Weight of {cluster.label} → 0.50"
    assert not window.undo_action.isEnabled()
    window.redo_action.trigger()
    assert document.balance.weight(cluster.id) == pytest.approx(0.5)
    assert window.isWindowModified()


def test_naming_again_is_one_undoable_step_and_asks_before_close(analysed_window, qtbot,
                                                                  record_message_boxes) -> None:
    window = analysed_window
    analysis = window.analysis
    fresh = [c.label for c in analysis.clusters]
    stale = dataclasses.replace(analysis, clusters=[dataclasses.replace(c, label=f"old {c.id}")
                                                    for c in analysis.clusters])
    window.show_analysis(stale, None, in_sync=False)
    window.select_cluster(2)
    with qtbot.waitSignal(window.job_finished, timeout=JOB_TIMEOUT_MS) as finished:
        window.relabel_action.trigger()
    assert finished.args == ["relabel", "done"]
    assert [c.label for c in window.analysis.clusters] == fresh
    assert window.isWindowModified()
    assert window.undo_action.text().startswith("&Undo Name clusters with")
    window.undo_action.trigger()
    assert [c.label for c in window.analysis.clusters] == [f"old {c}" for c in range(len(fresh))]
    assert "old 2" in window.details.title.text()
    assert window.selected_cluster == 2
    window.redo_action.trigger()
    assert fresh[2] in window.details.title.text()
    record_message_boxes.answers.append(QMessageBox.StandardButton.Cancel)
    assert not window.close()
    assert "The cluster names of sample.csv were changed" in record_message_boxes.questions[-1]
    window.document.mark_clean()
