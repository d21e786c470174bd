"""Leveling the real sample: the 3D view, weights, undo, selection, export, save."""

from __future__ import annotations

import csv
from collections import Counter

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

pytestmark = pytest.mark.gui
JOB_TIMEOUT_MS = 120_000
ANALYSIS_TIMEOUT_MS = 900_000


def frame_pixels(view) -> np.ndarray:
    """The 3D view's framebuffer as an (h, w, 4) uint8 array."""
    image = view.grabFramebuffer().convertToFormat(QImage.Format.Format_RGBA8888)
    view.doneCurrent()
    data = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    rows = data.reshape(image.height(), image.bytesPerLine())
    return rows[:, :image.width() * 4].reshape(image.height(), image.width(), 4).copy()


def peak_of(window, hill: int) -> float:
    """The drawn terrain's height at the centre of a hill of the level in view."""
    view = window.landscape.terrain_view
    i, j = view.terrain.cell_of(*view.terrain.centers[hill])
    return float(view.heights[i, j])


def test_the_3d_view_draws_the_landscape(analysed_window, qtbot, screenshot) -> None:
    window = analysed_window
    view = window.landscape.terrain_view
    analysis = window.analysis
    assert window.document.view_topic is None  # the top level: one massif per topic
    assert view.heights.max() == pytest.approx(10.0, rel=1e-3)  # the unweighted peak
    assert [label.text for label in view.labels] == [t.label for t in analysis.topics]
    pixels = frame_pixels(view)
    background = np.array([0xEE, 0xF1, 0xF5])
    drawn = np.abs(pixels[..., :3].astype(int) - background).sum(axis=2) > 30
    assert pixels[..., :3].var() > 100, "the 3D view is blank"
    assert drawn.mean() > 0.1, f"only {drawn.mean():.1%} of the 3D view is drawn"
    assert sum(label.shown for label in view.labels) >= min(3, len(analysis.topics))
    screenshot(window, "03-landscape")


def test_a_weight_change_lowers_the_massif_and_moves_gini(analysed_window, qtbot) -> None:
    window = analysed_window
    balance = window.balance
    largest = window.analysis.clusters[0].id
    topic = int(window.analysis.cluster_topic[largest])
    peak_before = peak_of(window, topic)
    gini_before = window.balance_panel.gini_value.text()
    spin = window.topic_tree.weight_editor(largest)
    assert spin is not None
    assert spin.value() == 1.0
    spin.setValue(0.3)
    assert balance.weight(largest) == pytest.approx(0.3)
    qtbot.waitUntil(lambda: peak_of(window, topic) < peak_before)
    view = window.landscape.terrain_view
    assert np.allclose(view.heights, view.terrain.heights(balance.hill_scales(None)))
    assert window.balance_panel.gini_value.text() == f"{balance.level_gini(None):.3f}"
    assert window.balance_panel.gini_value.text() != gini_before
    assert window.isWindowModified()
    with qtbot.waitActive(window):
        window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: balance.weight(largest) == 1.0)
    qtbot.waitUntil(lambda: peak_of(window, topic) == pytest.approx(peak_before))
    assert spin.value() == 1.0
    assert window.balance_panel.gini_value.text() == gini_before
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: balance.weight(largest) == pytest.approx(0.3))
    assert spin.value() == pytest.approx(0.3)


def test_clicks_select_a_topic_or_cluster_in_tree_landscape_and_map(analysed_window, qtbot,
                                                                     screenshot) -> None:
    window = analysed_window
    analysis = window.analysis
    tree = window.topic_tree
    target = analysis.clusters[3]
    topic = int(analysis.cluster_topic[target.id])
    source = tree.topics.cluster_index(target.id)
    tree.expand(tree.model().mapFromSource(source.parent()))
    row = tree.model().mapFromSource(source)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=tree.visualRect(row).center())
    assert window.selected_cluster == target.id
    assert window.document.view_topic == topic  # a cluster row opens its topic
    assert target.label in window.details.title.text()
    assert window.details.representatives.count() == len(target.representatives)
    landscape = window.landscape
    assert landscape.terrain_view.labels[landscape.hill_of(target.id)].selected
    screenshot(window, "04-selected-cluster")

    window.go_back()
    view = landscape.terrain_view
    tallest = int(np.argmax([peak_of(window, h) for h in range(len(landscape.hill_ids))]))
    i, j = view.terrain.cell_of(*view.terrain.centers[tallest])
    qtbot.waitUntil(lambda: not view.flying)
    pixel = view.screen_position(view.surface_point(i, j))
    expected = view.hill_at(pixel.x(), pixel.y())
    assert expected is not None
    assert expected >= 0
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=pixel.toPoint())
    qtbot.waitUntil(lambda: window.selected_topic == landscape.hill_ids[expected])
    assert window.document.view_topic is None
    selected_row = tree.selectionModel().currentIndex()
    assert (tree.model().data(selected_row.siblingAtColumn(0))
            == analysis.topics[landscape.hill_ids[expected]].label)

    window.map_action.trigger()
    assert landscape.showing_map
    map_view = landscape.map_view
    qtbot.wait(100)
    screenshot(window, "06-map")
    member = int(np.flatnonzero(analysis.labels == target.id)[0])
    view_box = map_view.getPlotItem().getViewBox()
    scene_point = view_box.mapViewToScene(QPointF(*map(float, analysis.positions[member])))
    widget_point = map_view.mapFromScene(scene_point)
    clicked = map_view.cluster_at(widget_point.x(), widget_point.y())
    assert clicked is not None  # at the top level the map's points are the topics' rows
    qtbot.mouseClick(map_view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(widget_point))
    qtbot.waitUntil(lambda: window.selected_topic == landscape.hill_ids[clicked])
    window.map_action.trigger()
    assert not landscape.showing_map


def _resample_by_the_weights() -> None:
    """Answer the export's budget dialog: no budget, resample as the weights say."""
    from level_desktop.gui.budget_dialog import BudgetDialog

    dialog = QApplication.activeModalWidget()
    assert isinstance(dialog, BudgetDialog)
    dialog.by_weights.setChecked(True)
    dialog.accept()


def test_export_through_the_dialog_writes_the_weights(analysed_window, qtbot, tmp_path,
                                                      monkeypatch) -> None:
    window = analysed_window
    analysis = window.analysis
    window.topic_tree.weight_editor(1).setValue(2.5)
    weighted = tmp_path / "weighted.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *args, **kwargs: (str(weighted), "CSV files (*.csv)"))
    with qtbot.waitSignal(window.job_finished, timeout=JOB_TIMEOUT_MS) as finished:
        window.export_weighted_action.trigger()
    assert finished.args == ["export", "done"]
    with open(weighted, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == analysis.source.n_rows
    assert {"package", "section", "description", "cluster_id", "cluster_label", "weight"} <= set(
        rows[0])
    weights = {(r["cluster_id"], r["weight"]) for r in rows}
    assert ("1", "2.5") in weights
    assert ("0", "1") in weights
    assert all(w == "2.5" for c, w in weights if c == "1")
    assert f"Exported {len(rows):,} rows" in window.statusBar().currentMessage()

    resampled = tmp_path / "resampled.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *args, **kwargs: (str(resampled), "CSV files (*.csv)"))
    QTimer.singleShot(0, _resample_by_the_weights)  # the budget dialog asks how many rows
    with qtbot.waitSignal(window.job_finished, timeout=JOB_TIMEOUT_MS):
        window.export_resampled_action.trigger()
    with open(resampled, encoding="utf-8", newline="") as handle:
        counts = Counter(r["cluster_id"] for r in csv.DictReader(handle))
    assert counts["1"] == round(analysis.clusters[1].size * 2.5)
    assert counts["0"] == analysis.clusters[0].size


def test_save_reopen_recent_and_the_prompt_before_close(analysed_window, qtbot, tmp_path,
                                                        monkeypatch, drop_file,
                                                        record_message_boxes) -> None:
    from level_desktop.gui.preferences import Preferences
    from level_desktop.gui.window import MainWindow

    window = analysed_window
    project = tmp_path / "levelled.level"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *args, **kwargs: (str(tmp_path / "levelled"), ""))
    window.flatten_action.trigger()
    flattened = window.balance.topic_weight_map()
    with qtbot.waitSignal(window.job_finished, timeout=JOB_TIMEOUT_MS) as finished:
        window.save_action.trigger()
    assert finished.args == ["save", "done"]
    assert project.exists()
    assert not window.document.dirty
    assert not window.isWindowModified()
    assert window.windowTitle().startswith("levelled.level")
    assert str(project.resolve()) == Preferences().recent_files()[0]

    window.topic_tree.weight_editor(2).setValue(0.5)
    window.resize(1000, 700)
    record_message_boxes.answers.append(QMessageBox.StandardButton.Cancel)
    assert not window.close()  # Cancel keeps the window open
    assert "not saved" in record_message_boxes.questions[-1]
    record_message_boxes.answers.append(QMessageBox.StandardButton.Discard)
    assert window.close()

    reopened = MainWindow(Preferences())
    with qtbot.waitExposed(reopened):
        reopened.show()
    try:
        assert (reopened.width(), reopened.height()) == (1000, 700)  # geometry restored
        with qtbot.waitSignal(reopened.analysis_shown, timeout=ANALYSIS_TIMEOUT_MS):
            drop_file(reopened, project)
        assert reopened.balance.topic_weight_map() == pytest.approx(flattened)
        assert not reopened.document.dirty
    finally:
        reopened.close()


def test_name_clusters_again_keeps_weights_and_selection(analysed_window, qtbot) -> None:
    import dataclasses

    window = analysed_window
    analysis = window.analysis
    fresh = [c.label for c in analysis.clusters]
    stale = dataclasses.replace(analysis, clusters=[dataclasses.replace(c, label=f"old {c.id}")
                                                    for c in analysis.clusters])
    window.show_analysis(stale, None, in_sync=False)
    window.set_weight(1, 2.0)
    window.select_cluster(2)
    assert window.relabel_action.isEnabled()
    assert window.relabel_action.shortcut().toString() == "Ctrl+R"
    with qtbot.waitSignal(window.job_finished, timeout=JOB_TIMEOUT_MS) as finished:
        window.relabel_action.trigger()
    assert finished.args == ["relabel", "done"]
    assert [c.label for c in window.analysis.clusters] == fresh
    assert window.balance.weights[1] == pytest.approx(2.0)
    assert window.selected_cluster == 2
    assert fresh[2] in window.details.title.text()
