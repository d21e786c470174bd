"""Near-duplicate groups: exact copies, perturbed copies, blocked search, components, cancel."""

from __future__ import annotations

import numpy as np
import pytest

from level_desktop.core.duplicates import (
    DEFAULT_THRESHOLD,
    UNIQUE,
    connected_groups,
    duplicate_share,
    exact_duplicate_pairs,
    find_duplicates,
    semantic_pairs,
    text_key,
)
from level_desktop.core.embedding.static import StaticEmbedder
from level_desktop.core.errors import Cancelled, SettingsError
from level_desktop.core.progress import CancelToken
from level_desktop.core.vectors import normalize_rows


def random_unit_rows(n: int, d: int, seed: int) -> np.ndarray:
    return normalize_rows(np.random.default_rng(seed).normal(size=(n, d)))


def brute_force_pairs(x: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    sims = x @ x.T
    i, j = np.nonzero(np.triu(sims, k=1) >= threshold)
    return set(zip(i.tolist(), j.tolist(), strict=True))


def test_text_key_folds_case_space_and_a_trailing_full_stop_but_keeps_other_punctuation():
    assert text_key("  Fast  JSON\tparser. ") == text_key("fast json parser")
    assert text_key("Ｆａｓｔ") == text_key("fast")  # NFKC: full-width letters
    assert text_key("C++ library") != text_key("C library")


def test_exact_duplicates_are_found_and_grouped():
    texts = ["A tool for X.", "something else", "a tool   for x", "A TOOL FOR X", "other"]
    assert exact_duplicate_pairs(texts).tolist() == [[0, 2], [0, 3]]
    vectors = random_unit_rows(len(texts), 8, seed=1)  # unrelated vectors: only the text links
    dups = find_duplicates(texts, vectors, threshold=0.999)
    assert dups.group.tolist() == [0, UNIQUE, 0, 0, UNIQUE]
    assert dups.n_groups == 1
    assert dups.rows_saved() == 2


@pytest.mark.slow
def test_a_perturbed_copy_is_found_above_the_default_threshold_and_distinct_rows_are_not(
        shared_data):
    import csv
    from itertools import islice

    with open(shared_data / "debian-packages.csv", encoding="utf-8", newline="") as handle:
        rows = [r["description"] for r in islice(csv.DictReader(handle), 400)]
    original = rows[100]
    words = original.split(" ")
    words[3], words[4] = words[4], words[3]  # swap two words
    del words[len(words) // 2]  # and drop one
    copy = " ".join(words).replace("e", "a", 1)  # and a typo
    texts = [*rows, copy]
    vectors = StaticEmbedder().for_corpus(texts).encode(texts)
    copy_row = len(texts) - 1
    assert text_key(copy) != text_key(original)
    assert float(vectors[100] @ vectors[copy_row]) >= DEFAULT_THRESHOLD

    dups = find_duplicates(texts, vectors)  # no labels: every pair is compared
    assert dups.group[100] == dups.group[copy_row] != UNIQUE
    # Distinct rows stay apart: each found pair is textually close (or an exact copy).
    for a, b in dups.pairs.tolist():
        wa, wb = set(text_key(texts[a]).split()), set(text_key(texts[b]).split())
        assert len(wa & wb) / len(wa | wb) >= 0.3, (texts[a], texts[b])
    assert (dups.group == UNIQUE).mean() > 0.5


def test_distinct_rows_are_not_grouped():
    x = np.eye(6, dtype=np.float32)
    dups = find_duplicates([f"row {i}" for i in range(6)], x, threshold=0.5)
    assert len(dups.pairs) == 0
    assert (dups.group == UNIQUE).all()
    assert dups.collapse_weights().tolist() == [1.0] * 6


def test_groups_are_connected_components_of_the_pairs():
    edges = np.array([[0, 1], [1, 2], [5, 6], [8, 7]])
    group = connected_groups(10, edges)
    assert group.tolist() == [0, 0, 0, -1, -1, 1, 1, 2, 2, -1]


def test_a_chain_is_one_group_even_where_its_ends_are_below_the_threshold():
    angles = np.array([0.0, 0.4, 0.8, 2.5])  # neighbours at cos 0.92; the ends at cos 0.70
    x = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    dups = find_duplicates(["a", "b", "c", "d"], x, threshold=0.9)
    assert {tuple(p) for p in dups.pairs.tolist()} == {(0, 1), (1, 2)}
    assert dups.group.tolist() == [0, 0, 0, UNIQUE]
    np.testing.assert_allclose(dups.collapse_weights(), [1 / 3, 1 / 3, 1 / 3, 1.0])


@pytest.mark.parametrize("block_rows", [7, 64, 10_000])
def test_blocks_smaller_than_a_cluster_give_the_brute_force_pairs(block_rows):
    x = random_unit_rows(300, 6, seed=3)
    pairs, sims = semantic_pairs(x, np.zeros(300, dtype=int), threshold=0.9,
                                 block_rows=block_rows)
    assert {tuple(p) for p in pairs.tolist()} == brute_force_pairs(x, 0.9)
    np.testing.assert_allclose(sims, np.einsum("ij,ij->i", x[pairs[:, 0]], x[pairs[:, 1]]),
                               rtol=1e-5)


def test_pairs_are_sought_within_clusters_and_optionally_in_the_nearest_other_clusters():
    x = random_unit_rows(400, 5, seed=4)
    labels = np.random.default_rng(4).integers(0, 4, size=400)
    truth = brute_force_pairs(x, 0.9)
    within = {tuple(p) for p in semantic_pairs(x, labels, 0.9, neighbour_clusters=0,
                                                 block_rows=50)[0].tolist()}
    assert within == {(i, j) for i, j in truth if labels[i] == labels[j]}
    everything = {tuple(p) for p in semantic_pairs(x, labels, 0.9, neighbour_clusters=3,
                                                   block_rows=50)[0].tolist()}
    assert everything == truth  # 4 clusters: 3 neighbours each covers every pair of clusters


def test_share_of_duplicate_rows_per_cluster():
    is_dup = np.array([True, False, True, True, False, False])
    labels = np.array([0, 0, 1, 1, -1, 1])
    assert duplicate_share(is_dup, labels) == {-1: 0.0, 0: 0.5, 1: pytest.approx(2 / 3)}


def test_cancel_is_honoured_and_progress_reported():
    token = CancelToken()
    seen = []

    def progress(stage, fraction, message):
        seen.append(fraction)
        if fraction > 0:
            token.cancel()

    x = random_unit_rows(200, 4, seed=5)
    labels = np.repeat(np.arange(4), 50)
    with pytest.raises(Cancelled):
        find_duplicates([str(i) for i in range(200)], x, labels, block_rows=16, progress=progress,
                        cancel=token)
    assert seen[0] == 0.0
    assert len(seen) == 2  # stopped at the first block after the first cluster's report


def test_bad_settings_are_errors_for_the_user():
    x = random_unit_rows(3, 2, seed=6)
    with pytest.raises(SettingsError, match="threshold"):
        find_duplicates(["a", "b", "c"], x, threshold=1.5)
    with pytest.raises(SettingsError, match="block"):
        find_duplicates(["a", "b", "c"], x, block_rows=0)


def test_groups_among_a_hills_rows_lists_whole_groups_largest_first():
    texts = ["a", "b", "a", "c", "b", "b", "d"]
    dups = find_duplicates(texts, np.eye(7, dtype=np.float32), threshold=0.99)
    groups = dups.groups_among(np.array([0, 4, 6]))
    assert [g.tolist() for g in groups] == [[1, 4, 5], [0, 2]]
