"""Redundancy in the window (issue 16): Edit > Collapse Duplicates finds the near-duplicate
groups in the background (cancellable) and collapses them as one undoable step; the tree's
redundancy column and the selected hill's group list show them; a save keeps them; the resampled
export offers a row budget. On a real project: 150 sample rows plus 20 exact and 20 edited
copies, analysed by the real pipeline (fast embedding path, PCA map) and opened from its file."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QFileDialog

pytestmark = pytest.mark.gui
JOB_TIMEOUT_MS = 120_000



@pytest.fixture
def project(duplicated_csv: Path, tmp_path: Path) -> Path:
    from level_desktop.core.pipeline import analyze
    from level_desktop.core.settings import Settings
    from level_desktop.core.store import save_project

    analysis = analyze(duplicated_csv, Settings(model="fast", projection="pca"))
    return save_project(analysis, tmp_path / "dups.level")


@pytest.fixture
def opened(window, qtbot, project: Path):
    with qtbot.waitSignal(window.analysis_shown, timeout=JOB_TIMEOUT_MS):
        window.open_path(project)
    qtbot.waitUntil(lambda: window.landscape.terrain_view.heights is not None)
    return window


def _collapse(window, qtbot) -> None:
    with qtbot.waitSignal(window.job_finished, timeout=JOB_TIMEOUT_MS) as finished:
        window.collapse_duplicates_action.trigger()
    assert finished.args == ["duplicates", "done"]


def _most_redundant_topic(analysis) -> int:
    groups = analysis.duplicate_groups
    shares = [(groups[analysis.row_topics == t.id] >= 0).mean() for t in analysis.topics]
    return int(np.argmax(shares))


def test_collapse_duplicates_finds_groups_collapses_and_undoes(opened, qtbot,
                                                               screenshot) -> None:
    from level_desktop.core.duplicates import duplicate_share
    from level_desktop.gui.topic_model import Column

    window = opened
    document, analysis, model = window.document, window.analysis, window.topic_tree.topics
    view = window.landscape.terrain_view
    assert analysis.duplicate_groups is None
    assert model.data(model.topic_index(0, Column.REDUNDANCY)) == "–"
    assert window.topic_tree.isColumnHidden(Column.REDUNDANCY)  # no groups: no Dups column
    assert not window.details.duplicate_groups.isVisible()
    heights_before = view.heights.copy()
    effective_before = window.balance.topic_effective_sizes.copy()

    _collapse(window, qtbot)
    groups = analysis.duplicate_groups
    assert groups is not None
    assert (groups >= 0).sum() >= 40  # the 40 copies and their originals, at least
    assert analysis.collapse_duplicates
    assert window.collapse_duplicates_action.isChecked()
    assert document.undo_text == "Collapse duplicates"
    assert document.dirty
    assert "Duplicates collapsed" in window.statusBar().currentMessage()
    # The redundancy column, shown now: each topic's and cluster's share of rows in a group.
    assert not window.topic_tree.isColumnHidden(Column.REDUNDANCY)
    topic_shares = duplicate_share(groups >= 0, analysis.row_topics)
    for topic in analysis.topics:
        shown = model.redundancy(model.topic_index(topic.id, Column.REDUNDANCY))
        assert shown == pytest.approx(topic_shares[topic.id])
    cluster_shares = duplicate_share(groups >= 0, analysis.labels)
    for cluster in analysis.clusters:
        index = model.cluster_index(cluster.id, Column.REDUNDANCY)
        assert model.redundancy(index) == pytest.approx(cluster_shares[cluster.id])
    # Each group counts once: every topic's effective size is its rows' Σ 1/|group|.
    sizes = np.bincount(groups[groups >= 0])
    counted = np.where(groups >= 0, 1.0 / sizes[np.maximum(groups, 0)], 1.0)
    expected = [counted[analysis.row_topics == t.id].sum() for t in analysis.topics]
    np.testing.assert_allclose(window.balance.topic_effective_sizes, expected)
    qtbot.waitUntil(lambda: not np.array_equal(view.heights, heights_before))
    assert view.heights.max() < heights_before.max() + 1e-6

    # The selected hill's groups, beside its representative rows, largest first.
    topic = _most_redundant_topic(analysis)
    window.select_topic(topic)
    listed = window.details.duplicate_groups
    assert listed.isVisible()
    assert listed.count() > 0
    first = listed.item(0).text()
    assert first.startswith("×")
    counts = [int(listed.item(i).text().split()[0][1:]) for i in range(listed.count())]
    assert counts == sorted(counts, reverse=True)
    assert "Near-duplicate groups:" in window.details.groups_caption.text()
    screenshot(window, "duplicates-collapsed")

    document.undo()
    assert not analysis.collapse_duplicates
    assert not window.collapse_duplicates_action.isChecked()
    np.testing.assert_allclose(window.balance.topic_effective_sizes, effective_before)
    qtbot.waitUntil(lambda: np.allclose(view.heights, heights_before))
    assert analysis.duplicate_groups is not None  # the groups found stay
    assert not document.dirty
    document.redo()
    assert window.collapse_duplicates_action.isChecked()
    # Unchecking the action counts every row again, as its own undoable step.
    window.collapse_duplicates_action.trigger()
    assert not analysis.collapse_duplicates
    assert document.undo_text == "Keep every duplicate"


def test_collapse_combines_with_weights_and_survives_save_and_reopen(opened, qtbot,
                                                                     tmp_path) -> None:
    from level_desktop.core.export import effective_row_weights
    from level_desktop.gui.topic_model import Column

    window = opened
    document = window.document
    window.topic_tree.topic_weight_editor(0).setValue(2.0)
    _collapse(window, qtbot)
    expected = effective_row_weights(document.snapshot().export_data())
    with qtbot.waitSignal(window.job_finished, timeout=JOB_TIMEOUT_MS) as finished:
        window.save_action.trigger()
    assert finished.args == ["save", "done"]
    path = document.path
    with qtbot.waitSignal(window.analysis_shown, timeout=JOB_TIMEOUT_MS):
        window.open_path(path)
    reopened = window.analysis
    assert reopened.collapse_duplicates
    assert reopened.duplicate_groups is not None
    assert window.collapse_duplicates_action.isChecked()
    assert not document.can_undo
    np.testing.assert_allclose(effective_row_weights(document.snapshot().export_data()),
                               expected)
    model = window.topic_tree.topics
    assert model.data(model.topic_index(0, Column.REDUNDANCY)).endswith("%")
    assert not window.topic_tree.isColumnHidden(Column.REDUNDANCY)


def test_cancel_leaves_no_groups_and_no_step(opened, qtbot) -> None:
    window = opened
    with qtbot.waitSignal(window.job_finished, timeout=JOB_TIMEOUT_MS) as finished:
        window.collapse_duplicates_action.trigger()
        assert window.busy
        assert window.progress_panel.isVisible()
        window.cancel_work()
    assert finished.args == ["duplicates", "cancelled"]
    qtbot.wait(200)  # a thread that finished anyway is cut off: its result is dropped
    assert window.analysis.duplicate_groups is None
    assert not window.analysis.collapse_duplicates
    assert not window.collapse_duplicates_action.isChecked()
    assert not window.document.can_undo


def test_resampled_export_takes_a_row_budget(opened, qtbot, tmp_path, monkeypatch) -> None:
    from level_desktop.gui.budget_dialog import BudgetDialog

    window = opened
    _collapse(window, qtbot)
    groups = window.analysis.duplicate_groups
    budget = 60
    target = tmp_path / "budget.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *args, **kwargs: (str(target), "CSV files (*.csv)"))

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, BudgetDialog)
        dialog.rows.setValue(budget)
        assert dialog.budget() == budget
        dialog.fraction.setValue(10.0)  # choosing a fraction switches to it…
        assert dialog.budget() == round(window.analysis.n_rows * 0.1)
        dialog.exact_rows.setChecked(True)  # …and back
        dialog.accept()

    QTimer.singleShot(0, answer)
    with qtbot.waitSignal(window.job_finished, timeout=JOB_TIMEOUT_MS) as finished:
        window.export_resampled_action.trigger()
    assert finished.args == ["export", "done"]
    with open(target, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == budget
    # Collapsed, and fewer rows than groups + unique rows: no group gives two rows.
    analysis = window.analysis
    position = {int(r): p for p, r in enumerate(analysis.row_index)}
    packages = [r["package"] for r in rows]
    assert len(set(packages)) == budget
    source = analysis.columns["package"]
    picked = [position[source.index(name)] for name in packages]
    picked_groups = groups[picked]
    member = picked_groups[picked_groups >= 0]
    assert len(member) == len(set(member.tolist()))


def test_collapse_duplicates_is_in_the_edit_menu_with_ctrl_d(window) -> None:
    action = window.collapse_duplicates_action
    assert action.shortcut().toString() == "Ctrl+D"
    edit_menu = next(m.menu() for m in window.menuBar().actions() if m.text() == "&Edit")
    assert action in edit_menu.actions()
    assert action.isCheckable()
    assert not action.isEnabled()  # nothing open yet
