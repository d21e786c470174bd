"""Exports: the weighted CSV round-trips the input; resampled counts follow the weights."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from level_desktop.core.balance import flatten
from level_desktop.core.errors import ExportError
from level_desktop.core.export import write_resampled, write_weighted


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def test_weighted_export_round_trips_columns_and_order(sample_analysis, sample_csv: Path,
                                                       tmp_path: Path) -> None:
    data = sample_analysis.export_data()
    data.weights = dict(enumerate(flatten(sample_analysis.sizes.astype(float))))
    out = tmp_path / "weighted.csv"
    assert write_weighted(data, out) == 600
    header, rows = _read(out)
    in_header, in_rows = _read(sample_csv)
    assert header == [*in_header, "cluster_id", "cluster_label", "topic_id", "topic_label",
                      "weight"]
    assert [r[:3] for r in rows] == in_rows
    ids = np.array([int(r[3]) for r in rows])
    np.testing.assert_array_equal(ids, sample_analysis.labels)
    for r in rows[:50]:
        assert float(r[7]) == pytest.approx(data.weights[int(r[3])], rel=1e-5)  # topics at 1
        assert r[4] == sample_analysis.cluster_names[int(r[3])]
        topic = int(sample_analysis.cluster_topic[int(r[3])])
        assert r[5:7] == [str(topic), sample_analysis.topics[topic].label]


@pytest.mark.parametrize("seed", [1, 42])
def test_resampled_counts_match_weights_within_one(sample_analysis, tmp_path: Path,
                                                   seed: int) -> None:
    data = sample_analysis.export_data()
    sizes = sample_analysis.sizes.astype(float)
    data.weights = dict(enumerate(flatten(sizes, 3.0)))
    out = tmp_path / "resampled.csv"
    n = write_resampled(data, out, seed=seed)
    header, rows = _read(out)
    assert header[-4:] == ["cluster_id", "cluster_label", "topic_id", "topic_label"]
    assert len(rows) == n
    counts = np.bincount([int(r[3]) for r in rows], minlength=len(sizes))
    expected = sizes * np.array([data.weights[c] for c in range(len(sizes))])
    assert np.all(np.abs(counts - expected) <= 1)
    assert abs(n - sizes.sum()) <= len(sizes)


def test_resampling_is_seeded(sample_analysis, tmp_path: Path) -> None:
    data = sample_analysis.export_data()
    data.weights = {c: 0.5 for c in data.weights}
    a, b, c = (tmp_path / f"{x}.csv" for x in "abc")
    write_resampled(data, a, seed=7)
    write_resampled(data, b, seed=7)
    write_resampled(data, c, seed=8)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_export_over_the_input_is_refused(sample_analysis) -> None:
    data = sample_analysis.export_data()
    with pytest.raises(ExportError, match="is the input file"):
        write_weighted(data, Path(data.source_path))


def test_failed_export_keeps_the_old_file(sample_analysis, tmp_path: Path) -> None:
    data = sample_analysis.export_data()
    out = tmp_path / "keep.csv"
    out.write_text("precious\n")
    data.columns = {**data.columns, "broken": [None] * 3}  # too short: fails mid-write
    with pytest.raises(IndexError):
        write_weighted(data, out)
    assert out.read_text() == "precious\n"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.csv"]
