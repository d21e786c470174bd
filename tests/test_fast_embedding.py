"""The fast CPU embedder with the real bundled MiniLM word pieces: vectors, keys, cancel, auto mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from level_desktop.core.embedding import Embedder
from level_desktop.core.embedding.static import (
    FAST_PATH_MIN_ROWS,
    StaticEmbedder,
    load_word_pieces,
    should_use_fast_path,
)
from level_desktop.core.errors import Cancelled, ModelError
from level_desktop.core.loading import load_input
from level_desktop.core.pipeline import embed_texts
from level_desktop.core.progress import CancelToken
from level_desktop.core.store import EmbeddingCache


@pytest.fixture(scope="module")
def texts(sample_csv: Path) -> list[str]:
    return load_input(sample_csv).texts


@pytest.fixture(scope="module")
def fitted(texts: list[str]) -> tuple[StaticEmbedder, np.ndarray]:
    embedder = StaticEmbedder(batch_size=128).for_corpus(texts)
    return embedder, embedder.encode(texts)


def test_vectors_are_unit_float32_and_deterministic(
        texts: list[str], fitted: tuple[StaticEmbedder, np.ndarray]) -> None:
    embedder, vectors = fitted
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(texts), 384 + 128) == (len(texts), embedder.dimension)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Learned again, not read from the fit the fixture kept: the seeded fit is what is tested.
    again = StaticEmbedder(batch_size=1000, keep_fits=False).for_corpus(texts).encode(texts)
    np.testing.assert_allclose(again, vectors, atol=1e-5)


def test_is_an_embedder_on_the_cpu() -> None:
    embedder = StaticEmbedder()
    assert isinstance(embedder, Embedder)
    assert embedder.device == "cpu"
    assert "all-MiniLM-L6-v2" in embedder.name
    assert "static" in embedder.name


def test_fitted_embedder_embeds_any_subset_in_the_same_space(
        texts: list[str], fitted: tuple[StaticEmbedder, np.ndarray]) -> None:
    """What embed_texts relies on when only the rows missing from the cache are sent."""
    embedder, vectors = fitted
    picked = [3, 50, 7, 599]
    np.testing.assert_allclose(embedder.encode([texts[i] for i in picked]), vectors[picked],
                               atol=1e-5)


def test_cache_key_follows_the_corpus(texts: list[str]) -> None:
    a = StaticEmbedder().for_corpus(texts[:300])
    assert a.cache_key == StaticEmbedder().for_corpus(texts[:300]).cache_key
    assert a.cache_key != StaticEmbedder().for_corpus(texts[:301]).cache_key
    assert a.cache_key != StaticEmbedder(lsa_dims=64).for_corpus(texts[:300]).cache_key
    # Unnamed corpus: no two embedders may share cached vectors learned from different rows.
    unnamed, other = StaticEmbedder(), StaticEmbedder()
    assert unnamed.cache_key != other.cache_key
    unnamed.encode(texts[:300])  # the first call's texts become the corpus
    assert unnamed.cache_key == a.cache_key


def test_related_texts_lie_closer_than_unrelated(texts: list[str]) -> None:
    extra = ["Python bindings for a numerical library", "Python interface to a matrix library",
             "Fonts for Japanese text", "Japanese font family for documents"]
    v = StaticEmbedder().for_corpus(texts + extra).encode(extra)
    assert v[0] @ v[1] > v[0] @ v[2]
    assert v[0] @ v[1] > v[0] @ v[3]
    assert v[2] @ v[3] > v[2] @ v[0]
    assert v[2] @ v[3] > v[2] @ v[1]


def test_tiny_corpus_and_empty_text_keep_the_width() -> None:
    v = StaticEmbedder().encode(["a cat", "a dog barks", ""])
    assert v.shape == (3, 512)
    np.testing.assert_allclose(np.linalg.norm(v[:2], axis=1), 1.0, atol=1e-5)
    assert not v[2].any()  # no tokens: the zero vector, as normalize_rows keeps it
    assert StaticEmbedder().encode([]).shape == (0, 512)


def test_cancel_before_and_during(texts: list[str]) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        StaticEmbedder().encode(texts, cancel=token)

    token = CancelToken()
    stages: list[str] = []

    def progress(stage: str, fraction: float, message: str) -> None:
        stages.append(stage)
        if len(stages) == 3:
            token.cancel()

    with pytest.raises(Cancelled):
        StaticEmbedder(batch_size=50).encode(texts, progress, token)
    assert set(stages) == {"embed"}


def test_progress_reaches_one_with_counts(texts: list[str]) -> None:
    seen: list[tuple[float, str]] = []
    StaticEmbedder(batch_size=256).encode(texts, lambda s, f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert seen[-1][1] == f"Embedded {len(texts):,} of {len(texts):,} rows"


def test_through_embed_texts_the_second_run_is_a_cache_hit(texts: list[str], tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache.duckdb")
    first, device = embed_texts(texts, StaticEmbedder().for_corpus(texts), cache=cache)
    assert device == "cpu"
    second, device = embed_texts(texts, StaticEmbedder().for_corpus(texts), cache=cache)
    assert device == "cache"
    np.testing.assert_allclose(second, first, atol=1e-6)


def test_word_pieces_load_once_per_process() -> None:
    a = StaticEmbedder()
    assert load_word_pieces(a.model_dir) is load_word_pieces(a.model_dir)


def test_a_folder_without_a_model_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"tokenizer\.json"):
        StaticEmbedder(model_dir=tmp_path).encode(["text"])


@pytest.mark.parametrize(("rows", "device", "expected"), [
    (FAST_PATH_MIN_ROWS, "cpu", True),
    (63_666, "cpu", True),
    (FAST_PATH_MIN_ROWS - 1, "cpu", False),
    (600, "cpu", False),
    (63_666, "cuda", False),
    (63_666, "cuda:1", False),
    (63_666, "mps", False),
])
def test_should_use_fast_path(rows: int, device: str, expected: bool) -> None:
    assert should_use_fast_path(rows, device) is expected


def _learned(embedder: StaticEmbedder, texts: list[str]) -> tuple[np.ndarray, bool]:
    """(vectors, whether the embedder learned its fit: it says so in its progress)."""
    messages: list[str] = []
    vectors = embedder.encode(texts, lambda stage, fraction, message: messages.append(message))
    return vectors, any(m.startswith("Learning word weights") for m in messages)


def test_a_fit_is_kept_and_read_back_not_learned_again(
        texts: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A second embedder for the same corpus (a comparison set added later, in another
    process) reads the fit from the cache folder and embeds exactly as the first did."""
    monkeypatch.setenv("LEVEL_CACHE_DIR", str(tmp_path))
    first = StaticEmbedder().for_corpus(texts)
    vectors, learned = _learned(first, texts)
    assert learned
    assert first.fit_path().is_relative_to(tmp_path)
    assert first.fit_path().exists()

    others = ["a library for parsing tabular data", texts[10], texts[400]]
    second = StaticEmbedder().for_corpus(texts)
    again, learned = _learned(second, others)
    assert not learned
    assert second.cache_key == first.cache_key
    assert np.array_equal(again[1:], vectors[[10, 400]])  # the same text, the same vector
    assert np.array_equal(again, first.encode(others))

    # Another corpus has a fit of its own; the first one is still there.
    _, learned = _learned(StaticEmbedder().for_corpus(texts[:300]), texts[:10])
    assert learned
    assert len(list(first.fit_path().parent.glob("*.npz"))) == 2


def test_a_damaged_or_missing_fit_is_learned_again(
        texts: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LEVEL_CACHE_DIR", str(tmp_path))
    embedder = StaticEmbedder().for_corpus(texts[:200])
    vectors, _ = _learned(embedder, texts[:200])
    embedder.fit_path().write_bytes(b"not a fit")
    again, learned = _learned(StaticEmbedder().for_corpus(texts[:200]), texts[:200])
    assert learned
    assert np.array_equal(again, vectors)  # seeded: the same model
    embedder.fit_path().unlink()
    _, learned = _learned(StaticEmbedder().for_corpus(texts[:200]), texts[:5])
    assert learned


def test_without_keeping_fits_nothing_is_written(
        texts: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LEVEL_CACHE_DIR", str(tmp_path))
    StaticEmbedder(keep_fits=False).for_corpus(texts[:100]).encode(texts[:100])
    assert not list(tmp_path.rglob("*.npz"))
