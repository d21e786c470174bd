"""The embed stage for images: one L2-normalised float32 vector per image file.

A Hugging Face vision model from a local folder, or a model id already in the local Hugging Face
cache (never downloaded: Level works offline). DINOv2 models give their CLS token, the design's
choice; others their pooled output (CLIP-like dual encoders through `get_image_features`, vision
towers through `image_embeds` or `pooler_output`). The class the folder's config names in
`architectures` is loaded, so a CLIP image tower keeps its projection.

Images are decoded and preprocessed by a thread pool that runs ahead of the model (see
core/images.py), so the model never waits on the disk. Batches halve on out-of-memory as for text.
An image that cannot be read gets a zero row and is counted in `problems`; the caller drops it.

The image embedder registers itself in `embedding.EMBEDDERS` from here (it decodes images, so it
sits a layer above the text embedders); `core/backends.py` imports this module, so every listing
of the registry has it. Its entry's `suffixes` are the image suffixes: that is how the pipeline
and the conformance tests tell it from the text embedders.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from level_desktop.core.embedding import AUTO, EMBEDDERS, FAST
from level_desktop.core.embedding.base import Embedder, pick_device
from level_desktop.core.embedding.sentence_transformer import CPU_SLICE, halved_after_oom
from level_desktop.core.errors import ModelError
from level_desktop.core.images import (
    DEFAULT_MAX_SHORT_SIDE,
    IMAGE_SUFFIXES,
    ImageProblem,
    ProblemCounts,
    decode_image,
    default_workers,
    map_in_background,
)
from level_desktop.core.progress import CancelToken, ProgressCallback, no_progress
from level_desktop.core.settings import DEFAULT_MODEL, Settings
from level_desktop.core.vectors import normalize_rows

STAGE = "embed"
DEFAULT_IMAGE_MODEL = "facebook/dinov2-base"
CLS = "cls token"
IMAGE_FEATURES = "image features"
POOLED = "pooled output"
# How many batches of decoded images the thread pool may hold ready ahead of the model.
PREFETCH_BATCHES = 3


@dataclass
class VisionModel:
    """A loaded vision model with its image processor and how its vector is taken."""

    model: Any
    processor: Any
    pooling: str  # CLS, IMAGE_FEATURES or POOLED
    max_short_side: int  # images are shrunk to this before the processor sees them
    # DINOv2's CLS token through `cls_token_forward` (the last block's MLP on the CLS token
    # alone): set at load when it matched the model's own forward on a test input.
    cls_only_last_block: bool = False


_MODELS: dict[tuple[str, str], VisionModel] = {}
_MODELS_LOCK = threading.Lock()


def load_vision_model(source: str, device: str) -> VisionModel:
    """Load a vision model and its image processor once per process and (source, device)."""
    with _MODELS_LOCK:
        key = (source, device)
        if key not in _MODELS:
            _MODELS[key] = _load(source, device)
        return _MODELS[key]


def _load(source: str, device: str) -> VisionModel:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers

    try:
        config = transformers.AutoConfig.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as err:
        raise ModelError(missing_model_message(source)) from err
    architecture = (getattr(config, "architectures", None) or [None])[0]
    model_class = getattr(transformers, architecture, None) if architecture else None
    if model_class is None:
        model_class = transformers.AutoModel
    try:
        model = model_class.from_pretrained(source, local_files_only=True)
        processor = transformers.AutoImageProcessor.from_pretrained(  # type: ignore[no-untyped-call]  # untyped in transformers
            source, local_files_only=True)
    except (OSError, ValueError) as err:
        raise ModelError(
            f"The image model {source!r} cannot be loaded: {_first_line(err)} A model folder "
            f"needs config.json, the weights (model.safetensors) and preprocessor_config.json."
        ) from err
    model.to(device).eval()
    if str(config.model_type).startswith("dinov2"):
        pooling = CLS
    elif hasattr(model, "get_image_features"):
        pooling = IMAGE_FEATURES
    else:
        pooling = POOLED
    side = _input_side(processor)
    fast = pooling == CLS and _cls_token_forward_matches(model, side, device)
    return VisionModel(model, processor, pooling, 2 * side, cls_only_last_block=fast)


def cls_token_forward(model: Any, pixels: Any) -> Any:
    """DINOv2's final CLS token (after the last layer norm) without the work nobody reads.

    Every block but the last must run on every token, since the CLS token attends to all of
    them; in the last block only the attention needs them (as keys and values), and its MLP,
    two thirds of a block's arithmetic, runs on the CLS token alone. The blocks are the model's
    own modules (norm1, attention, layer_scale1, drop_path, norm2, mlp, layer_scale2, as in
    DINOv2's reference Block), so the weights and the arithmetic per token are unchanged.
    """
    hidden = model.embeddings(pixels)
    *blocks, last = model.encoder.layer
    for block in blocks:
        hidden = _first(block(hidden))
    attended = _first(last.attention(last.norm1(hidden)))
    hidden = last.drop_path(last.layer_scale1(attended)) + hidden
    cls = hidden[:, :1]
    cls = last.drop_path(last.layer_scale2(last.mlp(last.norm2(cls)))) + cls
    return model.layernorm(cls[:, 0])


def _first(output: Any) -> Any:
    """A module's hidden states, whether it returns them bare or first in a tuple (both occur
    across transformers versions)."""
    return output[0] if isinstance(output, tuple) else output


def _cls_token_forward_matches(model: Any, side: int, device: str) -> bool:
    """Whether `cls_token_forward` gives the model's own CLS token on two random images: a
    DINOv2 laid out otherwise (another transformers version, a variant) keeps the full forward."""
    import torch

    generator = torch.Generator().manual_seed(0)
    probe = torch.randn(2, 3, side, side, generator=generator).to(device)
    try:
        with torch.inference_mode():
            expected = model(pixel_values=probe).last_hidden_state[:, 0]
            got = cls_token_forward(model, probe)
    except (AttributeError, TypeError, ValueError, RuntimeError, IndexError):
        return False
    return bool(got.shape == expected.shape
                and torch.allclose(got.float(), expected.float(), rtol=1e-3, atol=1e-4))


def missing_model_message(source: str) -> str:
    """What the user reads when the vision model is not on this machine."""
    return (
        f"The image model {source!r} is neither a local model folder nor in the local Hugging Face "
        f"cache, and Level does not download models. Either download it once on a machine with "
        f"network access (`hf download {DEFAULT_IMAGE_MODEL}` stores it in the Hugging Face "
        f"cache, ~/.cache/huggingface/hub, or under $HF_HOME) or put a folder holding the model's "
        f"config.json, model.safetensors and preprocessor_config.json anywhere and name that "
        f"folder with --model. Text files do not need it.")


def _input_side(processor: Any) -> int:
    """The largest side the processor resizes or crops to (224 for DINOv2's crop, 256 resize)."""
    sides = []
    for attr in ("size", "crop_size"):
        value = getattr(processor, attr, None)
        if isinstance(value, dict):
            sides += [v for v in value.values() if isinstance(v, int)]
        elif hasattr(value, "__dict__"):  # SizeDict in recent transformers
            sides += [v for v in vars(value).values() if isinstance(v, int)]
        elif isinstance(value, int):
            sides.append(value)
    return max(sides) if sides else DEFAULT_MAX_SHORT_SIDE // 2


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0].rstrip(".") + ".") if text else type(err).__name__ + "."


class ImageEmbedder:
    """A Hugging Face vision model over image files, fed by a decoding thread pool."""

    def __init__(self, model: str = DEFAULT_IMAGE_MODEL, device: str = "auto",
                 batch_size: int = 32, workers: int | None = None) -> None:
        self.model = model
        self.requested_device = device
        self.batch_size = batch_size
        self.workers = workers
        self.name = model
        self.source = _resolve_source(model)
        self.cache_key = f"image:{self.name}"
        self.problems = ProblemCounts()  # of the last encode
        self.failed = np.zeros(0, dtype=bool)  # of the last encode: rows left as zeros
        self._device: str | None = None

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = pick_device(self.requested_device)
        return self._device

    def loaded(self) -> VisionModel:
        return load_vision_model(self.source, self.device)

    @property
    def pooling(self) -> str:
        return self.loaded().pooling

    @property
    def dimension(self) -> int:
        from PIL import Image

        vision = self.loaded()
        blank = vision.processor(images=[Image.new("RGB", (64, 64))], return_tensors="pt")
        return int(self._forward(vision, blank["pixel_values"].to(self.device)).shape[1])

    def encode(self, items: Sequence[str | Path], progress: ProgressCallback = no_progress,
               cancel: CancelToken | None = None) -> np.ndarray:
        """Unit float32 vectors, one row per item (a path); unreadable images get a zero row,
        are marked in `failed` and counted in `problems`."""
        import torch

        progress(STAGE, 0.0, f"Loading {self.name} on {self.device}")
        vision = self.loaded()
        n = len(items)
        self.problems = ProblemCounts()
        self.failed = np.zeros(n, dtype=bool)
        out: np.ndarray | None = None
        # On a CPU a batch of 32 images through a base-sized model takes many seconds; smaller
        # calls keep cancel (checked between them) prompt at no cost in throughput, as for text.
        batch = min(self.batch_size, CPU_SLICE) if self.device == "cpu" else self.batch_size
        ready_rows: list[int] = []
        ready_pixels: list[np.ndarray] = []
        done = 0

        def prepare(i: int) -> np.ndarray:
            image = decode_image(Path(items[i]), vision.max_short_side)
            return vision.processor(images=[image], return_tensors="np")["pixel_values"][0]

        def run_ready(final: bool) -> None:
            nonlocal batch, out, done
            while ready_rows and (final or len(ready_rows) >= batch):
                take = min(batch, len(ready_rows))
                pixels = torch.from_numpy(np.stack(ready_pixels[:take])).to(self.device)
                try:
                    vectors = self._forward(vision, pixels)
                except Exception as err:
                    batch = halved_after_oom(err, batch, self.device, "image", progress, done / n)
                    continue
                if out is None:
                    out = np.zeros((n, vectors.shape[1]), dtype=np.float32)
                out[ready_rows[:take]] = vectors.float().cpu().numpy()
                del ready_rows[:take], ready_pixels[:take]
                done += take
                progress(STAGE, done / n, f"Embedded {done:,} of {n:,} images")

        stream = map_in_background(prepare, range(n), self.workers or decode_workers(self.device),
                                   ahead=PREFETCH_BATCHES * self.batch_size)
        try:
            for i, result in stream:
                if cancel is not None:
                    cancel.check()
                if isinstance(result, ImageProblem):
                    self.problems.add(result.kind, items[i])
                    self.failed[i] = True
                    done += 1
                    continue
                ready_rows.append(i)
                ready_pixels.append(result)
                run_ready(final=False)
            run_ready(final=True)
        finally:
            stream.close()
        if out is None:
            return np.zeros((n, self.dimension), dtype=np.float32)
        return normalize_rows(out)

    def _forward(self, vision: VisionModel, pixels: Any) -> Any:
        """One batch of preprocessed images to one vector each (a torch tensor)."""
        import torch

        with torch.inference_mode():
            if vision.pooling == IMAGE_FEATURES:
                features = vision.model.get_image_features(pixel_values=pixels)
                return features if isinstance(features, torch.Tensor) else features.pooler_output
            if vision.cls_only_last_block:
                return cls_token_forward(vision.model, pixels)
            output = vision.model(pixel_values=pixels)
            if vision.pooling == CLS:
                return output.last_hidden_state[:, 0]
            for name in ("image_embeds", "pooler_output"):
                pooled = getattr(output, name, None)
                if pooled is not None:
                    return pooled
        raise ModelError(
            f"The image model {self.name!r} gives no pooled output (no image_embeds or "
            f"pooler_output). Use a DINOv2 or CLIP model, or a vision model with a pooler.")


def decode_workers(device: str) -> int:
    """Decoding threads for a model on `device`. On a CPU the model's own threads take every
    core, and one decoding thread (about 100 images/s at the model's input size) outpaces a
    base-sized model hundredfold: more threads only take turns on the cores the model is using.
    A GPU leaves the cores to the decoders."""
    return 1 if device == "cpu" else default_workers()


def _resolve_source(model: str) -> str:
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ModelError(
                f"{path} holds no Hugging Face model (no config.json). A model folder needs "
                f"config.json, model.safetensors and preprocessor_config.json.")
        return str(path.resolve())
    return model


def image_model_name(model: str) -> str:
    """The vision model an image set is embedded with when the settings name `model`: the text
    defaults (auto, the bundled MiniLM, fast) mean the default image model, DINOv2 base."""
    if model.lower() in (AUTO, FAST, DEFAULT_MODEL.lower()):
        return DEFAULT_IMAGE_MODEL
    return model


def is_image_embedder(name: str) -> bool:
    """Whether the EMBEDDERS entry `name` embeds image files (not texts)."""
    return name in EMBEDDERS and bool(EMBEDDERS.entry(name).suffixes)


def make_image_embedder(settings: Settings) -> ImageEmbedder:
    """The image embedder for `settings` (its model, device and batch size)."""
    embedder = EMBEDDERS.create(DEFAULT_IMAGE_MODEL, settings,
                                model=image_model_name(settings.model))
    assert isinstance(embedder, ImageEmbedder)
    return embedder


def _image_embedder(model: str = DEFAULT_IMAGE_MODEL, device: str = "auto",
                    batch_size: int = 32, corpus: list[str] | None = None) -> Embedder:
    return ImageEmbedder(image_model_name(model), device=device, batch_size=batch_size)


EMBEDDERS.register(
    DEFAULT_IMAGE_MODEL, _image_embedder, parameters=("model", "device", "batch_size"),
    suffixes=tuple(sorted(IMAGE_SUFFIXES)),
    display_name=f"{DEFAULT_IMAGE_MODEL} (images; DINOv2's CLS token)",
    description="image sets only: DINOv2 base from the Hugging Face cache, or any vision model "
                "folder given as --model (CLIP's image features, else the pooled output)")
