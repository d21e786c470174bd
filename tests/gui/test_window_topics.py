"""Topics in the window (issue 15): the massifs, drilling in by double-click and Enter, returning by
Esc, Alt+Left and the breadcrumb, the tree's spin boxes at both levels, Flatten at the level in
view, undo — on the real shipped sample, analysed by the real pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

pytestmark = pytest.mark.gui


def topic_with_clusters(analysis) -> int:
    """The largest topic made of at least two clusters (drilling into it shows several hills)."""
    return next(t.id for t in analysis.topics if len(t.cluster_ids) >= 2)


def massif_pixel(window, topic: int):
    """Where the top of a topic's massif is drawn, once the camera has come to rest."""
    view = window.landscape.terrain_view
    hill = window.landscape.hill_of(topic)
    i, j = view.terrain.cell_of(*view.terrain.centers[hill])
    return view.screen_position(view.surface_point(i, j))


def wait_at_rest(qtbot, view) -> None:
    qtbot.waitUntil(lambda: not view.flying, timeout=5000)


def test_double_click_on_a_massif_opens_it_and_esc_returns(analysed_window, qtbot,
                                                           screenshot) -> None:
    window = analysed_window
    analysis, document = window.analysis, window.document
    landscape, view = window.landscape, window.landscape.terrain_view
    topic = topic_with_clusters(analysis)
    assert len(analysis.topics) < len(analysis.clusters)
    assert window.breadcrumb.text == "All topics"
    assert window.balance_panel.level_caption.text() == "Topics"
    assert not window.back_action.isEnabled()
    wait_at_rest(qtbot, view)
    pixel = massif_pixel(window, topic)
    assert landscape.hill_ids[view.hill_at(pixel.x(), pixel.y())] == topic
    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=pixel.toPoint())
    qtbot.waitUntil(lambda: document.view_topic == topic)
    label = analysis.topics[topic].label
    clusters = analysis.topics[topic].cluster_ids
    assert landscape.hill_ids == list(clusters)
    assert [lab.text for lab in view.labels] == [analysis.clusters[c].label for c in clusters]
    assert view.terrain is analysis.terrain(topic)
    assert view.heights.max() == pytest.approx(10.0, rel=1e-3)  # the level's own peak
    assert window.breadcrumb.text == f"All topics › {label}"
    assert window.balance_panel.level_caption.text() == f"Within {label}"
    balance = window.balance
    assert window.balance_panel.gini_value.text() == f"{balance.level_gini(topic):.3f}"
    assert window.back_action.isEnabled()
    wait_at_rest(qtbot, view)
    screenshot(window, "topics-02-drilled")

    with qtbot.waitActive(window):
        window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: document.view_topic is None)
    assert [lab.text for lab in view.labels] == [t.label for t in analysis.topics]
    assert window.breadcrumb.text == "All topics"
    assert window.selected_topic == topic  # the massif just left is the one selected
    assert view.labels[landscape.hill_of(topic)].selected
    assert window.balance_panel.level_caption.text() == "Topics"


def test_enter_on_a_topic_row_opens_it_and_the_breadcrumb_and_alt_left_return(
        analysed_window, qtbot) -> None:
    window = analysed_window
    analysis, document, tree = window.analysis, window.document, window.topic_tree
    topic = topic_with_clusters(analysis)
    row = tree.model().mapFromSource(tree.topics.topic_index(topic))
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=tree.visualRect(row).center())
    assert window.selected_topic == topic
    assert document.view_topic is None
    assert analysis.topics[topic].label in window.details.title.text()
    qtbot.keyClick(tree, Qt.Key.Key_Return)
    assert document.view_topic == topic
    qtbot.mouseClick(window.breadcrumb.top_button, Qt.MouseButton.LeftButton)
    assert document.view_topic is None
    window.drill(topic)
    with qtbot.waitActive(window):
        window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert document.view_topic is None


def test_spin_boxes_at_both_levels_write_the_document_and_undo(analysed_window, qtbot) -> None:
    window = analysed_window
    analysis, document, balance = window.analysis, window.document, window.balance
    view, tree = window.landscape.terrain_view, window.topic_tree
    topic = topic_with_clusters(analysis)
    cluster = analysis.topics[topic].cluster_ids[0]
    topic_spin = tree.topic_weight_editor(topic)
    cluster_spin = tree.weight_editor(cluster)
    assert topic_spin is not None
    assert cluster_spin is not None
    topic_spin.setValue(1.5)
    assert balance.topic_weight(topic) == pytest.approx(1.5)
    assert balance.weight(cluster) == 1.0
    qtbot.waitUntil(lambda: np.allclose(view.heights,
                                        view.terrain.heights(balance.hill_scales(None))))
    assert window.undo_action.isEnabled()
    cluster_spin.setValue(0.4)
    assert balance.weight(cluster) == pytest.approx(0.4)
    assert document.view_topic is None  # editing a weight does not change the level in view
    effective = tree.topics.cluster_index(cluster, 4).data()
    assert effective == f"{analysis.clusters[cluster].size * 0.4 * 1.5:,.1f}"
    assert window.isWindowModified()
    window.drill(topic)
    qtbot.waitUntil(lambda: np.allclose(view.heights,
                                        view.terrain.heights(balance.hill_scales(topic))))
    window.undo_action.trigger()
    assert balance.weight(cluster) == 1.0
    # The tree opens the drilled topic just after the landscape's frame; then its spin boxes
    # show the document's weights.
    qtbot.waitUntil(lambda: cluster_spin.isVisible())
    assert cluster_spin.value() == 1.0
    qtbot.waitUntil(lambda: np.allclose(view.heights,
                                        view.terrain.heights(balance.hill_scales(topic))))
    window.undo_action.trigger()
    assert balance.topic_weight(topic) == 1.0
    assert topic_spin.value() == 1.0
    assert not window.isWindowModified()


def test_flatten_acts_on_the_level_in_view(analysed_window, qtbot, screenshot) -> None:
    window = analysed_window
    analysis, document, balance = window.analysis, window.document, window.balance
    view, panel = window.landscape.terrain_view, window.balance_panel
    wait_at_rest(qtbot, view)
    screenshot(window, "topics-01-top")
    top_gini = balance.level_gini(None)
    assert panel.gini_original.text() == f"was {balance.original_level_gini(None):.3f}"
    heights_before = view.heights.copy()
    window.flatten_action.trigger()
    qtbot.waitUntil(lambda: not np.array_equal(view.heights, heights_before))
    assert np.allclose(view.heights, view.terrain.heights(balance.hill_scales(None)))
    assert np.all(balance.weights == 1.0)  # only topic weights moved
    assert not np.all(balance.topic_weights == 1.0)
    assert balance.level_gini(None) < top_gini / 2
    assert balance.topic_effective_sizes.sum() == pytest.approx(balance.topic_sizes.sum())
    assert panel.gini_value.text() == f"{balance.level_gini(None):.3f}"
    # The massifs come closer in mass: each unit hill holds its topic's size as volume (issue 15:
    # volume, not height, follows mass), so the scaled volumes spread much less than the sizes.
    terrain, scales = view.terrain, balance.hill_scales(None)
    volumes = np.array([float(h.sum()) for h in terrain.unit_hills]) * scales
    sizes = balance.topic_sizes.astype(float)
    assert volumes.max() / volumes.min() < (sizes.max() / sizes.min()) / 2
    screenshot(window, "topics-03-flattened")
    window.undo_action.trigger()
    assert np.all(balance.topic_weights == 1.0)

    topic = topic_with_clusters(analysis)
    inside = list(analysis.topics[topic].cluster_ids)
    window.drill(topic)
    window.flatten_action.trigger()
    assert np.all(balance.topic_weights == 1.0)  # only this topic's clusters moved
    moved = {int(c) for c, w in zip(balance.cluster_ids, balance.weights, strict=True)
             if w != 1.0}
    assert moved
    assert moved <= set(inside)
    assert panel.gini_value.text() == f"{balance.level_gini(topic):.3f}"
    qtbot.waitUntil(lambda: np.allclose(view.heights,
                                        view.terrain.heights(balance.hill_scales(topic))))
    window.undo_action.trigger()
    assert np.all(balance.weights == 1.0)
    window.reset_weights_action.trigger()  # nothing to reset: no new step
    assert not document.can_undo


def test_flatten_all_clusters_levels_every_cluster_from_any_level(analysed_window, qtbot) -> None:
    window = analysed_window
    balance, document = window.balance, window.document
    document.set_topic_weight(0, 2.0)
    window.drill(topic_with_clusters(window.analysis))  # the level in view does not matter
    before = balance.gini
    window.flatten_clusters_action.trigger()
    assert np.all(balance.topic_weights == 1.0)
    assert not np.all(balance.weights == 1.0)
    assert balance.gini < before
    assert document.undo_text.startswith("Flatten all clusters")
    window.undo_action.trigger()
    assert np.all(balance.weights == 1.0)
    assert balance.topic_weight(0) == 2.0


def test_the_map_follows_the_level(analysed_window, qtbot) -> None:
    window = analysed_window
    analysis = window.analysis
    map_view = window.landscape.map_view
    window.map_action.trigger()
    named = set(map_view._names)
    assert len(named) == len(analysis.topics)
    shown_rows = sum(len(item.data) for item in map_view._points.values())
    assert shown_rows == analysis.n_rows
    topic = topic_with_clusters(analysis)
    window.drill(topic)
    inside = np.isin(analysis.labels, analysis.topics[topic].cluster_ids)
    assert sum(len(item.data) for item in map_view._points.values()) == int(inside.sum())
    assert [map_view._names[h].textItem.toPlainText() for h in sorted(map_view._names)] == [
        analysis.clusters[c].label for c in analysis.topics[topic].cluster_ids]
    window.map_action.trigger()


def test_a_version_1_project_opens_with_topics_and_says_so(window, qtbot, tmp_path) -> None:
    import shutil
    from pathlib import Path

    project = tmp_path / "old.level"  # a copy: opening upgrades the file
    shutil.copyfile(Path(__file__).parents[1] / "data" / "project-v1.level", project)
    with qtbot.waitSignal(window.analysis_shown, timeout=120_000):
        window.open_path(project)
    analysis = window.analysis
    assert analysis.notices
    qtbot.waitUntil(lambda: "older Level" in window.statusBar().currentMessage())
    tree = window.topic_tree.model()
    assert tree.rowCount() == len(analysis.topics) == 1
    assert tree.rowCount(tree.index(0, 0)) == len(analysis.clusters)
    view = window.landscape.terrain_view
    assert [label.text for label in view.labels] == [analysis.topics[0].label]
    qtbot.keyClick(window.topic_tree, Qt.Key.Key_Return)  # the topic row is selected on open
    assert window.document.view_topic == 0
    assert [label.text for label in view.labels] == [c.label for c in analysis.clusters]
