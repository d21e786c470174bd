"""Exports where they are awkward: rows without text, noise, ragged rows, name collisions, TSV,
and the resampled export's statistics.

The inputs are real files read by the real loader; only the clustering is given (labels are the
export's input, chosen here so every case is present).
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chisquare

from level_desktop.core.export import ExportData, resample_positions, write_resampled, write_weighted
from level_desktop.core.loading import load_input


def _read(path: Path, delimiter: str = ",") -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=delimiter))
    return rows[0], rows[1:]


def _input(tmp_path: Path, header: list[str], rows: list[list[str]], name: str = "in.csv",
           quoting: int = csv.QUOTE_MINIMAL) -> Path:
    path = tmp_path / name
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n", quoting=quoting)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _data(loaded, labels: np.ndarray, weights: dict[int, float], noise_weight: float = 1.0
          ) -> ExportData:
    return ExportData(source_path=str(loaded.table.path), columns=loaded.table.columns,
                      row_index=loaded.row_index, labels=labels.astype(np.int32),
                      cluster_names={c: f"topic {c}" for c in weights}, weights=weights,
                      noise_weight=noise_weight, source_decoding=loaded.decode_report)


def _awkward_input(tmp_path: Path) -> Path:
    """60 rows: every 7th without text, row 5 one field short, rows 11 and 12 with surplus
    fields (one and two), texts with commas, quotes and newlines."""
    rows = []
    for i in range(60):
        text = "" if i % 7 == 3 else f'text {i}, with "quotes"\nand a newline'
        row = [str(i), text, f"meta {i}"]
        if i == 5:
            row = row[:2]
        if i == 11:
            row = [*row, "surplus"]
        if i == 12:
            row = [*row, "more", "most"]
        rows.append(row)
    return _input(tmp_path, ["id", "text", "note"], rows)


def test_weighted_export_is_row_for_row_with_no_text_noise_and_ragged_rows(tmp_path: Path) -> None:
    loaded = load_input(_awkward_input(tmp_path))
    assert loaded.table.column_names == ["id", "text", "note", "extra_1", "extra_2"]
    n = len(loaded.row_index)
    labels = np.where(np.arange(n) % 5 == 0, -1, np.arange(n) % 3)
    data = _data(loaded, labels, {0: 0.5, 1: 2.0, 2: 1.0}, noise_weight=0.25)
    assert write_weighted(data, tmp_path / "w.csv") == 60
    header, rows = _read(tmp_path / "w.csv")
    assert header == ["id", "text", "note", "extra_1", "extra_2", "cluster_id", "cluster_label",
                      "weight"]
    table = loaded.table
    for i, row in enumerate(rows):  # every input row, in order, its cells as read
        assert row[:5] == [table.columns[c][i] for c in table.column_names]
    assert rows[5][2] == ""  # the short row padded
    assert rows[11][3:5] == ["surplus", ""]
    assert rows[12][3:5] == ["more", "most"]
    label_of = dict(zip(loaded.row_index.tolist(), labels.tolist(), strict=True))
    for i, row in enumerate(rows):
        if i % 7 == 3:
            assert row[5:] == ["", "(no text)", "0"]
        elif label_of[i] == -1:
            assert row[5:] == ["-1", "noise", "0.25"]
        else:
            c = label_of[i]
            assert row[5:] == [str(c), f"topic {c}", f"{data.weights[c]:g}"]


def test_carriage_returns_in_cells_never_split_a_row(tmp_path: Path) -> None:
    """csv.writer leaves a lone "\r" unquoted; the export must not, or the row splits."""
    rows = [[str(i), f"old Mac line end\rin row {i}", f"crlf\r\nand lf\n{i}", "end\r"]
            for i in range(60)]
    loaded = load_input(_input(tmp_path, ["id", "text", "other", "last"], rows,
                               quoting=csv.QUOTE_ALL))
    assert [[loaded.table.columns[c][i] for c in ("id", "text", "other", "last")]
            for i in range(60)] == rows
    data = _data(loaded, np.arange(60) % 2, {0: 1.0, 1: 2.0})
    write_weighted(data, tmp_path / "w.csv")
    _, written = _read(tmp_path / "w.csv")
    assert [r[:4] for r in written] == rows
    count = write_resampled(data, tmp_path / "r.csv")
    _, drawn = _read(tmp_path / "r.csv")
    assert len(drawn) == count == 90
    assert all(r[:4] == rows[int(r[0])] for r in drawn)


def test_added_columns_never_overwrite_the_inputs(tmp_path: Path) -> None:
    header = ["cluster_id", "text", "weight", "cluster_label", "cluster_id_level"]
    rows = [[f"theirs {i}", f"a text row number {i}", "7", "their label", "x"] for i in range(60)]
    loaded = load_input(_input(tmp_path, header, rows), text_column="text")
    data = _data(loaded, np.zeros(60, dtype=np.int32), {0: 1.5})
    write_weighted(data, tmp_path / "w.csv")
    written_header, written = _read(tmp_path / "w.csv")
    assert written_header == [*header, "cluster_id_level_level", "cluster_label_level",
                              "weight_level"]
    assert all(r[:5] == rows[i] for i, r in enumerate(written))
    assert {tuple(r[5:]) for r in written} == {("0", "topic 0", "1.5")}
    write_resampled(data, tmp_path / "r.csv")
    resampled_header, _ = _read(tmp_path / "r.csv")
    assert resampled_header == [*header, "cluster_id_level_level", "cluster_label_level"]


def test_tsv_target_is_tab_separated_and_round_trips(tmp_path: Path) -> None:
    loaded = load_input(_awkward_input(tmp_path))
    n = len(loaded.row_index)
    data = _data(loaded, (np.arange(n) % 2), {0: 1.0, 1: 3.0})
    write_weighted(data, tmp_path / "w.tsv")
    header, rows = _read(tmp_path / "w.tsv", delimiter="\t")
    assert header[:5] == loaded.table.column_names
    assert len(rows) == 60
    for i, row in enumerate(rows):
        assert row[:5] == [loaded.table.columns[c][i] for c in loaded.table.column_names]
    assert "\t" in (tmp_path / "w.tsv").read_text(encoding="utf-8").splitlines()[0]
    assert write_resampled(data, tmp_path / "r.tsv") == len(_read(tmp_path / "r.tsv", "\t")[1])


# ---- the resampled export's statistics --------------------------------------------------------

LABELS = np.array([0] * 40 + [1] * 30 + [-1] * 10 + [2] * 20, dtype=np.int32)
WEIGHTS = {0: 0.5, 1: 3.0, 2: 1.0}


@pytest.mark.parametrize("seed", range(20))
def test_resampled_counts_and_the_rules_for_each_weight(seed: int) -> None:
    picks = resample_positions(LABELS, WEIGHTS, noise_weight=2.5, seed=seed)
    per_row = Counter(picks.tolist())
    for c, w in [*WEIGHTS.items(), (-1, 2.5)]:
        members = np.flatnonzero(np.equal(LABELS, c))
        drawn = sum(per_row[m] for m in members)
        assert drawn == round(len(members) * w)
        if w <= 1:
            assert max(per_row[m] for m in members) <= 1  # never drawn twice
        else:
            assert all(per_row[m] >= 1 for m in members)  # every row kept
    assert picks.tolist() == sorted(picks.tolist())


def test_noise_is_resampled_by_its_own_weight_and_can_be_dropped() -> None:
    none = resample_positions(LABELS, WEIGHTS, noise_weight=0.0, seed=1)
    assert not set(none.tolist()) & set(np.flatnonzero(LABELS == -1).tolist())
    kept = resample_positions(LABELS, WEIGHTS, noise_weight=1.0, seed=1)
    assert set(np.flatnonzero(LABELS == -1).tolist()) <= set(kept.tolist())


def test_up_sampled_extra_draws_are_uniform_within_the_cluster() -> None:
    """Cluster 1 (30 rows, weight 3) gets 60 extra draws per seed; over 300 seeds each row
    should get about 600 of the 18,000: a chi-square test at 0.1 % must not reject."""
    members = np.flatnonzero(LABELS == 1)
    extra = Counter()
    for seed in range(300):
        picks = resample_positions(LABELS, WEIGHTS, noise_weight=1.0, seed=seed)
        counts = Counter(picks.tolist())
        extra.update({m: counts[m] - 1 for m in members})
    observed = np.array([extra[m] for m in members])
    assert observed.sum() == 300 * 60
    assert chisquare(observed).pvalue > 0.001


def test_down_sampled_rows_are_chosen_uniformly() -> None:
    """Cluster 0 (40 rows, weight 0.5) keeps 20 per seed; each row should be kept in about half
    of 400 seeds."""
    members = np.flatnonzero(LABELS == 0)
    kept = Counter()
    for seed in range(400):
        kept.update(set(resample_positions(LABELS, WEIGHTS, 1.0, seed=seed).tolist()))
    observed = np.array([kept[m] for m in members])
    assert observed.sum() == 400 * 20
    assert chisquare(observed).pvalue > 0.001


def test_rows_without_text_are_never_drawn(tmp_path: Path) -> None:
    loaded = load_input(_awkward_input(tmp_path))
    n = len(loaded.row_index)
    data = _data(loaded, np.arange(n) % 2, {0: 4.0, 1: 4.0})
    count = write_resampled(data, tmp_path / "r.csv", seed=3)
    _, rows = _read(tmp_path / "r.csv")
    assert count == len(rows) == 4 * n
    assert all(r[1] for r in rows)
    assert {int(r[0]) for r in rows} == set(loaded.row_index.tolist())


def test_topic_columns_the_product_weight_and_their_collisions(tmp_path: Path) -> None:
    """With topics: topic_id and topic_label beside the cluster's; a row weighs topic weight ×
    cluster weight, in the weighted file and in the resampled counts; input columns of those
    names get the _level suffix rule."""
    header = ["id", "text", "topic_id", "topic_label_level", "topic_label"]
    rows = [[str(i), f"a text row number {i}", "theirs", "x", "y"] for i in range(60)]
    loaded = load_input(_input(tmp_path, header, rows), text_column="text")
    labels = np.where(np.arange(60) % 10 == 0, -1, np.arange(60) % 3).astype(np.int32)
    data = _data(loaded, labels, {0: 0.5, 1: 2.0, 2: 1.0}, noise_weight=0.0)
    data.cluster_topic = {0: 0, 1: 0, 2: 1}
    data.topic_names = {0: "first topic", 1: "second topic"}
    data.topic_weights = {0: 3.0, 1: 0.5}
    write_weighted(data, tmp_path / "w.csv")
    written_header, written = _read(tmp_path / "w.csv")
    assert written_header == [*header, "cluster_id", "cluster_label", "topic_id_level",
                              "topic_label_level_level", "weight"]
    product = {0: 1.5, 1: 6.0, 2: 0.5}
    for i, row in enumerate(written):
        c = int(labels[i])
        if c < 0:
            assert row[5:] == ["-1", "noise", "-1", "noise", "0"]
        else:
            topic = data.cluster_topic[c]
            assert row[5:] == [str(c), f"topic {c}", str(topic), data.topic_names[topic],
                               f"{product[c]:g}"]
    count = write_resampled(data, tmp_path / "r.csv")
    resampled_header, drawn = _read(tmp_path / "r.csv")
    assert resampled_header == [*header, "cluster_id", "cluster_label", "topic_id_level",
                                "topic_label_level_level"]
    counts = np.bincount([int(r[5]) for r in drawn], minlength=3)
    sizes = np.bincount(labels[labels >= 0], minlength=3)
    assert counts.tolist() == [round(sizes[c] * product[c]) for c in range(3)]
    assert count == len(drawn)
