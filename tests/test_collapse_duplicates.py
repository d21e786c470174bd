"""Duplicate groups and "collapse duplicates" in the document: a full save keeps the groups, the
collapse is one undoable step that combines with the topic and cluster weights, is saved and
survives reopening, and the effective row weights (exports, budgets) are topic weight × cluster
weight × collapse factor. Runs on the committed 60-row project (real DuckDB files)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from level_desktop.core.document import Document, Event
from level_desktop.core.duplicates import find_duplicates
from level_desktop.core.errors import SettingsError
from level_desktop.core.export import budget_positions, effective_row_weights, write_weighted
from level_desktop.core.store import (
    load_collapse_duplicates,
    load_duplicate_groups,
    load_project,
    save_duplicate_groups,
    save_project,
)

PROJECT_V1 = Path(__file__).parent / "data" / "project-v1.level"  # 60 rows, 4 clusters


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "dups.level"
    shutil.copy(PROJECT_V1, path)
    return path


def _groups(n: int) -> np.ndarray:
    """Three groups by hand: rows 0-3 (4 rows), 10-11, and 20-22; the rest unique."""
    groups = np.full(n, -1, dtype=np.int32)
    groups[[0, 1, 2, 3]] = 0
    groups[[10, 11]] = 1
    groups[[20, 21, 22]] = 2
    return groups


def _expected_factors(groups: np.ndarray) -> np.ndarray:
    sizes = {g: int((groups == g).sum()) for g in set(groups.tolist()) if g >= 0}
    return np.array([1.0 / sizes[g] if g >= 0 else 1.0 for g in groups.tolist()])


def test_a_full_save_keeps_the_stored_groups(project: Path, tmp_path: Path) -> None:
    """The groups `level duplicates` stored must survive opening and saving the whole project
    elsewhere (a full save rewrites every table)."""
    n = load_project(project).n_rows
    save_duplicate_groups(project, _groups(n), 0.93)
    analysis = load_project(project)
    again = tmp_path / "again.level"
    save_project(analysis, again)
    stored = load_duplicate_groups(again)
    assert stored is not None
    np.testing.assert_array_equal(stored[0], _groups(n))
    assert stored[1] == pytest.approx(0.93)
    reread = load_project(again)
    assert reread.duplicate_groups is not None
    np.testing.assert_array_equal(reread.duplicate_groups, _groups(n))
    assert reread.duplicate_threshold == pytest.approx(0.93)


def test_a_document_save_as_keeps_groups_and_collapse(project: Path, tmp_path: Path) -> None:
    doc = Document.open(project)
    n = doc.require_analysis().n_rows
    doc.set_duplicate_groups(_groups(n), 0.95)
    assert doc.collapse_duplicates(True)
    target = tmp_path / "copy.level"
    doc.save(target)
    assert load_collapse_duplicates(target)
    stored = load_duplicate_groups(target)
    assert stored is not None
    np.testing.assert_array_equal(stored[0], _groups(n))


def test_collapse_needs_groups_and_says_so(project: Path) -> None:
    doc = Document.open(project)
    with pytest.raises(SettingsError, match="no duplicate groups"):
        doc.collapse_duplicates(True)
    assert doc.history_size == 0


def test_collapse_is_one_undoable_step_that_lowers_the_effective_sizes(project: Path) -> None:
    doc = Document.open(project)
    analysis, balance = doc.require_analysis(), doc.require_balance()
    groups = _groups(analysis.n_rows)
    heard: list[Event] = []
    for event in Event:
        doc.subscribe(event, lambda e=event: heard.append(e))
    doc.set_duplicate_groups(groups, 0.95)
    assert Event.DUPLICATES in heard
    assert doc.history_size == 0  # finding groups is not an edit
    before = balance.cluster_effective_sizes.copy()
    topics_before = balance.topic_effective_sizes.copy()
    heard.clear()
    assert doc.collapse_duplicates(True)
    assert heard == [Event.WEIGHTS, Event.HISTORY]
    assert doc.undo_text == "Collapse duplicates"
    assert doc.dirty
    factors = _expected_factors(groups)
    weights = balance.row_weights_of_clusters
    expected = np.array([factors[analysis.labels == c].sum() for c in balance.cluster_ids])
    np.testing.assert_allclose(balance.cluster_effective_sizes, expected * weights)
    assert balance.topic_effective_sizes.sum() < topics_before.sum()
    assert not doc.collapse_duplicates(True)  # already collapsed: no step
    doc.undo()
    np.testing.assert_allclose(balance.cluster_effective_sizes, before)
    assert not analysis.collapse_duplicates
    assert analysis.duplicate_groups is not None  # the groups found stay after the undo
    assert not doc.dirty
    doc.redo()
    assert analysis.collapse_duplicates


def test_collapse_combines_with_topic_and_cluster_weights(project: Path, tmp_path: Path) -> None:
    """Effective row weight = topic weight × cluster weight × 1/|group|, in the balance, the
    weighted export and the row budget; and it all survives saving and reopening."""
    doc = Document.open(project)
    analysis = doc.require_analysis()
    groups = _groups(analysis.n_rows)
    doc.set_duplicate_groups(groups, 0.95)
    doc.set_weight(1, 2.0)
    doc.set_topic_weight(0, 1.5)
    doc.collapse_duplicates(True)
    doc.set_weight(2, 0.25)  # a weight set after the collapse combines too
    balance = doc.require_balance()
    cluster_w = np.array([balance.weight(int(c)) for c in analysis.labels])
    topic_w = np.array([balance.topic_weight(int(analysis.cluster_topic[c]))
                        for c in analysis.labels])
    expected = cluster_w * topic_w * _expected_factors(groups)
    data = doc.snapshot().export_data()
    np.testing.assert_allclose(effective_row_weights(data), expected)
    out = tmp_path / "weighted.csv"
    write_weighted(data, out)
    with open(out, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    written = np.zeros(analysis.source.n_rows)
    for i, row in enumerate(rows):
        written[i] = float(row["weight"])
    np.testing.assert_allclose(written[analysis.row_index], expected, rtol=1e-5)
    assert {rows[int(analysis.row_index[p])]["duplicate_group"] for p in (0, 1, 2, 3)} == {"0"}
    # A budget of as many rows as there are units takes at most one row per group.
    units = int((groups < 0).sum()) + 3
    picks = budget_positions(data, units, seed=7)
    assert len(picks) == units
    assert all(np.isin(np.flatnonzero(groups == g), picks).sum() == 1 for g in range(3))
    doc.save()
    reopened = Document.open(project)
    again = reopened.require_analysis()
    assert again.collapse_duplicates
    np.testing.assert_allclose(effective_row_weights(reopened.snapshot().export_data()),
                               expected)
    np.testing.assert_allclose(reopened.require_balance().cluster_effective_sizes,
                               balance.cluster_effective_sizes)
    assert reopened.collapse_duplicates(False)
    assert reopened.undo_text == "Keep every duplicate"
    reopened.save()
    assert not load_collapse_duplicates(project)


def test_weights_only_save_writes_groups_found_since_opening(project: Path) -> None:
    """Groups found in the window after opening are written by the next (weights-only) save."""
    doc = Document.open(project)
    analysis = doc.require_analysis()
    found = find_duplicates(analysis.texts, analysis.embeddings, analysis.labels, threshold=0.8)
    doc.set_duplicate_groups(found.group, found.threshold)
    plan = doc.save_plan()
    assert plan.weights_only
    doc.set_weight(1, 2.0)
    doc.save()
    stored = load_duplicate_groups(project)
    assert stored is not None
    np.testing.assert_array_equal(stored[0], found.group)
    assert stored[1] == pytest.approx(0.8)


def test_flatten_after_collapse_levels_the_collapsed_sizes(project: Path) -> None:
    doc = Document.open(project)
    balance = doc.require_balance()
    doc.set_duplicate_groups(_groups(doc.require_analysis().n_rows), 0.95)
    doc.collapse_duplicates(True)
    doc.reset()
    doc.flatten_clusters(10.0)  # a cap high enough to level every cluster exactly
    effective = balance.cluster_effective_sizes
    np.testing.assert_allclose(effective, effective.mean())


def _groups_within_clusters(labels: np.ndarray) -> np.ndarray:
    """Groups of 4, 2 and 3 rows, each inside one cluster (0, 1, 2); the rest unique."""
    groups = np.full(len(labels), -1, dtype=np.int32)
    for group, (cluster, size) in enumerate([(0, 4), (1, 2), (2, 3)]):
        groups[np.flatnonzero(labels == cluster)[:size]] = group
    return groups


def test_resampled_export_without_a_budget_honours_the_collapse(project: Path,
                                                                 tmp_path: Path) -> None:
    """Without a row budget the resampled export gives each cluster round(size × weight) rows
    with its size counting a duplicate group once: at weight 1 one row of every group and every
    unique row; at weight 2 every row, and one group member twice at most where needed."""
    from level_desktop.core.export import write_resampled

    doc = Document.open(project)
    doc.reset()  # the saved project weighs cluster 0 at 0.5
    analysis = doc.require_analysis()
    groups = _groups_within_clusters(analysis.labels)
    doc.set_duplicate_groups(groups, 0.95)
    doc.collapse_duplicates(True)
    units = int((groups < 0).sum()) + 3
    text_column = analysis.source.text_column

    def exported(seed: int) -> list[int]:
        out = tmp_path / f"r{seed}.csv"
        count = write_resampled(doc.snapshot().export_data(), out, seed=seed)
        with open(out, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert count == len(rows)
        texts = list(analysis.texts)  # a row is known by its text: the 60 are distinct
        assert len(set(texts)) == len(texts)
        return [texts.index(r[text_column]) for r in rows]

    for seed in (1, 2, 3):
        picked = exported(seed)
        assert len(picked) == units  # today's export wrote all 60 rows
        assert len(set(picked)) == units
        assert all(np.isin(np.flatnonzero(groups == g), picked).sum() == 1 for g in range(3))
        assert set(np.flatnonzero(groups < 0).tolist()) <= set(picked)
    cluster = int(analysis.labels[np.flatnonzero(groups == 0)[0]])
    doc.set_weight(cluster, 2.0)
    members = np.flatnonzero(analysis.labels == cluster)
    cluster_units = int((groups[members] < 0).sum()) + 1
    picked = exported(4)
    in_cluster = [p for p in picked if analysis.labels[p] == cluster]
    assert len(in_cluster) == 2 * cluster_units
    assert set(members.tolist()) <= set(in_cluster)  # more than the units: every row is taken
    assert len(picked) == units + cluster_units
