"""label_balance on the committed version-1 project: 60 real rows, 4 clusters, cluster 0 at 0.5."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from level_desktop.core.analysis import Analysis
from level_desktop.core.balance import gini
from level_desktop.core.errors import LevelError, UnknownColumnError
from level_desktop.core.evaluation import label_balance, row_weights
from level_desktop.core.store import load_project

PROJECT = Path(__file__).parent / "data" / "project-v1.level"


@pytest.fixture
def project(tmp_path: Path) -> Analysis:
    copy = tmp_path / "project.level"  # opening a version-1 file upgrades it in place
    shutil.copyfile(PROJECT, copy)
    return load_project(copy)


def sections(a: Analysis) -> list[str]:
    return [a.columns["section"][i] for i in a.row_index]


def test_sizes_before_are_the_label_counts(project: Analysis) -> None:
    result = label_balance(project, "section")
    counts = Counter(sections(project))
    assert {s.label: s.rows for s in result.labels} == counts
    assert result.labelled_rows == project.n_rows == 60
    assert (result.unlabelled_rows, result.rows_without_text) == (0, 0)
    assert (result.labels[0].label, result.labels[0].rows) == ("python", 11)  # most rows first
    assert result.gini_before == pytest.approx(gini(np.array(list(counts.values()))))


def test_sizes_after_count_each_row_at_its_cluster_weight(project: Analysis) -> None:
    assert project.weights[0] == 0.5
    result = label_balance(project, "section")
    expected: Counter[str] = Counter()
    for label, cluster in zip(sections(project), project.labels, strict=True):
        expected[label] += project.weights[int(cluster)]
    assert {s.label: s.effective for s in result.labels} == pytest.approx(dict(expected))
    # haskell lies wholly in cluster 0, so all five of its rows count half
    haskell = next(s for s in result.labels if s.label == "haskell")
    assert (haskell.rows, haskell.effective, haskell.mean_weight) == (5, 2.5, 0.5)
    assert result.labelled_effective == pytest.approx(project.balance().effective_sizes.sum())
    assert result.gini_after == pytest.approx(gini(np.array(list(expected.values()))))
    assert result.weighted


def test_unit_weights_change_nothing(project: Analysis) -> None:
    project.weights = {c.id: 1.0 for c in project.clusters}
    result = label_balance(project, "section")
    assert not result.weighted
    assert result.gini_after == pytest.approx(result.gini_before)
    assert all(s.effective == s.rows for s in result.labels)
    assert "nothing has changed" in "\n".join(result.lines())


def test_flattening_the_clusters_moves_the_label_gini(project: Analysis) -> None:
    balance = project.balance()
    balance.flatten(3.0)
    project.weights = balance.weight_map()
    result = label_balance(project, "section")
    np.testing.assert_allclose(row_weights(project),
                               balance.weights[project.labels.astype(int)])
    assert result.labelled_effective == pytest.approx(60.0)  # flatten keeps the total
    assert result.gini_after != pytest.approx(result.gini_before)


def test_rows_with_an_empty_label_are_counted_apart(project: Analysis) -> None:
    column = list(project.columns["section"])
    blanked = [int(i) for i in project.row_index[project.labels == 0][:3]]
    for i in blanked:
        column[i] = "  "
    project.columns = {**project.columns, "section": column}
    result = label_balance(project, "section")
    assert result.unlabelled_rows == 3
    assert result.unlabelled_effective == pytest.approx(1.5)  # three rows of cluster 0, at 0.5
    assert result.labelled_rows == 57
    assert "" not in {s.label for s in result.labels}
    assert any(line.startswith("(no label)") for line in result.lines())


def test_an_unknown_column_names_the_ones_there_are(project: Analysis) -> None:
    with pytest.raises(UnknownColumnError, match=r"no column named 'topic'.*package, section, "
                                                 r"description") as info:
        label_balance(project, "topic")
    assert isinstance(info.value, LevelError)


def test_report_lines_hold_both_ginis_and_every_label(project: Analysis) -> None:
    result = label_balance(project, "section")
    text = "\n".join(result.lines())
    assert f"{result.gini_before:.3f} before → {result.gini_after:.3f} after" in text
    assert "11 labels over 60 rows" in text
    for share in result.labels:
        assert any(line.startswith(share.label) for line in result.lines())
