"""The image embedder on tiny vision models built from configs (random weights, saved to a
temporary folder): shapes and norms, the vector each model family gives, unusable images counted,
cancel, out-of-memory halving, and the message when no model is on the machine."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from level_desktop.core.errors import Cancelled, ModelError
from level_desktop.core.image_embedding import (
    CLS,
    IMAGE_FEATURES,
    POOLED,
    ImageEmbedder,
    cls_token_forward,
    load_vision_model,
)
from level_desktop.core.images import MISSING, NOT_IMAGE, UNREADABLE, image_hashes
from level_desktop.core.progress import CancelToken

TINY = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 2}


@pytest.fixture(scope="session")
def tiny_clip_tower(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    folder = tmp_path_factory.mktemp("tiny-clip-tower")
    torch.manual_seed(1)
    config = CLIPVisionConfig(**TINY, image_size=32, patch_size=8, projection_dim=16)
    CLIPVisionModelWithProjection(config).save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
                       ).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    folder = tmp_path_factory.mktemp("tiny-clip")
    torch.manual_seed(2)
    config = CLIPConfig(text_config={**TINY, "vocab_size": 100},
                        vision_config={**TINY, "image_size": 32, "patch_size": 8},
                        projection_dim=24)
    CLIPModel(config).save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
                       ).save_pretrained(folder)
    return folder


def make_image(path: Path, size: tuple[int, int], seed: int) -> Path:
    rng = np.random.default_rng(seed)
    # Smooth colour fields plus noise, so that images differ in what a model sees.
    width, height = size
    base = rng.integers(0, 256, 3)
    ramp = np.linspace(0, 1, width)[None, :, None] * rng.integers(-120, 120, 3)
    noise = rng.normal(0, 25, (height, width, 3))
    pixels = np.clip(base + ramp + noise, 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture(scope="session")
def image_set(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """Good images of several formats and sizes (one big), and the kinds of bad file."""
    root = tmp_path_factory.mktemp("images")
    sizes = [(224, 224), (64, 48), (300, 120), (17, 90), (640, 480), (50, 50)]
    good = [make_image(root / f"g{i}.{'png' if i % 2 else 'jpg'}", size, seed=i)
            for i, size in enumerate(sizes * 3)]
    good.append(make_image(root / "huge.jpg", (3000, 2000), seed=77))
    cut = make_image(root / "cut.png", (80, 80), seed=78)
    cut.write_bytes(cut.read_bytes()[:400])
    fake = root / "fake.jpg"
    fake.write_text("not an image at all")
    return {"good": good, "bad": [cut, fake, root / "missing.png"]}


def plain_loop(folder: Path, paths: list[Path]) -> np.ndarray:
    """The design's loop, written out with transformers alone: processor, model, CLS token."""
    from transformers import AutoImageProcessor, Dinov2Model

    processor = AutoImageProcessor.from_pretrained(folder, local_files_only=True)
    model = Dinov2Model.from_pretrained(folder, local_files_only=True).eval()
    with torch.no_grad():
        images = [Image.open(p).convert("RGB") for p in paths]
        cls = model(**processor(images=images, return_tensors="pt")).last_hidden_state[:, 0]
    vectors = cls.numpy()
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_dinov2_gives_unit_cls_vectors_and_counts_bad_files(tiny_dinov2: Path,
                                                           image_set: dict[str, list[Path]]
                                                           ) -> None:
    good, bad = image_set["good"], image_set["bad"]
    items = [good[0], bad[0], *good[1:10], bad[1], *good[10:], bad[2]]
    messages = []
    embedder = ImageEmbedder(str(tiny_dinov2), device="cpu", batch_size=4, workers=3)

    vectors = embedder.encode(items, progress=lambda s, f, m: messages.append((f, m)))

    assert embedder.pooling == CLS
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(items), 32)
    failed = [items.index(p) for p in bad]
    assert np.flatnonzero(embedder.failed).tolist() == failed
    assert np.all(vectors[failed] == 0)
    ok = np.flatnonzero(~embedder.failed)
    np.testing.assert_allclose(np.linalg.norm(vectors[ok], axis=1), 1.0, atol=1e-5)
    assert embedder.problems.counts[UNREADABLE] == 1
    assert embedder.problems.counts[NOT_IMAGE] == 1
    assert embedder.problems.counts[MISSING] == 1
    assert messages[-1][0] == pytest.approx(1.0)
    # Images are all different, so no two vectors coincide.
    similarity = vectors[ok] @ vectors[ok].T
    assert np.max(similarity - np.eye(len(ok)) * 2) < 0.99999


def test_vectors_match_the_plain_transformers_loop_in_order(tiny_dinov2: Path,
                                                            image_set: dict[str, list[Path]]
                                                            ) -> None:
    good = image_set["good"]
    # Images whose shorter side is within twice the model's input (128 here) reach the processor
    # untouched, so the vectors are the plain loop's; larger ones are shrunk first, so close.
    untouched = [p for p in good if min(Image.open(p).size) <= 128]
    shrunk = [p for p in good if min(Image.open(p).size) > 128]
    embedder = ImageEmbedder(str(tiny_dinov2), device="cpu", batch_size=5, workers=4)

    np.testing.assert_allclose(embedder.encode(untouched), plain_loop(tiny_dinov2, untouched),
                               atol=1e-5)
    cosine = np.sum(embedder.encode(shrunk) * plain_loop(tiny_dinov2, shrunk), axis=1)
    assert len(untouched) >= 9
    assert len(shrunk) >= 6
    assert np.all(cosine > 0.99)


def test_dinov2_runs_its_last_block_mlp_on_the_cls_token_alone(tiny_dinov2: Path,
                                                              tiny_clip_tower: Path) -> None:
    """The shortcut is taken for DINOv2 and gives the model's own CLS token (with layer scale
    and a swiglu MLP too); a model laid out otherwise (a CLIP tower) keeps the full forward."""
    from transformers import Dinov2Config, Dinov2Model

    assert ImageEmbedder(str(tiny_dinov2), device="cpu").loaded().cls_only_last_block
    assert not ImageEmbedder(str(tiny_clip_tower), device="cpu").loaded().cls_only_last_block
    torch.manual_seed(1)
    pixels = torch.randn(3, 3, 56, 56)
    for extra in ({}, {"use_swiglu_ffn": True, "layerscale_value": 0.5}):
        model = Dinov2Model(Dinov2Config(**TINY, patch_size=14, image_size=56, **extra)).eval()
        with torch.no_grad():
            full = model(pixel_values=pixels).last_hidden_state[:, 0]
            short = cls_token_forward(model, pixels)
        torch.testing.assert_close(short, full, rtol=1e-5, atol=1e-5)


def test_same_bytes_give_the_same_vector_and_hash(tiny_dinov2: Path, tmp_path: Path,
                                                  image_set: dict[str, list[Path]]) -> None:
    original = image_set["good"][3]
    copy = tmp_path / "elsewhere" / "renamed.png"
    copy.parent.mkdir()
    copy.write_bytes(original.read_bytes())
    embedder = ImageEmbedder(str(tiny_dinov2), device="cpu")

    vectors = embedder.encode([original, copy])

    np.testing.assert_array_equal(vectors[0], vectors[1])
    assert image_hashes([original, copy])[0] == image_hashes([copy])[0]
    assert embedder.cache_key == f"image:{tiny_dinov2}"


def test_clip_image_tower_keeps_its_projection(tiny_clip_tower: Path,
                                               image_set: dict[str, list[Path]]) -> None:
    from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

    # Shorter sides within twice the 32-pixel input: the processor sees the files as they are.
    paths = [p for p in image_set["good"] if min(Image.open(p).size) <= 64]
    embedder = ImageEmbedder(str(tiny_clip_tower), device="cpu", batch_size=4)

    vectors = embedder.encode(paths)

    assert embedder.pooling == POOLED
    assert vectors.shape == (len(paths), 16)  # projection_dim, not hidden_size
    model = CLIPVisionModelWithProjection.from_pretrained(tiny_clip_tower).eval()
    processor = CLIPImageProcessor.from_pretrained(tiny_clip_tower)
    with torch.no_grad():
        expected = model(**processor(images=[Image.open(p).convert("RGB") for p in paths],
                                     return_tensors="pt")).image_embeds.numpy()
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_a_full_clip_model_embeds_through_its_image_features(tiny_clip: Path,
                                                            image_set: dict[str, list[Path]]
                                                            ) -> None:
    embedder = ImageEmbedder(str(tiny_clip), device="cpu")

    vectors = embedder.encode(image_set["good"][:3])

    assert embedder.pooling == IMAGE_FEATURES
    assert vectors.shape == (3, 24)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_the_model_is_loaded_once_per_process(tiny_dinov2: Path) -> None:
    first = ImageEmbedder(str(tiny_dinov2), device="cpu").loaded()
    second = ImageEmbedder(str(tiny_dinov2), device="cpu").loaded()

    assert first is second
    assert load_vision_model(str(tiny_dinov2.resolve()), "cpu") is first


def test_no_images_and_only_bad_images_still_give_the_model_width(
        tiny_dinov2: Path, image_set: dict[str, list[Path]]) -> None:
    embedder = ImageEmbedder(str(tiny_dinov2), device="cpu")

    assert embedder.encode([]).shape == (0, 32)
    only_bad = embedder.encode(image_set["bad"])
    assert only_bad.shape == (3, 32)
    assert embedder.problems.total == 3


def test_cancel_stops_the_run_and_its_decoding_threads(tiny_dinov2: Path,
                                                       image_set: dict[str, list[Path]]) -> None:
    token = CancelToken()
    batches = []

    def progress(stage: str, fraction: float, message: str) -> None:
        if message.startswith("Embedded"):
            batches.append(fraction)
            token.cancel()

    embedder = ImageEmbedder(str(tiny_dinov2), device="cpu", batch_size=2)
    with pytest.raises(Cancelled):
        embedder.encode(image_set["good"] * 4, progress=progress, cancel=token)

    assert len(batches) == 1
    assert not [t for t in threading.enumerate() if t.name.startswith("level-decode")]


class SmallMemoryEmbedder(ImageEmbedder):
    """An embedder on a device that runs out of memory above `limit` images per batch: the real
    model runs, only the memory ceiling is simulated, to test the halving around it."""

    limit = 3

    def _forward(self, vision, pixels):
        if pixels.shape[0] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super()._forward(vision, pixels)


def test_out_of_memory_halves_the_batch_and_keeps_every_vector(
        tiny_dinov2: Path, image_set: dict[str, list[Path]]) -> None:
    paths = image_set["good"][:11]
    messages = []

    vectors = SmallMemoryEmbedder(str(tiny_dinov2), device="cpu", batch_size=16).encode(
        paths, progress=lambda s, f, m: messages.append(m))

    expected = ImageEmbedder(str(tiny_dinov2), device="cpu", batch_size=16).encode(paths)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    lowered = [m for m in messages if "batch size lowered" in m]
    assert lowered == ["Out of memory: batch size lowered to 8",
                       "Out of memory: batch size lowered to 4",
                       "Out of memory: batch size lowered to 2"]


def test_out_of_memory_on_one_image_is_a_user_error(tiny_dinov2: Path,
                                                    image_set: dict[str, list[Path]]) -> None:
    embedder = SmallMemoryEmbedder(str(tiny_dinov2), device="cpu", batch_size=2)
    embedder.limit = 0

    with pytest.raises(ModelError, match="ran out of memory even on a single image"):
        embedder.encode(image_set["good"][:2])


def test_a_model_not_on_this_machine_says_what_to_put_where(
        image_set: dict[str, list[Path]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))

    with pytest.raises(ModelError) as missing:
        ImageEmbedder("facebook/dinov2-base", device="cpu").encode(image_set["good"][:1])
    message = str(missing.value)
    assert "'facebook/dinov2-base'" in message
    assert "hf download facebook/dinov2-base" in message
    assert "--model" in message
    assert "preprocessor_config.json" in message

    empty = tmp_path / "not-a-model"
    empty.mkdir()
    with pytest.raises(ModelError, match=r"no config\.json"):
        ImageEmbedder(str(empty))
