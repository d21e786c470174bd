"""Gini, flatness and the flatten proposal, on known inputs and the shared sets' label sizes."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from level_desktop.core.balance import Balance, flatness, flatten, gini
from level_desktop.core.errors import SettingsError


def test_gini_of_known_inputs() -> None:
    assert gini(np.array([5, 5, 5, 5])) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 10])) == pytest.approx(0.75)  # (n-1)/n for one holder
    assert gini(np.array([1, 2, 3, 4])) == pytest.approx(0.25)
    assert gini(np.array([4, 1, 3, 2])) == pytest.approx(0.25)  # order does not matter
    assert gini(np.array([])) == 0.0


def test_flatness_of_known_inputs() -> None:
    assert flatness(np.array([3, 3, 3])) == pytest.approx(1.0)
    assert flatness(np.array([10, 0, 0])) == pytest.approx(0.0)
    assert flatness(np.array([7])) == 1.0
    p = np.array([0.5, 0.25, 0.25])
    assert flatness(np.array([2, 1, 1])) == pytest.approx(-(p * np.log(p)).sum() / np.log(3))


def _label_sizes(path: Path, column: str) -> np.ndarray:
    with open(path, encoding="utf-8", newline="") as handle:
        counts = Counter(row[column] for row in csv.DictReader(handle))
    return np.array(sorted(counts.values()), dtype=float)


@pytest.mark.parametrize(("name", "column"), [("sample-small.csv", "section"),
                                              ("debian-packages.csv", "section"),
                                              ("fortunes.csv", "category")])
@pytest.mark.parametrize("max_up", [1.0, 1.5, 3.0, 10.0])
def test_flatten_keeps_total_respects_cap_and_lowers_gini(shared_data: Path, name: str,
                                                          column: str, max_up: float) -> None:
    sizes = _label_sizes(shared_data / name, column)
    w = flatten(sizes, max_up)
    effective = sizes * w
    assert effective.sum() == pytest.approx(sizes.sum())
    assert w.max() <= max_up + 1e-9
    assert gini(effective) <= gini(sizes) + 1e-12
    if max_up > 1:
        assert gini(effective) < gini(sizes)
    # Mountains come down to one level T; every other cluster is capped at max_up.
    level = effective.max()
    assert np.all((np.isclose(effective, level)) | np.isclose(w, max_up))


def test_flatten_without_a_cap_makes_a_plain() -> None:
    sizes = np.array([100.0, 10, 1])
    w = flatten(sizes, max_up=1000)
    assert sizes * w == pytest.approx(np.full(3, 37.0))


def test_flatten_rejects_a_cap_below_one() -> None:
    with pytest.raises(SettingsError, match="at least 1"):
        flatten(np.array([1.0, 2.0]), 0.5)


def test_balance_notifies_and_tracks_originals() -> None:
    calls: list[int] = []
    b = Balance(np.array([0, 1, 2]), np.array([60, 30, 10]), noise_size=5)
    b.subscribe(lambda: calls.append(1))
    before = b.gini
    b.set_weight(0, 0.5)
    assert b.effective_sizes.tolist() == [30, 30, 10]
    assert b.gini < before
    assert b.original_gini == pytest.approx(before)
    b.flatten(3.0)
    assert b.flatness > b.original_flatness
    b.reset()
    assert b.is_unweighted
    assert len(calls) == 3
    with pytest.raises(SettingsError, match="no cluster 7"):
        b.set_weight(7, 1.0)
    with pytest.raises(SettingsError, match="≥ 0"):
        b.set_weight(1, -1)


def _two_level() -> Balance:
    """Six clusters in three topics: topic 0 = clusters 0, 1, 2; topic 1 = 3, 4; topic 2 = 5."""
    return Balance(np.arange(6), np.array([50, 30, 20, 10, 6, 4]), noise_size=3,
                   topic_of_cluster=np.array([0, 0, 0, 1, 1, 2]))


def test_row_weight_is_topic_weight_times_cluster_weight() -> None:
    b = _two_level()
    b.set_weight(3, 0.5)
    b.set_topic_weight(1, 4.0)
    assert b.row_weights_of_clusters.tolist() == [1, 1, 1, 2.0, 4.0, 1]
    assert b.cluster_effective_sizes.tolist() == [50, 30, 20, 20, 24, 4]
    assert b.topic_effective_sizes.tolist() == [100, 44, 4]
    assert b.hill_scales(None).tolist() == pytest.approx([1.0, 44 / 16, 1.0])
    assert b.hill_scales(1).tolist() == [2.0, 4.0]
    assert b.level_gini(None) == pytest.approx(gini(np.array([100, 44, 4])))
    assert b.level_flatness(1) == pytest.approx(flatness(np.array([20, 24])))
    assert b.original_level_gini(0) == pytest.approx(gini(np.array([50, 30, 20])))


@pytest.mark.parametrize("max_up", [1.5, 3.0, 10.0])
def test_flatten_topics_keeps_the_total_and_the_cap(max_up: float) -> None:
    b = _two_level()
    b.set_weight(0, 0.5)  # cluster weights shape the topic sizes the flatten levels
    before = b.cluster_effective_sizes.sum()
    b.flatten_topics(max_up)
    assert b.cluster_effective_sizes.sum() == pytest.approx(before)
    assert b.topic_weights.max() <= max_up + 1e-9
    assert b.level_gini(None) < gini(np.array([75, 16, 4]))
    assert b.weight(0) == 0.5  # the cluster level is left alone
    assert b.noise_weight == 1.0


@pytest.mark.parametrize("max_up", [1.5, 3.0, 10.0])
def test_flatten_within_a_topic_keeps_its_total_the_cap_and_the_rest(max_up: float) -> None:
    b = _two_level()
    b.set_topic_weight(0, 2.0)
    b.set_weight(3, 0.25)
    b.flatten_within(0, max_up)
    inside = b.weights[:3]
    assert (b.sizes[:3] * inside).sum() == pytest.approx(100)
    assert inside.max() <= max_up + 1e-9
    assert b.level_gini(0) < gini(np.array([50, 30, 20]))
    assert b.weights[3:].tolist() == [0.25, 1.0, 1.0]  # other topics' clusters untouched
    assert b.topic_weight(0) == 2.0


def test_unknown_topic_and_bad_topic_weight_raise_in_words() -> None:
    b = _two_level()
    with pytest.raises(SettingsError, match="no topic 7; topics are numbered 0 to 2"):
        b.set_topic_weight(7, 1.0)
    with pytest.raises(SettingsError, match="≥ 0"):
        b.set_topic_weight(0, -1.0)


def test_reset_clears_both_levels() -> None:
    b = _two_level()
    b.set_topic_weight(2, 3.0)
    b.set_weight(1, 0.0)
    assert not b.is_unweighted
    b.reset()
    assert b.is_unweighted
    assert b.topic_weight_map() == {0: 1.0, 1: 1.0, 2: 1.0}
