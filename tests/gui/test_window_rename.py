"""F2 renames the selected cluster or topic through the document, and so does a double-click on a
name in the tree or on the landscape: the table, the landscape, the details and Undo follow."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog

from level_desktop.gui.topic_model import Column

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


def typing(monkeypatch, *answers: str) -> list[str]:
    """Make the rename dialog answer `answers` in turn; returns the names it started from."""
    typed = iter([(a, True) for a in answers])
    asked: list[str] = []

    def get_text(parent, title, label, echo, text):
        asked.append(text)
        return next(typed)

    monkeypatch.setattr(QInputDialog, "getText", staticmethod(get_text))
    return asked


def double_click(qtbot, widget, pos) -> None:
    """What a user's double-click sends: a click, then the double-click press."""
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseDClick(widget, Qt.MouseButton.LeftButton, pos=pos)


def test_f2_on_a_topic_row_renames_the_topic_everywhere(analysed_window, qtbot,
                                                        monkeypatch) -> None:
    window = analysed_window
    tree, view = window.topic_tree, window.landscape.terrain_view
    topic = window.analysis.topics[0].id
    old = window.analysis.topics[0].label
    row = tree.model().mapFromSource(tree.topics.topic_index(topic))
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=tree.visualRect(row).center())
    assert window.selected_topic == topic
    assert window.document.selected is None
    asked = typing(monkeypatch, "Everything Perl")
    window.actions.rename.trigger()  # F2
    assert asked == [old]
    assert window.analysis.topics[0].label == "Everything Perl"
    assert window.analysis.topics[0].user_named
    row = tree.model().mapFromSource(tree.topics.topic_index(topic))
    assert row.data() == "Everything Perl"
    assert view.labels[window.landscape.hill_of(topic)].text == "Everything Perl"
    assert window.isWindowModified()
    assert window.undo_action.text() == f"&Undo Rename topic “{old}” → “Everything Perl”"
    window.undo_action.trigger()
    assert window.analysis.topics[0].label == old
    assert view.labels[window.landscape.hill_of(topic)].text == old


def test_double_click_on_a_name_in_the_tree_renames_elsewhere_it_opens_the_row(
        analysed_window, qtbot, monkeypatch) -> None:
    window = analysed_window
    tree = window.topic_tree
    topic = next(t for t in window.analysis.topics if len(t.cluster_ids) >= 2)
    asked = typing(monkeypatch, "Big topic", "My cluster")
    size_cell = tree.model().mapFromSource(tree.topics.topic_index(topic.id, Column.SIZE))
    assert not tree.isExpanded(size_cell.siblingAtColumn(0))
    double_click(qtbot, tree.viewport(), tree.visualRect(size_cell).center())
    assert tree.isExpanded(size_cell.siblingAtColumn(0))  # the row opened; no name asked
    assert asked == []
    name_cell = size_cell.siblingAtColumn(Column.LABEL)
    double_click(qtbot, tree.viewport(), tree.visualRect(name_cell).center())
    assert asked == [topic.label]
    assert window.document.topic_label(topic.id) == "Big topic"
    cluster = topic.cluster_ids[1]
    old_cluster = window.analysis.clusters[cluster].label
    cell = tree.model().mapFromSource(tree.topics.cluster_index(cluster))
    double_click(qtbot, tree.viewport(), tree.visualRect(cell).center())
    assert asked == [topic.label, old_cluster]
    assert window.document.selected == cluster  # the row double-clicked is the one selected
    assert window.analysis.clusters[cluster].label == "My cluster"


def test_double_click_on_a_name_in_the_landscape_renames_that_topic(
        analysed_window, qtbot, monkeypatch, screenshot) -> None:
    window = analysed_window
    landscape, view = window.landscape, window.landscape.terrain_view
    qtbot.waitUntil(lambda: not view.flying and len(view.label_rects) > 0, timeout=5000)
    hill, rect = view.label_rects[-1]  # a name the frame drew, not the first (the selected one)
    topic = landscape.hill_ids[hill]
    old = window.analysis.topics[topic].label
    asked = typing(monkeypatch, "Renamed on the map")
    double_click(qtbot, view, rect.center().toPoint())
    assert asked == [old]
    assert window.document.view_topic is None  # a double-click on a name does not drill in
    assert window.selected_topic == topic
    assert window.analysis.topics[topic].label == "Renamed on the map"
    assert view.labels[hill].text == "Renamed on the map"
    assert view.labels[hill].selected
    view.update()
    qtbot.waitUntil(lambda: any(h == hill for h, _ in view.label_rects), timeout=5000)
    screenshot(window, "rename-01-topic-on-landscape")


def test_naming_again_keeps_the_users_names_and_everything_again_replaces_them(
        analysed_window, qtbot) -> None:
    window = analysed_window
    document = window.document
    document.rename(1, "My cluster")
    document.rename_topic(0, "My topic")
    with qtbot.waitSignal(window.job_finished, timeout=600_000) as finished:
        window.relabel_action.trigger()  # Ctrl+R
    assert finished.args == ["relabel", "done"]
    assert document.cluster_label(1) == "My cluster"
    assert document.topic_label(0) == "My topic"
    assert "2 names you gave kept" in window.statusBar().currentMessage()
    everything = window.relabel_all_action
    assert everything.shortcut().toString() == "Ctrl+Shift+R"
    assert everything.isEnabled()
    with qtbot.waitSignal(window.job_finished, timeout=600_000) as finished:
        everything.trigger()
    assert finished.args == ["relabel", "done"]
    assert document.cluster_label(1) != "My cluster"
    assert document.topic_label(0) != "My topic"
    assert not any(c.user_named for c in window.analysis.clusters)
    window.undo_action.trigger()  # one step gives the user's names back
    assert (document.cluster_label(1), document.topic_label(0)) == ("My cluster", "My topic")
