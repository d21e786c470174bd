"""`--model auto` decides by the full model's projected time for these rows on this device."""

from __future__ import annotations

import numpy as np
import pytest

from level_desktop.core.embedding import SentenceTransformerEmbedder
from level_desktop.core.embedding.choice import (
    ALWAYS_FULL_ROWS,
    SpeedMemory,
    WithKnownVectors,
    choose_model,
    describe_seconds,
    length_spread_sample,
    padded_cost,
    row_costs,
)


def texts_of(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    words = ["alpha", "beta", "library", "python", "kernel", "font", "editor", "mail", "video"]
    return [" ".join(rng.choice(words, size=int(rng.integers(3, 60)))) for _ in range(n)]


def test_row_costs_grow_with_length_and_stop_at_the_sequence_limit():
    costs = row_costs(["ab", "a" * 400, "a" * 5000, "a" * 50_000])
    assert costs[0] < costs[1] < costs[2]
    assert costs[2] == costs[3]  # truncated at max_seq_length: no dearer


def test_padding_is_paid_per_slice_of_the_longest_first_order():
    costs = np.array([1.0, 10.0, 2.0, 9.0])
    assert padded_cost(costs, slice_rows=2) == 2 * 10 + 2 * 2
    assert padded_cost(costs, slice_rows=1) == costs.sum()
    assert padded_cost(costs, slice_rows=3) == 3 * 10 + 1 * 1


def test_the_sample_spreads_over_every_length_band():
    costs = np.arange(1000, dtype=np.float64)[::-1]
    rows = length_spread_sample(costs, 10)
    assert rows.size == 10
    assert np.all(np.diff(rows) > 0)
    picked = np.sort(costs[rows])
    assert picked[0] < 100
    assert picked[-1] > 900


def test_describe_seconds_reads_naturally():
    assert describe_seconds(40) == "about 40 seconds"
    assert describe_seconds(14 * 60) == "about 14 minutes"
    assert describe_seconds(3 * 3600) == "about 3.0 hours"


def test_a_gpu_always_takes_the_full_model_without_loading_it():
    embedder = SentenceTransformerEmbedder()
    choice = choose_model(texts_of(5000), embedder, device="cuda", budget_s=0.001)
    assert not choice.is_fast_path
    assert choice.calibration is None
    assert "cuda" in choice.reason


def test_cached_rows_are_free(tmp_path):
    texts = texts_of(3000)
    choice = choose_model(texts, SentenceTransformerEmbedder(), device="cpu", budget_s=0.001,
                          cached=np.ones(len(texts), dtype=bool), memory=SpeedMemory(tmp_path))
    assert not choice.is_fast_path
    assert choice.rows_to_embed == 0
    assert "cache" in choice.reason


def test_a_few_rows_take_the_full_model_unmeasured():
    choice = choose_model(texts_of(ALWAYS_FULL_ROWS), SentenceTransformerEmbedder(), device="cpu",
                          budget_s=0.001)
    assert not choice.is_fast_path
    assert choice.calibration is None


def test_a_remembered_speed_decides_clear_cases_without_loading_the_model(tmp_path):
    memory = SpeedMemory(tmp_path)
    embedder = SentenceTransformerEmbedder()
    memory.put(embedder.cache_key, "cpu", 0.01)  # seconds per cost unit
    texts = texts_of(4000)
    projected = 0.01 * padded_cost(row_costs(texts))
    slow = choose_model(texts, embedder, "cpu", budget_s=projected / 10, memory=memory)
    assert slow.is_fast_path
    assert slow.calibration is None
    assert slow.projected_full_s == pytest.approx(projected)
    assert "fast path" in slow.reason
    assert "would take" in slow.reason
    quick = choose_model(texts, embedder, "cpu", budget_s=projected * 10, memory=memory)
    assert not quick.is_fast_path
    assert quick.calibration is None


def test_a_corrupt_speed_file_is_ignored(tmp_path):
    memory = SpeedMemory(tmp_path)
    memory.path.write_text("{not json", encoding="utf-8")
    assert memory.get("st:x", "cpu") is None
    memory.put("st:x", "cpu", 0.5)
    assert memory.get("st:x", "cpu") == 0.5


@pytest.mark.slow
def test_calibration_times_the_real_model_and_keeps_the_sample_vectors(tmp_path):
    texts = texts_of(400, seed=3)
    embedder = SentenceTransformerEmbedder()
    memory = SpeedMemory(tmp_path)
    generous = choose_model(texts, embedder, "cpu", budget_s=1e6, memory=memory)
    assert not generous.is_fast_path
    calibration = generous.calibration
    assert calibration is not None
    assert calibration.seconds_per_cost > 0
    assert generous.projected_full_s is not None
    assert generous.projected_full_s > 0
    assert memory.get(embedder.cache_key, "cpu") == pytest.approx(calibration.seconds_per_cost)
    # The kept sample vectors are the model's own vectors for those rows.
    again = embedder.encode([texts[i] for i in calibration.sample_rows[:5]])
    assert np.allclose(again, calibration.sample_vectors[:5], atol=1e-5)
    # Served back without running the model on them again.
    known = WithKnownVectors(embedder, [texts[i] for i in calibration.sample_rows],
                             calibration.sample_vectors)
    mixed = [texts[calibration.sample_rows[0]], "a row nobody has embedded yet"]
    out = known.encode(mixed)
    assert np.allclose(out[0], calibration.sample_vectors[0])
    assert np.allclose(out[1], embedder.encode(mixed[1:])[0], atol=1e-5)
    # With no budget at all the same measurement sends the rows to the fast path.
    stingy = choose_model(texts, embedder, "cpu", budget_s=1e-6, memory=SpeedMemory(tmp_path / "b"))
    assert stingy.is_fast_path
    assert stingy.calibration is not None
