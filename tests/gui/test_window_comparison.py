"""A comparison set in the window (issue 17): a second file dropped onto the landscape of the
analysed sample (the real pipeline, the real model), its columns in the tree, its skin over the
terrain, the coverage gaps, far rows and leaks in the dock, Match Comparison Set with the
distance moving, Zero Leaking Rows, and undo — with screenshots."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.gui

COMPARE_TIMEOUT_MS = 600_000


def write_eval_file(window, shared_data: Path, target: Path) -> int:
    """8 rows copied from the analysed ones and 32 debian font packages (the sample has
    15 of 600: a coverage gap); returns the rows written."""
    analysis = window.analysis
    column = analysis.source.text_column
    known = set(analysis.texts)
    with open(shared_data / "debian-packages.csv", encoding="utf-8", newline="") as handle:
        pool = [r[column] for r in csv.DictReader(handle)
                if r["section"] == "fonts" and r[column] not in known]
    rows = [analysis.texts[i] for i in range(0, 80, 10)] + pool[:32]
    with open(target, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([column])
        writer.writerows([r] for r in rows)
    return len(rows)


def test_a_file_dropped_on_the_landscape_becomes_the_comparison_set(
        analysed_window, qtbot, drop_file, shared_data: Path, tmp_path: Path,
        screenshot, record_message_boxes) -> None:
    from level_desktop.gui.topic_model import COMPARISON_COLUMNS, Column

    window = analysed_window
    document, view = window.document, window.landscape.terrain_view
    assert not window.match_comparison_action.isEnabled()
    assert all(window.topic_tree.isColumnHidden(c) for c in COMPARISON_COLUMNS)
    assert view.overlay_heights is None
    target = tmp_path / "eval.csv"
    n = write_eval_file(window, shared_data, target)
    with qtbot.waitSignal(window.job_finished, timeout=COMPARE_TIMEOUT_MS) as finished:
        drop_file(window, target, onto=window.landscape_host)
    assert finished.args == ["compare", "done"]
    analysis = window.analysis
    comparison = analysis.comparison
    assert comparison is not None
    assert comparison.n_placed == n
    assert window.document.analysis is analysis  # the analysis was not replaced
    # No project file holds it yet: the document is unsaved (the title shows it).
    assert document.dirty
    assert window.isWindowModified()

    # Both sets in the tree.
    tree = window.topic_tree
    assert not any(tree.isColumnHidden(c) for c in COMPARISON_COLUMNS)
    counts = comparison.topic_counts(analysis.cluster_topic, len(analysis.topics))
    top = int(np.argmax(counts))
    index = tree.topics.topic_index(top, Column.COMPARED)
    assert tree.topics.data(index) == f"{int(counts[top]):,}"

    # The skin over the terrain: the comparison set's unit hills on the terrain's scale.
    assert view.overlay_heights is not None
    scales = document.comparison_hill_scales(None)
    np.testing.assert_allclose(view.overlay_heights, view.terrain.heights(scales), rtol=1e-5)

    # The dock: gaps at the level in view, far rows, the leaks with their partners.
    panel = window.comparison_panel
    assert window.comparison_dock.isVisible()
    gaps = document.comparison_gaps(None)
    assert gaps
    assert panel.gaps.topLevelItemCount() == len(gaps)
    best = comparison.leaks.best()
    assert len(best) >= 8
    assert panel.leaks.topLevelItemCount() == len(best)
    assert panel.tabs.tabText(2) == f"Leaks ({len(best):,})"
    qtbot.waitUntil(lambda: not view.flying, timeout=5000)
    tree.scrollTo(tree.model().mapFromSource(index))  # the comparison columns, in the picture
    screenshot(window, "comparison-01-landscape")

    # A gap chosen in the list selects its massif.
    first = panel.gaps.topLevelItem(0)
    panel.gaps.setCurrentItem(first)
    panel.gaps.itemClicked.emit(first, 0)
    assert window.selected_topic == analysis.topics[gaps[0].cluster].id
    screenshot(window, "comparison-02-gap-selected")

    # The leak list, and a leak chosen selects its training row's cluster.
    panel.tabs.setCurrentIndex(2)
    leak = panel.leaks.topLevelItem(0)
    panel.leaks.itemClicked.emit(leak, 0)
    assert document.selected == int(analysis.labels[int(best.training[0])])
    screenshot(window, "comparison-03-leaks")

    # Match Comparison Set: the distance readout moves, undo puts it back.
    document.back()
    raw = document.comparison_distance(None)
    assert window.balance_panel.distance_value.text() == f"{raw:.3f}"
    assert window.match_comparison_action.isEnabled()
    window.match_comparison_action.trigger()
    matched = document.comparison_distance(None)
    assert matched < raw
    assert window.balance_panel.distance_value.text() == f"{matched:.3f}"
    np.testing.assert_allclose(view.overlay_heights, view.terrain.heights(scales), rtol=1e-5)
    window.undo_action.trigger()
    assert window.balance_panel.distance_value.text() == f"{raw:.3f}"

    # Zero Leaking Rows: one undoable step.
    window.zero_leaks_action.trigger()
    assert analysis.zero_leaks
    assert "weigh 0 in exports" in panel.zero_leaks_note.text()
    window.undo_action.trigger()
    assert not analysis.zero_leaks
    assert not window.zero_leaks_action.isChecked()

    # Closing asks to save the comparison set first; Cancel keeps the window open.
    window.close()
    assert record_message_boxes.questions
    assert "The comparison rows of sample.csv were changed and not saved" in (
        record_message_boxes.questions[-1])
    assert window.isVisible()
