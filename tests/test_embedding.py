"""The embed stage with the real bundled MiniLM: vectors, cache, cancel and out-of-memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from level_desktop.core.embedding.sentence_transformer import (
    SentenceTransformerEmbedder,
    load_sentence_transformer,
)
from level_desktop.core.errors import Cancelled, ModelError
from level_desktop.core.loading import load_input
from level_desktop.core.pipeline import embed_texts
from level_desktop.core.progress import CancelToken
from level_desktop.core.store import EmbeddingCache

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def texts(sample_csv: Path) -> list[str]:
    return load_input(sample_csv).texts[:40]


def test_vectors_are_unit_float32(texts: list[str]) -> None:
    v = SentenceTransformerEmbedder(batch_size=16).encode(texts)
    assert v.dtype == np.float32
    assert v.shape == (40, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    # Length-sorted batching must not change which vector belongs to which text.
    direct = load_sentence_transformer(SentenceTransformerEmbedder().source, "cpu").encode(
        texts[:3], normalize_embeddings=True)
    np.testing.assert_allclose(v[:3], direct, atol=1e-5)


def test_second_run_hits_the_cache_and_skips_the_model(texts: list[str], tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache.duckdb")
    embedder = SentenceTransformerEmbedder(batch_size=16)
    calls: list[int] = []
    original = embedder.encode

    def counting(batch, *args, **kwargs):
        calls.append(len(batch))
        return original(batch, *args, **kwargs)

    embedder.encode = counting
    first, device = embed_texts(texts, embedder, cache=cache)
    assert calls == [40]
    assert device == "cpu"
    second, device = embed_texts(texts, embedder, cache=cache)
    assert calls == [40]
    assert device == "cache"
    np.testing.assert_array_equal(first, second)
    third, _ = embed_texts([*texts, "a brand new row about tea"], embedder, cache=cache)
    assert calls == [40, 1]
    np.testing.assert_array_equal(third[:40], first)


def test_cpu_calls_are_sliced_so_cancel_is_quick(texts: list[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = SentenceTransformerEmbedder(batch_size=32)
    model = load_sentence_transformer(embedder.source, embedder.device)
    sizes: list[int] = []
    real_encode = model.encode

    def recording(sentences, *args, **kwargs):
        sizes.append(len(sentences))
        return real_encode(sentences, *args, **kwargs)

    monkeypatch.setattr(model, "encode", recording)
    embedder.encode(texts)
    assert sizes == [16, 16, 8]


def test_cancel_stops_between_batches(texts: list[str]) -> None:
    token = CancelToken()
    seen: list[float] = []

    def progress(stage: str, fraction: float, message: str) -> None:
        seen.append(fraction)
        if fraction > 0:
            token.cancel()

    with pytest.raises(Cancelled):
        SentenceTransformerEmbedder(batch_size=8).encode(texts, progress, token)
    assert max(seen) == pytest.approx(8 / 40)


def test_out_of_memory_halves_the_batch(texts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from level_desktop.core.embedding import sentence_transformer as embedding

    monkeypatch.setattr(embedding, "CPU_SLICE", 64)  # let a full batch of 32 reach the model
    embedder = SentenceTransformerEmbedder(batch_size=32)
    model = load_sentence_transformer(embedder.source, embedder.device)
    real_encode = model.encode
    sizes: list[int] = []

    def encode_with_small_memory(sentences, *args, **kwargs):
        sizes.append(len(sentences))
        if len(sentences) > 8:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_encode(sentences, *args, **kwargs)

    monkeypatch.setattr(model, "encode", encode_with_small_memory)
    messages: list[str] = []
    v = embedder.encode(texts, lambda s, f, m: messages.append(m))
    assert sizes[:3] == [32, 16, 8]
    assert max(sizes[3:]) == 8
    assert any("batch size lowered to 8" in m for m in messages)
    monkeypatch.undo()
    np.testing.assert_allclose(v, SentenceTransformerEmbedder(batch_size=32).encode(texts),
                               atol=1e-5)


def test_unknown_model_says_what_to_do() -> None:
    with pytest.raises(ModelError, match="cannot be loaded offline"):
        SentenceTransformerEmbedder("no-such-org/no-such-model").encode(["x"])


def test_auto_takes_the_fast_path_for_large_inputs_on_a_cpu() -> None:
    from level_desktop.core.embedding import choose_auto_embedder, make_embedder
    from level_desktop.core.embedding.static import FAST_PATH_MIN_ROWS, StaticEmbedder

    small = make_embedder("auto", device="cpu", corpus=["a row"] * 10)
    # Auto decides by MiniLM's projected time: no CPU embeds 2,000 rows within one second.
    large, choice = choose_auto_embedder([f"row {i}" for i in range(FAST_PATH_MIN_ROWS)], "cpu",
                                         time_budget=1.0)
    assert isinstance(small, SentenceTransformerEmbedder)
    assert isinstance(large, StaticEmbedder)
    assert choice.is_fast_path
    assert isinstance(make_embedder("fast", corpus=["x"] * 3), StaticEmbedder)
    assert isinstance(make_embedder("all-MiniLM-L6-v2", corpus=["x"] * 5000),
                      SentenceTransformerEmbedder)
